//! Node handles on a Docker cluster's containers, over SSH or docker exec.

use std::net::IpAddr;
use std::sync::Arc;

use crate::backend::docker::create::container::DEFAULT_USER;
use crate::backend::docker::daemon::client::DockerClient;
use crate::backend::docker::node::exec::DockerExecTransport;
use crate::backend::docker::node::machine::DockerMachine;
use crate::node::NodeState;
use crate::node::liveness::Liveness;
use crate::node::machine::Known;
use crate::node::node::{Node, NodeSpec, OpenSshCheck};
use crate::node::role::{Role, display_name};
use crate::node::transport::ssh::{SshSettings, SshTransport};
use crate::node::transport::{Transport, TransportKind};

/// Channels at once per SSH connection to our nodes (their sshd allows 256).
pub(crate) const NODE_MAX_SESSIONS: usize = 128;

/// What every node handle of one cluster shares.
pub(crate) struct Wiring<'a> {
    pub client: &'a DockerClient,
    pub settings: &'a SshSettings,
    pub transport: TransportKind,
    pub liveness: &'a Arc<Liveness>,
    pub log_output_live: bool,
    /// The cluster's `known_hosts` file (in its workspace).
    pub known_hosts: &'a std::path::Path,
    /// How long a started node may take to accept commands.
    pub boot_timeout: std::time::Duration,
}

impl Wiring<'_> {
    /// The handle on the node in `container`.
    /// `state`: what its container was doing when found.
    pub(crate) fn node(
        &self,
        role: Role,
        index: usize,
        ip: IpAddr,
        container: &str,
        state: NodeState,
    ) -> Node {
        let display = display_name(role, index, ip);
        // Both ways in, the cluster's first: either can be asked for per call
        // (`Node::via`). Neither connects before its first use.
        let ssh: Arc<dyn Transport> = Arc::new(SshTransport::new(
            ip,
            display.clone(),
            self.settings.clone(),
        ));
        let exec: Arc<dyn Transport> = Arc::new(DockerExecTransport::new(
            self.client.clone(),
            container.to_string(),
            display,
        ));
        let (transport, other) = match self.transport {
            TransportKind::Ssh => (ssh, exec),
            TransportKind::DockerExec => (exec, ssh),
        };
        Node::new(NodeSpec {
            role,
            index,
            ip,
            ssh_key_path: self.settings.key_path.clone(),
            ssh_jump: self.settings.jump.as_ref().map(|j| j.addr()),
            default_user: DEFAULT_USER.into(),
            host_key_check: OpenSshCheck {
                known_hosts: Some(self.known_hosts.to_path_buf()),
                accept_new: false,
            },
            container: Some(container.to_string()),
            log_output_live: self.log_output_live,
            transport,
            other: Some(other),
            cluster: self.liveness.clone(),
            machine: Some(Arc::new(DockerMachine {
                client: self.client.clone(),
                container: container.to_string(),
                address: ip,
                boot_timeout: self.boot_timeout,
            })),
            known: Arc::new(Known::new(state)),
        })
    }
}
