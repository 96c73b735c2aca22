//! A link to a remote daemon that drops: over `ssh://` the cleanup watchdog takes a lost
//! connection for a lost link until its owner fails to hold it again, and over `tcp://`
//! a command's stream notices a daemon that stopped answering. The drop is made with a
//! rule in the daemon host's own network namespace for one port, so the other tests
//! reaching that daemon go on.

use std::time::Duration;

use dcos_e2e::Docker;
use dcos_e2e::blocking::Cluster;

use super::{
    Blocked, Sshd, answers_as_itself, chain, docker_at, objects_on, remote, remote_daemon,
    remote_tls,
};
use crate::process::poll;

/// One master on `backend`, provisioned.
fn one_master(backend: Docker) -> Cluster {
    Cluster::builder(backend)
        .masters(1)
        .agents(0)
        .public_agents(0)
        .provision()
        .unwrap()
}

/// What the container `name` on `host` has said so far.
fn logs(host: &str, name: &str) -> String {
    docker_at(host, &["logs", name]).join("\n")
}

#[test]
fn a_lost_ssh_link_is_not_taken_for_a_dead_owner() {
    let host = remote();
    // An sshd that drops a client silent for 3 s, as a server with ClientAlive set does:
    // the drop closes the watchdog's connection on the daemon's side too.
    let sshd = Sshd::start(
        host,
        2223,
        &["ClientAliveInterval=1", "ClientAliveCountMax=2"],
    );
    sshd.trust();
    let cluster = one_master(Docker::new().docker_host(&sshd.url));
    let id = cluster.id().to_string();
    let watchdog = format!("{id}-watchdog");
    let before = objects_on(host, &id);
    let drop = Blocked::port(host, 2223);
    poll(
        "the watchdog to see its connection close",
        Duration::from_secs(60),
        || logs(host, &watchdog).contains("connection closed"),
    );
    std::mem::drop(drop);
    // The owner is alive: once the link is back it holds the watchdog again, and the
    // cluster stays.
    poll(
        "the owner to hold the watchdog again",
        Duration::from_secs(60),
        || logs(host, &watchdog).contains("held again"),
    );
    assert!(
        !logs(host, &watchdog).contains("removing"),
        "{}",
        logs(host, &watchdog)
    );
    assert_eq!(objects_on(host, &id), before);
    answers_as_itself(&cluster.masters()[0]);
    std::mem::drop(cluster);
    assert!(objects_on(host, &id).is_empty(), "left there");
}

#[test]
fn a_daemon_over_tcp_that_stops_answering_ends_a_quiet_command() {
    // A daemon of this test's own: its TCP port is cut off.
    let host = remote_daemon(&["start", "r10"]);
    let (tcp, certs) = remote_tls(&host);
    // SAFETY: set before this test starts any thread of its own or any runtime; each
    // test runs in its own process.
    unsafe {
        std::env::set_var("DOCKER_HOST", &tcp);
        std::env::set_var("DOCKER_TLS_VERIFY", "1");
        std::env::set_var("DOCKER_CERT_PATH", &certs);
    }
    // Just started: its TCP listener may take a moment longer than its socket.
    poll("the daemon over TCP", Duration::from_secs(60), || {
        std::process::Command::new("docker")
            .args(["version", "--format", "{{.Server.Version}}"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let cluster = one_master(Docker::new());
    let id = cluster.id().to_string();
    let master = cluster.masters()[0].clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(master.run(["sleep", "600"]));
    });
    let node = format!("{id}-master-1");
    poll("the command to run", Duration::from_secs(30), || {
        docker_at(&host, &["top", &node])
            .iter()
            .any(|l| l.contains("sleep 600"))
    });
    let cut = Blocked::port(&host, 2376);
    // Bounded only so that a hang fails this test instead of stalling the suite.
    let ran = rx
        .recv_timeout(Duration::from_secs(90))
        .expect("the command returns once its daemon stops answering");
    let err = ran.expect_err("a command whose daemon is gone fails");
    let chain = chain(&err);
    assert!(chain.contains("stopped answering"), "{chain}");
    assert!(chain.contains(&tcp), "{chain}");
    std::mem::drop(cut);
    std::mem::drop(cluster);
    assert!(objects_on(&host, &id).is_empty(), "left there");
    remote_daemon(&["stop", "r10"]);
}
