//! Whether a node's cluster still exists: shared by a cluster and all its nodes, so a
//! command on a destroyed cluster fails at once with [`Error::Destroyed`].

use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

/// A cluster's id, whether it has been destroyed, and its nodes' addresses (what every
/// node of the cluster knows of the others).
#[derive(Debug)]
pub(crate) struct Liveness {
    id: String,
    destroyed: AtomicBool,
    peers: Mutex<Vec<IpAddr>>,
}

impl Liveness {
    pub(crate) fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            destroyed: AtomicBool::new(false),
            peers: Mutex::default(),
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

    /// Say which nodes the cluster has (when it is made, and when nodes come or go).
    pub(crate) fn set_peers(&self, nodes: impl Iterator<Item = IpAddr>) {
        *self.peers.lock().unwrap_or_else(|p| p.into_inner()) = nodes.collect();
    }

    /// Every node's address.
    pub(crate) fn peers(&self) -> Vec<IpAddr> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn mark_destroyed(&self) {
        self.destroyed.store(true, Ordering::SeqCst);
    }
}
