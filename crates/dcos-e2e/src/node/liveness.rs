//! Whether a node's cluster still exists: shared by a cluster and all its nodes, so a
//! command on a destroyed cluster fails at once with [`Error::Destroyed`].

use std::net::IpAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

/// A cluster's id, whether it has been destroyed, and its nodes' addresses (what every
/// node of the cluster knows of the others).
#[derive(Debug)]
pub(crate) struct Liveness {
    id: String,
    destroyed: AtomicBool,
    peers: OnceLock<Vec<IpAddr>>,
}

impl Liveness {
    pub(crate) fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            destroyed: AtomicBool::new(false),
            peers: OnceLock::new(),
        }
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Fail with [`Error::Destroyed`] once the cluster is gone.
    pub(crate) fn check(&self) -> Result<()> {
        if self.destroyed.load(Ordering::SeqCst) {
            return Err(Error::Destroyed {
                cluster_id: self.id.clone(),
            });
        }
        Ok(())
    }

    /// Say which nodes the cluster has (once, when it is made).
    pub(crate) fn set_peers(&self, nodes: impl Iterator<Item = IpAddr>) {
        let _ = self.peers.set(nodes.collect());
    }

    /// Every node's address.
    pub(crate) fn peers(&self) -> &[IpAddr] {
        self.peers.get().map_or(&[], Vec::as_slice)
    }

    pub(crate) fn mark_destroyed(&self) {
        self.destroyed.store(true, Ordering::SeqCst);
    }
}
