//! A node's container: its spec (volumes, mounts, keys, what systemd needs without
//! privileges), creating and starting it, and its address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use russh::keys::ssh_key::PrivateKey;

use crate::backend::docker::config::Docker;
use crate::backend::docker::create::cgroups;
use crate::backend::docker::create::workspace::{GENCONF_DIR, write_private, write_private_key};
use crate::backend::docker::daemon::client::{ContainerSpec, DockerClient, MountSpec, Publish, op};
use crate::backend::docker::image::engine::{STORAGE_DRIVER_ENV, StorageDriver};
use crate::backend::docker::labels;
use crate::backend::running::NODE_GENCONF_DIR;
use crate::error::{Error, Result};
use crate::node::Role;

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
    /// Its fixed address on the cluster's network (`None`: the daemon's pick).
    pub address: Option<IpAddr>,
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
    /// The host address the first master's ports are bound to (`None`: all).
    pub master_ports_address: Option<std::net::IpAddr>,
}

impl NodeContext<'_> {
    /// Create and start the container; returns its address.
    pub(crate) async fn start_node(&self, p: &Planned) -> Result<IpAddr> {
        let spec = self.container_spec(p)?;
        self.client
            .create_container(&spec)
            .await
            .map_err(op(format!("creating container {}", p.name)))?;
        if !self.binds_workspace || !binds_keys() {
            self.copy_keys(p).await?;
        }
        self.client
            .start_container(&p.name)
            .await
            .map_err(op(format!("starting container {}", p.name)))?;
        let info = self
            .client
            .inspect_container(&p.name)
            .await
            .map_err(op(format!("inspecting container {}", p.name)))?;
        info.address.ok_or_else(|| Error::Docker {
            operation: format!(
                "finding the address of {} on network {}",
                p.name, self.network
            ),
            source: "the container has no address on the network".into(),
        })
    }

    fn container_spec(&self, p: &Planned) -> Result<ContainerSpec> {
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
        let mut mounts: Vec<MountSpec> = volumes
            .into_iter()
            .map(|target| MountSpec::Volume {
                target: target.into(),
                source: Some(format!(
                    "{}-{}",
                    p.name,
                    target.trim_start_matches('/').replace('/', "-")
                )),
                read_only: false,
                labels: labels::object_labels(self.id, role, self.workspace),
            })
            .collect();
        let bind = |source: String, target: &str, read_only: bool| MountSpec::Bind {
            target: target.into(),
            source,
            read_only,
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
            mounts.push(MountSpec::Volume {
                target: NODE_GENCONF_DIR.into(),
                source: Some(self.genconf_volume()),
                read_only: !p.genconf_writer,
                labels: labels::object_labels(self.id, role, self.workspace),
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
        let cgroups = cgroups::setup(self.cgroup_v2, self.privileged);
        let first_master = p.role == Role::Master && p.index == 1;
        let published = if first_master {
            &self.cfg.master_ports[..]
        } else {
            &[]
        };
        let publish = published
            .iter()
            .map(|(host, container)| Publish {
                container: *container,
                host: Some(*host),
                address: self.master_ports_address,
            })
            .collect();
        // A node manages its own network namespace as a host would: a container engine
        // inside needs NET_ADMIN for its bridges and iptables (even for `--network
        // none`), and DC/OS's dcos-net programs iptables, ipset and IPVS. SYS_ADMIN is
        // systemd's (and the engine's overlay mounts on the node's volume).
        let storage = self.cfg.engine_storage_driver;
        let fuse = storage == StorageDriver::FuseOverlayfs && !self.privileged;
        let unprivileged = |v: &[&str]| {
            if self.privileged {
                Vec::new()
            } else {
                v.iter().map(|s| s.to_string()).collect()
            }
        };
        let mut env = vec!["container=docker".to_string()];
        // The node's boot script reads it from PID 1's environment (see `engine`).
        if storage != StorageDriver::Auto {
            env.push(format!("{STORAGE_DRIVER_ENV}={storage}"));
        }
        Ok(ContainerSpec {
            name: Some(p.name.clone()),
            image: self.image.to_string(),
            hostname: Some(p.name.clone()),
            cmd: cgroups.cmd,
            env,
            labels: tags,
            stop_signal: Some("SIGRTMIN+3".into()),
            network: Some(self.network.to_string()),
            address: p.address,
            mounts,
            tmpfs: [
                ("/run".into(), RUN_TMPFS.into()),
                ("/run/lock".into(), "rw,nosuid,nodev,noexec".into()),
                ("/tmp".into(), "rw,nosuid,nodev,exec,mode=1777".into()),
            ]
            .into_iter()
            .chain(cgroups.tmpfs)
            .collect(),
            publish,
            privileged: self.privileged,
            cap_add: unprivileged(&["SYS_ADMIN", "NET_ADMIN"]),
            devices: if fuse {
                vec!["/dev/fuse".into()]
            } else {
                Vec::new()
            },
            security_opt: unprivileged(&["seccomp=unconfined", "apparmor=unconfined"]),
            host_cgroupns: Some(cgroups.host_cgroupns),
            binds: cgroups.binds,
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
        // Public keys, readable by all as `put_keys` makes them.
        std::fs::set_permissions(
            &authorized,
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .map_err(Error::io("set the mode of", &authorized))?;
        Ok((host_key, Some(authorized)))
    }
}

/// Put root's `authorized` keys and, if given, the ed25519 host key into the created
/// `container`, owned by root: the keys 0644 in a 0755 `/root/.ssh`, the host key 0600.
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
    // Readable by all (public keys only), as on the hosts DC/OS was tested on: a copy
    // of root's ~/.ssh then lets another user log in with the cluster's key.
    entry("root/.ssh", tar::EntryType::Directory, 0o755, &[])
        .and_then(|()| {
            entry(
                AUTHORIZED_KEYS.trim_start_matches('/'),
                tar::EntryType::Regular,
                0o644,
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
    client
        .upload(container, bytes)
        .await
        .map_err(op(format!("copying keys into {container}")))
}

pub(crate) const AUTHORIZED_KEYS: &str = "/root/.ssh/authorized_keys";
pub(crate) const HOST_KEY: &str = "/etc/ssh/ssh_host_ed25519_key";

/// Whether root's authorized_keys can be bound from the workspace: only when we are
/// root, so the file is root's (sshd's StrictModes).
fn binds_keys() -> bool {
    crate::backend::docker::image::is_root()
}
