//! Daemon addresses (`tcp://`, `ssh://`, …): the host in them, and its IP address.

use crate::error::{Error, Result};

/// An `ssh://` daemon's socket where the address names none (also the docker CLI's
/// default).
pub(crate) const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

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

/// Whether two daemon addresses name the same daemon as written: the scheme and host
/// in any case, a trailing `/`, `http://` for `tcp://`, and over `ssh://` the default
/// port and socket spelled out or not. (Different names of one host stay different.)
pub(crate) fn same_daemon(a: &str, b: &str) -> bool {
    a == b || canonical(a) == canonical(b)
}

fn canonical(address: &str) -> String {
    let address = address.trim().trim_end_matches('/');
    let Some((scheme, rest)) = address.split_once("://") else {
        return address.to_string();
    };
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => "tcp".to_string(),
        other => other.to_string(),
    };
    if scheme == "unix" {
        return format!("unix://{rest}");
    }
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let Some(at) = Authority::parse(authority) else {
        return format!("{scheme}://{rest}");
    };
    let host = at.host.to_ascii_lowercase();
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let user = at.user.map(|u| format!("{u}@")).unwrap_or_default();
    let (port, path) = match scheme.as_str() {
        "ssh" => (
            at.port.unwrap_or("22"),
            if path.is_empty() {
                DEFAULT_SOCKET
            } else {
                path
            },
        ),
        _ => (at.port.unwrap_or(""), path),
    };
    let port = if port.is_empty() {
        String::new()
    } else {
        format!(":{port}")
    };
    format!("{scheme}://{user}{host}{port}{path}")
}

#[cfg(test)]
mod tests {
    use super::same_daemon;

    #[test]
    fn one_daemon_written_two_ways_is_one() {
        for (a, b) in [
            ("tcp://h:2376/", "tcp://h:2376"),
            ("tcp://H.example:2376", "tcp://h.example:2376"),
            ("http://10.0.0.5:2375", "tcp://10.0.0.5:2375"),
            ("ssh://me@h", "ssh://me@h:22/var/run/docker.sock"),
            ("ssh://me@[FD00::5]:22", "ssh://me@[fd00::5]"),
            (
                "unix:///var/run/docker.sock",
                "unix:///var/run/docker.sock/",
            ),
        ] {
            assert!(same_daemon(a, b), "{a} and {b}");
        }
        for (a, b) in [
            ("tcp://h:2376", "tcp://h:2377"),
            ("tcp://h:2376", "tcp://g:2376"),
            ("ssh://me@h", "ssh://you@h"),
            ("ssh://h/run/user/1000/docker.sock", "ssh://h"),
            ("unix:///run/a.sock", "unix:///run/b.sock"),
            ("tcp://h:2376", "ssh://h:2376"),
        ] {
            assert!(!same_daemon(a, b), "{a} and {b}");
        }
    }
}
