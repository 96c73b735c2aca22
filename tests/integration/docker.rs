//! The Docker backend and the cluster lifecycle.

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::Command as Proc;

use dcos_e2e::blocking::Cluster;
use dcos_e2e::docker::labels;
use dcos_e2e::{Aftermath, Docker, Error, Mount, Role};

use crate::common::{self, assert_gone, docker_inspect, force_remove, leftovers};

#[test]
fn one_of_each_role_is_a_set_of_machines() {
    let cluster = Cluster::builder(common::docker()).provision().unwrap();
    let id = cluster.id().to_string();
    let workspace = cluster.workspace().unwrap().to_path_buf();
    assert!(id.starts_with("dcos-e2e-"), "{id}");

    let expected = [
        (Role::Master, format!("{id}-master-1"), "master"),
        (Role::Agent, format!("{id}-agent-1"), "agent"),
        (
            Role::PublicAgent,
            format!("{id}-pub-agent-1"),
            "public-agent",
        ),
    ];
    let mut ips = HashSet::new();
    for (role, name, label) in &expected {
        let node = cluster.nodes().find(|n| n.role() == *role).unwrap();
        assert_eq!(node.container_name(), Some(name.as_str()));
        for (key, value) in [
            (labels::PROJECT, "1"),
            (labels::CLUSTER_ID, id.as_str()),
            (labels::ROLE, *label),
        ] {
            assert_eq!(
                docker_inspect(&format!("{{{{index .Config.Labels \"{key}\"}}}}"), name),
                value,
                "{name} {key}"
            );
        }
        let ip = docker_inspect(
            &format!("{{{{(index .NetworkSettings.Networks \"{id}\").IPAddress}}}}"),
            name,
        );
        assert_eq!(ip, node.ip_address().to_string());
        ips.insert(ip);
        // No host ports published.
        let bindings = docker_inspect("{{json .HostConfig.PortBindings}}", name);
        assert!(
            matches!(bindings.as_str(), "null" | "{}"),
            "{name} publishes {bindings}"
        );
        let state = node
            .output(["systemctl", "is-system-running", "--wait"])
            .unwrap()
            .stdout_text();
        assert!(
            matches!(state.as_str(), "running" | "degraded"),
            "{name}: {state}"
        );
        assert!(
            node.output(["test", "-e", "/run/nologin"]).unwrap().status != 0,
            "/run/nologin removed"
        );
        let mounts = node.run(["sh", "-c", "for d in /opt /var/lib/docker /var/lib/mesos/slave; do mountpoint -q $d && echo $d; done; true"]).unwrap();
        let mut want = vec!["/opt", "/var/lib/docker"];
        if *role != Role::Master {
            want.push("/var/lib/mesos/slave");
        }
        assert_eq!(
            mounts.stdout_text().lines().collect::<Vec<_>>(),
            want,
            "{name} volumes"
        );
        for tmpfs in ["/run", "/run/lock", "/tmp"] {
            let fs = node
                .run(["stat", "-f", "-c", "%T", tmpfs])
                .unwrap()
                .stdout_text();
            assert_eq!(fs, "tmpfs", "{name} {tmpfs}");
        }
    }
    assert_eq!(ips.len(), 3, "distinct addresses");
    let (containers, networks, volumes) = leftovers(&id);
    assert_eq!(
        (containers.len(), networks.len(), volumes.len()),
        (4, 1, 8),
        "3 nodes + watchdog, 1 network, 2 + 3 + 3 volumes"
    );

    let key = cluster.masters()[0].ssh_key_path().to_path_buf();
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&workspace).unwrap().permissions().mode() & 0o777,
        0o700
    );
    drop(cluster);
    assert_gone(&id, Some(&workspace));
}

