//! Naming nodes the way people do: `master:1`, an address, a container name,
//! `all-agents`, `all`.

use std::fmt;
use std::net::IpAddr;

use super::node::Node;
use super::role::Role;
use crate::error::{Error, Parameter, Result};

/// Which nodes of a cluster an operation is for.
///
/// ```
/// use dcos_e2e::{NodeSelector, Role};
///
/// assert_eq!("agent:2".parse::<NodeSelector>().unwrap(), NodeSelector::Nth(Role::Agent, 2));
/// assert_eq!("all-masters".parse::<NodeSelector>().unwrap(), NodeSelector::AllOf(Role::Master));
/// assert!("agent:0".parse::<NodeSelector>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeSelector {
    /// Every node.
    All,
    /// Every node of a role.
    AllOf(Role),
    /// The node with this address.
    Ip(IpAddr),
    /// The Nth node (from 1) of a role.
    Nth(Role, usize),
    /// The node in this container (Docker clusters).
    Container(String),
}

impl NodeSelector {
    /// Whether `node` is one this selector names.
    pub fn matches(&self, node: &Node) -> bool {
        match self {
            NodeSelector::All => true,
            NodeSelector::AllOf(role) => node.role() == *role,
            NodeSelector::Ip(ip) => node.ip_address() == *ip,
            NodeSelector::Nth(role, index) => node.role() == *role && node.index() == *index,
            NodeSelector::Container(name) => node.container_name() == Some(name.as_str()),
        }
    }
}

/// The nodes the selectors name, in the order first named, each once; the first master
/// when none are given. A selector that names no node is [`Error::NoSuchNode`].
pub(crate) fn select<'a>(
    nodes: impl Iterator<Item = &'a Node> + Clone,
    selectors: &[NodeSelector],
    cluster_id: &str,
) -> Result<Vec<&'a Node>> {
    let default = [NodeSelector::Nth(Role::Master, 1)];
    let selectors = if selectors.is_empty() {
        &default[..]
    } else {
        selectors
    };
    let mut chosen: Vec<&Node> = Vec::new();
    for selector in selectors {
        let found: Vec<&Node> = nodes.clone().filter(|n| selector.matches(n)).collect();
        if found.is_empty() {
            return Err(Error::NoSuchNode {
                selector: selector.to_string(),
                cluster_id: cluster_id.to_string(),
            });
        }
        for n in found {
            if !chosen
                .iter()
                .any(|c| c.role() == n.role() && c.index() == n.index())
            {
                chosen.push(n);
            }
        }
    }
    Ok(chosen)
}

impl fmt::Display for NodeSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeSelector::All => f.write_str("all"),
            NodeSelector::AllOf(role) => write!(f, "all-{role}s"),
            NodeSelector::Ip(ip) => write!(f, "{ip}"),
            NodeSelector::Nth(role, n) => write!(f, "{role}:{n}"),
            NodeSelector::Container(name) => f.write_str(name),
        }
    }
}

impl std::str::FromStr for NodeSelector {
    type Err = Error;

    /// An IP, `ROLE:N`, `all-masters`, `all-agents`, `all-public-agents`, `all`, or a
    /// container name.
    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::invalid(Parameter::Node, s, reason);
        Ok(match s {
            "all" => NodeSelector::All,
            "all-masters" => NodeSelector::AllOf(Role::Master),
            "all-agents" => NodeSelector::AllOf(Role::Agent),
            "all-public-agents" => NodeSelector::AllOf(Role::PublicAgent),
            s => {
                if let Ok(ip) = s.parse::<IpAddr>() {
                    return Ok(NodeSelector::Ip(ip));
                }
                if s.parse::<Role>().is_ok() {
                    return Err(bad(
                        "name one node of the role as ROLE:N, or all of them as all-ROLEs",
                    ));
                }
                if let Some((role, n)) = s.split_once(':') {
                    let role = role.parse::<Role>().map_err(|_| {
                        bad("expected an IP, ROLE:N (master:1, agent:2, public-agent:1), all-masters, all-agents, all-public-agents, all or a container name")
                    })?;
                    return match n.parse::<usize>() {
                        Ok(n) if n >= 1 => Ok(NodeSelector::Nth(role, n)),
                        _ => Err(bad("N counts from 1")),
                    };
                }
                // Docker's container names: letters, digits and `_.-`, no leading symbol.
                let container = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                    // An address that failed to parse is a typo, not a container.
                    && !s.chars().all(|c| c.is_ascii_digit() || c == '.');
                if !container {
                    return Err(bad(
                        "expected an IP, ROLE:N (master:1, agent:2, public-agent:1), all-masters, all-agents, all-public-agents, all or a container name",
                    ));
                }
                NodeSelector::Container(s.to_string())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_and_print_back() {
        for spec in [
            "all",
            "all-masters",
            "agent:2",
            "public-agent:1",
            "10.0.0.1",
            "c1-agent-2",
        ] {
            assert_eq!(spec.parse::<NodeSelector>().unwrap().to_string(), spec);
        }
        assert_eq!(
            "c1-pub-agent-1".parse::<NodeSelector>().unwrap(),
            NodeSelector::Container("c1-pub-agent-1".into())
        );
        for bad in [
            "agent", "agent:0", "agent:x", "boss:1", "10.0.0", "", "-x", "a b",
        ] {
            let err = bad.parse::<NodeSelector>().unwrap_err().to_string();
            assert!(err.contains("node"), "{bad}: {err}");
        }
    }
}
