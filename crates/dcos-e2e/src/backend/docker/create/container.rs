//! A node's container: its spec (volumes, mounts, keys, what systemd needs without
//! privileges), creating and starting it, and its address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, HostConfig, HostConfigCgroupnsModeEnum, Mount as ApiMount,
    MountBindOptions, MountType, MountVolumeOptions, PortBinding,
};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use russh::keys::ssh_key::PrivateKey;

use crate::backend::docker::config::Docker;
use crate::backend::docker::create::workspace::{GENCONF_DIR, write_private, write_private_key};
use crate::backend::docker::daemon::client::{DockerClient, first_address, op, while_busy};
use crate::backend::docker::image::engine::{STORAGE_DRIVER_ENV, StorageDriver};
use crate::backend::docker::labels;
use crate::error::{Error, Result};
use crate::node::Role;

/// Where the workspace's `genconf` appears on nodes (read-only).
pub(crate) const NODE_GENCONF_DIR: &str = "/var/lib/dcos-e2e/genconf";
/// How `/run` is mounted (a tmpfs) in our containers that run sshd.
pub(crate) const RUN_TMPFS: &str = "rw,nosuid,nodev,mode=755";
/// The default SSH user of Docker nodes.
pub(crate) const DEFAULT_USER: &str = "root";

/// A node to make.
pub(crate) struct Planned {
    pub role: Role,
    pub index: usize,
    pub name: String,
    pub host_key: PrivateKey,
    /// Index of the daemon it is made on.
    pub host: usize,
    /// It mounts its daemon's genconf volume read-write (the first node there).
    pub genconf_writer: bool,
}

pub(crate) struct NodeContext<'a> {
    pub client: &'a DockerClient,
    pub cfg: &'a Docker,
    pub id: &'a str,
    pub workspace: &'a Path,
    pub image: &'a str,
    pub network: &'a str,
    pub privileged: bool,
    pub cgroup_v2: bool,
    pub transport: crate::node::TransportKind,
    /// root's authorized_keys (a line).
    pub authorized: &'a str,
    /// The daemon sees the workspace (it runs on this machine): keys and genconf are
    /// bound from it. Otherwise keys are copied in and genconf is a volume.
    pub binds_workspace: bool,
    /// The daemons of a cluster over several, space-separated (a label on each node,
    /// so that `destroy ID` finds all of it).
    pub hosts_label: Option<&'a str>,
}

