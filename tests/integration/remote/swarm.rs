//! A cluster over two daemons of a swarm: it installs and its nodes meet across the
//! daemons, daemons that cannot make one cluster are named, and a killed owner's
//! cluster is removed from both (by the watchdogs, by `clean`, by `destroy` through
//! either daemon).

use std::sync::OnceLock;
use std::time::Duration;

use dcos_e2e::blocking::Cluster;
use dcos_e2e::{Docker, Error, ExtraConfig, TransportKind};

use super::{
    answers_as_itself, healthy_and_tested, hold, host_address, master_and_agent, names_on,
    objects_on, remote,
};
use crate::common;
use crate::process::{minidcos_at, poll, send_signal, spawn_holder};

/// Two daemons of the tests' own joined in a swarm of their own (the first its
/// manager); the machine's main daemon stays out of it.
fn swarm() -> &'static [String; 2] {
    static HOSTS: OnceLock<[String; 2]> = OnceLock::new();
    HOSTS.get_or_init(|| {
        let text = super::remote_daemon(&["swarm", "r4", "r5"]);
        let hosts: Vec<&str> = text.lines().collect();
        [hosts[0].to_string(), hosts[1].to_string()]
    })
}

#[test]
fn a_cluster_over_two_daemons_of_a_swarm_installs_and_its_nodes_meet() {
    common::node_image();
    let [manager, worker] = swarm();
    let cluster = Cluster::builder(Docker::new().docker_hosts([manager, worker]))
        .masters(1)
        .agents(1)
        .public_agents(1)
        .build_artifact(common::sample_installer())
        .extra_config(ExtraConfig::from_yaml("sample_startup_delay: 0").unwrap())
        .create()
        .unwrap();
    let id = cluster.id().to_string();
    // Round-robin over all nodes in role order: master and public agent on the first.
    assert_eq!(
        names_on(manager, &id),
        [
            format!("{id}-master-1"),
            format!("{id}-pub-agent-1"),
            format!("{id}-watchdog")
        ]
    );
    assert_eq!(
        names_on(worker, &id),
        [format!("{id}-agent-1"), format!("{id}-watchdog")]
    );
    healthy_and_tested(&cluster);
    // Across daemons, over the overlay: the master fetches a page the agent serves.
    let agent = &cluster.agents()[0];
    agent
        .run(dcos_e2e::Command::shell(
            "mkdir -p /srv/www && echo across-daemons > /srv/www/marker",
        ))
        .unwrap();
    let _server = agent
        .popen(["python3", "-m", "http.server", "8080", "-d", "/srv/www"])
        .unwrap();
    let url = format!("http://{}:8080/marker", agent.ip_address());
    let fetched = cluster.masters()[0]
        .run(dcos_e2e::Command::shell(format!(
            "for i in $(seq 50); do curl -sf {url} && exit 0; sleep 0.1; done; exit 1"
        )))
        .unwrap();
    assert_eq!(fetched.stdout_text(), "across-daemons");
    drop(cluster);
    assert!(objects_on(manager, &id).is_empty(), "left on the manager");
    assert!(objects_on(worker, &id).is_empty(), "left on the worker");
}

#[test]
fn daemons_that_cannot_make_one_cluster_are_named() {
    common::node_image();
    let [manager, worker] = swarm();
    let alone = remote();
    let provision = |hosts: [&str; 2]| {
        Cluster::builder(Docker::new().docker_hosts(hosts))
            .masters(1)
            .agents(1)
            .public_agents(0)
            .provision()
    };
    let err = provision([manager, alone]).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidParameter { parameter, value, .. }
            if *parameter == dcos_e2e::Parameter::DockerHosts && value == alone),
        "{err:?}"
    );
    assert!(err.to_string().contains("not in a Docker Swarm"), "{err}");
    let err = provision([worker, manager]).unwrap_err();
    assert!(err.to_string().contains("must be a swarm manager"), "{err}");
}

/// Provisions over the swarm's two daemons and holds the cluster until killed (run by
/// `a_killed_owner_s_cluster_over_a_swarm_is_removed_from_both`).
#[test]
#[ignore = "run as a child process by another test"]
fn swarm_holder() {
    common::node_image();
    let [manager, worker] = swarm();
    hold(Docker::new().docker_hosts([manager, worker]));
}

