//! `ExistingCluster`: nodes that already exist (any hosts reachable over SSH with a key).
//! Nothing is provisioned or destroyed; every node operation runs over SSH as the
//! default SSH user. Host keys are checked against a `known_hosts` file. An install or
//! upgrade runs genconf in a temporary directory on this host and copies `serve/` to
//! every host, where the Docker backend binds it.

mod cluster_file;

pub use cluster_file::ClusterFile;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::running::{
    GenconfMount, HOST_GENCONF_DIR, NewCluster, NodeDescription, Reopened, RunningCluster,
};
use crate::error::{Error, Parameter, Result};
use crate::node::liveness::Liveness;
use crate::node::node::{Node, NodeSpec, OpenSshCheck};
use crate::node::role::{PerRole, Role, display_name};
use crate::node::transport::host_keys::{HostKeyChecking, HostKeys};
use crate::node::transport::ssh::{SshSettings, SshTransport};
use crate::node::transport::{BoxFuture, Transport};
use crate::params::{ClusterParams, ProgressFn};

/// One host of an existing cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Host {
    /// Its address.
    pub ip_address: IpAddr,
    /// The private key that logs in to it.
    pub ssh_key_path: PathBuf,
}

impl Host {
    /// The host at `ip_address`, logged in to with the key at `ssh_key_path`.
    pub fn new(ip_address: IpAddr, ssh_key_path: impl Into<PathBuf>) -> Self {
        Self {
            ip_address,
            ssh_key_path: ssh_key_path.into(),
        }
    }
}

impl From<&Node> for Host {
    fn from(node: &Node) -> Self {
        Host {
            ip_address: node.ip_address(),
            ssh_key_path: node.ssh_key_path().to_path_buf(),
        }
    }
}

impl From<Node> for Host {
    fn from(node: Node) -> Self {
        Host::from(&node)
    }
}

/// A backend that wraps hosts that already exist:
/// DC/OS E2E's 2017 `ExistingCluster(masters, agents, public_agents, default_ssh_user)`,
/// whose `default_ssh_user` is our `default_user`.
///
/// Creating a [`Cluster`](crate::Cluster) with it is refused unless: `build_artifact` is
/// none; `extra_config` is none or empty; `masters`, `agents` and `public_agents` equal
/// the numbers of hosts given; `destroy_on_error` and `destroy_on_success` are false;
/// `files_to_copy_to_installer` is empty.
#[derive(Clone, Debug)]
pub struct ExistingCluster {
    masters: Vec<Host>,
    agents: Vec<Host>,
    public_agents: Vec<Host>,
    default_user: String,
    connect_timeout: Duration,
    known_hosts: Option<PathBuf>,
    host_key_checking: HostKeyChecking,
}

impl ExistingCluster {
    /// Wrap these hosts; commands run as `default_user`.
    pub fn new<M, A, P>(
        masters: M,
        agents: A,
        public_agents: P,
        default_user: impl Into<String>,
    ) -> Self
    where
        M: IntoIterator,
        M::Item: Into<Host>,
        A: IntoIterator,
        A::Item: Into<Host>,
        P: IntoIterator,
        P::Item: Into<Host>,
    {
        Self {
            masters: masters.into_iter().map(Into::into).collect(),
            agents: agents.into_iter().map(Into::into).collect(),
            public_agents: public_agents.into_iter().map(Into::into).collect(),
            default_user: default_user.into(),
            connect_timeout: Duration::from_secs(10),
            known_hosts: None,
            host_key_checking: HostKeyChecking::Strict,
        }
    }

    /// How long connecting to a host may take before it is an error (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The OpenSSH `known_hosts` file host keys are checked against (default
    /// `~/.ssh/known_hosts`, where a missing file lists nothing; a file given here must
    /// exist). Hosts are looked up by address. A Docker cluster's own file is
    /// `ssh/known_hosts` in its workspace.
    pub fn known_hosts(mut self, path: impl Into<PathBuf>) -> Self {
        self.known_hosts = Some(path.into());
        self
    }