impl NodeContext<'_> {
    /// Create and start the container; returns its address.
    pub(crate) async fn start_node(&self, p: &Planned) -> Result<IpAddr> {
        let api = &self.client.api;
        let options = CreateContainerOptionsBuilder::default()
            .name(&p.name)
            .build();
        let body = self.container_body(p)?;
        api.create_container(Some(options), body)
            .await
            .map_err(op(format!("creating container {}", p.name)))?;
        if !self.binds_workspace || !binds_keys() {
            self.copy_keys(p).await?;
        }
        // A create that lost this id to us may hold a network of the same name for a
        // moment (Docker before API 1.44 allows that); it removes it at once.
        while_busy(&["is ambiguous"], Duration::from_secs(10), || {
            api.start_container(&p.name, None)
        })
        .await
        .map_err(op(format!("starting container {}", p.name)))?;
        let info = api
            .inspect_container(&p.name, None)
            .await
            .map_err(op(format!("inspecting container {}", p.name)))?;
        first_address(info.network_settings.and_then(|n| n.networks).as_ref()).ok_or_else(|| {
            Error::Docker {
                operation: format!(
                    "finding the address of {} on network {}",
                    p.name, self.network
                ),
                source: "the container has no address on the network".into(),
            }
        })
    }

    fn container_body(&self, p: &Planned) -> Result<ContainerCreateBody> {
        let role = p.role.as_str();
        let tags = labels::object_labels(self.id, role, self.workspace);
        // The user's labels first: ours are written over them and still decide.
        let mut tags: HashMap<String, String> =
            self.cfg.labels_for(p.role).cloned().chain(tags).collect();
        tags.insert(labels::NODE_INDEX.into(), p.index.to_string());
        tags.insert(labels::SSH_USER.into(), DEFAULT_USER.into());
        tags.insert(labels::TRANSPORT.into(), self.transport.as_str().into());
        if !self.binds_workspace {
            let access = if p.genconf_writer { "rw" } else { "ro" };
            tags.insert(labels::GENCONF_VOLUME.into(), access.into());
        }
        if let Some(hosts) = self.hosts_label {
            tags.insert(labels::DOCKER_HOSTS.into(), hosts.into());
        }
        tags.insert(
            labels::CONNECT_TIMEOUT_MS.into(),
            self.cfg.connect_timeout.as_millis().to_string(),
        );

        let mut volumes = vec!["/opt", "/var/lib/docker"];
        if p.role != Role::Master {
            volumes.push("/var/lib/mesos/slave");
        }
        let mut mounts: Vec<ApiMount> = volumes
            .into_iter()
            .map(|target| ApiMount {
                target: Some(target.into()),
                source: Some(format!(
                    "{}-{}",
                    p.name,
                    target.trim_start_matches('/').replace('/', "-")
                )),
                typ: Some(MountType::VOLUME),
                volume_options: Some(MountVolumeOptions {
                    labels: Some(labels::object_labels(self.id, role, self.workspace)),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect();
        let bind = |source: String, target: &str, read_only: bool| ApiMount {
            target: Some(target.into()),
            source: Some(source),
            typ: Some(MountType::BIND),
            read_only: Some(read_only),
            bind_options: Some(MountBindOptions {
                propagation: None,
                ..Default::default()
            }),
            ..Default::default()
        };
        if self.binds_workspace {
            // Keys are bound from the workspace rather than copied in: copying into a
            // created container mounts its root filesystem once more (slow on some
            // storage drivers). sshd takes a host key of any owner, but root's
            // authorized_keys only when root owns it: a harness not running as root
            // copies that one in.
            let (host_key, authorized) = self.key_files(p)?;
            mounts.push(bind(host_key.to_string_lossy().into(), HOST_KEY, true));
            if let Some(authorized) = authorized {
                mounts.push(bind(
                    authorized.to_string_lossy().into(),
                    AUTHORIZED_KEYS,
                    false,
                ));
            }
            mounts.push(bind(
                self.workspace.join(GENCONF_DIR).to_string_lossy().into(),
                NODE_GENCONF_DIR,
                true,
            ));
        } else {
            // One volume for the cluster on each daemon, filled at install through the
            // first node there.
            mounts.push(ApiMount {
                target: Some(NODE_GENCONF_DIR.into()),
                source: Some(self.genconf_volume()),
                typ: Some(MountType::VOLUME),
                read_only: Some(!p.genconf_writer),
                volume_options: Some(MountVolumeOptions {
                    labels: Some(labels::object_labels(self.id, role, self.workspace)),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        for m in self.cfg.mounts_for(p.role) {
            let source = if self.cfg.mount_sources_on_daemon {
                m.source.clone()
            } else {
                std::fs::canonicalize(&m.source).unwrap_or_else(|_| m.source.clone())
            };
            mounts.push(bind(
                source.to_string_lossy().into(),
                &m.target,
                m.read_only,
            ));
        }
        // systemd wants a writable cgroup tree. With the host's cgroup namespace and the
        // tree bound read-write it creates its own subtree inside the container's cgroup
        // (works for v1 and v2 without privileges); privileged on v2 gets a private one.
        let private_cgroups = self.privileged && self.cgroup_v2;
        let first_master = p.role == Role::Master && p.index == 1;
        let published = if first_master {
            &self.cfg.master_ports[..]
        } else {
            &[]
        };
        let port_bindings: HashMap<String, Option<Vec<PortBinding>>> = published
            .iter()
            .map(|(host, container)| {
                let binding = PortBinding {
                    host_ip: None,
                    host_port: Some(host.to_string()),
                };
                (format!("{container}/tcp"), Some(vec![binding]))
            })
            .collect();
        // A node manages its own network namespace as a host would: a container engine
        // inside needs NET_ADMIN for its bridges and iptables (even for `--network
        // none`), and DC/OS's dcos-net programs iptables, ipset and IPVS. SYS_ADMIN is
        // systemd's (and the engine's overlay mounts on the node's volume).
        let storage = self.cfg.engine_storage_driver;
        let devices = (storage == StorageDriver::FuseOverlayfs && !self.privileged).then(|| {
            vec![DeviceMapping {
                path_on_host: Some("/dev/fuse".into()),
                path_in_container: Some("/dev/fuse".into()),
                cgroup_permissions: Some("rwm".into()),
            }]
        });
        let host_config = HostConfig {
            port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
            network_mode: Some(self.network.to_string()),
            mounts: Some(mounts),
            tmpfs: Some(HashMap::from([
                ("/run".into(), RUN_TMPFS.into()),
                ("/run/lock".into(), "rw,nosuid,nodev,noexec".into()),
                ("/tmp".into(), "rw,nosuid,nodev,exec,mode=1777".into()),
            ])),
            privileged: Some(self.privileged),
            cap_add: (!self.privileged).then(|| vec!["SYS_ADMIN".into(), "NET_ADMIN".into()]),
            devices,
            security_opt: (!self.privileged)
                .then(|| vec!["seccomp=unconfined".into(), "apparmor=unconfined".into()]),
            cgroupns_mode: Some(if private_cgroups {
                HostConfigCgroupnsModeEnum::PRIVATE
            } else {
                HostConfigCgroupnsModeEnum::HOST
            }),
            binds: (!private_cgroups).then(|| vec!["/sys/fs/cgroup:/sys/fs/cgroup:rw".into()]),
            ..Default::default()
        };
        let mut env = vec!["container=docker".to_string()];
        // The node's boot script reads it from PID 1's environment (see `engine`).
        if storage != StorageDriver::Auto {
            env.push(format!("{STORAGE_DRIVER_ENV}={storage}"));
        }
        Ok(ContainerCreateBody {
            hostname: Some(p.name.clone()),
            image: Some(self.image.to_string()),
            cmd: Some(vec!["/sbin/init".into()]),
            env: Some(env),
            labels: Some(tags),
            exposed_ports: (!published.is_empty()).then(|| {
                published
                    .iter()
                    .map(|(_, container)| format!("{container}/tcp"))
                    .collect()
            }),
            stop_signal: Some("SIGRTMIN+3".into()),
            host_config: Some(host_config),
            ..Default::default()
        })
    }

    fn genconf_volume(&self) -> String {
        format!("{}-genconf", self.id)
    }

    /// Put root's authorized_keys (and, where the daemon cannot bind it from the
    /// workspace, the node's host key) into a created container.
    async fn copy_keys(&self, p: &Planned) -> Result<()> {
        let host_key = (!self.binds_workspace).then_some(&p.host_key);
        put_keys(self.client, &p.name, self.authorized, host_key).await
    }

    /// The node's own host key (known to the harness in advance, so it is pinned) and,
    /// when it can be bound (see `binds_keys`), root's authorized keys: 0600 files in the
    /// workspace.
    fn key_files(&self, p: &Planned) -> Result<(PathBuf, Option<PathBuf>)> {
        let dir = self.workspace.join("nodes").join(&p.name);
        std::fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
        let host_key = dir.join("ssh_host_ed25519_key");
        write_private_key(&host_key, &p.host_key)?;
        if !binds_keys() {
            return Ok((host_key, None));
        }
        let authorized = dir.join("authorized_keys");
        write_private(&authorized, self.authorized.as_bytes())?;
        Ok((host_key, Some(authorized)))
    }
}

/// Put root's `authorized` keys and, if given, the ed25519 host key into the created
/// `container`, owned by root, 0600.
pub(crate) async fn put_keys(
    client: &DockerClient,
    container: &str,
    authorized: &str,
    host_key: Option<&PrivateKey>,
) -> Result<()> {
    let host_key = host_key
        .map(|key| {
            key.to_openssh(russh::keys::ssh_key::LineEnding::LF)
                .map_err(|e| {
                    Error::io("encode the host key of", container)(std::io::Error::other(
                        e.to_string(),
                    ))
                })
        })
        .transpose()?;
    let mut archive = tar::Builder::new(Vec::new());
    let mut entry = |path: &str, kind: tar::EntryType, mode: u32, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_size(data.len() as u64);
        header.set_cksum();
        archive.append_data(&mut header, path, data)
    };
    entry("root/.ssh", tar::EntryType::Directory, 0o700, &[])
        .and_then(|()| {
            entry(
                AUTHORIZED_KEYS.trim_start_matches('/'),
                tar::EntryType::Regular,
                0o600,
                authorized.as_bytes(),
            )
        })
        .and_then(|()| match &host_key {
            Some(pem) => entry(
                HOST_KEY.trim_start_matches('/'),
                tar::EntryType::Regular,
                0o600,
                pem.as_bytes(),
            ),
            None => Ok(()),
        })
        .map_err(Error::io("archive", AUTHORIZED_KEYS))?;
    let bytes = archive
        .into_inner()
        .map_err(Error::io("archive", AUTHORIZED_KEYS))?;
    let options = bollard::query_parameters::UploadToContainerOptionsBuilder::default()
        .path("/")
        .build();
    client
        .api
        .upload_to_container(container, Some(options), bollard::body_full(bytes.into()))
        .await
        .map_err(op(format!("copying keys into {container}")))
}

const AUTHORIZED_KEYS: &str = "/root/.ssh/authorized_keys";
const HOST_KEY: &str = "/etc/ssh/ssh_host_ed25519_key";

/// Whether root's authorized_keys can be bound from the workspace: only when we are
/// root, so the file is root's (sshd's StrictModes).
fn binds_keys() -> bool {
    crate::backend::docker::image::is_root()
}
