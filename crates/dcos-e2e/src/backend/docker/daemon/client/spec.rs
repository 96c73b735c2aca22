//! Our own descriptions of what we ask the daemon for and what it tells us back, so no
//! Engine API type leaves the client: a container to create, its mounts and ports, and
//! what listing and inspecting report.

use std::collections::HashMap;
use std::net::IpAddr;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerSummary, DeviceMapping,
    EndpointIpamConfig, EndpointSettings, HostConfig, HostConfigCgroupnsModeEnum, Mount, MountType,
    MountVolumeOptions, NetworkingConfig, PortBinding,
};

/// A container to create.
#[derive(Clone, Debug, Default)]
pub(crate) struct ContainerSpec {
    pub name: Option<String>,
    pub image: String,
    pub hostname: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
    /// `uid:gid`.
    pub user: Option<String>,
    pub stop_signal: Option<String>,
    /// No network at all.
    pub network_disabled: bool,
    /// The network to join (`none` for none).
    pub network: Option<String>,
    /// A fixed address on it (the network's subnet must be one given at its create).
    pub address: Option<IpAddr>,
    /// Stdin kept open for one attach, stdout attached (the watchdog's lifeline).
    pub stdin_once: bool,
    pub mounts: Vec<MountSpec>,
    /// `source:target[:options]` binds.
    pub binds: Vec<String>,
    /// Tmpfs mounts: target and options.
    pub tmpfs: Vec<(String, String)>,
    /// Ports published on the daemon's host.
    pub publish: Vec<Publish>,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// Host device paths, at the same path inside, `rwm`.
    pub devices: Vec<String>,
    /// Device cgroup rules (`b 7:* rwm`), for devices made inside.
    pub device_cgroup_rules: Vec<String>,
    pub security_opt: Vec<String>,
    pub group_add: Vec<String>,
    /// The host's cgroup namespace (true) or a private one (false); `None`: the daemon's
    /// default.
    pub host_cgroupns: Option<bool>,
    pub auto_remove: bool,
    pub readonly_rootfs: bool,
    pub pids_limit: Option<i64>,
    pub memory: Option<i64>,
}

/// A mount of a created container.
#[derive(Clone, Debug)]
pub(crate) enum MountSpec {
    /// A named volume (made with `labels` if missing), or an anonymous one (`source`
    /// `None`).
    Volume {
        source: Option<String>,
        target: String,
        read_only: bool,
        labels: HashMap<String, String>,
    },
    /// A path of the daemon's host. Unlike `-v`, a missing source is an error
    /// ([`Fault::BindSourceMissing`](super::fault::Fault::BindSourceMissing)).
    Bind {
        source: String,
        target: String,
        read_only: bool,
    },
}

/// A container port published on the daemon's host.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Publish {
    pub container: u16,
    /// `None`: any free port.
    pub host: Option<u16>,
    /// The host address it is bound to; `None`: every address of the host.
    pub address: Option<std::net::IpAddr>,
}

/// A container as listing reports it.
#[derive(Clone, Debug)]
pub(crate) struct ContainerEntry {
    pub id: String,
    /// Its name, without Docker's leading `/`.
    pub name: String,
    pub labels: HashMap<String, String>,
    pub running: bool,
    pub paused: bool,
    /// Its address on its (first) network; a stopped one's fixed address, if it has one.
    pub address: Option<IpAddr>,
    /// Published ports: (container port, host port).
    pub published: Vec<(u16, u16)>,
}

/// A container as inspecting reports it.
#[derive(Clone, Debug)]
pub(crate) struct ContainerDetails {
    /// `running`, `exited`, `paused`, ...
    pub state: String,
    pub address: Option<IpAddr>,
    /// Ports published now: (container port, host port).
    pub published: Vec<(u16, u16)>,
    /// Ports asked for at create: (container port, host port).
    pub requested: Vec<(u16, u16)>,
    /// The whole inspect, as pretty JSON (for log bundles).
    pub json: String,
}

/// A network or volume as listing reports it (`id` is a volume's name).
#[derive(Clone, Debug)]
pub(crate) struct ObjectEntry {
    pub id: String,
    pub labels: HashMap<String, String>,
    /// A network of a whole swarm (removed through a manager).
    pub swarm_scoped: bool,
}

