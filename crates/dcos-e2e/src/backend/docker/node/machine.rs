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

/// How long the pause and resume scripts may take (the pause one gives up after 10 s).
const EXEC_LIMIT: Duration = Duration::from_secs(30);

/// Run in a node being paused, after its init got SIGSTOP from outside (init ignores it
/// from within): stop every other process, and wait (10 s at most) until each is
/// stopped, so none is frozen in the middle of a system call. The legacy (cgroup v1)
/// freezer may freeze a task wherever it sleeps, locks held ("imperfect legacy cgroup
/// freezer", the kernel says), and a CI run wedged (no container would start) after the
/// tests that pause nodes. A stopped task holds no lock, and freezing it is safe. Shell
/// builtins only, but `sleep`, which has ended by the next look.
const STOP_ALL: &str = r#"kill -STOP -1 2>/dev/null
i=0
while [ $i -lt 200 ]; do
  busy=
  for f in /proc/[0-9]*/stat; do
    p=${f#/proc/}; p=${p%/stat}
    [ "$p" = "$$" ] && continue
    read -r line < "$f" 2>/dev/null || continue
    st=${line##*) }; st=${st%% *}
    case $st in T|t|Z|X|x) ;; *) busy="$busy $p"; kill -STOP "$p" 2>/dev/null;; esac
  done
  [ -z "$busy" ] && exit 0
  sleep 0.05; i=$((i+1))
done
echo "still running:$busy"; exit 1"#;

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
            Action::Pause => self.pause().await,
            Action::Resume => self.resume().await,
            Action::Kill(signal) => client.kill_container(name, signal).await,
        }
    }

    /// Stop every process (see [`STOP_ALL`]), then freeze the running container, which
    /// is what others see of it (`docker ps` says Paused).
    async fn pause(&self) -> ApiResult<()> {
        let (client, name) = (&self.client, self.container.as_str());
        client.kill_container(name, "SIGSTOP").await?;
        match client
            .exec_to_end(name, &["/bin/sh", "-c", STOP_ALL], EXEC_LIMIT)
            .await
        {
            Ok((0, _)) => {}
            Ok((_, said)) => tracing::warn!(
                container = name,
                said,
                "freezing processes that did not stop"
            ),
            Err(e) => {
                tracing::warn!(container = name, error = %e, "freezing processes not all stopped")
            }
        }
        client.pause_container(name).await
    }

    /// Thaw the container, then let every process go on. Asked of a running node, it
    /// sends SIGCONT only: a resume that thawed but was cut before that is finished.
    async fn resume(&self) -> ApiResult<()> {
        let (client, name) = (&self.client, self.container.as_str());
        if let Err(e) = client.unpause_container(name).await
            && !matches!(self.read_state().await, Ok((NodeState::Running, _)))
        {
            return Err(e);
        }
        client.kill_container(name, "SIGCONT").await?;
        client
            .exec_to_end(name, &["/bin/sh", "-c", "kill -CONT -1"], EXEC_LIMIT)
            .await
            .map(drop)
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
            // Docker thaws a paused node to signal it: pausing again would thaw it, and
            // the other signals would meet processes still stopped (see `pause`), so a
            // paused node is resumed first.
            let signalled = matches!(
                action,
                Action::Pause | Action::Stop | Action::Restart | Action::Kill(_)
            );
            if signalled && matches!(self.read_state().await, Ok((NodeState::Paused, _))) {
                if matches!(action, Action::Pause) {
                    return Ok(());
                }
                self.resume()
                    .await
                    .map_err(op(format!("resuming container {}", self.container)))?;
            }
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
