//! Networks, volumes, and what the daemon says of itself (info, versions).

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    Ipam, IpamConfig, LocalNodeState, NetworkCreateRequest, SystemInfoCgroupVersionEnum,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    InspectNetworkOptions, ListNetworksOptions, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveVolumeOptions,
};

use super::{ApiResult, DaemonError, DockerClient, Fault, ObjectEntry, op, while_busy};
use crate::error::Result;

/// What the daemon says of itself.
#[derive(Clone, Debug)]
pub(crate) struct DaemonInfo {
    /// The daemon's unique ID.
    pub id: String,
    pub server_version: String,
    /// `1` or `2`, as the daemon says it.
    pub cgroup_version: String,
    pub cgroup_v2: bool,
    /// Its security options, as text (what decides whether it allows privileges).
    pub security_options: Vec<String>,
    pub swarm: SwarmInfo,
    /// Its `default-address-pools` as (base, size), where it says (Docker 23 and
    /// later, when set); empty otherwise.
    pub address_pools: Vec<(String, u8)>,
}

/// The daemon's place in a Docker Swarm.
#[derive(Clone, Debug, Default)]
pub(crate) struct SwarmInfo {
    /// It is an active member of a swarm.
    pub active: bool,
    /// It is a manager.
    pub manager: bool,
    pub node_id: Option<String>,
    /// The swarm's managers' node ids.
    pub manager_nodes: Vec<String>,
}

/// A network to create.
pub(crate) struct NetworkSpec {
    pub name: String,
    /// `bridge` or `overlay`.
    pub driver: &'static str,
    /// Containers of any daemon in the swarm may join (an overlay).
    pub attachable: bool,
    pub labels: HashMap<String, String>,
    /// Its subnet, and the part of it the daemon gives addresses from itself (`None`:
    /// the daemon picks a subnet and gives out all of it).
    pub subnet: Option<(String, String)>,
}

impl DockerClient {
    pub(crate) async fn info(&self) -> ApiResult<DaemonInfo> {
        let info = self.api.info().await?;
        let swarm = info.swarm.unwrap_or_default();
        Ok(DaemonInfo {
            id: info.id.unwrap_or_default(),
            server_version: info.server_version.unwrap_or_default(),
            cgroup_v2: matches!(info.cgroup_version, Some(SystemInfoCgroupVersionEnum::_2)),
            cgroup_version: info
                .cgroup_version
                .map(|v| v.to_string())
                .unwrap_or_default(),
            security_options: info.security_options.unwrap_or_default(),
            address_pools: info
                .default_address_pools
                .unwrap_or_default()
                .into_iter()
                .filter_map(|p| Some((p.base?, u8::try_from(p.size?).ok()?)))
                .collect(),
            swarm: SwarmInfo {
                active: swarm.local_node_state == Some(LocalNodeState::ACTIVE),
                manager: swarm.control_available == Some(true),
                node_id: swarm.node_id,
                manager_nodes: swarm
                    .remote_managers
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|m| m.node_id)
                    .collect(),
            },
        })
    }

    /// The daemon's Docker version and its API version.
    pub(crate) async fn version(&self) -> ApiResult<(String, String)> {
        let v = self.api.version().await?;
        Ok((
            v.version.unwrap_or_default(),
            v.api_version.unwrap_or_default(),
        ))
    }

    /// The API version agreed with the daemon.
    pub(crate) fn api_version(&self) -> String {
        let v = self.api.client_version();
        format!("{}.{}", v.major_version, v.minor_version)
    }

    pub(crate) async fn networks(&self, labels: &[String]) -> Result<Vec<ObjectEntry>> {
        let options = ListNetworksOptionsBuilder::default()
            .filters(&super::label_filter(labels))
            .build();
        let list = self
            .api
            .list_networks(Some(options))
            .await
            .map_err(|e| op("listing networks")(e.into()))?;
        Ok(list
            .into_iter()
            .map(|n| ObjectEntry {
                id: n.id.unwrap_or_default(),
                labels: n.labels.unwrap_or_default(),
                swarm_scoped: n.scope.as_deref() == Some("swarm"),
            })
            .collect())
    }

    /// The IPv4 subnets of every network on the daemon, ours or not: what its address
    /// pools have given out.
    pub(crate) async fn network_subnets(&self) -> Result<Vec<String>> {
        let list = self
            .api
            .list_networks(None::<ListNetworksOptions>)
            .await
            .map_err(|e| op("listing networks")(e.into()))?;
        Ok(list
            .into_iter()
            .filter_map(|n| n.ipam?.config)
            .flatten()
            .filter_map(|c| c.subnet)
            .collect())
    }

    /// Create a network; returns its id (by id: a create racing for a cluster id may
    /// have made one of the same name).
    pub(crate) async fn create_network(&self, spec: NetworkSpec) -> ApiResult<String> {
        let request = NetworkCreateRequest {
            name: spec.name,
            driver: Some(spec.driver.into()),
            attachable: spec.attachable.then_some(true),
            labels: Some(spec.labels),
            ipam: spec.subnet.map(|(subnet, ip_range)| Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(subnet),
                    ip_range: Some(ip_range),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        Ok(self.api.create_network(request).await?.id)
    }

    /// Succeeds when the network exists.
    pub(crate) async fn inspect_network(&self, id: &str) -> ApiResult<()> {
        self.api
            .inspect_network(id, None::<InspectNetworkOptions>)
            .await?;
        Ok(())
    }

    /// Remove a network; gone already is fine. A container that someone else is still
    /// removing keeps it busy for a moment, as does (on a swarm's manager) another
    /// daemon's container that just left its overlay; a swarm's overlay goes a moment
    /// after the manager accepted its removal: waited for.
    pub(crate) async fn remove_network(&self, id: &str) -> Result<()> {
        let failed = |e| op(format!("removing network {id}"))(e);
        match while_busy(Duration::from_secs(15), || self.api.remove_network(id)).await {
            Ok(()) => {}
            Err(e) if e.fault() == Fault::NotFound => return Ok(()),
            Err(e) => return Err(failed(e)),
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            match self.inspect_network(id).await {
                Err(e) if e.fault() == Fault::NotFound => return Ok(()),
                _ if std::time::Instant::now() >= deadline => {
                    return Err(failed(DaemonError::stream(
                        "still there 15 s after its removal was accepted".into(),
                    )));
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    pub(crate) async fn volumes(&self, labels: &[String]) -> Result<Vec<ObjectEntry>> {
        let options = ListVolumesOptionsBuilder::default()
            .filters(&super::label_filter(labels))
            .build();
        let list = self
            .api
            .list_volumes(Some(options))
            .await
            .map_err(|e| op("listing volumes")(e.into()))?;
        Ok(list
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| ObjectEntry {
                id: v.name,
                labels: v.labels,
                swarm_scoped: false,
            })
            .collect())
    }

    pub(crate) async fn create_volume(
        &self,
        name: &str,
        labels: HashMap<String, String>,
    ) -> ApiResult<()> {
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(labels),
            ..Default::default()
        };
        self.api.create_volume(request).await?;
        Ok(())
    }

    pub(crate) async fn remove_volume(&self, name: &str) -> Result<()> {
        match self
            .api
            .remove_volume(name, None::<RemoveVolumeOptions>)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) => match DaemonError::from(e) {
                e if e.fault() == Fault::NotFound => Ok(()),
                e => Err(op(format!("removing volume {name}"))(e)),
            },
        }
    }
}
