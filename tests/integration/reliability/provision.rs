//! Creation cut short: a provisioning future dropped part-way, a create that fails on
//! one node, and a CLI create that fails or is interrupted while objects carrying its
//! cluster id exist that it did not make.

use std::process::Command as Proc;
use std::time::{Duration, Instant};

use dcos_e2e::docker::labels;
use dcos_e2e::{Aftermath, Cluster, Docker, Error, Mount, blocking};

use super::{Case, Witness};
use crate::common::{self, assert_gone, containers_of, leftovers, temp_workspaces};
use crate::process::{minidcos, send_signal, spawn_minidcos, wait_exit};

/// Whether something of cluster `id` with this role label exists yet.
fn exists(id: &str, kind: &str, role: &str) -> bool {
    let mut args = vec![kind];
    if kind == "container" {
        args = vec!["ps", "-a"];
    } else {
        args.push("ls");
    }
    let cluster = format!("label={}={id}", labels::CLUSTER_ID);
    let role = format!("label={}={role}", labels::ROLE);
    args.extend(["-q", "--filter", &cluster, "--filter", &role]);
    let out = Proc::new("docker").args(&args).output().unwrap();
    assert!(out.status.success(), "docker {args:?}");
    !out.stdout.is_empty()
}

/// Provision a 1+1 cluster and drop the future as soon as `event` is seen.
fn cancel_at(event: &'static str, seen: impl Fn(&str) -> bool + Send + 'static) {
    let id = Docker::new_cluster_id();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let provision = Cluster::builder(common::docker().cluster_id(&id))
            .masters(1)
            .agents(1)
            .public_agents(0)
            .provision();
        let watch = {
            let id = id.clone();
            tokio::task::spawn_blocking(move || {
                let deadline = Instant::now() + Duration::from_secs(120);
                while !seen(&id) {
                    assert!(Instant::now() < deadline, "never saw: {event}");
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        tokio::select! {
            made = provision => panic!("provisioning finished before {event}: {made:?}"),
            watched = watch => watched.unwrap(),
        }
        // The provisioning future is dropped here, part-way.
    });
    assert_gone(&id, None);
    let workspaces = temp_workspaces(&id);
    assert!(
        workspaces.is_empty(),
        "{event}: workspace left: {workspaces:?}"
    );
}

#[test]
fn dropped_provisioning_leaves_nothing() {
    let _case = Case::new("provision() dropped: network, watchdog, node");
    let witness = Witness::new();
    cancel_at("the network", |id| exists(id, "network", "network"));
    cancel_at("the watchdog", |id| exists(id, "container", "watchdog"));
    cancel_at("a node container", |id| exists(id, "container", "agent"));
    witness.assert_untouched();
}

#[test]
fn a_create_that_fails_on_one_node_removes_everything_it_made() {
    let _case = Case::new("create fails on one node of five");
    let id = Docker::new_cluster_id();
    // A file bound over a directory: the master's container cannot start, while the
    // four agents' creates and starts are in flight.
    let err = blocking::Cluster::builder(
        common::docker()
            .cluster_id(&id)
            .master_mount(Mount::new("/etc/hostname", "/etc")),
    )
    .masters(1)
    .agents(4)
    .public_agents(0)
    .provision()
    .unwrap_err();
    match &err {
        Error::CreateFailed(f) => assert_eq!(f.aftermath, Aftermath::Removed, "{err}"),
        other => panic!("expected CreateFailed, got {other}"),
    }
    // Nothing may land later: every request was answered before the cleanup.
    assert_gone(&id, None);
    assert!(temp_workspaces(&id).is_empty());
}

/// A volume that carries the cluster id label but was made by nobody of ours: what a
/// create of that id did not make.
struct Foreign(String);

impl Foreign {
    fn new(id: &str) -> Self {
        let name = format!("{id}-foreign");
        let out = Proc::new("docker")
            .args([
                "volume",
                "create",
                "--label",
                &format!("{}={id}", labels::CLUSTER_ID),
                &name,
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        Self(name)
    }

    fn survives(&self) -> bool {
        Proc::new("docker")
            .args(["volume", "inspect", &self.0])
            .output()
            .unwrap()
            .status
            .success()
    }
}

impl Drop for Foreign {
    fn drop(&mut self) {
        let _ = Proc::new("docker").args(["volume", "rm", &self.0]).output();
    }
}

#[test]
fn a_failed_cli_create_removes_only_what_it_made() {
    let _case = Case::new("CLI create fails or is interrupted: only its own objects go");
    let id = Docker::new_cluster_id();
    let foreign = Foreign::new(&id);
    let base = ["docker", "create", "--cluster-id", &id, "--agents", "0"];
    let refused = [
        ("--network", "no-such-network-of-ours"),
        ("--custom-master-volume", "/no/such/source:/x"),
        ("--workspace-dir", "/no/such/dir"),
    ];
    for (flag, value) in refused {
        let mut args = base.to_vec();
        args.extend(["--public-agents", "0", flag, value]);
        let ran = minidcos(&args);
        assert_eq!(ran.code, Some(1), "{ran:?}");
        assert!(ran.stderr.contains(flag), "{ran:?}");
        assert!(
            foreign.survives(),
            "{flag}: the create removed what it did not make"
        );
    }

    // Interrupted once its nodes exist: it removes its own objects, not the volume,
    // which appears (as a racing create's would) after the id was checked.
    drop(foreign);
    let mut args = base.to_vec();
    args.extend(["--public-agents", "1"]);
    let (mut child, _lines) = spawn_minidcos(&args);
    let deadline = Instant::now() + Duration::from_secs(120);
    while containers_of(&id) < 2 {
        assert!(Instant::now() < deadline, "the create never made its nodes");
        assert!(child.try_wait().unwrap().is_none(), "create ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let foreign = Foreign::new(&id);
    send_signal(&child, libc::SIGINT);
    assert_eq!(
        wait_exit(&mut child, Duration::from_secs(120)).code(),
        Some(130)
    );
    assert!(
        foreign.survives(),
        "the interrupted create removed what it did not make"
    );
    let (containers, networks, volumes) = leftovers(&id);
    assert!(
        containers.is_empty() && networks.is_empty() && volumes == [foreign.0.clone()],
        "left: {containers:?} {networks:?} {volumes:?}"
    );
    assert!(temp_workspaces(&id).is_empty());
}

#[test]
fn a_relative_workspace_dir_works_and_leaks_nothing() {
    let _case = Case::new("relative workspace_dir");
    let here = std::env::current_dir().unwrap();
    let base = tempfile::Builder::new()
        .prefix("relative-ws-")
        .tempdir_in(&here)
        .unwrap();
    let relative = base.path().strip_prefix(&here).unwrap().to_path_buf();
    assert!(relative.is_relative());
    let cluster = blocking::Cluster::builder(common::docker().workspace_dir(&relative))
        .masters(1)
        .agents(0)
        .public_agents(0)
        .provision()
        .unwrap();
    let workspace = cluster.workspace().unwrap().to_path_buf();
    assert!(workspace.is_absolute(), "{}", workspace.display());
    assert!(
        workspace.starts_with(base.path()),
        "{}",
        workspace.display()
    );
    assert_eq!(cluster.masters()[0].run(["true"]).unwrap().status, 0);
    let id = cluster.id().to_string();
    drop(cluster);
    assert_gone(&id, Some(&workspace));
    // No volume named after the relative directory (a bind source that Docker took
    // for a volume name, without our labels).
    let out = Proc::new("docker")
        .args([
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("name={}", relative.display()),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "",
        "a volume leaked"
    );
}
