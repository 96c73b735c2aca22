//! The cluster file: a small YAML description of an existing cluster, for the CLI and
//! for tests that keep their hosts in a file.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ExistingCluster, Host};
use crate::error::{Error, Parameter, Result};
use crate::node::HostKeyChecking;

impl ExistingCluster {
    /// Read a cluster file (YAML), as the CLI's `minidcos existing --cluster-file` does.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(Error::io("read", path))?;
        let file: ClusterFile = yaml_serde::from_str(&text).map_err(|e| {
            Error::invalid(
                Parameter::ClusterFile,
                path.display(),
                format!("not a valid cluster file: {e}"),
            )
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Ok(file.into_backend(base))
    }
}

/// The cluster file: a small YAML description of an existing cluster.
///
/// ```
/// let yaml = "
/// ssh_user: centos
/// ssh_key_path: /home/me/.ssh/id_ed25519
/// known_hosts: /home/me/clusters/known_hosts
/// masters: [10.0.0.1]
/// agents: [10.0.0.2, 10.0.0.3]
/// public_agents: []
/// ";
/// let file = dcos_e2e::ClusterFile::from_yaml(yaml).unwrap();
/// assert_eq!(file.agents.len(), 2);
/// assert!(file.strict_host_key_checking);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ClusterFile {
    /// The user to log in as.
    pub ssh_user: String,
    /// The private key for every host (`~/` is the home directory; relative paths are
    /// from the file's directory).
    pub ssh_key_path: PathBuf,
    /// Master addresses.
    pub masters: Vec<IpAddr>,
    /// Private agent addresses.
    #[serde(default)]
    pub agents: Vec<IpAddr>,
    /// Public agent addresses.
    #[serde(default)]
    pub public_agents: Vec<IpAddr>,
    /// The OpenSSH `known_hosts` file the hosts' keys are checked against, by address
    /// (paths as for `ssh_key_path`). Default `~/.ssh/known_hosts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<PathBuf>,
    /// `true` (default): a host not in `known_hosts` is refused. `false`: it is trusted
    /// with the first key it presents, for this run only (the file is not written); a
    /// host that is listed must still present a listed key (OpenSSH's `accept-new`).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub strict_host_key_checking: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

impl ClusterFile {
    /// A cluster file for these hosts, all logged in to as `ssh_user` with one key.
    pub fn new(
        ssh_user: impl Into<String>,
        ssh_key_path: impl Into<PathBuf>,
        masters: Vec<IpAddr>,
        agents: Vec<IpAddr>,
        public_agents: Vec<IpAddr>,
    ) -> Self {
        Self {
            ssh_user: ssh_user.into(),
            ssh_key_path: ssh_key_path.into(),
            masters,
            agents,
            public_agents,
            known_hosts: None,
            strict_host_key_checking: true,
        }
    }

    /// Check host keys against this `known_hosts` file instead of `~/.ssh/known_hosts`.
    pub fn known_hosts(mut self, path: impl Into<PathBuf>) -> Self {
        self.known_hosts = Some(path.into());
        self
    }

    /// The cluster file as YAML text.
    pub fn to_yaml(&self) -> String {
        yaml_serde::to_string(self).unwrap_or_default()
    }

    /// Parse the YAML text of a cluster file.
    pub fn from_yaml(text: &str) -> Result<Self> {
        yaml_serde::from_str(text).map_err(|e| {
            Error::invalid(
                Parameter::ClusterFile,
                "(text)",
                format!("not a valid cluster file: {e}"),
            )
        })
    }

    pub(crate) fn into_backend(self, base: &Path) -> ExistingCluster {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let key = key_path(&self.ssh_key_path, base, home.as_deref());
        let known_hosts = self
            .known_hosts
            .as_deref()
            .map(|k| key_path(k, base, home.as_deref()));
        let checking = if self.strict_host_key_checking {
            HostKeyChecking::Strict
        } else {
            HostKeyChecking::AcceptNew
        };
        let hosts = |ips: Vec<IpAddr>| {
            ips.into_iter()
                .map(|ip| Host {
                    ip_address: ip,
                    ssh_key_path: key.clone(),
                })
                .collect::<Vec<_>>()
        };
        let backend = ExistingCluster::new(
            hosts(self.masters),
            hosts(self.agents),
            hosts(self.public_agents),
            self.ssh_user,
        )
        .host_key_checking(checking);
        match known_hosts {
            Some(path) => backend.known_hosts(path),
            None => backend,
        }
    }
}

/// A cluster file's path (key, known_hosts): `~/` is the user's home, a relative path
/// is from the file's directory.
fn key_path(given: &Path, base: &Path, home: Option<&Path>) -> PathBuf {
    match (given.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => base.join(given),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Role;

    #[test]
    fn key_paths_expand_home_and_resolve_relative_paths() {
        let (base, home) = (Path::new("/files"), Some(Path::new("/home/me")));
        let key = |given: &str| key_path(Path::new(given), base, home);
        assert_eq!(key("~/.ssh/id"), Path::new("/home/me/.ssh/id"));
        assert_eq!(key("keys/id"), Path::new("/files/keys/id"));
        assert_eq!(key("/abs/id"), Path::new("/abs/id"));
        assert_eq!(key("~user/id"), Path::new("/files/~user/id"));
        assert_eq!(
            key_path(Path::new("~/id"), base, None),
            Path::new("/files/~/id")
        );
    }

    #[test]
    fn cluster_file_parses_and_resolves_relative_keys() {
        let file =
            ClusterFile::from_yaml("ssh_user: core\nssh_key_path: keys/id\nmasters: [10.0.0.1]\n")
                .unwrap();
        let backend = file.into_backend(Path::new("/etc/clusters"));
        assert_eq!(
            backend.hosts(Role::Master)[0].ssh_key_path,
            PathBuf::from("/etc/clusters/keys/id")
        );
        assert!(backend.hosts(Role::Agent).is_empty());
        assert_eq!(backend.known_hosts, None, "~/.ssh/known_hosts");
        assert_eq!(backend.host_key_checking, HostKeyChecking::Strict);
        let file = ClusterFile::from_yaml(
            "ssh_user: core\nssh_key_path: k\nmasters: []\nknown_hosts: hosts/known\nstrict_host_key_checking: false\n",
        )
        .unwrap();
        assert_eq!(
            ClusterFile::from_yaml(&file.to_yaml()).unwrap(),
            file,
            "written back as read"
        );
        let backend = file.into_backend(Path::new("/etc/clusters"));
        assert_eq!(
            backend.known_hosts.as_deref(),
            Some(Path::new("/etc/clusters/hosts/known"))
        );
        assert_eq!(backend.host_key_checking, HostKeyChecking::AcceptNew);
        assert!(
            ClusterFile::from_yaml("ssh_user: a\nssh_key_path: k\nmasters: []\nbogus: 1\n")
                .is_err()
        );
    }
}
