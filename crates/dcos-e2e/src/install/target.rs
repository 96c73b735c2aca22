//! The nodes an install is for, and who the installer is told logs in to them.

use crate::node::Node;

/// The nodes to install on, and who the installer is told logs in to them.
pub(crate) struct Target<'a> {
    pub masters: &'a [Node],
    pub agents: &'a [Node],
    pub public_agents: &'a [Node],
    pub ssh_user: &'a str,
    /// Stream the installer's output to the log as it runs.
    pub live: bool,
}

impl Target<'_> {
    pub(super) fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.masters
            .iter()
            .chain(self.agents)
            .chain(self.public_agents)
    }
}
