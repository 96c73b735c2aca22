//! Slow links: what a node sends, limited in rate and (where the kernel has netem)
//! delayed, jittered and lost, by traffic control on the node's own interface; for
//! all it sends, or only for what goes to some nodes (a link between groups, or into
//! one node). Ours is the root queueing discipline with handle `1e2e:`, so undoing it
//! never touches one the system under test made.

use std::net::IpAddr;
use std::time::Duration;

use futures_util::future::join_all;

use super::node::Node;
use super::partition::as_root;
use crate::error::{Error, Parameter, Result};

/// Our root qdisc's handle on a node's interface.
const HANDLE: &str = "1e2e";

/// Exit status of the shaping script when the kernel lacks a queueing discipline.
const NO_QDISC: i32 = 91;

/// How a link is degraded. Rate needs the kernel's `sch_tbf` (or `sch_htb` between
/// nodes); delay, jitter and loss need `sch_netem`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Link {
    rate: Option<u64>,
    delay: Option<Duration>,
    jitter: Option<Duration>,
    loss: Option<f64>,
}

impl Link {
    /// A link as it is (no change): add what to degrade.
    pub fn new() -> Self {
        Self::default()
    }

    /// At most this many bits per second.
    pub fn rate(mut self, bits_per_second: u64) -> Self {
        self.rate = Some(bits_per_second);
        self
    }

    /// Every packet this much later.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// The delay varies by up to this much either way (with a delay).
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = Some(jitter);
        self
    }

    /// This share of packets lost, in percent.
    pub fn loss(mut self, percent: f64) -> Self {
        self.loss = Some(percent);
        self
    }

    fn needs_netem(&self) -> bool {
        self.delay.is_some() || self.jitter.is_some() || self.loss.is_some()
    }

    fn checked(&self) -> Result<&Self> {
        let bad = |why: &str| Err(Error::invalid(Parameter::Link, format!("{self:?}"), why));
        if *self == Link::default() {
            return bad("say what to degrade: a rate, delay, jitter or loss");
        }
        if self.rate == Some(0) {
            return bad("a rate of 0 is a cut: use a partition");
        }
        if self.jitter.is_some() && self.delay.is_none() {
            return bad("jitter varies a delay: give a delay too");
        }
        if self.loss.is_some_and(|l| !(0.0..=100.0).contains(&l)) {
            return bad("loss is a percentage, 0 to 100");
        }
        Ok(self)
    }

    /// The netem arguments (`delay 10ms 2ms loss 1%`), including the rate when netem
    /// carries it.
    fn netem(&self) -> String {
        let mut a = String::new();
        if let Some(d) = self.delay {
            a.push_str(&format!(" delay {}us", d.as_micros()));
            if let Some(j) = self.jitter {
                a.push_str(&format!(" {}us", j.as_micros()));
            }
        }
        if let Some(l) = self.loss {
            a.push_str(&format!(" loss {l}%"));
        }
        if let Some(r) = self.rate {
            a.push_str(&format!(" rate {r}bit"));
        }
        a
    }

    /// What this link asks the kernel for, and the module that does it.
    fn module(&self, between: bool) -> &'static str {
        match (self.needs_netem(), between) {
            (true, _) => "sch_netem",
            (false, true) => "sch_htb",
            (false, false) => "sch_tbf",
        }
    }
}

/// The node's interface that holds its address, as `$dev`.
fn find_dev(ip: IpAddr) -> String {
    format!(
        "dev=$(ip -o addr show | awk '{{split($4, a, \"/\"); if (a[1] == \"{ip}\") print $2}}' | head -n 1); \
         [ -n \"$dev\" ] || {{ echo 'no interface holds {ip}' >&2; exit 1; }}; "
    )
}

/// Remove our root qdisc from `$dev` if it is there (only ours).
const CLEAR: &str = "if tc qdisc show dev \"$dev\" root | grep -q ' 1e2e: '; then tc qdisc del dev \"$dev\" root; fi; ";

/// A `tc` call whose failure for want of a queueing discipline exits [`NO_QDISC`].
fn tc(args: &str) -> String {
    format!(
        "if ! e=$(tc {args} 2>&1); then echo \"$e\" >&2; \
         case \"$e\" in *'kind is unknown'*|*'not found'*|*'No such file'*) exit {NO_QDISC};; esac; exit 1; fi; "
    )
}

/// The script that shapes everything `ip`'s interface sends.
fn all_script(ip: IpAddr, link: &Link) -> String {
    let mut s = find_dev(ip) + CLEAR;
    if link.needs_netem() {
        s += &tc(&format!(
            "qdisc add dev \"$dev\" root handle {HANDLE}: netem{}",
            link.netem()
        ));
    } else if let Some(rate) = link.rate {
        // A burst of at least 10 ms at the rate, and a few full packets.
        let burst = (rate / 8 / 100).max(16 * 1024);
        s += &tc(&format!(
            "qdisc add dev \"$dev\" root handle {HANDLE}: tbf rate {rate}bit burst {burst} latency 100ms"
        ));
    }
    s
}

