//! Whether a node's cluster still exists: shared by a cluster and all its nodes, so a
//! command on a destroyed cluster fails at once with [`Error::Destroyed`].

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

/// A cluster's id and whether it has been destroyed.
#[derive(Debug)]
pub(crate) struct Liveness {
    id: String,
    destroyed: AtomicBool,
}

impl Liveness {
    pub(crate) fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            destroyed: AtomicBool::new(false),
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

    pub(crate) fn mark_destroyed(&self) {
        self.destroyed.store(true, Ordering::SeqCst);
    }
}