    /// How a host missing from the `known_hosts` file is treated (default
    /// [`HostKeyChecking::Strict`]: refused, [`Error::HostKeyUnknown`]).
    pub fn host_key_checking(mut self, checking: HostKeyChecking) -> Self {
        self.host_key_checking = checking;
        self
    }

    /// The `known_hosts` file host keys are checked against: the one given, else
    /// `~/.ssh/known_hosts` (none when `HOME` is not set).
    pub fn known_hosts_path(&self) -> Option<PathBuf> {
        self.known_hosts.clone().or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".ssh/known_hosts"))
        })
    }

    /// How a host missing from the `known_hosts` file is treated.
    pub fn host_key_checking_mode(&self) -> HostKeyChecking {
        self.host_key_checking
    }

    /// The host keys to check against, read now. Only the default file may be missing.
    fn host_keys(&self) -> Result<HostKeys> {
        let Some(path) = self.known_hosts_path() else {
            return Err(Error::invalid(
                Parameter::KnownHosts,
                "~/.ssh/known_hosts",
                "HOME is not set; give the known_hosts file explicitly",
            ));
        };
        HostKeys::from_file(&path, self.host_key_checking, self.known_hosts.is_none())
    }

    /// The hosts of a role.
    pub fn hosts(&self, role: Role) -> &[Host] {
        match role {
            Role::Master => &self.masters,
            Role::Agent => &self.agents,
            Role::PublicAgent => &self.public_agents,
        }
    }

    /// DC/OS E2E's 2017 API's conditions, each with its own error, checked before any host is
    /// contacted.
    pub(crate) fn validate(&self, p: &ClusterParams) -> Result<()> {
        if let Some(artifact) = &p.build_artifact {
            return Err(Error::invalid(
                Parameter::BuildArtifact,
                artifact.display(),
                "must be none for an ExistingCluster",
            ));
        }
        if let Some(extra) = p.extra_config.as_ref().filter(|e| !e.is_empty()) {
            return Err(Error::invalid(
                Parameter::ExtraConfig,
                extra,
                "must be none or empty for an ExistingCluster",
            ));
        }
        for (param, given, hosts) in [
            (Parameter::Masters, p.masters, &self.masters),
            (Parameter::Agents, p.agents, &self.agents),
            (
                Parameter::PublicAgents,
                p.public_agents,
                &self.public_agents,
            ),
        ] {
            if given != hosts.len() {
                return Err(Error::invalid(
                    param,
                    given,
                    format!(
                        "must match the {} {param} nodes of the existing cluster",
                        hosts.len()
                    ),
                ));
            }
        }
        if p.destroy_on_error {
            return Err(Error::invalid(
                Parameter::DestroyOnError,
                true,
                "must be false for an ExistingCluster",
            ));
        }
        if p.destroy_on_success {
            return Err(Error::invalid(
                Parameter::DestroyOnSuccess,
                true,
                "must be false for an ExistingCluster",
            ));
        }
        if let Some((src, dst)) = p.files_to_copy_to_installer.first() {
            return Err(Error::invalid(
                Parameter::FilesToCopyToInstaller,
                format!("{} -> {}", src.display(), dst.display()),
                "must be empty for an ExistingCluster",
            ));
        }
        Ok(())
    }

    /// Nodes over SSH; nothing is contacted until the first command.
    pub(crate) fn wrap(&self, p: &ClusterParams) -> Result<NewCluster> {
        let workspace = tempfile::Builder::new()
            .prefix("dcos-e2e-existing-")
            .tempdir()
            .map_err(Error::io("make a directory in", std::env::temp_dir()))?;
        self.wrap_in(p, Arc::new(workspace))
    }

    /// [`ExistingCluster::wrap`] with this host's temporary files in `workspace`.
    fn wrap_in(&self, p: &ClusterParams, workspace: Arc<tempfile::TempDir>) -> Result<NewCluster> {
        let liveness = Arc::new(Liveness::new(&self.cluster_id()));
        let host_keys = self.host_keys()?;
        let mut settings_by_key: Vec<(PathBuf, SshSettings)> = Vec::new();
        let mut nodes: PerRole<Vec<Node>> = PerRole::default();
        for role in Role::ALL {
            for (i, host) in self.hosts(role).iter().enumerate() {
                let settings = match settings_by_key
                    .iter()
                    .find(|(k, _)| *k == host.ssh_key_path)
                {
                    Some((_, s)) => s.clone(),
                    None => {
                        // OpenSSH's default MaxSessions: these hosts are not ours to tune.
                        let s = SshSettings::new(
                            &host.ssh_key_path,
                            self.connect_timeout,
                            10,
                            host_keys.clone(),
                        )?;
                        settings_by_key.push((host.ssh_key_path.clone(), s.clone()));
                        s
                    }
                };
                let name = display_name(role, i + 1, host.ip_address);
                let transport: Arc<dyn Transport> =
                    Arc::new(SshTransport::new(host.ip_address, name, settings));
                nodes.get_mut(role).push(Node::new(NodeSpec {
                    role,
                    index: i + 1,
                    ip: host.ip_address,
                    ssh_key_path: host.ssh_key_path.clone(),
                    ssh_jump: None,
                    default_user: self.default_user.clone(),
                    host_key_check: OpenSshCheck {
                        known_hosts: self.known_hosts_path(),
                        accept_new: self.host_key_checking == HostKeyChecking::AcceptNew,
                    },
                    container: None,
                    log_output_live: p.log_output_live,
                    transport,
                    other: None,
                    cluster: liveness.clone(),
                    machine: None,
                    known: Default::default(),
                }));
            }
        }
        Ok(NewCluster {
            liveness,
            nodes,
            default_user: self.default_user.clone(),
            running: Box::new(Existing {
                hosts: self.clone(),
                params: p.clone(),
                workspace,
            }),
        })
    }

    /// A name for messages: `existing-<first master>`.
    fn cluster_id(&self) -> String {
        match self.masters.first() {
            Some(m) => format!("existing-{}", m.ip_address),
            None => "existing".to_string(),
        }
    }
}

