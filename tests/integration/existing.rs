//! The `ExistingCluster` backend: the seed's test (wrap the nodes of a Docker cluster),
//! one test per seed condition, an unanswering node, and the cluster file.
//!
//! The condition tests put their "hosts" on loopback addresses where this test listens
//! on port 22 (see [`Sentinels`]): a refused creation must not have connected to any.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command as Proc;
use std::time::{Duration, Instant};

use dcos_e2e::blocking::{Cluster, ClusterBuilder};
use dcos_e2e::{ClusterFile, Command, Error, ExistingCluster, Host, Role, TransportKind};

use crate::common::{self, docker_cli};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

fn docker_cluster(masters: usize, agents: usize, public_agents: usize) -> Cluster {
    Cluster::builder(common::docker())
        .masters(masters)
        .agents(agents)
        .public_agents(public_agents)
        .provision()
        .expect("the Docker cluster provisions")
}

/// The builder the seed requires for an existing cluster, for `existing`'s node counts.
fn seed_builder(existing: &ExistingCluster) -> ClusterBuilder {
    Cluster::builder(existing.clone())
        .masters(existing.hosts(Role::Master).len())
        .agents(existing.hosts(Role::Agent).len())
        .public_agents(existing.hosts(Role::PublicAgent).len())
        .destroy_on_error(false)
        .destroy_on_success(false)
}

/// The host keys a Docker cluster pinned, which an existing cluster of its nodes checks.
fn pinned_keys(cluster: &Cluster) -> PathBuf {
    cluster
        .workspace()
        .expect("a Docker cluster has a workspace")
        .join("ssh/known_hosts")
}

fn hostname(node: &dcos_e2e::blocking::Node) -> String {
    node.run(["hostname"]).unwrap().stdout_text()
}

/// The seed's own test: wrap the nodes of a Docker cluster, use them through the
/// wrapping cluster, have `destroy` refused, and find the original intact.
#[test]
fn wraps_the_nodes_of_a_docker_cluster() {
    let original = docker_cluster(1, 1, 1);
    let id = original.id().to_string();
    let workspace = original.workspace().map(Path::to_path_buf);

    let existing = ExistingCluster::new(
        original.masters(),
        original.agents(),
        original.public_agents(),
        "root",
    )
    .connect_timeout(CONNECT_TIMEOUT)
    .known_hosts(pinned_keys(&original));
    let wrapped = Cluster::builder(existing)
        .masters(1)
        .agents(1)
        .public_agents(1)
        .destroy_on_error(false)
        .destroy_on_success(false)
        .provision()
        .expect("the wrapping cluster is created");
    assert_eq!(wrapped.as_async().backend_name(), "ExistingCluster");
    assert_eq!(wrapped.default_ssh_user(), "root");
    assert_eq!(wrapped.workspace(), None);
    assert_eq!(wrapped.nodes().count(), 3);

    // Every node, reached through the wrapping cluster, is the same machine.
    let dir = tempfile::tempdir().unwrap();
    for (node, same) in wrapped.nodes().zip(original.nodes()) {
        assert_eq!(node.ip_address(), same.ip_address());
        assert_eq!(node.role(), same.role());
        assert_eq!(node.ssh_key_path(), same.ssh_key_path());
        assert_eq!(node.container_name(), None);
        assert_eq!(node.as_async().transport(), TransportKind::Ssh);
        assert_eq!(hostname(node), hostname(same));
        let out = node.run(["id", "-un"]).unwrap();
        assert_eq!(out.stdout_text(), "root");
        let err = node.run(["sh", "-c", "exit 7"]).unwrap_err();
        assert_eq!(err.exit_status(), Some(7));

        // A file sent through one is there through the other, and back.
        let local = dir.path().join(format!("{}", node.role()));
        std::fs::write(&local, node.role().as_str()).unwrap();
        node.send_file(&local, "/root/from-existing/role").unwrap();
        let seen = same.run(["cat", "/root/from-existing/role"]).unwrap();
        assert_eq!(seen.stdout_text(), node.role().as_str());
        let back = dir.path().join(format!("{}-back", node.role()));
        node.download_file("/etc/hostname", &back).unwrap();
        assert_eq!(
            std::fs::read_to_string(&back).unwrap().trim(),
            hostname(same)
        );

        let mut p = node.popen(["sh", "-c", "echo up; sleep 3031"]).unwrap();
        p.kill().unwrap();
        p.wait().unwrap();
    }

    // destroy is refused, and refusing it breaks nothing.
    let err = wrapped.destroy().unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotSupported {
                backend: "ExistingCluster",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("not supported"), "{err}");
    wrapped.masters()[0].run(["true"]).unwrap();
    // Dropping the wrapping cluster touches nothing.
    drop(wrapped);

    // The original is intact: every container running, every node answering.
    for node in original.nodes() {
        let container = node.container_name().unwrap();
        assert_eq!(
            common::docker_inspect("{{.State.Running}}", container),
            "true"
        );
        node.run(["test", "-f", "/root/from-existing/role"])
            .unwrap();
    }
    let (_, networks, volumes) = common::leftovers(&id);
    assert_eq!(networks.len(), 1);
    assert!(!volumes.is_empty());

    original.destroy().unwrap();
    drop(original);
    common::assert_gone(&id, workspace.as_deref());
}

