//! Network faults between nodes: traffic cut between groups of nodes, both ways or one
//! way, by firewall rules inside the nodes themselves (so the test host still reaches
//! every node, and a cut-off node can still be looked at). Each fault's rules carry its
//! name, which starts with this process's: healing one fault removes exactly its rules,
//! healing a cluster removes every rule this process put on its nodes, and the last
//! rule's removal leaves the node's firewall as it was. Rules live in the node's
//! network namespace: they go with the node's container.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::future::join_all;

use super::command::Command;
use super::node::Node;
use crate::error::{Error, Parameter, Result};

/// Our chain in each node's filter table; jumped to first from INPUT, OUTPUT and
/// FORWARD (a container engine's containers inside the node are cut off too).
const CHAIN: &str = "DCOS-E2E-FAULTS";

/// Faults made by this process so far (each fault's name is unique in the process).
static MADE: AtomicU64 = AtomicU64::new(0);

/// The start of every fault name of this process.
fn ours() -> String {
    format!("dcos-e2e-{}-", std::process::id())
}

/// Which way a cut goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Direction {
    /// Nothing passes between the groups.
    #[default]
    Both,
    /// Packets from the first group to the second are lost; the other way they pass
    /// (so TCP across the cut fails both ways: replies are lost; UDP one way).
    OneWay,
}

/// A cut between groups of nodes, in place until healed ([`Partition::heal`] or
/// [`Cluster::heal`](crate::Cluster::heal)).
#[derive(Clone, Debug)]
#[must_use = "a partition stays until healed: keep it to heal it, or heal the cluster"]
pub struct Partition {
    name: String,
    nodes: Vec<Node>,
}

impl Partition {
    /// The name its rules carry on the nodes (a comment on each).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Remove this cut's rules (only these) from the nodes that hold them. Healing
    /// twice is healing once.
    pub async fn heal(&self) -> Result<()> {
        let nodes: Vec<&Node> = self.nodes.iter().collect();
        // Names end with a space in `iptables -S`: `…-1 ` is not `…-12`.
        unapply(&format!("{} ", self.name), &nodes).await
    }
}

/// Take every rule this process put on `nodes` out (a node it never touched has none).
pub(crate) async fn heal_all(nodes: &[&Node]) -> Result<()> {
    unapply(&ours(), nodes).await
}

/// Run `script` on `node` as root (through sudo where its default user is not root).
pub(crate) async fn as_root(node: &Node, script: String) -> Result<()> {
    let cmd = Command::shell(script);
    let cmd = if node.default_user() == "root" {
        cmd
    } else {
        cmd.sudo(true)
    };
    node.run(cmd).await.map(drop)
}

/// The script that puts `rules` (each `-s A` or `-d A`) named `name` into the node.
fn apply_script(name: &str, rules: &[String]) -> String {
    let mut s = format!(
        "set -e; command -v iptables >/dev/null || {{ echo 'no iptables on this node' >&2; exit 127; }}; \
         iptables -w -N {CHAIN} 2>/dev/null || true; \
         for c in INPUT OUTPUT FORWARD; do \
         iptables -w -C $c -j {CHAIN} 2>/dev/null || iptables -w -I $c 1 -j {CHAIN}; done; "
    );
    for rule in rules {
        s.push_str(&format!(
            "iptables -w -A {CHAIN} {rule} -m comment --comment {name} -j DROP; "
        ));
    }
    s
}

/// The script that takes the rules whose name starts with `prefix` out of a node, and
/// our chain with the last of them. A node that lost them (restarted) has none.
fn unapply_script(prefix: &str) -> String {
    format!(
        "iptables -w -S {CHAIN} >/dev/null 2>&1 || exit 0; \
         iptables -w -S {CHAIN} | grep -F -e '--comment {prefix}' | \
         sed 's/^-A /-D /' | while read -r rule; do eval iptables -w $rule; done; \
         if [ \"$(iptables -w -S {CHAIN} | wc -l)\" -le 1 ]; then \
         for c in INPUT OUTPUT FORWARD; do iptables -w -D $c -j {CHAIN} 2>/dev/null || true; done; \
         iptables -w -X {CHAIN}; fi"
    )
}

async fn unapply(prefix: &str, nodes: &[&Node]) -> Result<()> {
    let done = join_all(nodes.iter().map(|n| as_root(n, unapply_script(prefix)))).await;
    Error::all(done)
}

