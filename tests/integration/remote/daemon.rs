//! A cluster on one remote daemon: it installs, runs commands and copies files there,
//! local bind mounts are refused while the daemon's own paths work, a node image
//! missing there is sent from this machine, and a killed owner's cluster is removed
//! there.

use std::process::Command as Proc;
use std::time::Duration;

use dcos_e2e::blocking::Cluster;
use dcos_e2e::{Docker, Error, ExtraConfig, Mount, TransportKind};

use super::{
    copies_both_ways, docker_at, healthy_and_tested, hold, objects_on, remote, remote_daemon,
};
use crate::common;
use crate::process::{minidcos_at, poll, send_signal, spawn_holder};

const LOCAL: &str = "unix:///var/run/docker.sock";

/// From here on this test process's library calls go to the remote daemon (the node
/// image is made sure of on this machine's daemon first: it is sent from there).
fn use_remote() -> &'static str {
    common::node_image();
    let host = remote();
    // SAFETY: set before this test starts any thread of its own or any runtime; each
    // test runs in its own process.
    unsafe { std::env::set_var("DOCKER_HOST", host) };
    host
}

/// A daemon whose address pools are all given out: the create fails naming that cause
/// (not a bare API error), and leaves nothing there. The daemon is this test's own (its
/// pools are 16 subnets, see `scripts/remote-daemon`): filling a shared one would fail
/// other tests' creates.
#[test]
fn a_daemon_with_no_free_subnet_is_named_as_the_cause() {
    common::node_image();
    let host = remote_daemon(&["start", "r9"]);
    // Every subnet taken, by networks that are not ours.
    let mut filled = 0;
    while Proc::new("docker")
        .args([
            "-H",
            &host,
            "network",
            "create",
            &format!("filler-{filled}"),
        ])
        .output()
        .expect("docker CLI runs")
        .status
        .success()
    {
        filled += 1;
        assert!(filled < 64, "the daemon's pools never ran out");
    }
    assert!(filled > 0, "no network could be made on the test daemon");
    // SAFETY: set before this test starts any thread of its own or any runtime; each
    // test runs in its own process.
    unsafe { std::env::set_var("DOCKER_HOST", &host) };
    let id = "dcos-e2e-pools-test";
    let err = Cluster::builder(Docker::new().cluster_id(id))
        .masters(1)
        .agents(0)
        .public_agents(0)
        .provision()
        .expect_err("a create with no free subnet fails");
    let cause = match &err {
        Error::CreateFailed(f) => &f.cause,
        other => other,
    };
    assert!(
        matches!(cause, Error::AddressPoolsExhausted { host: h } if *h == host),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("default-address-pools")
            || cause.to_string().contains("default-address-pools"),
        "{err}"
    );
    assert!(objects_on(&host, id).is_empty(), "left on the daemon");
    // The daemon, its fillers and all it made go with it.
    remote_daemon(&["stop", "r9"]);
}

#[test]
fn a_cluster_on_a_remote_daemon_installs_runs_copies_and_goes() {
    let host = use_remote();
    let cluster = Cluster::builder(Docker::new())
        .masters(1)
        .agents(1)
        .public_agents(1)
        .build_artifact(common::sample_installer())
        .extra_config(ExtraConfig::from_yaml("sample_startup_delay: 0").unwrap())
        .create()
        .unwrap();
    let (id, workspace) = (
        cluster.id().to_string(),
        cluster.workspace().unwrap().to_path_buf(),
    );
    // The nodes and their watchdog are there, and nothing of them here.
    assert_eq!(
        docker_at(
            host,
            &[
                "ps",
                "-q",
                "--filter",
                &format!("label=dcos-e2e.cluster-id={id}")
            ]
        )
        .len(),
        4,
        "3 nodes and the watchdog on the remote daemon"
    );
    assert!(objects_on(LOCAL, &id).is_empty());
    for node in cluster.nodes() {
        assert_eq!(node.transport(), TransportKind::DockerExec, "{node}");
        // A node sees its daemon's /tmp, not this machine's.
        let seen = node
            .output(["test", "-e", &workspace.to_string_lossy()])
            .unwrap();
        assert_ne!(seen.status, 0, "{node} sees the workspace");
    }
    healthy_and_tested(&cluster);
    // Copies both ways through the API.
    copies_both_ways(&cluster.agents()[0], b"across hosts\n");
    drop(cluster);
    assert!(
        objects_on(host, &id).is_empty(),
        "left on the remote daemon"
    );
    assert!(
        !workspace.exists(),
        "workspace {} left",
        workspace.display()
    );
}

