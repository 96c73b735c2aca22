//! The daemon's address pools: each cluster's bridge network takes one subnet from
//! them, so they bound how many clusters a daemon holds at once (about 30 with
//! Docker's defaults). This counts the subnets still free, and picks one for a new
//! cluster: a subnet given by us (not by the daemon) is what lets nodes have fixed
//! addresses, kept when a node is stopped and started.

use std::net::Ipv4Addr;

/// An IPv4 subnet: its first address and prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Subnet {
    base: u32,
    prefix: u8,
}

impl Subnet {
    /// `a.b.c.d/n`; `None` for IPv6 or anything malformed.
    pub(crate) fn parse(cidr: &str) -> Option<Self> {
        let (addr, prefix) = cidr.trim().split_once('/')?;
        let addr: Ipv4Addr = addr.parse().ok()?;
        let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32)?;
        Some(Self {
            base: u32::from(addr) & mask(prefix),
            prefix,
        })
    }

    /// The address `offset` past the subnet's first.
    pub(crate) fn address(&self, offset: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.base.wrapping_add(offset))
    }

    /// How many addresses it spans.
    pub(crate) fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// Its first half: where the daemon gives out addresses itself (the gateway, the
    /// jump host, anyone's container joined to the network). Nodes take fixed
    /// addresses from the second half, which nothing else is given.
    pub(crate) fn lower_half(&self) -> Subnet {
        Subnet {
            base: self.base,
            prefix: (self.prefix + 1).min(32),
        }
    }

    fn overlaps(&self, other: &Subnet) -> bool {
        let shorter = self.prefix.min(other.prefix);
        self.base & mask(shorter) == other.base & mask(shorter)
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

/// One `default-address-pools` entry: a range cut into subnets of `size` bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pool {
    base: Subnet,
    size: u8,
}

impl Pool {
    /// The subnets the daemon cuts this pool into.
    fn subnets(&self) -> impl Iterator<Item = Subnet> {
        let bits = u32::from(self.size.saturating_sub(self.base.prefix));
        // A pool cut into more than 2^16 subnets is counted as that many: enough to
        // say "plenty" and bounded.
        let count = 1u32.checked_shl(bits.min(16)).unwrap_or(1);
        let step = 1u32.checked_shl(32 - u32::from(self.size)).unwrap_or(0);
        let (base, size) = (self.base.base, self.size);
        (0..count).map(move |i| Subnet {
            base: base.wrapping_add(i.wrapping_mul(step)),
            prefix: size,
        })
    }
}

/// Docker's built-in pools: 172.17.0.0/16 to 172.31.0.0/16 whole, and 192.168.0.0/16
/// cut into /20s (31 subnets).
pub(crate) fn docker_defaults() -> Vec<Pool> {
    let mut pools: Vec<Pool> = (17..=31)
        .map(|b| Pool {
            base: Subnet {
                base: u32::from(Ipv4Addr::new(172, b, 0, 0)),
                prefix: 16,
            },
            size: 16,
        })
        .collect();
    pools.push(Pool {
        base: Subnet {
            base: u32::from(Ipv4Addr::new(192, 168, 0, 0)),
            prefix: 16,
        },
        size: 20,
    });
    pools
}

/// The `default-address-pools` of a daemon.json, when it sets any.
pub(crate) fn from_daemon_json(text: &str) -> Option<Vec<Pool>> {
    let json: serde_json::Value = serde_json::from_str(text).ok()?;
    let pools: Vec<Pool> = json
        .get("default-address-pools")?
        .as_array()?
        .iter()
        .filter_map(|p| {
            let base = Subnet::parse(p.get("base")?.as_str()?)?;
            let size = u8::try_from(p.get("size")?.as_u64()?).ok()?;
            (base.prefix..=32)
                .contains(&size)
                .then_some(Pool { base, size })
        })
        .collect();
    (!pools.is_empty()).then_some(pools)
}

