//! The ways a node is reached, named in errors as in the rest of the API.

use std::str::FromStr;

use super::{Error, Parameter, Result};

/// Which way node commands travel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// SSH with the cluster's key; one kept-open connection per node and user.
    #[default]
    Ssh,
    /// `docker exec` through the Docker API (Docker nodes only); works where the host
    /// cannot route to node addresses.
    DockerExec,
}

impl TransportKind {
    /// The name: `ssh` or `docker-exec`, as the CLI, the labels and Python spell it
    /// (`docker_exec` is read too).
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Ssh => "ssh",
            TransportKind::DockerExec => "docker-exec",
        }
    }
}

/// As messages say it: `ssh` or `docker exec`.
impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransportKind::Ssh => "ssh",
            TransportKind::DockerExec => "docker exec",
        })
    }
}

impl FromStr for TransportKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "ssh" => Ok(TransportKind::Ssh),
            "docker-exec" | "docker_exec" => Ok(TransportKind::DockerExec),
            other => Err(Error::invalid(
                Parameter::Transport,
                other,
                "expected `ssh` or `docker-exec`",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_names_parse() {
        assert_eq!("ssh".parse::<TransportKind>().unwrap(), TransportKind::Ssh);
        assert_eq!(
            "docker-exec".parse::<TransportKind>().unwrap(),
            TransportKind::DockerExec
        );
        assert_eq!(TransportKind::DockerExec.to_string(), "docker exec");
        for kind in [TransportKind::Ssh, TransportKind::DockerExec] {
            assert_eq!(kind.as_str().parse::<TransportKind>().unwrap(), kind);
        }
        let err = "telnet".parse::<TransportKind>().unwrap_err().to_string();
        assert!(err.contains("telnet") && err.contains("transport"), "{err}");
    }
}
