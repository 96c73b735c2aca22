//! A node's machine as a whole, for the faults a test injects: stop, start, restart,
//! pause, resume, kill. The backend does them (Docker: the node's container). The node
//! remembers what it last made of its machine, so that a command on a node it stopped
//! or paused fails at once, saying so, instead of waiting out a connect timeout.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use super::transport::BoxFuture;
pub use crate::error::NodeState;
use crate::error::Result;

/// A fault on a node's machine.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Action<'a> {
    Stop,
    Start,
    Restart,
    Pause,
    Resume,
    /// A signal by name (`SIGKILL`, `TERM`) or number, to the machine's first process.
    Kill(&'a str),
}

/// The backend's hold on a node's machine.
pub(crate) trait Machine: Send + Sync {
    /// Do `action`; done when the backend says so (a started machine may still boot).
    fn act<'a>(&'a self, action: Action<'a>) -> BoxFuture<'a, Result<()>>;

    /// What the machine is doing now, as the backend says.
    fn state(&self) -> BoxFuture<'_, Result<NodeState>>;

    /// How long a started machine may take to accept commands again.
    fn boot_timeout(&self) -> Duration;
}

/// What a node last made of its machine; shared by the node's clones.
#[derive(Debug, Default)]
pub(crate) struct Known(AtomicU8);

impl Known {
    pub(crate) fn new(state: NodeState) -> Self {
        Self(AtomicU8::new(state.as_u8()))
    }

    pub(crate) fn get(&self) -> NodeState {
        NodeState::from_u8(self.0.load(Ordering::SeqCst))
    }

    pub(crate) fn set(&self, state: NodeState) {
        self.0.store(state.as_u8(), Ordering::SeqCst);
    }
}