impl ContainerSpec {
    pub(crate) fn body(&self) -> ContainerCreateBody {
        let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        let port_key = |p: &Publish| format!("{}/tcp", p.container);
        let port_bindings: HashMap<String, Option<Vec<PortBinding>>> = self
            .publish
            .iter()
            .map(|p| {
                let binding = PortBinding {
                    host_ip: p.address.map(|a| a.to_string()),
                    host_port: Some(p.host.map(|h| h.to_string()).unwrap_or_default()),
                };
                (port_key(p), Some(vec![binding]))
            })
            .collect();
        let mounts: Vec<Mount> = self.mounts.iter().map(MountSpec::api).collect();
        let host_config = HostConfig {
            port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
            network_mode: self.network.clone(),
            mounts: (!mounts.is_empty()).then_some(mounts),
            binds: some(&self.binds),
            tmpfs: (!self.tmpfs.is_empty()).then(|| self.tmpfs.iter().cloned().collect()),
            privileged: self.privileged.then_some(true),
            cap_add: some(&self.cap_add),
            cap_drop: some(&self.cap_drop),
            devices: (!self.devices.is_empty()).then(|| {
                self.devices
                    .iter()
                    .map(|d| DeviceMapping {
                        path_on_host: Some(d.clone()),
                        path_in_container: Some(d.clone()),
                        cgroup_permissions: Some("rwm".into()),
                    })
                    .collect()
            }),
            device_cgroup_rules: some(&self.device_cgroup_rules),
            security_opt: some(&self.security_opt),
            group_add: some(&self.group_add),
            cgroupns_mode: self.host_cgroupns.map(|host| {
                if host {
                    HostConfigCgroupnsModeEnum::HOST
                } else {
                    HostConfigCgroupnsModeEnum::PRIVATE
                }
            }),
            auto_remove: self.auto_remove.then_some(true),
            readonly_rootfs: self.readonly_rootfs.then_some(true),
            pids_limit: self.pids_limit,
            memory: self.memory,
            ..Default::default()
        };
        ContainerCreateBody {
            hostname: self.hostname.clone(),
            image: Some(self.image.clone()),
            entrypoint: self.entrypoint.clone(),
            cmd: Some(self.cmd.clone()),
            env: some(&self.env),
            labels: Some(self.labels.clone()),
            user: self.user.clone(),
            stop_signal: self.stop_signal.clone(),
            network_disabled: self.network_disabled.then_some(true),
            open_stdin: self.stdin_once.then_some(true),
            stdin_once: self.stdin_once.then_some(true),
            attach_stdin: self.stdin_once.then_some(true),
            attach_stdout: self.stdin_once.then_some(true),
            exposed_ports: (!self.publish.is_empty())
                .then(|| self.publish.iter().map(port_key).collect()),
            host_config: Some(host_config),
            networking_config: self.address.zip(self.network.as_ref()).map(|(ip, net)| {
                let endpoint = EndpointSettings {
                    ipam_config: Some(EndpointIpamConfig {
                        ipv4_address: ip.is_ipv4().then(|| ip.to_string()),
                        ipv6_address: ip.is_ipv6().then(|| ip.to_string()),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                NetworkingConfig {
                    endpoints_config: Some(HashMap::from([(net.clone(), endpoint)])),
                }
            }),
            ..Default::default()
        }
    }
}

impl MountSpec {
    fn api(&self) -> Mount {
        match self {
            MountSpec::Volume {
                source,
                target,
                read_only,
                labels,
            } => Mount {
                target: Some(target.clone()),
                source: source.clone(),
                typ: Some(MountType::VOLUME),
                read_only: read_only.then_some(true),
                volume_options: (!labels.is_empty()).then(|| MountVolumeOptions {
                    labels: Some(labels.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            MountSpec::Bind {
                source,
                target,
                read_only,
            } => Mount {
                target: Some(target.clone()),
                source: Some(source.clone()),
                typ: Some(MountType::BIND),
                read_only: Some(*read_only),
                ..Default::default()
            },
        }
    }
}

/// A container's address: the first on its networks (a node has one network). A
/// stopped container has none, except the fixed one it will be given again.
fn first_address(networks: Option<&HashMap<String, EndpointSettings>>) -> Option<IpAddr> {
    let parse = |ip: Option<&str>| ip.filter(|ip| !ip.is_empty())?.parse().ok();
    networks?.values().find_map(|e| {
        parse(e.ip_address.as_deref()).or_else(|| {
            parse(
                e.ipam_config
                    .as_ref()
                    .and_then(|c| c.ipv4_address.as_deref()),
            )
        })
    })
}

/// (container port, host port) of a port map such as `22/tcp -> [0.0.0.0:49153]`.
fn port_pairs(map: Option<HashMap<String, Option<Vec<PortBinding>>>>) -> Vec<(u16, u16)> {
    let mut pairs: Vec<(u16, u16)> = map
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(port, hosts)| {
            let container = port.split('/').next()?.parse().ok()?;
            let host = hosts?
                .into_iter()
                .find_map(|b| b.host_port?.parse::<u16>().ok().filter(|p| *p != 0))?;
            Some((container, host))
        })
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

impl From<ContainerSummary> for ContainerEntry {
    fn from(c: ContainerSummary) -> Self {
        let mut published: Vec<(u16, u16)> = c
            .ports
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| Some((p.private_port, p.public_port?)))
            .collect();
        published.sort_unstable();
        published.dedup();
        Self {
            id: c.id.unwrap_or_default(),
            name: c
                .names
                .and_then(|n| n.into_iter().next())
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default(),
            labels: c.labels.unwrap_or_default(),
            running: c.state.is_some_and(|s| s.to_string() == "running"),
            paused: c.state.is_some_and(|s| s.to_string() == "paused"),
            address: first_address(c.network_settings.and_then(|s| s.networks).as_ref()),
            published,
        }
    }
}

impl From<ContainerInspectResponse> for ContainerDetails {
    fn from(info: ContainerInspectResponse) -> Self {
        let json = serde_json::to_string_pretty(&info).unwrap_or_default();
        let state = info
            .state
            .as_ref()
            .and_then(|s| s.status)
            .map(|s| s.to_string())
            .unwrap_or_default();
        let settings = info.network_settings;
        Self {
            state,
            address: first_address(settings.as_ref().and_then(|s| s.networks.as_ref())),
            published: port_pairs(settings.and_then(|s| s.ports)),
            requested: port_pairs(info.host_config.and_then(|h| h.port_bindings)),
            json,
        }
    }
}

impl ContainerSpec {
    /// What `info` was created with, as far as we ask for it: the spec a container like
    /// it is made from (another node of a cluster, made from a sibling). Ports are left
    /// out (only the first master publishes); `address` is its fixed address, if any.
    pub(crate) fn from_inspect(info: &ContainerInspectResponse) -> Self {
        let config = info.config.clone().unwrap_or_default();
        let host = info.host_config.clone().unwrap_or_default();
        let network = host.network_mode.clone();
        let mounts = host
            .mounts
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let target = m.target?;
                let read_only = m.read_only.unwrap_or(false);
                match m.typ {
                    Some(MountType::VOLUME) => Some(MountSpec::Volume {
                        source: m.source.filter(|s| !s.is_empty()),
                        target,
                        read_only,
                        labels: m.volume_options.and_then(|o| o.labels).unwrap_or_default(),
                    }),
                    Some(MountType::BIND) => Some(MountSpec::Bind {
                        source: m.source?,
                        target,
                        read_only,
                    }),
                    _ => None,
                }
            })
            .collect();
        Self {
            name: info
                .name
                .as_ref()
                .map(|n| n.trim_start_matches('/').to_string()),
            image: config.image.unwrap_or_default(),
            hostname: config.hostname,
            entrypoint: config.entrypoint,
            cmd: config.cmd.unwrap_or_default(),
            env: config.env.unwrap_or_default(),
            labels: config.labels.unwrap_or_default(),
            user: config.user.filter(|u| !u.is_empty()),
            stop_signal: config.stop_signal,
            network_disabled: config.network_disabled.unwrap_or(false),
            network,
            // A fixed address is kept in the endpoint's IPAM settings.
            address: info
                .network_settings
                .as_ref()
                .and_then(|s| s.networks.as_ref())
                .and_then(|n| {
                    n.values()
                        .find_map(|e| e.ipam_config.as_ref()?.ipv4_address.clone())
                })
                .and_then(|ip| ip.parse().ok()),
            stdin_once: false,
            mounts,
            binds: host.binds.unwrap_or_default(),
            tmpfs: host.tmpfs.unwrap_or_default().into_iter().collect(),
            publish: Vec::new(),
            privileged: host.privileged.unwrap_or(false),
            cap_add: host.cap_add.unwrap_or_default(),
            cap_drop: host.cap_drop.unwrap_or_default(),
            devices: host
                .devices
                .unwrap_or_default()
                .into_iter()
                .filter_map(|d| d.path_on_host)
                .collect(),
            device_cgroup_rules: host.device_cgroup_rules.unwrap_or_default(),
            security_opt: host.security_opt.unwrap_or_default(),
            group_add: host.group_add.unwrap_or_default(),
            host_cgroupns: host
                .cgroupns_mode
                .map(|m| m == HostConfigCgroupnsModeEnum::HOST),
            auto_remove: host.auto_remove.unwrap_or(false),
            readonly_rootfs: host.readonly_rootfs.unwrap_or(false),
            pids_limit: host.pids_limit,
            memory: host.memory.filter(|m| *m > 0),
        }
    }
}
