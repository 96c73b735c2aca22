//! The reliability suite: nothing is left behind whatever happens to the owner, and a
//! concurrent live cluster is never touched. Each case records a row (case, result,
//! seconds) in `target/reliability-summary.tsv`; `scripts/test` prints the table.
//! Cases of one area each have a file here; the first ones are below.

mod errors;
mod ownership;
mod provision;
mod signals;
mod transport;
mod waits;
mod watchdog;

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::process::{Child, Command as Proc};
use std::time::{Duration, Instant};

use dcos_e2e::blocking::Cluster;
use dcos_e2e::{Command, Docker, Error, TransportKind};

use crate::common::{self, assert_gone, containers_of, leftovers, temp_workspaces};
use crate::process::{self, listed, send_signal, spawn_minidcos, wait_exit};

/// Records the case's row when dropped: `pass` unless the test is panicking.
pub(crate) struct Case {
    name: &'static str,
    started: Instant,
}

impl Case {
    pub(crate) fn new(name: &'static str) -> Self {
        Self {
            name,
            started: Instant::now(),
        }
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        let result = if std::thread::panicking() {
            "FAIL"
        } else {
            "pass"
        };
        let path = common::repo_root().join("target/reliability-summary.tsv");
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(
                f,
                "{}\t{}\t{:.1}",
                self.name,
                result,
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}

/// A small cluster that must survive whatever the case does to another one.
pub(crate) struct Witness(pub(crate) Cluster);

impl Witness {
    pub(crate) fn new() -> Self {
        Self(common::one_master())
    }

    pub(crate) fn assert_untouched(&self) {
        let (containers, networks, _) = leftovers(self.0.id());
        assert_eq!(
            (containers.len(), networks.len()),
            (2, 1),
            "witness {} lost objects",
            self.0.id()
        );
        assert_eq!(
            self.0.masters()[0]
                .run(["echo", "alive"])
                .unwrap()
                .stdout_text(),
            "alive"
        );
    }
}

fn small(id: &str) -> dcos_e2e::blocking::ClusterBuilder {
    Cluster::builder(common::docker().cluster_id(id))
        .masters(1)
        .agents(1)
        .public_agents(0)
}

#[test]
fn normal_end() {
    let _case = Case::new("normal end");
    let witness = Witness::new();
    let id = Docker::new_cluster_id();
    let workspace = {
        let cluster = small(&id).provision().unwrap();
        cluster.masters()[0].run(["true"]).unwrap();
        cluster.workspace().unwrap().to_path_buf()
    };
    assert_gone(&id, Some(&workspace));
    witness.assert_untouched();
}

#[test]
fn panic_in_scope() {
    let _case = Case::new("panic in scope");
    let witness = Witness::new();
    let id = Docker::new_cluster_id();
    let mut workspace = None;
    let result = catch_unwind(AssertUnwindSafe(|| {
        let cluster = small(&id).provision().unwrap();
        workspace = cluster.workspace().map(|w| w.to_path_buf());
        panic!("boom");
    }));
    assert!(result.is_err());
    assert_gone(&id, workspace.as_deref());
    witness.assert_untouched();
}

#[test]
fn kept_on_error_then_destroyed_explicitly() {
    let _case = Case::new("destroy_on_error=false, then destroy()");
    let witness = Witness::new();
    let id = Docker::new_cluster_id();
    let cluster = small(&id).destroy_on_error(false).provision().unwrap();
    let workspace = cluster.workspace().unwrap().to_path_buf();
    cluster.destroy().unwrap();
    let err = cluster.masters()[0].run(["true"]).unwrap_err();
    assert!(
        matches!(err, Error::Destroyed { .. }),
        "a command on a destroyed cluster: {err}"
    );
    drop(cluster);
    assert_gone(&id, Some(&workspace));
    witness.assert_untouched();
}

/// Start `minidcos docker create` and interrupt it with SIGINT once `ready` says so;
/// the cluster's id and what the create said on stderr.
fn interrupt_create(extra: &[&str], ready: impl Fn(&str) -> bool) -> (String, Vec<String>) {
    let witness = Witness::new();
    let id = Docker::new_cluster_id();
    let mut args = vec![
        "docker",
        "create",
        "--cluster-id",
        &id,
        "--agents",
        "1",
        "--public-agents",
        "0",
    ];
    args.extend(extra);
    let (mut child, lines) = spawn_minidcos(&args);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready(&id) {
        assert!(
            Instant::now() < deadline,
            "never reached the interrupt point"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "create ended before the interrupt point"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    send_signal(&child, libc::SIGINT);
    let status = wait_exit(&mut child, Duration::from_secs(120));
    let said: Vec<String> = lines.try_iter().collect();
    // 128 + SIGINT from the handler, which removed what was made (not death by signal).
    assert_eq!(
        status.code(),
        Some(130),
        "an interrupted create: {status:?}"
    );
    assert_gone(&id, None);
    let workspaces = temp_workspaces(&id);
    assert!(workspaces.is_empty(), "workspace left: {workspaces:?}");
    witness.assert_untouched();
    (id, said)
}

#[test]
fn sigint_create_at_start() {
    let _case = Case::new("SIGINT to create: at start");
    // The first thing a create makes is its workspace.
    interrupt_create(&[], |id| !temp_workspaces(id).is_empty());
}

#[test]
fn sigint_create_while_nodes_start() {
    let _case = Case::new("SIGINT to create: nodes starting");
    let (id, said) = interrupt_create(&[], |id| containers_of(id) >= 2);
    // Also the CLI's own account of it (this case was the CLI suite's Ctrl-C while
    // provisioning too).
    assert!(said.iter().any(|l| l.contains("interrupted")), "{said:?}");
    let row = listed(&id);
    assert!(row.is_none(), "{row:?} {:?} {said:?}", leftovers(&id));
}

#[test]
fn sigint_create_during_install_wait() {
    let _case = Case::new("SIGINT to create: during wait");
    let extra = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(extra.path(), "sample_startup_delay: 60\n").unwrap();
    let installer = common::sample_installer();
    let args = [
        installer.to_str().unwrap(),
        "--extra-config",
        extra.path().to_str().unwrap(),
        "--wait",
    ];
    // Installed (units present on the master) but not yet healthy.
    interrupt_create(&args, |id| {
        let out = Proc::new("docker")
            .args([
                "exec",
                &format!("{id}-master-1"),
                "test",
                "-e",
                "/etc/mesosphere/roles/master",
            ])
            .output();
        out.map(|o| o.status.success()).unwrap_or(false)
    });
}

/// Run as a child by the tests below (ignored otherwise): hold a cluster, print its id,
/// then either wait to be killed or destroy it and exit.
#[test]
#[ignore = "run as a child process by the reliability tests"]
fn cluster_holder() {
    let mode = std::env::var("DCOS_E2E_HOLDER").unwrap_or_default();
    let cluster = Cluster::builder(common::docker())
        .masters(1)
        .agents(1)
        .public_agents(0)
        .provision()
        .unwrap();
    println!(
        "cluster-id {} {}",
        cluster.id(),
        cluster.workspace().unwrap().display()
    );
    std::io::stdout().flush().unwrap();
    cluster.masters()[0].run(["true"]).unwrap();
    if mode == "hold" {
        std::thread::sleep(Duration::from_secs(600));
    }
    cluster.destroy().unwrap();
    println!("destroyed");
}

fn spawn_holder(mode: &str) -> (Child, String, PathBuf) {
    process::spawn_holder("reliability::cluster_holder", &[("DCOS_E2E_HOLDER", mode)])
}

fn wait_gone(id: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let (c, n, v) = leftovers(id);
        if c.is_empty() && n.is_empty() && v.is_empty() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "{id} still there after {limit:?}: {c:?} {n:?} {v:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn sigkill_of_the_owning_process() {
    let _case = Case::new("SIGKILL of a process holding a cluster");
    let witness = Witness::new();
    let (mut child, id, workspace) = spawn_holder("hold");
    assert_eq!(containers_of(&id), 3, "2 nodes and the watchdog");
    send_signal(&child, libc::SIGKILL);
    child.wait().unwrap();
    let took = wait_gone(&id, Duration::from_secs(30));
    eprintln!("removed {took:?} after the owner was killed");
    let deadline = Instant::now() + Duration::from_secs(10);
    while workspace.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_gone(&id, Some(&workspace));
    witness.assert_untouched();
}

#[test]
fn four_clusters_from_separate_processes() {
    let _case = Case::new("4 clusters from 4 processes at once");
    let witness = Witness::new();
    let holders: Vec<_> = (0..4).map(|_| spawn_holder("run")).collect();
    let mut ids = Vec::new();
    for (mut child, id, ws) in holders {
        assert!(child.wait().unwrap().success(), "holder of {id} failed");
        ids.push((id, ws));
    }
    for (id, ws) in &ids {
        assert_gone(id, Some(ws));
    }
    let distinct: std::collections::HashSet<_> = ids.iter().map(|(id, _)| id).collect();
    assert_eq!(distinct.len(), 4);
    witness.assert_untouched();
}

#[test]
fn hostile_arguments_and_env_arrive_literally() {
    let _case = Case::new("hostile arguments and env");
    for transport in [TransportKind::Ssh, TransportKind::DockerExec] {
        let cluster = common::one_master_on(common::docker().transport(transport));
        let node = &cluster.masters()[0];
        let hostile = [
            "; rm -rf /tmp/canary",
            "$(touch /tmp/pwned)",
            "`touch /tmp/pwned2`",
            "a\nb",
            "'\"",
            "&& touch /tmp/pwned3",
            "*",
        ];
        node.run(["touch", "/tmp/canary"]).unwrap();
        let mut args = vec!["printf", "%s|"];
        args.extend(hostile);
        let out = node
            .run(Command::new(args).env("HOSTILE", "$(touch /tmp/pwned4); `id` \n'x'"))
            .unwrap();
        assert_eq!(
            out.stdout_text(),
            format!("{}|", hostile.join("|")),
            "{transport}"
        );
        let env = node
            .run(
                Command::new(["printenv", "HOSTILE"])
                    .env("HOSTILE", "$(touch /tmp/pwned4); `id` \n'x'"),
            )
            .unwrap();
        assert_eq!(
            env.stdout_text(),
            "$(touch /tmp/pwned4); `id` \n'x'",
            "{transport}"
        );
        let check = node
            .run([
                "sh",
                "-c",
                "ls /tmp/pwned* 2>/dev/null | wc -l; test -e /tmp/canary && echo canary",
            ])
            .unwrap();
        assert_eq!(
            check.stdout_text(),
            "0\ncanary",
            "{transport}: nothing was interpreted"
        );
    }
}

#[test]
fn node_killed_mid_command_is_an_error_not_a_hang() {
    let _case = Case::new("node killed mid-command");
    for transport in [TransportKind::Ssh, TransportKind::DockerExec] {
        let cluster = common::one_master_on(common::docker().transport(transport));
        let node = &cluster.masters()[0];
        let mut process = node.popen(["sleep", "300"]).unwrap();
        let started = Instant::now();
        let kill = Proc::new("docker")
            .args(["kill", node.container_name().unwrap()])
            .output()
            .unwrap();
        assert!(kill.status.success());
        let result = process.wait();
        eprintln!(
            "{transport}: wait returned after {:?}: {result:?}",
            started.elapsed()
        );
        // The command's own channel or exec stream ended without a status.
        match result {
            Err(Error::Transport { node: named, .. }) => {
                assert_eq!(named, node.to_string(), "{transport}")
            }
            Err(other) => panic!("{transport}: expected Error::Transport, got {other:?}"),
            Ok(out) => assert_ne!(
                out.status, 0,
                "{transport}: a killed node cannot report success"
            ),
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{transport}: took {:?}",
            started.elapsed()
        );
        // The next command: nothing answers at the address (SSH), or the container is
        // not running (docker exec).
        let err = node.run(["true"]).unwrap_err();
        eprintln!("{transport}: next command: {err}");
        match (transport, &err) {
            (TransportKind::Ssh, Error::Timeout { node: named, .. })
            | (TransportKind::DockerExec, Error::Unreachable { node: named, .. }) => {
                assert_eq!(*named, node.to_string())
            }
            _ => panic!(
                "{transport}: expected Timeout (ssh) or Unreachable (docker exec), got {err:?}"
            ),
        }
    }
}