/// The backend side of an existing cluster: its hosts, to reach them again, and where
/// an install's genconf is made on this host (removed when the last handle goes).
#[derive(Clone)]
struct Existing {
    hosts: ExistingCluster,
    params: ClusterParams,
    workspace: Arc<tempfile::TempDir>,
}

impl RunningCluster for Existing {
    fn backend_name(&self) -> &'static str {
        "ExistingCluster"
    }

    fn workspace(&self) -> Option<&Path> {
        Some(self.workspace.path())
    }

    fn genconf(&self) -> Option<GenconfMount> {
        let upload = Role::ALL
            .into_iter()
            .flat_map(|role| (1..=self.hosts.hosts(role).len()).map(move |i| (role, i)))
            .collect();
        Some(GenconfMount {
            host_dir: self.workspace.path().join("genconf"),
            node_dir: HOST_GENCONF_DIR,
            upload,
        })
    }

    fn destroy(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async {
            Err(Error::NotSupported {
                operation: "destroying a cluster",
                backend: "ExistingCluster",
            })
        })
    }

    fn keep(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn persist(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn describe_nodes(&self) -> BoxFuture<'_, std::collections::HashMap<String, NodeDescription>> {
        Box::pin(async { Default::default() })
    }

    fn published_ports(&self) -> BoxFuture<'_, Result<Vec<(u16, u16)>>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn destroy_node<'a>(&'a self, _node: &'a Node) -> BoxFuture<'a, Result<()>> {
        Box::pin(async {
            Err(Error::NotSupported {
                operation: "destroying a node",
                backend: "ExistingCluster",
            })
        })
    }

    fn add_node(
        &self,
        _role: crate::node::Role,
        _index: usize,
        _address: Option<std::net::IpAddr>,
        _liveness: std::sync::Arc<crate::node::liveness::Liveness>,
    ) -> BoxFuture<'_, Result<Node>> {
        Box::pin(async {
            Err(Error::NotSupported {
                operation: "adding a node",
                backend: "ExistingCluster",
            })
        })
    }

    fn load_images<'a>(
        &'a self,
        _images: &'a [String],
        _nodes: &'a [&'a Node],
        _progress: Option<&'a ProgressFn>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async {
            Err(Error::NotSupported {
                operation: "loading images",
                backend: "ExistingCluster",
            })
        })
    }

    // SSH sessions are made on first use, by the runtime that uses them. Without nodes
    // nothing is read again (the hosts' key files may be gone by a drop).
    fn reopen(&self, nodes: bool) -> BoxFuture<'static, Result<Reopened>> {
        if !nodes {
            let running = Box::new(self.clone());
            return Box::pin(async move {
                Ok(Reopened {
                    running,
                    nodes: PerRole::default(),
                })
            });
        }
        let again = self.hosts.wrap_in(&self.params, self.workspace.clone());
        Box::pin(async move {
            let again = again?;
            Ok(Reopened {
                running: again.running,
                nodes: again.nodes,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend() -> ExistingCluster {
        let h = |ip: &str| Host {
            ip_address: ip.parse().unwrap(),
            ssh_key_path: "/nonexistent/key".into(),
        };
        ExistingCluster::new([h("10.0.0.1")], [h("10.0.0.2")], Vec::<Host>::new(), "root")
    }

    fn ok_params() -> ClusterParams {
        ClusterParams {
            public_agents: 0,
            destroy_on_error: false,
            destroy_on_success: false,
            ..Default::default()
        }
    }

    fn refused(p: ClusterParams) -> (String, String) {
        match backend().validate(&p).unwrap_err() {
            Error::InvalidParameter {
                parameter, value, ..
            } => (parameter.to_string(), value),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn valid_parameters_pass() {
        backend().validate(&ok_params()).unwrap();
        let empty = ClusterParams {
            extra_config: Some(crate::params::ExtraConfig::new()),
            ..ok_params()
        };
        backend().validate(&empty).unwrap();
    }

    #[test]
    fn each_condition_names_its_parameter_and_value() {
        let p = ok_params;
        assert_eq!(
            refused(ClusterParams {
                build_artifact: Some("/x.sh".into()),
                ..p()
            }),
            ("build_artifact".into(), "/x.sh".into())
        );
        let extra = crate::params::ExtraConfig::from_yaml("{a: 1}").unwrap();
        assert_eq!(
            refused(ClusterParams {
                extra_config: Some(extra),
                ..p()
            }),
            ("extra_config".into(), "a: 1".into())
        );
        assert_eq!(
            refused(ClusterParams { masters: 3, ..p() }),
            ("masters".into(), "3".into())
        );
        assert_eq!(
            refused(ClusterParams { agents: 0, ..p() }),
            ("agents".into(), "0".into())
        );
        assert_eq!(
            refused(ClusterParams {
                public_agents: 1,
                ..p()
            }),
            ("public_agents".into(), "1".into())
        );
        assert_eq!(
            refused(ClusterParams {
                destroy_on_error: true,
                ..p()
            }),
            ("destroy_on_error".into(), "true".into())
        );
        assert_eq!(
            refused(ClusterParams {
                destroy_on_success: true,
                ..p()
            }),
            ("destroy_on_success".into(), "true".into())
        );
        let files = vec![("/a".into(), "/genconf/a".into())];
        assert_eq!(
            refused(ClusterParams {
                files_to_copy_to_installer: files,
                ..p()
            }),
            (
                "files_to_copy_to_installer".into(),
                "/a -> /genconf/a".into()
            )
        );
    }
}