#[test]
fn a_killed_owner_s_cluster_over_a_swarm_is_removed_from_both() {
    let [manager, worker] = swarm();
    let (mut child, id, workspace) = spawn_holder("remote::swarm::swarm_holder", &[]);
    assert_eq!(names_on(manager, &id).len(), 2, "master and watchdog");
    assert_eq!(names_on(worker, &id).len(), 2, "agent and watchdog");
    send_signal(&child, libc::SIGKILL);
    child.wait().unwrap();
    poll(
        "the watchdogs to remove it from both",
        Duration::from_secs(90),
        || objects_on(manager, &id).is_empty() && objects_on(worker, &id).is_empty(),
    );
    std::fs::remove_dir_all(&workspace).unwrap();
}

#[test]
fn clean_through_a_worker_removes_a_dead_owner_s_cluster_from_both() {
    let [manager, worker] = swarm();
    // Kept: no watchdogs, so only `clean` removes it once its owner is gone.
    let (mut child, id, workspace) =
        spawn_holder("remote::swarm::swarm_holder", &[("DCOS_E2E_KEEP", "1")]);
    send_signal(&child, libc::SIGKILL);
    child.wait().unwrap();
    assert_eq!(names_on(manager, &id).len(), 1, "the master, no watchdog");
    assert_eq!(names_on(worker, &id).len(), 1, "the agent, no watchdog");
    minidcos_at(worker, &["docker", "clean"]).ok();
    assert!(objects_on(manager, &id).is_empty(), "left on the manager");
    assert!(objects_on(worker, &id).is_empty(), "left on the worker");
    assert!(
        !workspace.exists(),
        "workspace {} left",
        workspace.display()
    );
}

#[test]
fn destroy_by_id_through_either_daemon_removes_it_from_both() {
    common::node_image();
    let [manager, worker] = swarm();
    // Over SSH: one jump host, on the manager, reaches the nodes of both over the overlay.
    let backend = Docker::new()
        .docker_hosts([manager, worker])
        .transport(TransportKind::Ssh)
        .published_address(host_address(manager));
    let cluster = master_and_agent(backend).unwrap();
    let id = cluster.id().to_string();
    cluster.nodes().for_each(answers_as_itself);
    cluster.persist().unwrap();
    drop(cluster);
    assert!(
        !objects_on(worker, &id).is_empty(),
        "handed over: still there"
    );
    // Listed through either daemon, with the nodes of both.
    for daemon in [manager, worker] {
        let list = minidcos_at(daemon, &["docker", "list", "--json"])
            .ok()
            .json();
        let row = list
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["cluster_id"] == id.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("not listed through {daemon}: {list}"));
        assert_eq!(
            (row["masters"].as_u64(), row["agents"].as_u64()),
            (Some(1), Some(1)),
            "{row}"
        );
        assert_eq!(row["owner"], "user", "{row}");
    }
    // A log bundle through the worker: each node as its own daemon inspects it.
    let logs = tempfile::tempdir().unwrap();
    let bundle = logs.path().join("bundle");
    minidcos_at(
        worker,
        &["docker", "export-logs", &id, bundle.to_str().unwrap()],
    )
    .ok();
    for node in ["master-1", "agent-1"] {
        let inspect = std::fs::read_to_string(bundle.join(node).join("inspect.json")).unwrap();
        assert!(inspect.contains(&format!("{id}-{node}")), "{node}");
    }
    // Attached through the worker, the agent there is reached through the jump host.
    let ran = minidcos_at(
        worker,
        &["docker", "run", &id, "--node", "agent:1", "--", "hostname"],
    )
    .ok();
    assert_eq!(ran.stdout.trim(), format!("{id}-agent-1"));
    minidcos_at(worker, &["docker", "destroy", &id]).ok();
    assert!(objects_on(manager, &id).is_empty(), "left on the manager");
    assert!(objects_on(worker, &id).is_empty(), "left on the worker");
}
