//! The cluster's own bridge network, on a subnet we pick from the daemon's pools: a
//! subnet given by us (Docker calls it user-configured) is the only kind on which
//! containers may have fixed addresses, and fixed addresses are what a node keeps when
//! it is stopped and started (else whoever joins the network meanwhile may take its
//! address, and the installed system's config names it).

use std::net::IpAddr;
use std::path::Path;

use crate::backend::docker::daemon::client::{DockerClient, Fault, NetworkSpec, op};
use crate::backend::docker::daemon::pools::{self, Source, Subnet};
use crate::backend::docker::labels;
use crate::error::{Error, Result};

/// Creates racing for subnets are refused all but one; each loser picks again.
const ATTEMPTS: usize = 8;

/// A network made for the cluster: its id, and its subnet when nodes take fixed
/// addresses on it.
pub(crate) struct BridgeNetwork {
    pub id: String,
    pub subnet: Option<Subnet>,
}

impl BridgeNetwork {
    /// The fixed address of the node at `ordinal` (0 for the first master, in role
    /// order): in the subnet's second half, which the daemon gives no one else.
    pub(crate) fn node_address(&self, ordinal: usize) -> Option<IpAddr> {
        let subnet = self.subnet?;
        let offset = subnet.size() / 2 + 1 + ordinal as u64;
        let offset = u32::try_from(offset).ok()?;
        Some(IpAddr::V4(subnet.address(offset)))
    }
}

/// Whether `nodes` fixed addresses fit in the second half of `subnet` (less its last
/// address, the broadcast).
fn fits(subnet: &Subnet, nodes: usize) -> bool {
    subnet.size() / 2 >= nodes as u64 + 2
}

/// Make the cluster's bridge network `id` for `nodes` nodes.
pub(crate) async fn make_bridge(
    client: &DockerClient,
    id: &str,
    workspace: &Path,
    nodes: usize,
) -> Result<BridgeNetwork> {
    let exhausted = || Error::AddressPoolsExhausted {
        host: client.host().to_string(),
    };
    let reported = client
        .info()
        .await
        .map_err(op("reading daemon info"))?
        .address_pools;
    let (source, pools) = pools::of_daemon(client.host(), &reported);
    let spec = |subnet: Option<Subnet>| NetworkSpec {
        name: id.to_string(),
        driver: "bridge",
        attachable: false,
        labels: labels::object_labels(id, labels::NETWORK_ROLE, workspace),
        subnet: subnet.map(|s| (s.to_string(), s.lower_half().to_string())),
    };
    // A daemon elsewhere that does not say its pools: its own pick (picking from
    // Docker's defaults there would override what its owner set), without fixed
    // addresses.
    if source == Source::Unknown {
        return match client.create_network(spec(None)).await {
            Ok(id) => Ok(BridgeNetwork { id, subnet: None }),
            Err(e) if e.fault() == Fault::PoolsExhausted => Err(exhausted()),
            Err(e) => Err(op(format!("creating network {id}"))(e)),
        };
    }
    // This machine's routes too, when the daemon is this machine's.
    let routes = match pools::is_local(client.host()) {
        true => pools::host_routes(&std::fs::read_to_string("/proc/net/route").unwrap_or_default()),
        false => Vec::new(),
    };
    for _ in 0..ATTEMPTS {
        let mut used: Vec<Subnet> = client
            .network_subnets()
            .await?
            .iter()
            .filter_map(|s| Subnet::parse(s))
            .collect();
        used.extend(&routes);
        let Some(subnet) = pools::pick(&pools, &used) else {
            return Err(exhausted());
        };
        // Pools cut too small for this many fixed addresses: the daemon's own pick,
        // and nodes keep whatever address they get (see `Node::start`).
        let subnet = fits(&subnet, nodes).then_some(subnet);
        // By id: a create racing for this id may have made one of the same name.
        match client.create_network(spec(subnet)).await {
            Ok(network) => {
                return Ok(BridgeNetwork {
                    id: network,
                    subnet,
                });
            }
            Err(e) if e.fault() == Fault::SubnetTaken => continue,
            Err(e) if e.fault() == Fault::PoolsExhausted => return Err(exhausted()),
            Err(e) => return Err(op(format!("creating network {id}"))(e)),
        }
    }
    Err(exhausted())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_take_the_second_half_in_order() {
        let net = |s: &str| BridgeNetwork {
            id: "n".into(),
            subnet: Subnet::parse(s),
        };
        let wide = net("172.18.0.0/16");
        assert_eq!(wide.node_address(0).unwrap().to_string(), "172.18.128.1");
        assert_eq!(wide.node_address(300).unwrap().to_string(), "172.18.129.45");
        let none = BridgeNetwork {
            id: "n".into(),
            subnet: None,
        };
        assert_eq!(none.node_address(0), None);
        let small = Subnet::parse("10.0.0.0/28").unwrap();
        assert!(fits(&small, 6) && !fits(&small, 7));
    }
}