/// Where a daemon's pools were read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// The daemon said (`info`).
    Daemon,
    /// This machine's daemon.json, for its default socket.
    DaemonJson,
    /// Docker's defaults: this machine's daemon without daemon.json pools.
    Defaults,
    /// A daemon elsewhere that did not say: taken to have Docker's defaults, for
    /// counting only.
    Unknown,
}

impl Source {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Source::Daemon => "the daemon's default-address-pools",
            Source::DaemonJson => "daemon.json's default-address-pools",
            Source::Defaults => "Docker's default pools",
            Source::Unknown => "Docker's default pools, assumed: the daemon does not say its own",
        }
    }
}

/// The pools of the daemon at `host`: as the daemon says them (`reported`, from
/// `info`), else this machine's daemon.json for its default socket, else Docker's
/// defaults (`Source::Unknown` for a daemon elsewhere, whose own may differ).
pub(crate) fn of_daemon(host: &str, reported: &[(String, u8)]) -> (Source, Vec<Pool>) {
    let said: Vec<Pool> = reported
        .iter()
        .filter_map(|(base, size)| {
            let base = Subnet::parse(base)?;
            (base.prefix..=32)
                .contains(size)
                .then_some(Pool { base, size: *size })
        })
        .collect();
    if !said.is_empty() {
        return (Source::Daemon, said);
    }
    let local = is_local(host);
    let configured = local
        .then(|| std::fs::read_to_string("/etc/docker/daemon.json").ok())
        .flatten()
        .and_then(|text| from_daemon_json(&text));
    match (configured, local) {
        (Some(p), _) => (Source::DaemonJson, p),
        (None, true) => (Source::Defaults, docker_defaults()),
        (None, false) => (Source::Unknown, docker_defaults()),
    }
}

/// Whether `host` is this machine's own daemon, at its default socket.
pub(crate) fn is_local(host: &str) -> bool {
    host.trim_start_matches("unix://")
        .ends_with("run/docker.sock")
}

/// This machine's routes but the default one, from `/proc/net/route`'s text: subnets a
/// new bridge must not take, or the host's way to them would go to the bridge. Docker
/// checks this when it picks a subnet itself, not for a subnet given to it.
pub(crate) fn host_routes(table: &str) -> Vec<Subnet> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // Addresses and masks are in hex, in the kernel's (little-endian) order.
            let hex = |i: usize| {
                u32::from_str_radix(fields.get(i)?, 16)
                    .ok()
                    .map(u32::from_be)
            };
            let (base, mask) = (hex(1)?, hex(7)?);
            (mask != 0).then(|| Subnet {
                base: base & mask,
                prefix: mask.leading_ones() as u8,
            })
        })
        .collect()
}

/// The subnets of `pools` that overlap none of the networks' subnets in `used`.
fn free(pools: &[Pool], used: &[Subnet]) -> impl Iterator<Item = Subnet> {
    let used = used.to_vec();
    pools
        .iter()
        .flat_map(Pool::subnets)
        .filter(move |s| !used.iter().any(|u| u.overlaps(s)))
}

/// How many subnets of `pools` overlap none of the networks' subnets in `used`: how
/// many more bridge networks (clusters) the daemon can make.
pub(crate) fn free_subnets(pools: &[Pool], used: &[Subnet]) -> usize {
    free(pools, used).count()
}

