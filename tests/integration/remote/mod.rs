//! A Docker daemon on another host, as the library meets one: `scripts/remote-daemon`
//! runs a daemon of the tests' own in its own network and mount namespaces (its own
//! /tmp, addresses not routable from here), reached through DOCKER_HOST. Nothing of the
//! workspace can be bound there: keys and genconf go through the API, nodes are reached
//! with docker exec, the node image is sent from this machine's daemon.
//!
//! One file per concern: how the daemon and its nodes are reached (`connection`: TCP
//! with TLS, `ssh://`, a jump host), a cluster on one remote daemon (`daemon`), a
//! cluster over two daemons of a swarm (`swarm`). The helpers they share are here.

use std::collections::BTreeMap;
use std::process::Command as Proc;
use std::sync::OnceLock;
use std::time::Duration;

use dcos_e2e::Docker;
use dcos_e2e::blocking::Cluster;

use crate::common;

mod connection;
mod daemon;
mod swarm;

/// The remote daemon's address, started once for all test processes (the script is
/// idempotent, and serialises its callers).
fn remote() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| remote_daemon(&["start", "r1"]))
}

/// `scripts/remote-daemon ARGS`, which must succeed; what it prints.
fn remote_daemon(args: &[&str]) -> String {
    let script = common::repo_root().join("scripts/remote-daemon");
    let out = Proc::new(&script)
        .args(args)
        .output()
        .expect("scripts/remote-daemon runs");
    assert!(
        out.status.success(),
        "scripts/remote-daemon {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The state directory of the test daemon at `host` (see `scripts/remote-daemon`).
fn state_dir(host: &str) -> &str {
    host.strip_prefix("unix://")
        .and_then(|s| s.strip_suffix("/docker.sock"))
        .unwrap()
}

/// The address this machine reaches the test daemon's host at (its TCP listener's).
fn host_address(host: &str) -> String {
    let tcp = std::fs::read_to_string(format!("{}/tcp", state_dir(host))).unwrap();
    let ip = tcp.trim().trim_start_matches("tcp://").split(':').next();
    ip.unwrap().to_string()
}

/// `docker -H HOST ARGS`, which must succeed; its stdout lines.
fn docker_at(host: &str, args: &[&str]) -> Vec<String> {
    common::docker_lines(Some(host), args)
}

/// Containers, networks and volumes of the cluster on that daemon.
fn objects_on(host: &str, id: &str) -> Vec<String> {
    let (containers, networks, volumes) = common::leftovers_at(Some(host), id);
    [containers, networks, volumes].concat()
}

/// The names of the cluster's running containers on that daemon, sorted.
fn names_on(host: &str, id: &str) -> Vec<String> {
    let filter = format!("label=dcos-e2e.cluster-id={id}");
    let mut names = docker_at(host, &["ps", "--format", "{{.Names}}", "--filter", &filter]);
    names.sort();
    names
}

/// A master and an agent on `backend`, provisioned.
fn master_and_agent(backend: Docker) -> dcos_e2e::Result<Cluster> {
    Cluster::builder(backend)
        .masters(1)
        .agents(1)
        .public_agents(0)
        .provision()
}

/// `node` answers a command, as the container it is.
fn answers_as_itself(node: &dcos_e2e::blocking::Node) {
    let name = node.run(["hostname"]).unwrap().stdout_text();
    assert_eq!(Some(name.trim()), node.container_name(), "{node}");
}

/// A file sent to `node` comes back the same.
fn copies_both_ways(node: &dcos_e2e::blocking::Node, content: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let sent = dir.path().join("sent");
    std::fs::write(&sent, content).unwrap();
    node.send_file(&sent, "/root/sent").unwrap();
    let back = dir.path().join("back");
    node.download_file("/root/sent", &back).unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), content);
}

/// The sample installer's cluster becomes healthy and its integration tests pass.
fn healthy_and_tested(cluster: &Cluster) {
    cluster.wait_for_dcos(Duration::from_secs(120)).unwrap();
    let out = cluster
        .run_integration_tests(["pytest", "-x"], BTreeMap::new())
        .unwrap();
    assert!(
        out.stdout_text().contains("8 passed"),
        "{}",
        out.stdout_text()
    );
}

/// Provision 1+1+0 on the backend, say its id and workspace, and hold it until killed.
fn hold(backend: Docker) {
    let cluster = Cluster::builder(backend)
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
    std::thread::sleep(Duration::from_secs(600));
}
