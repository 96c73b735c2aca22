//! Configuration of the Docker backend: what the user can choose, checked before
//! anything is made.

use std::path::PathBuf;
use std::time::Duration;

use crate::backend::docker::image::ImageOptions;
use crate::backend::docker::image::engine::StorageDriver;
use crate::error::{Error, Parameter, Result};
use crate::node::TransportKind;
use crate::node::role::{PerRole, Role};

/// Whether node containers run `--privileged`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Privileged {
    /// Privileged where the daemon allows it, else the minimal capability set systemd
    /// needs (`SYS_ADMIN`, seccomp and apparmor unconfined).
    #[default]
    Auto,
    /// Always privileged; fails where the daemon refuses it.
    Yes,
    /// Never privileged.
    No,
}

impl std::str::FromStr for Privileged {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Privileged::Auto),
            "yes" | "true" => Ok(Privileged::Yes),
            "no" | "false" => Ok(Privileged::No),
            other => Err(Error::invalid(
                Parameter::Privileged,
                other,
                "expected auto, yes or no",
            )),
        }
    }
}

/// A bind mount from the host into node containers. Changes on the host are seen live.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mount {
    /// Host path (must exist).
    pub source: PathBuf,
    /// Absolute path in the container.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
}

impl Mount {
    /// A read-write bind mount.
    pub fn new(source: impl Into<PathBuf>, target: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            target: target.into(),
            read_only: false,
        }
    }

    /// Make it read-only.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }
}

impl std::str::FromStr for Mount {
    type Err = Error;
    /// `SRC:DST`, `SRC:DST:ro` or `SRC:DST:rw`.
    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split(':').collect();
        let (src, dst, ro) = match parts.as_slice() {
            [src, dst] => (src, dst, false),
            [src, dst, "ro"] => (src, dst, true),
            [src, dst, "rw"] => (src, dst, false),
            _ => {
                return Err(Error::invalid(
                    Parameter::Mount,
                    s,
                    "expected SRC:DST[:ro|rw]",
                ));
            }
        };
        if src.is_empty() || dst.is_empty() {
            return Err(Error::invalid(
                Parameter::Mount,
                s,
                "expected SRC:DST[:ro|rw]",
            ));
        }
        Ok(Mount {
            source: PathBuf::from(src),
            target: dst.to_string(),
            read_only: ro,
        })
    }
}

/// Configuration of the Docker backend: `Docker(workspace_dir=None, master_mounts=None)`
/// in the original, plus what users of this backend expect.
///
/// ```
/// use dcos_e2e::{Docker, Mount, Privileged, TransportKind};
///
/// let backend = Docker::new()
///     .workspace_dir("/var/tmp")
///     .master_mount(Mount::new("/srv/data", "/data").read_only())
///     .privileged(Privileged::Auto)
///     .transport(TransportKind::DockerExec);
/// ```
#[derive(Clone, Debug)]
pub struct Docker {
    pub(crate) workspace_dir: Option<PathBuf>,
    pub(crate) mounts: PerRole<Vec<Mount>>,
    pub(crate) node_image: Option<String>,
    // Boxed: the backend is passed around by value, and these are rarely read.
    pub(crate) image_options: Box<ImageOptions>,
    pub(crate) network: Option<String>,
    pub(crate) privileged: Privileged,
    pub(crate) cluster_id: Option<String>,
    /// `None`: SSH, or docker exec where SSH cannot reach the nodes (see `transport`).
    pub(crate) transport: Option<TransportKind>,
    pub(crate) connect_timeout: Duration,
    pub(crate) ready_timeout: Duration,
    /// The user's own labels on every node container, and per role.
    pub(crate) labels: Vec<(String, String)>,
    // Boxed, like the image options: rarely set, and it keeps `ClusterBackend` small.
    pub(crate) role_labels: Box<PerRole<Vec<(String, String)>>>,
    /// Ports of the first master published on the host: (host port, container port).
    pub(crate) master_ports: Vec<(u16, u16)>,
    pub(crate) engine_storage_driver: StorageDriver,
    /// Bind-mount sources are paths on the daemon's host (which may not be this one).
    pub(crate) mount_sources_on_daemon: bool,
    /// Which daemons, and which node on which.
    pub(crate) daemons: Box<Daemons>,
}