#[test]
fn master_mount_is_seen_live() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file.txt"), "first").unwrap();
    let backend = common::docker().master_mount(Mount::new(dir.path(), "/etc/on-host"));
    let cluster = Cluster::builder(backend)
        .masters(1)
        .agents(1)
        .public_agents(0)
        .provision()
        .unwrap();
    let master = &cluster.masters()[0];
    assert_eq!(
        master
            .run(["cat", "/etc/on-host/file.txt"])
            .unwrap()
            .stdout_text(),
        "first"
    );
    std::fs::write(dir.path().join("file.txt"), "second").unwrap();
    assert_eq!(
        master
            .run(["cat", "/etc/on-host/file.txt"])
            .unwrap()
            .stdout_text(),
        "second"
    );
    assert!(
        cluster.agents()[0]
            .output(["test", "-e", "/etc/on-host"])
            .unwrap()
            .status
            != 0,
        "only masters get master mounts"
    );
}

#[test]
fn read_only_agent_mount() {
    let dir = tempfile::tempdir().unwrap();
    let backend = common::docker().agent_mount(Mount::new(dir.path(), "/data").read_only());
    let cluster = Cluster::builder(backend)
        .masters(1)
        .agents(1)
        .public_agents(0)
        .provision()
        .unwrap();
    let err = cluster.agents()[0].run(["touch", "/data/x"]).unwrap_err();
    assert_eq!(err.exit_status(), Some(1), "{err}");
}

#[test]
fn workspace_is_made_in_workspace_dir_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::builder(common::docker().workspace_dir(dir.path()))
        .masters(1)
        .agents(0)
        .public_agents(0)
        .provision()
        .unwrap();
    let workspace = cluster.workspace().unwrap().to_path_buf();
    assert_eq!(workspace.parent(), Some(dir.path()));
    assert!(workspace.join("ssh/id_ed25519").exists());
    cluster.destroy().unwrap();
    assert!(!workspace.exists());
    assert!(dir.path().exists(), "the workspace_dir itself stays");
    cluster.destroy().unwrap();
}

fn scope_that_panics(destroy_on_error: bool) -> String {
    let id = Docker::new_cluster_id();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let cluster = Cluster::builder(common::docker().cluster_id(&id))
            .masters(1)
            .agents(0)
            .public_agents(0)
            .destroy_on_error(destroy_on_error)
            .provision()
            .unwrap();
        cluster.masters()[0].run(["true"]).unwrap();
        panic!("test failure inside the scope");
    }));
    assert!(result.is_err());
    id
}

#[test]
fn panic_destroys_when_destroy_on_error() {
    let id = scope_that_panics(true);
    assert_gone(&id, None);
}

#[test]
fn panic_keeps_when_not_destroy_on_error() {
    let id = scope_that_panics(false);
    let (containers, networks, _) = leftovers(&id);
    let kept = containers.len() == 1 && networks.len() == 1;
    force_remove(&id);
    assert!(kept, "kept for debugging: containers {containers:?}");
    assert_gone(&id, None);
}

#[test]
fn normal_end_keeps_when_not_destroy_on_success() {
    let id = Docker::new_cluster_id();
    {
        let _cluster = Cluster::builder(common::docker().cluster_id(&id))
            .masters(1)
            .agents(0)
            .public_agents(0)
            .destroy_on_success(false)
            .provision()
            .unwrap();
    }
    let (containers, _, _) = leftovers(&id);
    let running = docker_inspect("{{.State.Running}}", &format!("{id}-master-1"));
    force_remove(&id);
    assert_eq!(
        containers.len(),
        1,
        "the node stays and its watchdog is stood down"
    );
    assert_eq!(running, "true");
    assert_gone(&id, None);
}

