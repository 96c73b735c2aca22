//! The cluster file: a small YAML description of an existing cluster, for the CLI and
//! for tests that keep their hosts in a file.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ExistingCluster, Host};
use crate::error::{Error, Result};

impl ExistingCluster {
    /// Read a cluster file (YAML), as the CLI's `minidcos existing --cluster-file` does.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(Error::io("read", path))?;
        let file: ClusterFile = yaml_serde::from_str(&text).map_err(|e| {
            Error::invalid(
                "cluster file",
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
/// masters: [10.0.0.1]
/// agents: [10.0.0.2, 10.0.0.3]
/// public_agents: []
/// ";
/// let file = dcos_e2e::ClusterFile::from_yaml(yaml).unwrap();
/// assert_eq!(file.agents.len(), 2);
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
        }
    }

    /// The cluster file as YAML text.
    pub fn to_yaml(&self) -> String {
        yaml_serde::to_string(self).unwrap_or_default()
    }

    /// Parse the YAML text of a cluster file.
    pub fn from_yaml(text: &str) -> Result<Self> {
        yaml_serde::from_str(text).map_err(|e| {
            Error::invalid(
                "cluster file",
                "(text)",
                format!("not a valid cluster file: {e}"),
            )
        })
    }

    pub(crate) fn into_backend(self, base: &Path) -> ExistingCluster {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let key = key_path(&self.ssh_key_path, base, home.as_deref());
        let hosts = |ips: Vec<IpAddr>| {
            ips.into_iter()
                .map(|ip| Host {
                    ip_address: ip,
                    ssh_key_path: key.clone(),
                })
                .collect::<Vec<_>>()
        };
        ExistingCluster::new(
            hosts(self.masters),
            hosts(self.agents),
            hosts(self.public_agents),
            self.ssh_user,
        )
    }
}

/// A cluster file's key path: `~/` is the user's home, a relative path is from the
/// file's directory.
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
        assert!(
            ClusterFile::from_yaml("ssh_user: a\nssh_key_path: k\nmasters: []\nbogus: 1\n")
                .is_err()
        );
    }
}