/// The daemons a cluster is made on (none: DOCKER_HOST, else this machine's socket;
/// several: members of one swarm, the first a manager), and nodes placed by hand.
#[derive(Clone, Debug, Default)]
pub(crate) struct Daemons {
    pub hosts: Vec<String>,
    /// (role, index from 1, host index).
    pub placed: Vec<(Role, usize, usize)>,
    /// Where this machine reaches ports published by the first daemon's host.
    pub published_address: Option<String>,
    /// The host address the first master's ports are published on.
    pub publish_on: Option<std::net::IpAddr>,
}

impl Default for Docker {
    fn default() -> Self {
        Self {
            workspace_dir: None,
            mounts: Default::default(),
            node_image: None,
            image_options: Box::default(),
            network: None,
            privileged: Privileged::Auto,
            cluster_id: None,
            transport: None,
            connect_timeout: Duration::from_secs(10),
            ready_timeout: Duration::from_secs(120),
            labels: Vec::new(),
            role_labels: Box::default(),
            master_ports: Vec::new(),
            engine_storage_driver: StorageDriver::Auto,
            mount_sources_on_daemon: false,
            daemons: Box::default(),
        }
    }
}

impl Docker {
    /// The defaults: our node image, a private network, SSH transport.
    pub fn new() -> Self {
        Self::default()
    }