#[test]
fn two_clusters_at_once_do_not_interfere() {
    let make = || {
        std::thread::spawn(|| {
            Cluster::builder(common::docker())
                .masters(1)
                .agents(1)
                .public_agents(0)
                .provision()
                .unwrap()
        })
    };
    let (a, b) = (make(), make());
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    assert_ne!(a.id(), b.id());
    let net = |c: &Cluster| {
        docker_inspect(
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}",
            c.masters()[0].container_name().unwrap(),
        )
    };
    assert_ne!(net(&a), net(&b), "each cluster has its own network");
    // A node of one cluster cannot reach the other cluster's network, while the same
    // probe reaches a node of its own cluster (so a failing probe is not what we see).
    let probe = |from: &dcos_e2e::blocking::Node, to: std::net::IpAddr| {
        from.output([
            "bash",
            "-c",
            &format!("timeout 2 bash -c '</dev/tcp/{to}/22'"),
        ])
        .unwrap()
        .status
    };
    assert_eq!(
        probe(&a.masters()[0], a.agents()[0].ip_address()),
        0,
        "same cluster"
    );
    assert_ne!(
        probe(&a.masters()[0], b.masters()[0].ip_address()),
        0,
        "clusters are isolated"
    );
    let b_id = b.id().to_string();
    a.destroy().unwrap();
    assert_eq!(
        b.masters()[0].run(["echo", "alive"]).unwrap().stdout_text(),
        "alive"
    );
    drop(b);
    assert_gone(&b_id, None);
}

fn invalid_parameter(err: Error) -> (String, String) {
    match err {
        Error::InvalidParameter {
            parameter, value, ..
        } => (parameter.to_string(), value),
        Error::ClusterIdTaken { cluster_id } => ("cluster_id".into(), cluster_id),
        other => panic!("expected an invalid parameter, got: {other}"),
    }
}

#[test]
fn bad_input_is_refused_before_anything_is_made() {
    let id = Docker::new_cluster_id();
    let backend = || common::docker().cluster_id(&id);

    let err = Cluster::builder(backend())
        .masters(0)
        .provision()
        .unwrap_err();
    assert_eq!(invalid_parameter(err), ("masters".into(), "0".into()));

    let missing = std::env::temp_dir().join("dcos-e2e-no-such-dir");
    let err = Cluster::builder(backend().master_mount(Mount::new(&missing, "/x")))
        .provision()
        .unwrap_err();
    assert_eq!(
        invalid_parameter(err),
        ("master_mounts".into(), missing.display().to_string())
    );

    let err = Cluster::builder(common::docker().cluster_id("bad id!"))
        .provision()
        .unwrap_err();
    assert_eq!(
        invalid_parameter(err),
        ("cluster_id".into(), "bad id!".into())
    );

    let err = Cluster::builder(backend())
        .build_artifact("/nonexistent/installer.sh")
        .create()
        .unwrap_err();
    assert_eq!(invalid_parameter(err).0, "build_artifact");
    let dir = tempfile::tempdir().unwrap();
    let err = Cluster::builder(backend())
        .build_artifact(dir.path())
        .create()
        .unwrap_err();
    assert_eq!(
        invalid_parameter(err),
        ("build_artifact".into(), dir.path().display().to_string())
    );
    let err = Cluster::builder(backend()).create().unwrap_err();
    assert_eq!(
        invalid_parameter(err).0,
        "build_artifact",
        "the Docker backend's create needs an artifact"
    );

    assert_gone(&id, None);
}

#[test]
fn a_used_cluster_id_is_refused() {
    let first = common::one_master();
    let err = Cluster::builder(common::docker().cluster_id(first.id()))
        .masters(1)
        .agents(0)
        .public_agents(0)
        .provision()
        .unwrap_err();
    assert_eq!(
        invalid_parameter(err),
        ("cluster_id".into(), first.id().to_string())
    );
    assert_eq!(
        first.masters()[0].run(["true"]).unwrap().status,
        0,
        "the first cluster is untouched"
    );
}