/// The script that shapes only what `ip`'s interface sends to `peers`: an htb root
/// whose default class is not limited, and a class for the peers (with a netem leaf
/// for delay, jitter and loss).
fn between_script(ip: IpAddr, peers: &[IpAddr], link: &Link) -> String {
    let mut s = find_dev(ip) + CLEAR;
    // 100 Gbit/s: not a limit on any link a node has.
    let open = 100_000_000_000u64;
    let rate = link.rate.unwrap_or(open);
    s += &tc(&format!(
        "qdisc add dev \"$dev\" root handle {HANDLE}: htb default 2"
    ));
    s += &tc(&format!(
        "class add dev \"$dev\" parent {HANDLE}: classid {HANDLE}:2 htb rate {open}bit quantum 60000"
    ));
    s += &tc(&format!(
        "class add dev \"$dev\" parent {HANDLE}: classid {HANDLE}:1 htb rate {rate}bit quantum 1500"
    ));
    if link.needs_netem() {
        let netem = Link {
            rate: None,
            ..link.clone()
        };
        s += &tc(&format!(
            "qdisc add dev \"$dev\" parent {HANDLE}:1 handle 1e2f: netem{}",
            netem.netem()
        ));
    }
    for peer in peers {
        s += &tc(&format!(
            "filter add dev \"$dev\" parent {HANDLE}: protocol ip prio 1 u32 match ip dst {peer}/32 flowid {HANDLE}:1"
        ));
    }
    s
}

/// Run a shaping script on `node`; a missing queueing discipline is named.
async fn shape_with(node: &Node, script: String, link: &Link, between: bool) -> Result<()> {
    match as_root(node, script).await {
        Err(Error::CommandFailed(f)) if f.status == NO_QDISC => Err(Error::KernelModuleMissing {
            node: node.to_string(),
            module: link.module(between),
            asked: format!("{link:?}"),
        }),
        other => other,
    }
}

impl Node {
    /// Degrade everything this node sends as `link` says (the test host's commands to
    /// it too, so keep the rate above what they need). Replaces an earlier shape; gone
    /// when the node restarts, with [`Node::unshape`], or with the cluster.
    ///
    /// Delay, jitter and loss need the kernel's `sch_netem`: where it is missing this
    /// is [`Error::KernelModuleMissing`] (`minidcos docker doctor` says what this
    /// kernel has).
    pub async fn shape(&self, link: &Link) -> Result<()> {
        let link = link.checked()?;
        self.inner.cluster.check()?;
        shape_with(self, all_script(self.ip_address(), link), link, false).await
    }

    /// Take this node's shaping out (only ours); a node without any is left as it is.
    pub async fn unshape(&self) -> Result<()> {
        as_root(self, find_dev(self.ip_address()) + CLEAR).await
    }
}

/// Degrade what each node of `from` sends to the nodes of `to`.
pub(crate) async fn shape_between(from: &[&Node], to: &[&Node], link: &Link) -> Result<()> {
    let link = link.checked()?;
    if from.is_empty() || to.is_empty() {
        return Err(Error::invalid(
            Parameter::Nodes,
            from.len() + to.len(),
            "a link needs a node at each end",
        ));
    }
    let peers: Vec<IpAddr> = to.iter().map(|n| n.ip_address()).collect();
    let done = join_all(from.iter().map(|n| {
        let script = between_script(n.ip_address(), &peers, link);
        shape_with(n, script, link, true)
    }))
    .await;
    Error::all(done)
}

/// Take every node's shaping out.
pub(crate) async fn unshape_all(nodes: &[&Node]) -> Result<()> {
    let done = join_all(nodes.iter().map(|n| n.unshape())).await;
    Error::all(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_checked_and_spelled_as_tc_wants() {
        assert!(Link::new().checked().is_err());
        assert!(Link::new().rate(0).checked().is_err());
        assert!(
            Link::new()
                .jitter(Duration::from_millis(1))
                .checked()
                .is_err()
        );
        assert!(Link::new().loss(101.0).checked().is_err());
        let l = Link::new()
            .delay(Duration::from_millis(10))
            .jitter(Duration::from_millis(2))
            .loss(1.5);
        assert_eq!(l.netem(), " delay 10000us 2000us loss 1.5%");
        assert_eq!(l.module(false), "sch_netem");
        assert_eq!(Link::new().rate(1_000_000).module(true), "sch_htb");
        let ip: IpAddr = "10.0.0.2".parse().unwrap();
        let s = all_script(ip, &Link::new().rate(8_000_000));
        assert!(
            s.contains("root handle 1e2e: tbf rate 8000000bit burst 16384"),
            "{s}"
        );
        let s = between_script(ip, &["10.0.0.3".parse().unwrap()], &Link::new().rate(1000));
        assert!(
            s.contains("u32 match ip dst 10.0.0.3/32 flowid 1e2e:1"),
            "{s}"
        );
        assert!(s.contains("classid 1e2e:1 htb rate 1000bit"), "{s}");
    }
}