    /// Directory in which the cluster's temporary directory (SSH keys, known hosts, the
    /// installer's genconf) is made; it is removed when the cluster is destroyed.
    /// Default: the system temp dir.
    pub fn workspace_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.workspace_dir = Some(dir.into());
        self
    }

    /// Add a bind mount on master nodes.
    pub fn master_mount(mut self, mount: Mount) -> Self {
        self.mounts.get_mut(Role::Master).push(mount);
        self
    }

    /// Add a bind mount on agent nodes.
    pub fn agent_mount(mut self, mount: Mount) -> Self {
        self.mounts.get_mut(Role::Agent).push(mount);
        self
    }

    /// Add a bind mount on public agent nodes.
    pub fn public_agent_mount(mut self, mount: Mount) -> Self {
        self.mounts.get_mut(Role::PublicAgent).push(mount);
        self
    }

    /// Use this image for nodes instead of building ours; it must run systemd as
    /// `/sbin/init` and have sshd and `curl`. The cleanup watchdog runs our own image
    /// whatever this is (built when missing).
    pub fn node_image(mut self, image: impl Into<String>) -> Self {
        self.node_image = Some(image.into());
        self
    }

    /// How to build our node image when it is missing (mirror, suite, progress).
    pub fn image_options(mut self, options: ImageOptions) -> Self {
        self.image_options = Box::new(options);
        self
    }

    /// Attach nodes to this existing Docker network instead of a private one.
    pub fn network(mut self, network: impl Into<String>) -> Self {
        self.network = Some(network.into());
        self
    }

    /// Whether nodes run privileged (default: where allowed).
    pub fn privileged(mut self, privileged: Privileged) -> Self {
        self.privileged = privileged;
        self
    }

    /// Use this cluster id instead of a random `dcos-e2e-…` one. Letters, digits, `-`,
    /// `_` and `.`, starting with a letter or digit, at most 40 characters, not in use.
    pub fn cluster_id(mut self, id: impl Into<String>) -> Self {
        self.cluster_id = Some(id.into());
        self
    }

    /// How commands reach nodes. Default: SSH, except on a Docker daemon that does not
    /// see this machine's files (another host: its node addresses are not routable
    /// from here), where it is docker exec. SSH there goes through a jump host: a
    /// container on the cluster's network whose SSH port that daemon publishes (see
    /// [`Docker::published_address`]).
    pub fn transport(mut self, transport: TransportKind) -> Self {
        self.transport = Some(transport);
        self
    }

    /// How long one SSH connection attempt may take before it is an error.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long new nodes may take to accept commands.
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// A label of yours on every node container (for CI systems that find and reap
    /// resources by their own labels). Ours stay, and still decide what is removed; a
    /// key of ours (`dcos-e2e…`) is refused.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push((key.into(), value.into()));
        self
    }

    /// A label of yours on the containers of one role (it wins over [`Docker::label`]).
    pub fn role_label(
        mut self,
        role: Role,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.role_labels
            .get_mut(role)
            .push((key.into(), value.into()));
        self
    }

    /// The Docker daemon to make the cluster on (`unix://…`, `tcp://…`), instead of
    /// where DOCKER_HOST says (else this machine's socket). Functions that take a
    /// cluster id (`destroy_cluster`, `clean`, `list_clusters`, attach) go by
    /// DOCKER_HOST. A daemon elsewhere: see `docs/remote-hosts.md`.
    pub fn docker_host(self, host: impl Into<String>) -> Self {
        self.docker_hosts([host.into()])
    }

    /// One cluster over several Docker daemons, members of one Docker Swarm with the
    /// first a manager: the cluster's network is an attachable overlay made there, and
    /// each node is made through its own daemon (round-robin over all nodes in role
    /// order, unless [`Docker::place`] says). Nodes are reached with docker exec; see
    /// `docs/remote-hosts.md`.
    pub fn docker_hosts(mut self, hosts: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.daemons.hosts = hosts.into_iter().map(Into::into).collect();
        self
    }

    /// Put node `index` (from 1) of `role` on the daemon at `host` (an index into
    /// [`Docker::docker_hosts`]).
    pub fn place(mut self, role: Role, index: usize, host: usize) -> Self {
        self.daemons.placed.push((role, index, host));
        self
    }

    /// The address at which this machine reaches ports that the (first) Docker daemon's
    /// host publishes: the jump host's, for SSH to nodes there. Default: the host of a
    /// `tcp://` or `ssh://` daemon address; for `unix://`, 127.0.0.1.
    pub fn published_address(mut self, address: impl Into<String>) -> Self {
        self.daemons.published_address = Some(address.into());
        self
    }

    /// The sources of the custom mounts are paths on the Docker daemon's host. Needed
    /// for custom mounts on a daemon that does not see this machine's files (they are
    /// refused there otherwise: the daemon would bind its own file of that name).
    pub fn mount_sources_on_daemon(mut self, yes: bool) -> Self {
        self.mount_sources_on_daemon = yes;
        self
    }

    /// Publish `container_port` of the first master on `host_port` of this host (the
    /// original's `one_master_host_port_map`, e.g. 80 and 443). Nothing is published by
    /// default; a host port in use is refused before anything is made. On this
    /// machine's daemon the ports are bound to loopback only (see
    /// [`publish_on`](Self::publish_on)); a daemon elsewhere binds them on all its
    /// host's addresses.
    pub fn one_master_host_port(mut self, host_port: u16, container_port: u16) -> Self {
        self.master_ports.push((host_port, container_port));
        self
    }

    /// The host address that [`one_master_host_port`](Self::one_master_host_port)
    /// binds to, instead of loopback (for this machine's daemon) or every address (for
    /// one elsewhere): `0.0.0.0` to reach the master from other machines.
    pub fn publish_on(mut self, address: std::net::IpAddr) -> Self {
        self.daemons.publish_on = Some(address);
        self
    }

    /// The labels of yours a node of `role` carries.
    pub(crate) fn labels_for(&self, role: Role) -> impl Iterator<Item = &(String, String)> {
        self.labels.iter().chain(self.role_labels.get(role))
    }

    /// The storage driver of the container engine inside nodes whose image has one
    /// (default: what works on the node's volume, chosen at each boot).
    pub fn engine_storage_driver(mut self, driver: StorageDriver) -> Self {
        self.engine_storage_driver = driver;
        self
    }

    /// A fresh random cluster id, `dcos-e2e-` and 8 hex digits.
    pub fn new_cluster_id() -> String {
        format!("dcos-e2e-{}", hex::encode(rand::random::<[u8; 4]>()))
    }

    pub(crate) fn mounts_for(&self, role: Role) -> &[Mount] {
        self.mounts.get(role)
    }

    /// Everything that can be checked without the daemon; returns the directory the
    /// workspace is made in, made absolute (labels and bind mounts need absolute paths).
    pub(crate) fn validate(&self) -> Result<PathBuf> {
        for role in Role::ALL {
            for m in self.mounts_for(role) {
                // A source on the daemon's host is the daemon's to check.
                if !self.mount_sources_on_daemon && !m.source.exists() {
                    return Err(Error::invalid(
                        mount_param(role),
                        m.source.display(),
                        "the mount source does not exist",
                    ));
                }
                if !m.target.starts_with('/') {
                    return Err(Error::invalid(
                        mount_param(role),
                        &m.target,
                        "the mount target must be an absolute path",
                    ));
                }
            }
        }
        if let Some(id) = &self.cluster_id {
            validate_cluster_id(id)?;
        }
        for (i, host) in self.daemons.hosts.iter().enumerate() {
            if self.daemons.hosts[..i].contains(host) {
                return Err(Error::invalid(
                    Parameter::DockerHosts,
                    host,
                    "named twice: each Docker daemon once",
                ));
            }
        }
        for (role, index, host) in &self.daemons.placed {
            if *index == 0 || *host >= self.daemons.hosts.len().max(1) {
                return Err(Error::invalid(
                    Parameter::Place,
                    format!("{role} {index} on host {host}"),
                    format!(
                        "node indexes start at 1, and there are {} Docker hosts",
                        self.daemons.hosts.len().max(1)
                    ),
                ));
            }
        }
        for role in Role::ALL {
            for (key, value) in self.labels_for(role) {
                validate_label(key, value)?;
            }
        }
        self.validate_ports()?;
        let base = self
            .workspace_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        if !base.is_dir() {
            return Err(Error::invalid(
                Parameter::WorkspaceDir,
                base.display(),
                "not an existing directory",
            ));
        }
        std::path::absolute(&base).map_err(Error::io("find the absolute path of", base))
    }
}