/// Port 22 on fresh loopback addresses (127.x.y.1, .2, …), listened on by this test:
/// hosts there would be contacted the moment anything tries, and that is counted.
struct Sentinels {
    listeners: Vec<TcpListener>,
    key: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sentinels {
    fn new(count: u8) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id_ed25519");
        let made = Proc::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .expect("ssh-keygen runs");
        assert!(made.success());
        // Tests run in parallel processes: pick a random /24 until all ports are free.
        for _ in 0..100 {
            let [a, b] = rand::random::<[u8; 2]>();
            let listeners: Result<Vec<_>, _> = (1..=count)
                .map(|n| TcpListener::bind((Ipv4Addr::new(127, a.max(1), b, n), 22)))
                .collect();
            if let Ok(listeners) = listeners {
                for l in &listeners {
                    l.set_nonblocking(true).unwrap();
                }
                return Self {
                    listeners,
                    key,
                    _dir: dir,
                };
            }
        }
        panic!("no free loopback addresses for port 22 (is this test running as root?)");
    }

    fn host(&self, n: usize) -> Host {
        Host::new(self.listeners[n].local_addr().unwrap().ip(), &self.key)
    }

    /// One master, two agents, one public agent.
    fn existing(&self) -> ExistingCluster {
        assert_eq!(self.listeners.len(), 4);
        ExistingCluster::new(
            [self.host(0)],
            [self.host(1), self.host(2)],
            [self.host(3)],
            "root",
        )
        .connect_timeout(CONNECT_TIMEOUT)
    }

    /// Connections made to the sentinels so far.
    fn contacted(&self) -> usize {
        self.listeners
            .iter()
            .map(|l| std::iter::from_fn(|| l.accept().ok()).count())
            .sum()
    }
}

