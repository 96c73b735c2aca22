//! Faults on a node's machine, through its backend: stop, start, restart, pause,
//! resume, kill; and the check that keeps commands off a node this process stopped.

use std::time::Duration;

use super::machine::{Action, Machine, NodeState};
use super::node::Node;
use crate::error::{Error, Result};

impl Node {
    fn machine(&self, operation: &'static str) -> Result<&dyn Machine> {
        self.inner.machine.as_deref().ok_or(Error::NotSupported {
            operation,
            backend: "ExistingCluster",
        })
    }

    /// Fail with [`Error::NodeDown`] when this node's own fault has it stopped or
    /// paused, before any command waits on it.
    pub(crate) fn check_up(&self) -> Result<()> {
        match self.inner.known.get() {
            NodeState::Running => Ok(()),
            NodeState::Destroyed => Err(Error::NoSuchNode {
                selector: self.to_string(),
                cluster_id: self.inner.cluster.id().to_string(),
            }),
            state => Err(Error::NodeDown {
                node: self.to_string(),
                state,
            }),
        }
    }

    async fn act(&self, operation: &'static str, action: Action<'_>) -> Result<()> {
        self.inner.cluster.check()?;
        self.machine(operation)?.act(action).await
    }

    /// Stop the node's machine as a host shuts down (its init is asked to halt, and it
    /// is killed if it has not within the backend's grace). Its address, disks and
    /// keys are kept; commands on it fail with [`Error::NodeDown`] until
    /// [`Node::start`].
    pub async fn stop(&self) -> Result<()> {
        self.act("stopping a node", Action::Stop).await?;
        self.inner.known.set(NodeState::Stopped);
        self.inner.transport.reset().await;
        Ok(())
    }

    /// Start a stopped node and wait until it accepts commands again, on the same
    /// address and with the same host key (the transport connects afresh by itself).
    pub async fn start(&self) -> Result<()> {
        self.act("starting a node", Action::Start).await?;
        self.came_back().await
    }

    /// Stop and start the node (a reboot), then wait until it accepts commands.
    pub async fn restart(&self) -> Result<()> {
        self.act("restarting a node", Action::Restart).await?;
        self.came_back().await
    }

    /// Freeze every process of the node where it is: it no longer answers anything
    /// (over the network too) until [`Node::resume`]. Commands through this handle fail
    /// at once with [`Error::NodeDown`].
    pub async fn pause(&self) -> Result<()> {
        self.act("pausing a node", Action::Pause).await?;
        self.inner.known.set(NodeState::Paused);
        Ok(())
    }

    /// Let a paused node go on where it was; its connections survive.
    pub async fn resume(&self) -> Result<()> {
        self.act("resuming a node", Action::Resume).await?;
        self.inner.known.set(NodeState::Running);
        Ok(())
    }

    /// Send `signal` (a name such as `SIGKILL` or `TERM`, or a number) to the node's
    /// first process, as the machine losing power (`SIGKILL`) or an init being told
    /// something. What the node does then is read back from the backend.
    pub async fn kill(&self, signal: &str) -> Result<NodeState> {
        if signal.trim().is_empty() {
            return Err(Error::invalid(
                crate::error::Parameter::Signal,
                signal,
                "name a signal, such as SIGKILL",
            ));
        }
        self.act("killing a node", Action::Kill(signal)).await?;
        let state = self.state().await?;
        if state != NodeState::Running {
            self.inner.transport.reset().await;
        }
        Ok(state)
    }

    /// What the node's machine is doing now, as its backend says (whoever stopped or
    /// paused it).
    pub async fn state(&self) -> Result<NodeState> {
        let state = self.machine("reading a node's state")?.state().await?;
        self.inner.known.set(state);
        Ok(state)
    }

    /// After a start: connect afresh and wait until the node accepts commands.
    async fn came_back(&self) -> Result<()> {
        self.inner.known.set(NodeState::Running);
        self.inner.transport.reset().await;
        let timeout = self.machine("starting a node")?.boot_timeout();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut pause = Duration::from_millis(20);
        loop {
            let attempt = tokio::time::timeout_at(deadline, self.ping()).await;
            match attempt {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) if tokio::time::Instant::now() + pause >= deadline => return Err(e),
                Ok(Err(_)) => {}
                Err(_) => {
                    return Err(Error::Timeout {
                        node: self.to_string(),
                        transport: self.transport(),
                        timeout,
                    });
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}
