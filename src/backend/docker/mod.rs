//! The Docker backend: each node is a container that behaves like a host (systemd as
//! PID 1, sshd, its own address on a private network, its own /opt, /var/lib/docker and
//! /var/lib/mesos/slave volumes).

pub(crate) mod admin;
pub(crate) mod client;
pub(crate) mod image;
pub mod labels;
pub(crate) mod provision;
pub(crate) mod reaper;

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::future::join_all;

use crate::error::{Error, Result};
use crate::node::TransportKind;

use client::DockerClient;
use image::ImageOptions;

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
                "privileged",
                other,
                "expected auto, yes or no",
            )),
        }
    }
}

/// A bind mount from the host into node containers. Changes on the host are seen live.
#[derive(Clone, Debug, PartialEq, Eq)]
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
            _ => return Err(Error::invalid("mount", s, "expected SRC:DST[:ro|rw]")),
        };
        if src.is_empty() || dst.is_empty() {
            return Err(Error::invalid("mount", s, "expected SRC:DST[:ro|rw]"));
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
/// assert_eq!(backend.get_workspace_dir(), Some(std::path::Path::new("/var/tmp")));
/// ```
#[derive(Clone, Debug)]
pub struct Docker {
    pub(crate) workspace_dir: Option<PathBuf>,
    pub(crate) mounts: [Vec<Mount>; 3],
    pub(crate) node_image: Option<String>,
    pub(crate) image_options: ImageOptions,
    pub(crate) network: Option<String>,
    pub(crate) privileged: Privileged,
    pub(crate) cluster_id: Option<String>,
    pub(crate) transport: TransportKind,
    pub(crate) connect_timeout: Duration,
    pub(crate) ready_timeout: Duration,
}

impl Default for Docker {
    fn default() -> Self {
        Self {
            workspace_dir: None,
            mounts: Default::default(),
            node_image: None,
            image_options: ImageOptions::default(),
            network: None,
            privileged: Privileged::Auto,
            cluster_id: None,
            transport: TransportKind::Ssh,
            connect_timeout: Duration::from_secs(10),
            ready_timeout: Duration::from_secs(120),
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

    /// The configured workspace directory.
    pub fn get_workspace_dir(&self) -> Option<&Path> {
        self.workspace_dir.as_deref()
    }

    /// Add a bind mount on master nodes.
    pub fn master_mount(mut self, mount: Mount) -> Self {
        self.mounts[0].push(mount);
        self
    }

    /// Add a bind mount on agent nodes.
    pub fn agent_mount(mut self, mount: Mount) -> Self {
        self.mounts[1].push(mount);
        self
    }

    /// Add a bind mount on public agent nodes.
    pub fn public_agent_mount(mut self, mount: Mount) -> Self {
        self.mounts[2].push(mount);
        self
    }

    /// Use this image for nodes instead of building ours; it must run systemd as
    /// `/sbin/init` and have sshd (and `curl`, for the cleanup watchdog).
    pub fn node_image(mut self, image: impl Into<String>) -> Self {
        self.node_image = Some(image.into());
        self
    }

    /// How to build our node image when it is missing (mirror, suite, progress).
    pub fn image_options(mut self, options: ImageOptions) -> Self {
        self.image_options = options;
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

    /// How commands reach nodes (default SSH).
    pub fn transport(mut self, transport: TransportKind) -> Self {
        self.transport = transport;
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

    /// A fresh random cluster id, `dcos-e2e-` and 8 hex digits.
    pub fn new_cluster_id() -> String {
        format!("dcos-e2e-{}", hex::encode(rand::random::<[u8; 4]>()))
    }

    pub(crate) fn mounts_for(&self, role: crate::Role) -> &[Mount] {
        &self.mounts[role as usize]
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
            "cluster_id",
            id,
            "use 1-40 letters, digits, '-', '_' or '.', starting with a letter or digit",
        ));
    }
    Ok(())
}

/// Remove every object carrying the cluster's label, and its workspace. Idempotent;
/// collects every failure rather than stopping at the first. Returns how many Docker
/// objects it found.
///
/// With the workspace given, only objects labelled with it too: each create has its own
/// workspace, so a create that lost a race for a cluster id removes what it made and
/// not the winner's cluster.
pub(crate) async fn destroy_by_label(
    client: &DockerClient,
    cluster_id: &str,
    workspace: Option<&Path>,
) -> Result<usize> {
    let mut filter = vec![labels::filter(labels::CLUSTER_ID, cluster_id)];
    if let Some(ws) = workspace {
        filter.push(labels::filter(labels::WORKSPACE, &ws.to_string_lossy()));
    }
    let (containers, volumes, networks) = tokio::try_join!(
        client.containers(&filter),
        client.volumes(&filter),
        client.networks(&filter)
    )?;
    let label_of = |l: Option<&std::collections::HashMap<String, String>>| {
        l.and_then(|l| l.get(labels::WORKSPACE)).map(PathBuf::from)
    };
    let workspace = workspace
        .map(Path::to_path_buf)
        .or_else(|| containers.iter().find_map(|c| label_of(c.labels.as_ref())))
        .or_else(|| networks.iter().find_map(|n| label_of(n.labels.as_ref())))
        .or_else(|| volumes.iter().find_map(|v| label_of(Some(&v.labels))));
    let found = containers.len() + volumes.len() + networks.len();
    // Volumes and the network are freed once the containers are gone.
    let mut errors: Vec<Error> = join_all(
        containers
            .iter()
            .filter_map(|c| c.id.as_deref())
            .map(|id| client.remove_container(id)),
    )
    .await
    .into_iter()
    .filter_map(Result::err)
    .collect();
    let volumes = join_all(volumes.iter().map(|v| client.remove_volume(&v.name)));
    let networks = join_all(
        networks
            .iter()
            .filter_map(|n| n.id.as_deref())
            .map(|id| client.remove_network(id)),
    );
    let (volumes, networks) = tokio::join!(volumes, networks);
    errors.extend(volumes.into_iter().chain(networks).filter_map(Result::err));
    if let Some(ws) = workspace {
        match std::fs::remove_dir_all(&ws) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                errors.push(Error::io("remove", ws)(e))
            }
            _ => {}
        }
    }
    match errors.into_iter().next() {
        Some(first) => Err(first),
        None => Ok(found),
    }
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
