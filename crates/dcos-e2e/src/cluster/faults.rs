//! Faults a test injects into a whole cluster: network cuts between groups of its
//! nodes, and a scope that undoes every fault when the test's code ends, however it
//! ends.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::join_all;

use super::Cluster;
use crate::error::{Error, Parameter, Result};
use crate::node::partition::{self, Direction, Partition};
use crate::node::shaping::{self, Link};
use crate::node::{Node, NodeState};

impl Cluster {
    fn own(&self, nodes: &[&Node]) -> Result<()> {
        match nodes
            .iter()
            .find(|n| !Arc::ptr_eq(&n.inner.cluster, &self.liveness))
        {
            Some(stranger) => Err(Error::invalid(
                Parameter::Nodes,
                stranger,
                format!("not a node of {}", self.id()),
            )),
            None => Ok(()),
        }
    }

    /// Cut all traffic between the nodes of `a` and those of `b`, both ways, until
    /// healed ([`Partition::heal`], [`Cluster::heal`]). Done by firewall rules inside the
    /// nodes: the test host still reaches every node, and connections already open
    /// across the cut stall as on a real split network.
    ///
    /// ```no_run
    /// # async fn example(cluster: &dcos_e2e::Cluster) -> dcos_e2e::Result<()> {
    /// let master = &cluster.masters()[0];
    /// let agents: Vec<_> = cluster.agents().iter().collect();
    /// let cut = cluster.partition(&[master], &agents).await?;
    /// // ... the master cannot reach the agents, nor they it ...
    /// cut.heal().await?;
    /// # Ok(()) }
    /// ```
    pub async fn partition(&self, a: &[&Node], b: &[&Node]) -> Result<Partition> {
        self.own(a)?;
        self.own(b)?;
        partition::partition(a, b, Direction::Both).await
    }

    /// Lose every packet from the nodes of `from` to those of `to` (the other way they
    /// pass), until healed.
    pub async fn partition_one_way(&self, from: &[&Node], to: &[&Node]) -> Result<Partition> {
        self.own(from)?;
        self.own(to)?;
        partition::partition(from, to, Direction::OneWay).await
    }

    /// Degrade what each node of `from` sends to the nodes of `to` (a link into one
    /// node: every other node in `from`, it in `to`). Replaces an earlier shape of those
    /// nodes; undone by [`Cluster::unshape`] or [`Cluster::undo_faults`].
    pub async fn shape_between(&self, from: &[&Node], to: &[&Node], link: &Link) -> Result<()> {
        self.own(from)?;
        self.own(to)?;
        self.liveness.check()?;
        shaping::shape_between(from, to, link).await
    }

    /// Take every node's shaping out ([`Node::shape`], [`Cluster::shape_between`]).
    pub async fn unshape(&self) -> Result<()> {
        let nodes: Vec<&Node> = self.nodes().collect();
        shaping::unshape_all(&nodes).await
    }

    /// Remove every network cut this process made on the cluster's nodes.
    pub async fn heal(&self) -> Result<()> {
        let nodes: Vec<&Node> = self.nodes().collect();
        partition::heal_all(&nodes).await
    }

    /// Undo every fault this process put on the cluster: resume paused nodes and start
    /// stopped ones (each waited for until it accepts commands), then heal the network
    /// and take shaping out (a paused node's rules can only go once it runs).
    pub async fn undo_faults(&self) -> Result<()> {
        let nodes = join_all(self.nodes().map(|node| async move {
            match node.check_up() {
                Err(Error::NodeDown {
                    state: NodeState::Paused,
                    ..
                }) => node.resume().await,
                Err(Error::NodeDown { .. }) => node.start().await,
                _ => Ok(()),
            }
        }))
        .await;
        let healed = self.heal().await;
        let unshaped = self.unshape().await;
        Error::all([healed, unshaped].into_iter().chain(nodes))
    }

    /// Run `f`, then undo every fault ([`Cluster::undo_faults`]) whether it returned `Ok`,
    /// `Err` or panicked: faults a test injects never outlive it. `f`'s own error (or
    /// panic) comes first; a failed undo is the error of an `f` that succeeded.
    ///
    /// ```no_run
    /// # async fn example(cluster: &dcos_e2e::Cluster) -> dcos_e2e::Result<()> {
    /// cluster
    ///     .with_faults(async |c: &dcos_e2e::Cluster| {
    ///         c.agents()[0].pause().await?;
    ///         c.wait_for_dcos(std::time::Duration::from_secs(60)).await
    ///     })
    ///     .await?; // the agent runs again here
    /// # Ok(()) }
    /// ```
    pub async fn with_faults<T, E: From<Error>>(
        &self,
        f: impl AsyncFnOnce(&Cluster) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let outcome = AssertUnwindSafe(f(self)).catch_unwind().await;
        let undone = self.undo_faults().await;
        match outcome {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(Err(e)) => Err(e),
            Ok(Ok(value)) => undone.map(|()| value).map_err(E::from),
        }
    }
}
