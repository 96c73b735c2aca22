//! One test per condition DC/OS E2E's 2017 API puts on an existing cluster, and the control where every condition holds.
//!
//! The condition tests put their "hosts" on loopback addresses where this test listens
//! on port 22 (see [`Sentinels`]): a refused creation must not have connected to any.

use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::Command as Proc;
use std::time::{Duration, Instant};

use dcos_e2e::blocking::Cluster;
use dcos_e2e::{Error, ExistingCluster, Host, Parameter};

use super::{CONNECT_TIMEOUT, existing_builder};

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
    parameter: Parameter,
    value: &str,
) {
    let err = create().expect_err("creation is refused");
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
        message.contains(parameter.as_str()) && message.contains(value),
        "{message}"
    );
    // Refused before any host is contacted (the sentinels count every connection).
    assert_eq!(sentinels.contacted(), 0, "a host was contacted");
}

#[test]
fn refuses_a_build_artifact() {
    let s = Sentinels::new(4);
    let artifact = "/srv/dcos_generate_config.sh";
    let b = || existing_builder(&s.existing()).build_artifact(artifact);
    assert_refused(&s, || b().create(), Parameter::BuildArtifact, artifact);
    assert_refused(&s, || b().provision(), Parameter::BuildArtifact, artifact);
}

#[test]
fn refuses_a_non_empty_extra_config() {
    let s = Sentinels::new(4);
    let extra = dcos_e2e::ExtraConfig::from_yaml("cluster_name: other").unwrap();
    let b = || existing_builder(&s.existing()).extra_config(extra.clone());
    assert_refused(
        &s,
        || b().provision(),
        Parameter::ExtraConfig,
        "cluster_name: other",
    );
}

#[test]
fn refuses_a_masters_count_that_does_not_match() {
    let s = Sentinels::new(4);
    assert_refused(
        &s,
        || existing_builder(&s.existing()).masters(3).provision(),
        Parameter::Masters,
        "3",
    );
    assert_refused(
        &s,
        || existing_builder(&s.existing()).masters(0).provision(),
        Parameter::Masters,
        "0",
    );
}

#[test]
fn refuses_an_agents_count_that_does_not_match() {
    let s = Sentinels::new(4);
    assert_refused(
        &s,
        || existing_builder(&s.existing()).agents(1).provision(),
        Parameter::Agents,
        "1",
    );
}

#[test]
fn refuses_a_public_agents_count_that_does_not_match() {
    let s = Sentinels::new(4);
    assert_refused(
        &s,
        || existing_builder(&s.existing()).public_agents(0).provision(),
        Parameter::PublicAgents,
        "0",
    );
}

#[test]
fn refuses_destroy_on_error() {
    let s = Sentinels::new(4);
    assert_refused(
        &s,
        || {
            existing_builder(&s.existing())
                .destroy_on_error(true)
                .provision()
        },
        Parameter::DestroyOnError,
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
        Parameter::DestroyOnError,
        "true",
    );
}

#[test]
fn refuses_destroy_on_success() {
    let s = Sentinels::new(4);
    assert_refused(
        &s,
        || {
            existing_builder(&s.existing())
                .destroy_on_success(true)
                .provision()
        },
        Parameter::DestroyOnSuccess,
        "true",
    );
}

#[test]
fn refuses_files_to_copy_to_installer() {
    let s = Sentinels::new(4);
    assert_refused(
        &s,
        || {
            existing_builder(&s.existing())
                .file_to_copy_to_installer("/etc/hosts", "/genconf/hosts")
                .provision()
        },
        Parameter::FilesToCopyToInstaller,
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
    let cluster = existing_builder(&s.existing())
        .extra_config(empty)
        .provision()
        .expect("every condition holds");
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
    let err = existing_builder(&s.existing()).provision().unwrap_err();
    assert!(
        matches!(&err, Error::InvalidParameter { parameter: Parameter::SshKeyPath, value, .. }
            if *value == s.key.display().to_string()),
        "{err:?}"
    );
    assert!(err.to_string().contains("chmod 600"), "{err}");
    assert_eq!(s.contacted(), 0);
}
