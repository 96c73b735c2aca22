//! SSH to nodes whose addresses this machine cannot route to, through a jump host that
//! can: each node connection runs in a direct-tcpip channel of an SSH connection to
//! the jump host (what `ssh -J` does, without the `ssh` binary).
//!
//! The node connections share one jump connection, which carries their bytes in one
//! russh loop: a node connection whose reader stalls would stall it for all. So the
//! rule of [`super::ssh`] holds one level down: a paced process's node connection,
//! whose reader may wait, is tunnelled through a jump connection of its own.

use std::net::SocketAddr;
use std::sync::Arc;

use russh::ChannelStream;
use russh::client::Msg;

use super::ssh::{Connection, SshSettings, SshTransport, Tunnel};
use super::{BoxFuture, Transport};
use crate::error::{Error, Result, TransportKind};

/// The user the jump host lets in (ours: root, with the cluster's key).
const JUMP_USER: &str = "root";

/// A jump host, reached at an address of this machine's network.
pub(crate) struct Jump {
    ssh: SshTransport,
    addr: SocketAddr,
}

impl std::fmt::Debug for Jump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.ssh.node_name())
    }
}

impl Jump {
    /// The jump host at `addr`, whose host key `settings.host_keys` knows at that
    /// address and port, letting in the key of `settings`.
    pub(crate) fn new(addr: SocketAddr, settings: &SshSettings) -> Self {
        let mut settings = settings.clone();
        settings.port = addr.port();
        settings.jump = None;
        settings.tunnels_only = true;
        Self {
            ssh: SshTransport::new(addr.ip(), format!("the jump host at {addr}"), settings),
            addr,
        }
    }

    async fn open(
        &self,
        to: SocketAddr,
        own: bool,
        node: &str,
    ) -> Result<(ChannelStream<Msg>, Arc<Connection>)> {
        let via = if own {
            Arc::new(self.ssh.connect(JUMP_USER, false).await?)
        } else {
            self.ssh.connection(JUMP_USER).await?
        };
        let channel = via
            .handle
            .channel_open_direct_tcpip(to.ip().to_string(), u32::from(to.port()), "127.0.0.1", 0)
            .await
            // As a refused TCP connection: the node's sshd is not listening (yet).
            .map_err(|e| Error::Unreachable {
                node: node.to_string(),
                transport: TransportKind::Ssh,
                detail: format!("{} cannot connect to it", self.ssh.node_name()),
                source: Some(Box::new(e)),
            })?;
        Ok((channel.into_stream(), via))
    }
}

impl Tunnel for Jump {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// From the jump host, in a direct-tcpip channel of the shared connection to it or
    /// (`own`) of a new one.
    fn tunnel<'a>(
        &'a self,
        to: SocketAddr,
        own: bool,
        node: &'a str,
    ) -> BoxFuture<'a, Result<(ChannelStream<Msg>, Arc<Connection>)>> {
        // Boxed: connecting the jump host is an SSH connect too (one without a jump).
        Box::pin(self.open(to, own, node))
    }
}
