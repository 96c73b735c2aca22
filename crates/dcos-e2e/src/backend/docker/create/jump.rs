//! A cluster's jump host, for SSH to nodes of a daemon elsewhere (their addresses are
//! routable only on that daemon's host): a container of our image running sshd alone
//! on the cluster's network, its port 22 published on that host. It lets the cluster's
//! key in, and only to open tunnels to SSH ports (no shell, no terminal, no other port).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use russh::keys::ssh_key::PrivateKey;

use crate::backend::docker::create::container::{RUN_TMPFS, put_keys};
use crate::backend::docker::daemon::address::{Authority, resolve};
use crate::backend::docker::daemon::client::{
    ContainerSpec, DaemonError, DockerClient, Fault, Publish, op,
};
use crate::backend::docker::labels;
use crate::error::{Error, Result};

/// sshd as the container's only process: our key, tunnels out and nothing else.
const SSHD: &str = "mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e \
    -o HostKey=/etc/ssh/ssh_host_ed25519_key -o PermitRootLogin=prohibit-password \
    -o PasswordAuthentication=no -o AllowTcpForwarding=local -o PermitTTY=no \
    -o X11Forwarding=no -o AllowAgentForwarding=no -o ForceCommand=/bin/false \
    -o UseDNS=no -o MaxStartups=256:30:512 -o 'PermitOpen=*:22'";

/// What the jump host is made of.
pub(crate) struct JumpSpec<'a> {
    pub client: &'a DockerClient,
    pub id: &'a str,
    pub workspace: &'a Path,
    /// Ours (it has sshd where we expect it, whatever the nodes run).
    pub image: &'a str,
    pub network: &'a str,
    /// root's authorized_keys.
    pub authorized: &'a str,
    pub host_key: &'a PrivateKey,
    /// Where this machine reaches the daemon's host.
    pub published: IpAddr,
}

/// A jump host that could not be made, or (`Started`) not started.
enum Failed {
    Made(Error),
    Started(DaemonError),
}
impl From<Failed> for Error {
    fn from(failed: Failed) -> Self {
        match failed {
            Failed::Made(e) => e,
            Failed::Started(e) => op("starting the jump host")(e),
        }
    }
}

impl JumpSpec<'_> {
    /// Create and start it; returns where this machine reaches its sshd. Its port is
    /// bound to the address this machine reaches the daemon's host at, else (where
    /// that is not one of the host's own, as behind NAT) to all of them.
    pub(crate) async fn start(&self) -> Result<SocketAddr> {
        let name = labels::jump_container(self.id);
        let client = self.client;
        if let Err(e) = self.create_and_start(&name, Some(self.published)).await {
            if !matches!(&e, Failed::Started(e) if e.fault() == Fault::AddressUnavailable) {
                return Err(e.into());
            }
            tracing::warn!(
                "{} is not an address of the Docker daemon's host: the jump host's SSH port is published on all of that host's addresses",
                self.published
            );
            let _ = client.remove_container(&name).await;
            self.create_and_start(&name, None).await?;
        }
        let info = client
            .inspect_container(&name)
            .await
            .map_err(op(format!("inspecting container {name}")))?;
        let port = info
            .published
            .iter()
            .find_map(|&(container, host)| (container == 22).then_some(host))
            .ok_or_else(|| Error::Docker {
                operation: format!("finding the published SSH port of {name}"),
                source: "the daemon published no port".into(),
            })?;
        Ok(SocketAddr::new(self.published, port))
    }

    async fn create_and_start(
        &self,
        name: &str,
        address: Option<IpAddr>,
    ) -> std::result::Result<(), Failed> {
        let mut tags = labels::object_labels(self.id, labels::JUMP_ROLE, self.workspace);
        // For attaching later: the address; the port is the container's published one.
        tags.insert(labels::JUMP_ADDRESS.into(), self.published.to_string());
        let spec = ContainerSpec {
            name: Some(name.to_string()),
            image: self.image.to_string(),
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
            cmd: vec![SSHD.into()],
            labels: tags,
            network: Some(self.network.to_string()),
            // Any free port of the daemon's host.
            publish: vec![Publish {
                container: 22,
                host: None,
                address,
            }],
            tmpfs: vec![("/run".into(), RUN_TMPFS.into())],
            ..Default::default()
        };
        let client = self.client;
        client
            .create_container(&spec)
            .await
            .map_err(|e| Failed::Made(op(format!("creating container {name}"))(e)))?;
        put_keys(client, name, self.authorized, Some(self.host_key))
            .await
            .map_err(Failed::Made)?;
        client.start_container(name).await.map_err(Failed::Started)
    }
}

/// Where this machine reaches the daemon at `host`'s published ports: `given`, else
/// the host of a `tcp://` or `ssh://` address, else (`unix://`) 127.0.0.1.
pub(crate) async fn published_address(given: Option<&str>, host: &str) -> Result<IpAddr> {
    match given.map(str::to_string).or_else(|| host_of(host)) {
        Some(name) => resolve(&name, crate::error::Parameter::PublishedAddress, &name).await,
        None => Ok(IpAddr::from([127, 0, 0, 1])),
    }
}

/// The host name or address in a `tcp://`, `http(s)://` or `ssh://` daemon address.
fn host_of(address: &str) -> Option<String> {
    let (scheme, rest) = address.split_once("://")?;
    if !matches!(scheme, "tcp" | "http" | "https" | "ssh") {
        return None;
    }
    Authority::parse(rest).map(|at| at.host.to_string())
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn the_daemon_host_is_read_from_its_address() {
        assert_eq!(host_of("tcp://10.1.2.3:2376").as_deref(), Some("10.1.2.3"));
        assert_eq!(host_of("ssh://me@build-7:2222").as_deref(), Some("build-7"));
        assert_eq!(host_of("ssh://build-7").as_deref(), Some("build-7"));
        assert_eq!(host_of("tcp://[fd00::5]:2376").as_deref(), Some("fd00::5"));
        assert_eq!(
            host_of("https://d.example/v1").as_deref(),
            Some("d.example")
        );
        assert_eq!(host_of("unix:///var/run/docker.sock"), None);
        assert_eq!(host_of("tcp://"), None);
    }
}