#[test]
fn local_bind_mounts_are_refused_there_and_daemon_paths_work() {
    // Chosen per backend here, not by DOCKER_HOST.
    common::node_image();
    let host = remote();
    let provision = |backend: Docker| {
        Cluster::builder(backend.docker_host(host))
            .masters(1)
            .agents(0)
            .public_agents(0)
            .provision()
    };
    let id = Docker::new_cluster_id();
    let local = tempfile::NamedTempFile::new().unwrap();
    let err = provision(
        Docker::new()
            .cluster_id(&id)
            .master_mount(Mount::new(local.path(), "/x")),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidParameter { parameter, .. } if *parameter == dcos_e2e::Parameter::CustomMounts),
        "{err:?}"
    );
    // Refused before anything of the cluster was made; the workspace went too.
    assert!(objects_on(host, &id).is_empty());
    assert!(common::temp_workspaces(&id).is_empty());
    // A path of the daemon's host, said to be one: bound there. (Outside /tmp the
    // remote daemon's filesystem is this machine's; the repository may be in /tmp.)
    let marker = std::path::PathBuf::from(format!(
        "/var/tmp/dcos-e2e-remote-mount-{}",
        std::process::id()
    ));
    let content = format!("on the daemon's host {:?}", std::time::SystemTime::now());
    std::fs::write(&marker, &content).unwrap();
    let cluster = provision(
        Docker::new()
            .mount_sources_on_daemon(true)
            .master_mount(Mount::new(&marker, "/marker").read_only()),
    );
    std::fs::remove_file(&marker).unwrap();
    let seen = cluster.unwrap().masters()[0]
        .run(["cat", "/marker"])
        .unwrap();
    assert_eq!(seen.stdout_text(), content);
}

#[test]
fn a_node_image_missing_there_is_sent_from_this_machine() {
    let host = use_remote();
    let tag = format!("dcos-e2e-test/sent:{}", std::process::id());
    docker_at(LOCAL, &["tag", common::node_image(), &tag]);
    let cluster = Cluster::builder(Docker::new().node_image(&tag))
        .masters(1)
        .agents(0)
        .public_agents(0)
        .provision();
    let there = docker_at(host, &["images", "-q", &tag]);
    let id = cluster
        .as_ref()
        .map(|c| c.id().to_string())
        .map_err(|e| e.to_string());
    drop(cluster);
    docker_at(LOCAL, &["rmi", &tag]);
    if let Ok(id) = &id {
        assert!(objects_on(host, id).is_empty());
    }
    // Untag only: the layers are the shared node image's.
    let _ = Proc::new("docker").args(["-H", host, "rmi", &tag]).status();
    id.unwrap();
    assert_eq!(there.len(), 1, "{tag} was not sent");
}

/// Provisions on the remote daemon and holds the cluster until killed (run by
/// `a_killed_owner_s_cluster_is_removed_there`).
#[test]
#[ignore = "run as a child process by another test"]
fn remote_holder() {
    use_remote();
    hold(Docker::new());
}

#[test]
fn a_killed_owner_s_cluster_is_removed_there() {
    let host = remote();
    common::node_image();
    let (mut child, id, workspace) = spawn_holder("remote::daemon::remote_holder", &[]);
    // The CLI finds it there too.
    let listed = minidcos_at(host, &["docker", "list"]);
    assert!(listed.stdout.contains(&id), "{}", listed.stdout);
    let running = format!("label=dcos-e2e.cluster-id={id}");
    assert_eq!(
        docker_at(host, &["ps", "-q", "--filter", &running]).len(),
        3,
        "2 nodes and the watchdog"
    );
    send_signal(&child, libc::SIGKILL);
    child.wait().unwrap();
    poll(
        "the watchdog there to remove it",
        Duration::from_secs(60),
        || objects_on(host, &id).is_empty(),
    );
    // The watchdog there cannot reach this machine's workspace: it stays for `clean`
    // or the test to remove (keys and known hosts only).
    assert!(workspace.exists());
    std::fs::remove_dir_all(&workspace).unwrap();
}