/// Creating the cluster fails at once with `InvalidParameter` for `parameter`, carrying
/// `value`, and no host was contacted.
fn assert_refused(
    sentinels: &Sentinels,
    create: impl FnOnce() -> dcos_e2e::Result<Cluster>,
    parameter: &str,
    value: &str,
) {
    let started = Instant::now();
    let err = create().expect_err("creation is refused");
    let elapsed = started.elapsed();
    match &err {
        Error::InvalidParameter {
            parameter: p,
            value: v,
            ..
        } => {
            assert_eq!((*p, v.as_str()), (parameter, value), "{err}");
        }
        other => panic!("expected InvalidParameter for {parameter}, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(parameter) && message.contains(value),
        "{message}"
    );
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
    assert_eq!(sentinels.contacted(), 0, "a host was contacted");
}

#[test]
fn refuses_a_build_artifact() {
    let s = Sentinels::new(4);
    let artifact = "/srv/dcos_generate_config.sh";
    let b = || seed_builder(&s.existing()).build_artifact(artifact);
    assert_refused(&s, || b().create(), "build_artifact", artifact);
    assert_refused(&s, || b().provision(), "build_artifact", artifact);
}

#[test]
fn refuses_a_non_empty_extra_config() {
    let s = Sentinels::new(4);
    let extra = dcos_e2e::ExtraConfig::from_yaml("cluster_name: other").unwrap();
    let b = || seed_builder(&s.existing()).extra_config(extra.clone());
    assert_refused(
        &s,
        || b().provision(),
        "extra_config",
        "cluster_name: other",
    );
}

#[test]
fn refuses_a_masters_count_that_does_not_match() {
    let s = Sentinels::new(4);
    assert_refused(
        &s,
        || seed_builder(&s.existing()).masters(3).provision(),
        "masters",
        "3",
    );
    assert_refused(
        &s,
        || seed_builder(&s.existing()).masters(0).provision(),
        "masters",
        "0",
    );
}

#[test]
fn refuses_an_agents_count_that_does_not_match() {
    let s = Sentinels::new(4);
    assert_refused(
        &s,
        || seed_builder(&s.existing()).agents(1).provision(),
        "agents",
        "1",
    );
}

#[test]
fn refuses_a_public_agents_count_that_does_not_match() {
    let s = Sentinels::new(4);
    assert_refused(
        &s,
        || seed_builder(&s.existing()).public_agents(0).provision(),
        "public_agents",
        "0",
    );
}

#[test]
fn refuses_destroy_on_error() {
    let s = Sentinels::new(4);
    assert_refused(
        &s,
        || {
            seed_builder(&s.existing())
                .destroy_on_error(true)
                .provision()
        },
        "destroy_on_error",
        "true",
    );
    // It is true by default, so it must be set to false explicitly.
    let existing = s.existing();
    assert_refused(
        &s,
        || {
            Cluster::builder(existing)
                .masters(1)
                .agents(2)
                .public_agents(1)
                .destroy_on_success(false)
                .provision()
        },
        "destroy_on_error",
        "true",
    );
}

#[test]
fn refuses_destroy_on_success() {
    let s = Sentinels::new(4);
    assert_refused(
        &s,
        || {
            seed_builder(&s.existing())
                .destroy_on_success(true)
                .provision()
        },
        "destroy_on_success",
        "true",
    );
}

#[test]
fn refuses_files_to_copy_to_installer() {
    let s = Sentinels::new(4);
    assert_refused(
        &s,
        || {
            seed_builder(&s.existing())
                .file_to_copy_to_installer("/etc/hosts", "/genconf/hosts")
                .provision()
        },
        "files_to_copy_to_installer",
        "/etc/hosts -> /genconf/hosts",
    );
}

/// The control for the tests above: with every condition met (and an empty
/// extra_config, which is allowed) the cluster is created without contacting a host;
/// the first command does contact one, and a host that accepts the connection but never
/// speaks SSH gives `Error::Timeout` naming it, within the connect timeout.
#[test]
fn valid_parameters_contact_nothing_until_a_command() {
    let s = Sentinels::new(4);
    let empty = dcos_e2e::ExtraConfig::from_yaml("{}").unwrap();
    let started = Instant::now();
    let cluster = seed_builder(&s.existing())
        .extra_config(empty)
        .provision()
        .expect("every seed condition holds");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(s.contacted(), 0);

    let agent = &cluster.agents()[1];
    let started = Instant::now();
    let err = agent.run(["true"]).unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(s.contacted(), 1, "the command contacted its host only");
    match &err {
        Error::Timeout { node, timeout, .. } => {
            assert!(node.contains(&agent.ip_address().to_string()), "{node}");
            assert!(node.contains("agent 2"), "{node}");
            assert_eq!(*timeout, CONNECT_TIMEOUT);
        }
        other => panic!("expected Error::Timeout, got {other:?}"),
    }
    assert!(
        elapsed >= CONNECT_TIMEOUT && elapsed < CONNECT_TIMEOUT + Duration::from_secs(2),
        "took {elapsed:?}"
    );
    drop(cluster);
    assert_eq!(s.contacted(), 0, "dropping the cluster contacts nothing");
}

#[test]
fn refuses_a_private_key_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let s = Sentinels::new(4);
    std::fs::set_permissions(&s.key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = seed_builder(&s.existing()).provision().unwrap_err();
    assert!(
        matches!(&err, Error::InvalidParameter { parameter: "ssh_key_path", value, .. }
            if *value == s.key.display().to_string()),
        "{err:?}"
    );
    assert!(err.to_string().contains("chmod 600"), "{err}");
    assert_eq!(s.contacted(), 0);
}

/// A node that stops answering (its container stopped) gives `Error::Timeout` naming
/// it within the connect timeout, not a hang; the other nodes keep working.
#[test]
fn a_stopped_node_times_out() {
    let original = docker_cluster(1, 1, 0);
    let id = original.id().to_string();
    let workspace = original.workspace().map(Path::to_path_buf);
    let existing = ExistingCluster::new(
        original.masters(),
        original.agents(),
        Vec::<Host>::new(),
        "root",
    )
    .connect_timeout(CONNECT_TIMEOUT)
    .known_hosts(pinned_keys(&original));
    let wrapped = seed_builder(&existing).provision().unwrap();
    let agent = &wrapped.agents()[0];
    let master = &wrapped.masters()[0];
    agent.run(["true"]).unwrap();

    docker_cli(&[
        "stop",
        "--time",
        "1",
        original.agents()[0].container_name().unwrap(),
    ]);
    for attempt in 0..2 {
        let started = Instant::now();
        let err = agent.run(["true"]).unwrap_err();
        let elapsed = started.elapsed();
        match &err {
            Error::Timeout { node, .. } => {
                assert!(
                    node.contains("agent 1") && node.contains(&agent.ip_address().to_string()),
                    "{node}"
                );
            }
            other => panic!("attempt {attempt}: expected Error::Timeout, got {other:?}"),
        }
        assert!(
            elapsed < CONNECT_TIMEOUT + Duration::from_secs(2),
            "attempt {attempt} took {elapsed:?}"
        );
    }
    master.run(["true"]).unwrap();
    drop(wrapped);

    original.destroy().unwrap();
    drop(original);
    common::assert_gone(&id, workspace.as_deref());
}

/// A host with OpenSSH's default `MaxSessions 10` (our node image allows more): many
/// more concurrent commands than that all succeed (sshd frees a session slot a moment
/// after a command ends, and a new channel must not be refused in that moment). Then
/// the host freezes (`docker pause`: a network blip) while commands wait on its
/// connection: they fail within the connect timeout, and once it answers again commands
/// work (channels opened for commands that gave up must not use up its sessions).
#[test]
fn stock_sshd_many_commands_and_a_freeze() {
    let original = docker_cluster(1, 0, 0);
    let id = original.id().to_string();
    let workspace = original.workspace().map(Path::to_path_buf);
    let node = &original.masters()[0];
    // First match wins in sshd_config: this comes before the image's own settings.
    node.run(Command::shell(
        "echo 'MaxSessions 10' > /etc/ssh/sshd_config.d/00-max-sessions.conf \
         && systemctl reload ssh",
    ))
    .unwrap();
    let existing = ExistingCluster::new(
        original.masters(),
        Vec::<Host>::new(),
        Vec::<Host>::new(),
        "root",
    )
    .connect_timeout(CONNECT_TIMEOUT)
    .known_hosts(pinned_keys(&original));
    let wrapped = seed_builder(&existing).provision().unwrap();
    let host = &wrapped.masters()[0];
    // sshd re-executes itself on reload and refuses connections for a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(e) = host.run(["true"]) {
        assert!(Instant::now() < deadline, "sshd did not come back: {e}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let container = node.container_name().unwrap();

    let many = |n: usize, cmd: &[&str]| -> Vec<dcos_e2e::Result<dcos_e2e::Output>> {
        std::thread::scope(|s| {
            let runs: Vec<_> = (0..n).map(|_| s.spawn(|| host.run(cmd))).collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        })
    };
    for (i, r) in many(40, &["sleep", "0.2"]).into_iter().enumerate() {
        r.unwrap_or_else(|e| panic!("concurrent run {i}: {}", dcos_e2e::chain(&e)));
    }

    common::pause(container);
    let started = Instant::now();
    let results = many(10, &["true"]);
    let elapsed = started.elapsed();
    docker_cli(&["unpause", container]);
    for r in results {
        let err = r.expect_err("a frozen host runs nothing");
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    }
    assert!(
        elapsed < CONNECT_TIMEOUT + Duration::from_secs(2),
        "took {elapsed:?}"
    );

    // Let the frozen channel opens complete on the host, then use more than 10
    // sessions' worth of commands, some at once.
    std::thread::sleep(Duration::from_secs(1));
    for i in 0..12 {
        host.run(["true"])
            .unwrap_or_else(|e| panic!("run {i} after the freeze: {}", dcos_e2e::chain(&e)));
    }
    for (i, r) in many(40, &["sleep", "0.2"]).into_iter().enumerate() {
        r.unwrap_or_else(|e| {
            panic!(
                "concurrent run {i} after the freeze: {}",
                dcos_e2e::chain(&e)
            )
        });
    }
    drop(wrapped);

    original.destroy().unwrap();
    drop(original);
    common::assert_gone(&id, workspace.as_deref());
}

/// A cluster file written from a [`ClusterFile`] (key path relative to the file) is read
/// back by `ExistingCluster::from_file` into the same hosts, which answer.
#[test]
fn cluster_file_round_trip() {
    use std::os::unix::fs::PermissionsExt;
    let original = docker_cluster(1, 1, 1);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("keys/id");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::copy(original.masters()[0].ssh_key_path(), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    let ips = |nodes: &[dcos_e2e::blocking::Node]| -> Vec<IpAddr> {
        nodes.iter().map(|n| n.ip_address()).collect()
    };
    std::fs::copy(pinned_keys(&original), dir.path().join("keys/known_hosts")).unwrap();
    let file = ClusterFile::new(
        "root",
        "keys/id",
        ips(original.masters()),
        ips(original.agents()),
        ips(original.public_agents()),
    )
    .known_hosts("keys/known_hosts");
    let text = file.to_yaml();
    assert_eq!(ClusterFile::from_yaml(&text).unwrap(), file);
    let path = dir.path().join("cluster.yaml");
    std::fs::write(&path, &text).unwrap();

    let existing = ExistingCluster::from_file(&path)
        .unwrap()
        .connect_timeout(CONNECT_TIMEOUT);
    for (role, nodes) in [
        (Role::Master, original.masters()),
        (Role::Agent, original.agents()),
        (Role::PublicAgent, original.public_agents()),
    ] {
        let hosts = existing.hosts(role);
        assert_eq!(
            hosts.iter().map(|h| h.ip_address).collect::<Vec<_>>(),
            ips(nodes)
        );
        assert!(hosts.iter().all(|h| h.ssh_key_path == key), "{hosts:?}");
    }
    let wrapped = seed_builder(&existing).provision().unwrap();
    for (node, same) in wrapped.nodes().zip(original.nodes()) {
        assert_eq!(node.role(), same.role());
        assert_eq!(hostname(node), hostname(same));
    }
    let out = wrapped.masters()[0]
        .run(Command::shell("echo \"$USER\""))
        .unwrap();
    assert_eq!(out.stdout_text(), "root");
    drop(wrapped);

    // A file that is not a cluster file, and a file that is not there.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, format!("{text}bogus: 1\n")).unwrap();
    let err = ExistingCluster::from_file(&bad).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidParameter { parameter: "cluster file", value, .. }
            if *value == bad.display().to_string()),
        "{err:?}"
    );
    assert!(err.to_string().contains("bogus"), "{err}");
    let missing = dir.path().join("missing.yaml");
    let err = ExistingCluster::from_file(&missing).unwrap_err();
    assert!(
        matches!(&err, Error::Io { path, .. } if *path == missing),
        "{err:?}"
    );
}