#[test]
fn two_creates_racing_for_one_id_leave_the_winner_intact() {
    let id = Docker::new_cluster_id();
    let create = || {
        let id = id.clone();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let made = Cluster::builder(common::docker().cluster_id(&id))
                .masters(2)
                .agents(0)
                .public_agents(0)
                .provision();
            (started, std::time::Instant::now(), made)
        })
    };
    let (a, b) = (create(), create());
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    // The two were under way at the same time: a race, not one after the other.
    assert!(a.0 < b.1 && b.0 < a.1, "the creates did not overlap");
    let results = [a.2, b.2];
    let (won, lost): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    assert_eq!(won.len(), 1, "one create wins: {lost:?}");
    let lost = lost.into_iter().next().unwrap().unwrap_err();
    eprintln!("the losing create: {}", dcos_e2e::chain(&lost));
    // It lost the id: refused at once, or (the id claimed under it) part-way.
    let id_taken = lost.find(|e| matches!(e, Error::ClusterIdTaken { .. }).then_some(()));
    assert!(id_taken.is_some(), "{lost}");
    let winner = won.into_iter().next().unwrap().unwrap();
    for master in winner.masters() {
        assert_eq!(
            master.run(["true"]).unwrap().status,
            0,
            "the winner's nodes are untouched"
        );
    }
    let workspace = winner.workspace().unwrap().to_path_buf();
    assert!(workspace.is_dir());
    let (containers, networks, _) = leftovers(&id);
    assert_eq!(networks.len(), 1, "{networks:?}");
    assert!(containers.len() >= 2, "{containers:?}");
    drop(winner);
    assert_gone(&id, Some(&workspace));
}

#[test]
fn destroy_by_id_finds_the_workspace_when_only_volumes_are_left() {
    let cluster = common::one_master();
    let id = cluster.id().to_string();
    let workspace = cluster.workspace().unwrap().to_path_buf();
    let (containers, networks, volumes) = leftovers(&id);
    assert!(!volumes.is_empty());
    // Someone removed the containers and the network by hand.
    for args in [
        [
            &["rm", "-f"][..],
            &containers.iter().map(String::as_str).collect::<Vec<_>>(),
        ]
        .concat(),
        [
            &["network", "rm"][..],
            &networks.iter().map(String::as_str).collect::<Vec<_>>(),
        ]
        .concat(),
    ] {
        let out = Proc::new("docker").args(&args).output().unwrap();
        assert!(out.status.success(), "docker {args:?}");
    }
    force_remove(&id);
    assert_gone(&id, Some(&workspace));
    drop(cluster);
}

#[test]
fn unreachable_daemon_is_a_typed_error() {
    // A child process: DOCKER_HOST must not leak into other tests.
    let out = Proc::new(common::minidcos())
        .args([
            "docker",
            "create",
            "--masters",
            "1",
            "--agents",
            "0",
            "--public-agents",
            "0",
            "--node-image",
            "x",
        ])
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot reach the Docker daemon"), "{err}");
    // And the library's own error is the typed one (in a child: this very test binary).
    let child = Proc::new("/proc/self/exe")
        .args([
            "docker::unreachable_daemon_child",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&child.stderr)
    );
    assert!(said.contains("1 passed"), "{said}");
}

#[test]
#[ignore = "run as a child process by unreachable_daemon_is_a_typed_error"]
fn unreachable_daemon_child() {
    let err = Cluster::builder(Docker::new().node_image("x"))
        .provision()
        .unwrap_err();
    assert!(matches!(err, Error::DockerUnreachable { .. }), "{err}");
}