/// A free subnet for a new network, taken at random from the first few free ones:
/// creates racing for a subnet (each refused but one) then rarely pick the same.
pub(crate) fn pick(pools: &[Pool], used: &[Subnet]) -> Option<Subnet> {
    let candidates: Vec<Subnet> = free(pools, used).take(16).collect();
    (!candidates.is_empty()).then(|| candidates[rand::random_range(0..candidates.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Subnet {
        Subnet::parse(s).unwrap()
    }

    #[test]
    fn a_fresh_daemon_has_31_subnets_and_its_own_bridge_takes_one() {
        let defaults = docker_defaults();
        assert_eq!(free_subnets(&defaults, &[]), 31);
        // docker0 sits on 172.17.0.0/16.
        assert_eq!(free_subnets(&defaults, &[net("172.17.0.0/16")]), 30);
        // A /20 inside 192.168 takes one of its sixteen; a /24 inside one /20 too.
        assert_eq!(
            free_subnets(&defaults, &[net("192.168.16.0/20"), net("192.168.40.0/24")]),
            29
        );
        // A network wider than a pool's subnets takes all it covers.
        assert_eq!(free_subnets(&defaults, &[net("172.16.0.0/12")]), 16);
        assert_eq!(free_subnets(&defaults, &[net("0.0.0.0/0")]), 0);
    }

    #[test]
    fn host_routes_are_read_but_the_default_one() {
        let table = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n\
            eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
            eth0\t000010AC\t00000000\t0001\t0\t0\t0\t0000F0FF\t0\t0\t0\n\
            vpn0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        let routes = host_routes(table);
        assert_eq!(routes, vec![net("172.16.0.0/12"), net("192.168.0.0/24")]);
        // A route over 172.16/12 leaves none of the 172 pools, and one /20 of 192.168.
        assert_eq!(free_subnets(&docker_defaults(), &routes), 15);
        assert!(host_routes("").is_empty());
    }

    #[test]
    fn daemon_json_pools_replace_the_defaults() {
        let json = r#"{"default-address-pools":[{"base":"10.200.0.0/16","size":24}]}"#;
        let pools = from_daemon_json(json).unwrap();
        assert_eq!(free_subnets(&pools, &[]), 256);
        assert_eq!(free_subnets(&pools, &[net("10.200.3.0/24")]), 255);
        assert!(from_daemon_json(r#"{"debug":true}"#).is_none());
        assert!(from_daemon_json("not json").is_none());
        // A size shorter than the base is not a pool the daemon would take.
        assert!(
            from_daemon_json(r#"{"default-address-pools":[{"base":"10.0.0.0/16","size":8}]}"#)
                .is_none()
        );
    }

    #[test]
    fn a_picked_subnet_is_free_and_nodes_take_its_second_half() {
        let defaults = docker_defaults();
        let used = [net("172.17.0.0/16"), net("172.18.0.0/16")];
        for _ in 0..50 {
            let s = pick(&defaults, &used).unwrap();
            assert!(!used.iter().any(|u| u.overlaps(&s)), "{s}");
        }
        let all: Vec<Subnet> = defaults.iter().flat_map(Pool::subnets).collect();
        assert_eq!(pick(&defaults, &all), None);
        let s = net("10.200.3.0/24");
        assert_eq!(s.to_string(), "10.200.3.0/24");
        assert_eq!(s.lower_half().to_string(), "10.200.3.0/25");
        assert_eq!(s.size(), 256);
        assert_eq!(s.address(129), Ipv4Addr::new(10, 200, 3, 129));
    }

    #[test]
    fn pools_the_daemon_says_come_first_and_a_silent_remote_daemon_is_unknown() {
        let said = [("10.9.0.0/16".to_string(), 24)];
        let (source, pools) = of_daemon("tcp://10.0.0.1:2376", &said);
        assert_eq!(source, Source::Daemon);
        assert_eq!(free_subnets(&pools, &[]), 256);
        assert_eq!(of_daemon("tcp://10.0.0.1:2376", &[]).0, Source::Unknown);
        // A size shorter than its base is not a pool: as if not said.
        let bad = [("10.9.0.0/16".to_string(), 8)];
        assert_eq!(of_daemon("ssh://h", &bad).0, Source::Unknown);
    }

    #[test]
    fn subnets_parse_as_the_daemon_writes_them() {
        assert_eq!(net("172.18.0.0/16"), net("172.18.5.1/16"));
        for bad in ["fd00::/64", "172.18.0.0", "172.18.0.0/33", "x/16"] {
            assert!(Subnet::parse(bad).is_none(), "{bad}");
        }
    }
}
