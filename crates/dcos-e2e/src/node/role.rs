//! The roles of a DC/OS cluster's nodes, and the names each goes by.

use std::fmt;
use std::net::IpAddr;

use crate::error::{Error, Parameter, Result};

/// The role of a node in a DC/OS cluster.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A master node.
    Master,
    /// A private agent node.
    Agent,
    /// A public agent node.
    PublicAgent,
}

impl Role {
    /// All roles, in cluster order.
    pub const ALL: [Role; 3] = [Role::Master, Role::Agent, Role::PublicAgent];

    /// `master`, `agent` or `public-agent`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Agent => "agent",
            Role::PublicAgent => "public-agent",
        }
    }

    /// The role name the DC/OS installer uses: `master`, `slave` or `slave_public`.
    pub fn installer_role(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Agent => "slave",
            Role::PublicAgent => "slave_public",
        }
    }

    /// The part of a container name for this role: `master`, `agent` or `pub-agent`.
    pub fn container_part(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Agent => "agent",
            Role::PublicAgent => "pub-agent",
        }
    }

    /// Position in [`Role::ALL`], for per-role tables.
    pub(crate) fn slot(self) -> usize {
        self as usize
    }
}

/// One value per role: masters, agents, public agents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PerRole<T>([T; 3]);

impl<T> PerRole<T> {
    pub(crate) fn get(&self, role: Role) -> &T {
        &self.0[role.slot()]
    }

    pub(crate) fn get_mut(&mut self, role: Role) -> &mut T {
        &mut self.0[role.slot()]
    }
}

impl<T> PerRole<Vec<T>> {
    /// Every item, masters first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + Clone {
        self.0.iter().flatten()
    }
}

/// How a node is named in messages: `master 1 (172.17.0.2)`.
pub(crate) fn display_name(role: Role, index: usize, ip: IpAddr) -> String {
    format!("{role} {index} ({ip})")
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "master" | "masters" => Ok(Role::Master),
            "agent" | "agents" | "slave" => Ok(Role::Agent),
            "public-agent" | "public_agent" | "public-agents" | "public_agents" | "pub-agent"
            | "slave_public" => Ok(Role::PublicAgent),
            other => Err(Error::invalid(
                Parameter::Role,
                other,
                "expected master, agent or public-agent",
            )),
        }
    }
}