/// An image that exists but cannot boot: creation fails after the network and
/// containers exist, and everything made so far is removed.
#[test]
fn failure_part_way_leaves_nothing() {
    let tag = format!("dcos-e2e-test/broken:{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README"), "not a machine").unwrap();
    let tar = Proc::new("tar")
        .args(["-C"])
        .arg(dir.path())
        .args(["-cf", "-", "."])
        .output()
        .unwrap();
    let mut import = Proc::new("docker")
        .args(["import", "-c", "LABEL dcos-e2e.test=1", "-", &tag])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    import.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
    assert!(import.wait().unwrap().success());

    let workspaces = tempfile::tempdir().unwrap();
    let id = Docker::new_cluster_id();
    let err = Cluster::builder(
        Docker::new()
            .cluster_id(&id)
            .node_image(&tag)
            .workspace_dir(workspaces.path()),
    )
    .provision()
    .unwrap_err();
    let _ = Proc::new("docker").args(["rmi", "-f", &tag]).output();
    match &err {
        Error::CreateFailed(f) if f.aftermath == Aftermath::Removed => {
            assert_eq!(f.cluster_id, id)
        }
        other => panic!("expected CreateFailed, got {other}"),
    }
    assert_gone(&id, None);
    assert_eq!(
        std::fs::read_dir(workspaces.path()).unwrap().count(),
        0,
        "workspace removed"
    );
}

#[test]
fn nodes_join_a_given_network_which_stays() {
    let name = format!("dcos-e2e-test-net-{}", std::process::id());
    let made = Proc::new("docker")
        .args(["network", "create", &name])
        .output()
        .unwrap();
    assert!(made.status.success());
    let result = catch_unwind(|| {
        let cluster = Cluster::builder(common::docker().network(&name))
            .masters(1)
            .agents(1)
            .public_agents(0)
            .provision()
            .unwrap();
        let master = cluster.masters()[0].container_name().unwrap().to_string();
        let on = docker_inspect(
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}",
            &master,
        );
        assert_eq!(on, name);
        let agent = cluster.agents()[0].ip_address().to_string();
        cluster.masters()[0]
            .run([
                "bash",
                "-c",
                &format!("timeout 5 bash -c '</dev/tcp/{agent}/22'"),
            ])
            .unwrap();
        let id = cluster.id().to_string();
        drop(cluster);
        assert_gone(&id, None);
        let inspect = Proc::new("docker")
            .args(["network", "inspect", &name])
            .output()
            .unwrap();
        assert!(
            inspect.status.success(),
            "the user's network is not removed"
        );
    });
    let _ = Proc::new("docker").args(["network", "rm", &name]).output();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// `scope`: an `Err` ends the scope as an error (destroy_on_error), `Ok` as a normal end.
#[test]
fn scope_applies_the_policy_for_how_it_ended() {
    let make = |id: &str| {
        Cluster::builder(common::docker().cluster_id(id))
            .masters(1)
            .agents(0)
            .public_agents(0)
            .destroy_on_success(false)
            .destroy_on_error(true)
            .provision()
            .unwrap()
    };
    let failed_id = Docker::new_cluster_id();
    let result = make(&failed_id).scope(|c| c.masters()[0].run(["false"]));
    assert_eq!(result.unwrap_err().exit_status(), Some(1));
    assert_gone(&failed_id, None);

    let ok_id = Docker::new_cluster_id();
    let result = make(&ok_id).scope(|c| c.masters()[0].run(["true"]));
    assert!(result.is_ok());
    let (containers, _, _) = leftovers(&ok_id);
    force_remove(&ok_id);
    assert_eq!(containers.len(), 1, "kept: destroy_on_success is false");
    assert_gone(&ok_id, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn async_scope_destroys_on_error() {
    let id = Docker::new_cluster_id();
    // The shared image helper blocks: keep it off the runtime's threads.
    let backend = tokio::task::spawn_blocking(common::docker).await.unwrap();
    let cluster = dcos_e2e::Cluster::builder(backend.cluster_id(&id))
        .masters(1)
        .agents(0)
        .public_agents(0)
        .destroy_on_success(false)
        .provision()
        .await
        .unwrap();
    let result = cluster
        .scope(async |c: &dcos_e2e::Cluster| c.masters()[0].run(["sh", "-c", "exit 3"]).await)
        .await;
    assert_eq!(result.unwrap_err().exit_status(), Some(3));
    assert_gone(&id, None);
}
