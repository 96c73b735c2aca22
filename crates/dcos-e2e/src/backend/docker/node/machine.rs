//! A Docker node's machine: its container, on the daemon that holds it.

use std::net::IpAddr;
use std::time::Duration;

use crate::backend::docker::daemon::client::{ApiResult, DockerClient, op};
use crate::error::{Error, Result};
use crate::node::NodeState;
use crate::node::machine::{Action, Machine};
use crate::node::transport::BoxFuture;

/// How long a stopped node's init has to halt before it is killed (`docker stop`'s
/// default): systemd halts on the nodes' stop signal, SIGRTMIN+3.
const STOP_GRACE: Duration = Duration::from_secs(10);

pub(crate) struct DockerMachine {
    pub client: DockerClient,
    pub container: String,
    /// The address the node has, to check it came back on it (unspecified: unknown).
    pub address: IpAddr,
    pub boot_timeout: Duration,
}

impl DockerMachine {
    /// The state an action leaves, when asking twice is asking once (Docker answers
    /// "already started" or "not paused" with an error).
    fn target(action: Action<'_>) -> Option<NodeState> {
        match action {
            Action::Stop => Some(NodeState::Stopped),
            Action::Start | Action::Resume => Some(NodeState::Running),
            Action::Pause => Some(NodeState::Paused),
            Action::Restart | Action::Kill(_) => None,
        }
    }

    async fn call(&self, action: Action<'_>) -> ApiResult<()> {
        let (client, name) = (&self.client, self.container.as_str());
        match action {
            Action::Stop => client.stop_container(name, STOP_GRACE).await,
            Action::Start => client.start_container(name).await,
            Action::Restart => client.restart_container(name, STOP_GRACE).await,
            Action::Pause => client.pause_container(name).await,
            Action::Resume => client.unpause_container(name).await,
            Action::Kill(signal) => client.kill_container(name, signal).await,
        }
    }

    async fn read_state(&self) -> Result<(NodeState, Option<IpAddr>)> {
        let info = self
            .client
            .inspect_container(&self.container)
            .await
            .map_err(op(format!("inspecting container {}", self.container)))?;
        let state = match info.state.as_str() {
            "running" => NodeState::Running,
            "paused" => NodeState::Paused,
            _ => NodeState::Stopped,
        };
        Ok((state, info.address))
    }

    /// A started node must be where the cluster knows it: its address is fixed on the
    /// cluster's own network, but not on a network the user gave or across daemons.
    async fn check_address(&self) -> Result<()> {
        let (_, address) = self.read_state().await?;
        match address {
            Some(now) if !self.address.is_unspecified() && now != self.address => {
                Err(Error::Docker {
                    operation: format!("starting container {}", self.container),
                    source: format!(
                        "it came back with address {now}, not {} (addresses are fixed only on the cluster's own network)",
                        self.address
                    )
                    .into(),
                })
            }
            _ => Ok(()),
        }
    }
}

fn verb(action: Action<'_>) -> &'static str {
    match action {
        Action::Stop => "stopping",
        Action::Start => "starting",
        Action::Restart => "restarting",
        Action::Pause => "pausing",
        Action::Resume => "resuming",
        Action::Kill(_) => "signalling",
    }
}

impl Machine for DockerMachine {
    fn act<'a>(&'a self, action: Action<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if let Err(e) = self.call(action).await {
                let done = match Self::target(action) {
                    Some(target) => matches!(self.read_state().await, Ok((s, _)) if s == target),
                    None => false,
                };
                if !done {
                    return Err(op(format!("{} container {}", verb(action), self.container))(e));
                }
            }
            if matches!(action, Action::Start | Action::Restart) {
                self.check_address().await?;
            }
            Ok(())
        })
    }

    fn state(&self) -> BoxFuture<'_, Result<NodeState>> {
        Box::pin(async move { Ok(self.read_state().await?.0) })
    }

    fn boot_timeout(&self) -> Duration {
        self.boot_timeout
    }
}