/// A label of the user's: a key Docker accepts, not one of ours.
fn validate_label(key: &str, value: &str) -> Result<()> {
    let shown = format!("{key}={value}");
    if key.is_empty() || key.contains('=') || key.chars().any(char::is_whitespace) {
        return Err(Error::invalid(
            Parameter::Labels,
            shown,
            "a label is KEY=VALUE, the key non-empty and without spaces or `=`",
        ));
    }
    if key == crate::backend::docker::labels::PROJECT || key.starts_with("dcos-e2e.") {
        return Err(Error::invalid(
            Parameter::Labels,
            shown,
            "keys starting with `dcos-e2e` are the harness's own",
        ));
    }
    Ok(())
}

impl Docker {
    /// Published ports: each valid, each host and container port once (whether each is
    /// free is checked once the daemon is known: [`Docker::check_ports_free`]).
    fn validate_ports(&self) -> Result<()> {
        let mut hosts = std::collections::HashSet::new();
        let mut containers = std::collections::HashSet::new();
        for &(host, container) in &self.master_ports {
            let shown = format!("{host}:{container}");
            if host == 0 || container == 0 {
                return Err(Error::invalid(
                    Parameter::OneMasterHostPortMap,
                    shown,
                    "ports are 1 to 65535",
                ));
            }
            if !hosts.insert(host) || !containers.insert(container) {
                return Err(Error::invalid(
                    Parameter::OneMasterHostPortMap,
                    shown,
                    "each host port and each container port may be given once",
                ));
            }
        }
        Ok(())
    }

