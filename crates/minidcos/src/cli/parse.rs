//! Parsers of flag values: each error names what a good value looks like, and clap
//! reports it as a usage error naming the flag.

use std::path::PathBuf;
use std::time::Duration;

use dcos_e2e::docker::Distribution;
use dcos_e2e::{Mount, NodeSelector};

/// `600`, `90s`, `10m`, `1h`.
pub fn parse_role(s: &str) -> Result<dcos_e2e::Role, String> {
    s.parse().map_err(|e: dcos_e2e::Error| e.to_string())
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a duration like 600, 90s, 10m or 1h");
    let t = s.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = number.parse().map_err(|_| bad())?;
    let secs = match unit {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        _ => None,
    };
    secs.map(Duration::from_secs).ok_or_else(bad)
}

/// `K=V`; the value may hold anything, `=` included.
pub(super) fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v))
            if !k.is_empty()
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !k.starts_with(|c: char| c.is_ascii_digit()) =>
        {
            Ok((k.to_string(), v.to_string()))
        }
        _ => Err(format!(
            "`{s}` is not K=V with K a variable name (letters, digits, _)"
        )),
    }
}

/// `K=V` for a label; the value may be empty or hold `=`.
pub(super) fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !k.contains(char::is_whitespace) => {
            Ok((k.to_string(), v.to_string()))
        }
        _ => Err(format!(
            "`{s}` is not K=V with a non-empty key without spaces"
        )),
    }
}

/// `HOST:CONTAINER` ports, each 1 to 65535.
pub(super) fn parse_port_map(s: &str) -> Result<(u16, u16), String> {
    let bad = || format!("`{s}` is not HOST:CONTAINER, two ports from 1 to 65535");
    let (host, container) = s.split_once(':').ok_or_else(bad)?;
    let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad);
    Ok((port(host)?, port(container)?))
}

/// `SRC:/genconf/DST` (the source may itself hold `:`).
pub(super) fn parse_copy(s: &str) -> Result<(PathBuf, PathBuf), String> {
    match s.rsplit_once(':') {
        Some((src, dst)) if !src.is_empty() && !dst.is_empty() => {
            Ok((PathBuf::from(src), PathBuf::from(dst)))
        }
        _ => Err(format!("`{s}` is not SRC:/genconf/DST")),
    }
}

/// `SRC:DST`, `SRC:DST:ro` or `SRC:DST:rw`.
pub(super) fn parse_mount(s: &str) -> Result<Mount, String> {
    s.parse::<Mount>()
        .map_err(|_| format!("`{s}` is not SRC:DST, SRC:DST:ro or SRC:DST:rw"))
}

/// A node selector (see [`NodeSelector`]); a bad one is a usage error naming it.
pub(super) fn parse_node(s: &str) -> Result<NodeSelector, String> {
    s.parse::<NodeSelector>().map_err(|e| match e {
        dcos_e2e::Error::InvalidParameter { reason, .. } => format!("`{s}`: {reason}"),
        other => other.to_string(),
    })
}

/// A distribution name; an unknown one is a usage error naming those supported.
pub(super) fn parse_distribution(s: &str) -> Result<Distribution, String> {
    s.parse::<Distribution>().map_err(|e| match e {
        dcos_e2e::Error::InvalidParameter { reason, .. } => format!("`{s}`: {reason}"),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("600").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        for bad in ["ten", "5d", "5x", "", "m", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_values_are_literal() {
        assert_eq!(
            parse_env("A=x y=z").unwrap(),
            ("A".to_string(), "x y=z".to_string())
        );
        assert_eq!(parse_env("A=").unwrap(), ("A".into(), String::new()));
        for bad in ["A", "=x", "1A=x", "A B=x"] {
            assert!(parse_env(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nodes() {
        use dcos_e2e::Role;
        assert_eq!(parse_node("all").unwrap(), NodeSelector::All);
        assert_eq!(
            parse_node("all-public-agents").unwrap(),
            NodeSelector::AllOf(Role::PublicAgent)
        );
        assert_eq!(
            parse_node("agent:2").unwrap(),
            NodeSelector::Nth(Role::Agent, 2)
        );
        assert_eq!(
            parse_node("10.0.0.1").unwrap(),
            NodeSelector::Ip("10.0.0.1".parse().unwrap())
        );
        for bad in ["agent", "agent:0", "agent:x", "boss:1", "10.0.0"] {
            assert!(parse_node(bad).is_err(), "{bad}");
        }
        for spec in [
            "all",
            "all-masters",
            "agent:2",
            "public-agent:1",
            "10.0.0.1",
        ] {
            assert_eq!(parse_node(spec).unwrap().to_string(), spec);
        }
    }

    #[test]
    fn copies_and_mounts() {
        assert_eq!(
            parse_copy("a:b:/genconf/x").unwrap(),
            (PathBuf::from("a:b"), PathBuf::from("/genconf/x"))
        );
        assert!(parse_copy("nocolon").is_err());
        assert!(parse_mount("/a:/b:ro").unwrap().read_only);
        assert!(parse_mount("/a").is_err());
    }
}
