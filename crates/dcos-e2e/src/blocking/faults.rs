//! Blocking network cuts and the scope that undoes faults.

use super::{Cluster, Node, wait};
use crate::error::{Error, Result};
use crate::node::Link;

/// Blocking [`crate::Partition`].
#[derive(Clone, Debug)]
#[must_use = "a partition stays until healed: keep it to heal it, or heal the cluster"]
pub struct Partition(pub(super) crate::node::Partition);

impl Partition {
    /// See [`crate::Partition::name`].
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// Blocking [`crate::Partition::heal`].
    pub fn heal(&self) -> Result<()> {
        wait("Partition::heal", self.0.heal())
    }
}

fn inner<'a>(nodes: &[&'a Node]) -> Vec<&'a crate::node::Node> {
    nodes.iter().map(|n| n.as_async()).collect()
}

impl Node {
    /// Blocking [`crate::Node::shape`].
    pub fn shape(&self, link: &Link) -> Result<()> {
        wait("Node::shape", self.0.shape(link))
    }

    /// Blocking [`crate::Node::unshape`].
    pub fn unshape(&self) -> Result<()> {
        wait("Node::unshape", self.0.unshape())
    }

    /// Blocking [`crate::Node::isolate`].
    pub fn isolate(&self) -> Result<Partition> {
        wait("Node::isolate", self.0.isolate()).map(Partition)
    }
}

impl Cluster {
    /// Blocking [`crate::Cluster::partition`].
    pub fn partition(&self, a: &[&Node], b: &[&Node]) -> Result<Partition> {
        let (a, b) = (inner(a), inner(b));
        wait("Cluster::partition", self.inner.partition(&a, &b)).map(Partition)
    }

    /// Blocking [`crate::Cluster::partition_one_way`].
    pub fn partition_one_way(&self, from: &[&Node], to: &[&Node]) -> Result<Partition> {
        let (from, to) = (inner(from), inner(to));
        wait(
            "Cluster::partition_one_way",
            self.inner.partition_one_way(&from, &to),
        )
        .map(Partition)
    }

    /// Blocking [`crate::Cluster::shape_between`].
    pub fn shape_between(&self, from: &[&Node], to: &[&Node], link: &Link) -> Result<()> {
        let (from, to) = (inner(from), inner(to));
        wait(
            "Cluster::shape_between",
            self.inner.shape_between(&from, &to, link),
        )
    }

    /// Blocking [`crate::Cluster::unshape`].
    pub fn unshape(&self) -> Result<()> {
        wait("Cluster::unshape", self.inner.unshape())
    }

    /// Blocking [`crate::Cluster::heal`].
    pub fn heal(&self) -> Result<()> {
        wait("Cluster::heal", self.inner.heal())
    }

    /// Blocking [`crate::Cluster::undo_faults`].
    pub fn undo_faults(&self) -> Result<()> {
        wait("Cluster::undo_faults", self.inner.undo_faults())
    }

    /// Blocking [`crate::Cluster::with_faults`]: run `f`, then undo every fault however
    /// it ended (a panic goes on after the undo).
    pub fn with_faults<T, E: From<Error>>(
        &self,
        f: impl FnOnce(&Cluster) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)));
        let undone = self.undo_faults();
        match outcome {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(Err(e)) => Err(e),
            Ok(Ok(value)) => undone.map(|()| value).map_err(E::from),
        }
    }
}