    /// Where the first master's ports are bound on a daemon on this machine
    /// (`here`) or elsewhere (`None`: every address of that host).
    pub(crate) fn master_ports_address(&self, here: bool) -> Option<std::net::IpAddr> {
        self.daemons
            .publish_on
            .or(here.then_some(std::net::IpAddr::from([127, 0, 0, 1])))
    }

    /// On this machine's daemon: each host port free now at `address` (Docker would
    /// only say so after the nodes were made).
    pub(crate) fn check_ports_free(&self, address: std::net::IpAddr) -> Result<()> {
        for &(host, container) in &self.master_ports {
            if let Err(e) = std::net::TcpListener::bind((address, host)) {
                return Err(Error::invalid(
                    Parameter::OneMasterHostPortMap,
                    format!("{host}:{container}"),
                    format!("port {host} of this host is not free at {address}: {e}"),
                ));
            }
        }
        Ok(())
    }
}

fn mount_param(role: Role) -> Parameter {
    match role {
        Role::Master => Parameter::MasterMounts,
        Role::Agent => Parameter::AgentMounts,
        Role::PublicAgent => Parameter::PublicAgentMounts,
    }
}

/// Check a user-given cluster id (format only; whether it is taken needs the daemon).
pub(crate) fn validate_cluster_id(id: &str) -> Result<()> {
    let ok_chars = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    let ok_start = id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if id.is_empty() || id.len() > 40 || !ok_chars || !ok_start {
        return Err(Error::invalid(
            Parameter::ClusterId,
            id,
            "use 1-40 letters, digits, '-', '_' or '.', starting with a letter or digit",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_parse() {
        let m: Mount = "/src:/dst:ro".parse().unwrap();
        assert_eq!(m, Mount::new("/src", "/dst").read_only());
        let m: Mount = "/src:/dst".parse().unwrap();
        assert!(!m.read_only);
        assert!("/src".parse::<Mount>().is_err());
        assert!("/src:/dst:xx".parse::<Mount>().is_err());
    }

    #[test]
    fn placements_name_a_node_and_a_daemon() {
        let two = Docker::new().docker_hosts(["unix:///a", "unix:///b"]);
        assert!(two.clone().place(Role::Agent, 1, 1).validate().is_ok());
        for bad in [
            two.clone().place(Role::Agent, 1, 2),
            two.place(Role::Agent, 0, 0),
            Docker::new().place(Role::Master, 1, 1),
        ] {
            let err = bad.validate().unwrap_err().to_string();
            assert!(err.contains("place"), "{err}");
        }
        let twice = Docker::new().docker_hosts(["unix:///a", "unix:///a"]);
        let err = twice.validate().unwrap_err().to_string();
        assert!(
            err.contains("docker_hosts") && err.contains("twice"),
            "{err}"
        );
    }

    #[test]
    fn cluster_ids_are_checked() {
        assert!(validate_cluster_id("dcos-e2e-abc123").is_ok());
        assert!(validate_cluster_id("my.cluster_1").is_ok());
        for bad in [
            "",
            "-x",
            "has space",
            "a/b",
            "x".repeat(41).as_str(),
            "ümlaut",
        ] {
            let err = validate_cluster_id(bad).unwrap_err().to_string();
            assert!(err.contains("cluster_id"), "{err}");
        }
    }

    #[test]
    fn privileged_parses() {
        assert_eq!("auto".parse::<Privileged>().unwrap(), Privileged::Auto);
        assert_eq!("no".parse::<Privileged>().unwrap(), Privileged::No);
        assert!("maybe".parse::<Privileged>().is_err());
    }
}