/// Cut traffic between `a` and `b` (nodes of one cluster, no node in both).
pub(crate) async fn partition(a: &[&Node], b: &[&Node], direction: Direction) -> Result<Partition> {
    let bad = |reason: &str| {
        let names: Vec<String> = a.iter().chain(b).map(|n| n.to_string()).collect();
        Error::invalid(Parameter::Nodes, names.join(", "), reason)
    };
    if a.is_empty() || b.is_empty() {
        return Err(bad("each side of a partition needs a node"));
    }
    let cluster = &a[0].inner.cluster;
    if a.iter()
        .chain(b)
        .any(|n| !Arc::ptr_eq(&n.inner.cluster, cluster))
    {
        return Err(bad("the nodes are not all of one cluster"));
    }
    if a.iter()
        .any(|n| b.iter().any(|m| n.ip_address() == m.ip_address()))
    {
        return Err(bad("a node cannot be on both sides"));
    }
    let ips = |side: &[&Node]| side.iter().map(|n| n.ip_address()).collect::<Vec<IpAddr>>();
    let (to_a, to_b) = (ips(a), ips(b));
    let both = direction == Direction::Both;
    let mut plan: Vec<(&Node, Vec<String>)> = Vec::new();
    plan.extend(a.iter().map(|n| (*n, rules(&to_b, true, both))));
    plan.extend(b.iter().map(|n| (*n, rules(&to_a, both, true))));
    cut(plan).await
}

/// The rules that drop traffic to (`to`) and from (`from`) each of `peers`.
fn rules(peers: &[IpAddr], to: bool, from: bool) -> Vec<String> {
    let mut r = Vec::new();
    for ip in peers {
        if to {
            r.push(format!("-d {ip}"));
        }
        if from {
            r.push(format!("-s {ip}"));
        }
    }
    r
}

/// Put each node's rules in under one new fault's name; a cut that failed part-way is
/// taken out again.
async fn cut(plan: Vec<(&Node, Vec<String>)>) -> Result<Partition> {
    plan[0].0.inner.cluster.check()?;
    let name = format!("{}{}", ours(), MADE.fetch_add(1, Ordering::SeqCst) + 1);
    let nodes: Vec<Node> = plan.iter().map(|(n, _)| (*n).clone()).collect();
    let done = join_all(plan.iter().map(|(n, r)| as_root(n, apply_script(&name, r)))).await;
    let partition = Partition { name, nodes };
    if let Err(e) = Error::all(done) {
        let _ = partition.heal().await;
        return Err(e);
    }
    Ok(partition)
}

impl Node {
    /// Cut this node off from every other node of its cluster, both ways, by rules on
    /// this node alone (the test host still reaches it). See
    /// [`Cluster::partition`](crate::Cluster::partition).
    pub async fn isolate(&self) -> Result<Partition> {
        let others: Vec<IpAddr> = self
            .inner
            .cluster
            .peers()
            .into_iter()
            .filter(|ip| *ip != self.ip_address())
            .collect();
        if others.is_empty() {
            return Err(Error::invalid(
                Parameter::Nodes,
                self,
                "the cluster has no other node to cut it off from",
            ));
        }
        cut(vec![(self, rules(&others, true, true))]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_carry_the_fault_name_and_unapply_takes_only_those() {
        let s = apply_script(
            "dcos-e2e-7-1",
            &rules(&["10.0.0.2".parse().unwrap()], true, true),
        );
        assert!(
            s.contains("-A DCOS-E2E-FAULTS -d 10.0.0.2 -m comment --comment dcos-e2e-7-1 -j DROP"),
            "{s}"
        );
        assert!(s.contains("-A DCOS-E2E-FAULTS -s 10.0.0.2 "), "{s}");
        assert!(s.contains("-I $c 1 -j DCOS-E2E-FAULTS"), "{s}");
        let u = unapply_script("dcos-e2e-7-1 ");
        assert!(u.contains("grep -F -e '--comment dcos-e2e-7-1 '"), "{u}");
        assert!(u.contains("iptables -w -X DCOS-E2E-FAULTS"), "{u}");
        assert_eq!(
            rules(&["10.0.0.3".parse().unwrap()], true, false),
            ["-d 10.0.0.3"]
        );
    }
}
