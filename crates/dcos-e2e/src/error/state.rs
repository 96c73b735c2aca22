//! What a node's machine is doing, as errors name it.

/// What a node's machine is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NodeState {
    /// Up: it runs commands.
    Running,
    /// Frozen in place (`Node::pause`): its processes, memory and connections are kept,
    /// and nothing on it runs until `Node::resume`.
    Paused,
    /// Not running (`Node::stop`, `Node::kill`, or it halted); its disks are kept.
    Stopped,
    /// Removed from its cluster (`Cluster::destroy_node`): the machine is gone.
    Destroyed,
}

impl NodeState {
    /// `running`, `paused` or `stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Running => "running",
            NodeState::Paused => "paused",
            NodeState::Stopped => "stopped",
            NodeState::Destroyed => "destroyed",
        }
    }

    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            1 => NodeState::Paused,
            2 => NodeState::Stopped,
            3 => NodeState::Destroyed,
            _ => NodeState::Running,
        }
    }

    pub(crate) fn as_u8(self) -> u8 {
        match self {
            NodeState::Running => 0,
            NodeState::Paused => 1,
            NodeState::Stopped => 2,
            NodeState::Destroyed => 3,
        }
    }
}

impl std::fmt::Display for NodeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
