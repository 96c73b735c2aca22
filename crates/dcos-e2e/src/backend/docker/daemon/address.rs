//! Daemon addresses (`tcp://`, `ssh://`, …): the host in them, and its IP address.

use crate::error::{Error, Result};

/// The `[user@]host[:port]` of a daemon address after its `scheme://` (up to any path);
/// an IPv6 host is written `[v6]` and given without the brackets.
pub(crate) struct Authority<'a> {
    pub user: Option<&'a str>,
    pub host: &'a str,
    pub port: Option<&'a str>,
}

impl<'a> Authority<'a> {
    /// `None` when there is no host, or a `[` is not closed.
    pub(crate) fn parse(after_scheme: &'a str) -> Option<Self> {
        let authority = after_scheme.split('/').next()?;
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((user, hostport)) => (Some(user), hostport),
            None => (None, authority),
        };
        let (host, port) = match hostport.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6.split_once(']')?;
                (host, after.strip_prefix(':'))
            }
            None => match hostport.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            },
        };
        (!host.is_empty()).then_some(Self { user, host, port })
    }
}

/// The address of `name`: an IP address, or a host name resolved; an error names it
/// as the `parameter` given as `value`.
pub(crate) async fn resolve(
    name: &str,
    parameter: crate::error::Parameter,
    value: &str,
) -> Result<std::net::IpAddr> {
    if let Ok(ip) = name.parse() {
        return Ok(ip);
    }
    let found = tokio::net::lookup_host((name, 0))
        .await
        .map_err(|e| Error::invalid(parameter, value, format!("cannot resolve {name}: {e}")))?
        .next();
    found
        .map(|a| a.ip())
        .ok_or_else(|| Error::invalid(parameter, value, format!("{name} has no address")))
}
