//! Nodes removed from and added to a running Docker cluster. A new node is made from a
//! sibling's spec (as the daemon reports what that one was created with), so it is made
//! as the cluster's nodes were, by this process or another that attached by id.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::docker::create::container::{AUTHORIZED_KEYS, HOST_KEY, put_keys};
use crate::backend::docker::create::ready::wait_ready;
use crate::backend::docker::create::workspace::{
    KEY_FILE, KNOWN_HOSTS_FILE, new_ed25519, write_private, write_private_key,
};
use crate::backend::docker::daemon::client::{ContainerSpec, DockerClient, Fault, MountSpec, op};
use crate::backend::docker::labels;
use crate::backend::docker::lifecycle::discover::discover_with;
use crate::error::{Error, Parameter, Result};
use crate::node::liveness::Liveness;
use crate::node::{Node, Role};

/// The volume agents have that masters do not.
const AGENT_VOLUME: &str = "/var/lib/mesos/slave";

/// The cluster nodes are removed from and added to: its daemons (the manager first),
/// id and workspace.
pub(crate) struct Members<'a> {
    pub hosts: Vec<DockerClient>,
    pub id: &'a str,
    pub workspace: &'a Path,
}

/// Remove the node's container and its own volumes; nothing else of the cluster.
pub(crate) async fn destroy_node(cluster: &Members<'_>, node: &Node) -> Result<()> {
    let name = node
        .container_name()
        .ok_or_else(|| Error::invalid(Parameter::Nodes, node, "not a container"))?;
    for host in &cluster.hosts {
        let spec = match host.spec_of(name).await {
            Ok(spec) => spec,
            Err(e) if e.fault() == Fault::NotFound => continue,
            Err(e) => return Err(op(format!("inspecting container {name}"))(e)),
        };
        host.remove_container(name).await?;
        for volume in own_volumes(&spec, name) {
            host.remove_volume(&volume).await?;
        }
        let keys = cluster.workspace.join("nodes").join(name);
        if let Err(e) = std::fs::remove_dir_all(&keys)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(Error::io("remove", &keys)(e));
        }
        return forget_host_key(cluster.workspace, node.ip_address());
    }
    // Gone already.
    Ok(())
}

/// Make, start and wait for a new node `role` `index`, at `address` (else the next
/// free fixed address, where the cluster's nodes have them), tied to `liveness`.
pub(crate) async fn add_node(
    cluster: &Members<'_>,
    role: Role,
    index: usize,
    address: Option<IpAddr>,
    liveness: Arc<Liveness>,
    boot_timeout: Duration,
) -> Result<Node> {
    let (host, model, taken) = model(cluster, role).await?;
    let name = labels::node_container(cluster.id, role, index);
    let mut spec = host
        .spec_of(&model)
        .await
        .map_err(op(format!("inspecting container {model}")))?;
    let host_key = new_ed25519();
    let copy_keys = retarget(
        &mut spec,
        cluster.workspace,
        &model,
        &name,
        role,
        index,
        &host_key,
    )?;
    spec.address = match (address, spec.address) {
        (Some(a), _) => Some(a),
        (None, Some(_)) => next_address(&taken),
        (None, None) => None,
    };
    let made = async {
        host.create_container(&spec)
            .await
            .map_err(op(format!("creating container {name}")))?;
        if copy_keys {
            let public = cluster.workspace.join(KEY_FILE).with_extension("pub");
            let authorized =
                std::fs::read_to_string(&public).map_err(Error::io("read", &public))?;
            put_keys(&host, &name, &authorized, Some(&host_key)).await?;
        }
        host.start_container(&name)
            .await
            .map_err(op(format!("starting container {name}")))?;
        let ip = host
            .inspect_container(&name)
            .await
            .map_err(op(format!("inspecting container {name}")))?
            .address
            .ok_or_else(|| Error::Docker {
                operation: format!("finding the address of {name}"),
                source: "the container has no address on the network".into(),
            })?;
        pin_host_key(cluster.workspace, ip, &host_key)?;
        let manager = cluster.hosts.first().unwrap_or(&host).clone();
        let found = discover_with(manager, cluster.id, None, liveness).await?;
        let node = found
            .nodes
            .get(role)
            .iter()
            .find(|n| n.container_name() == Some(name.as_str()))
            .cloned()
            .ok_or_else(|| Error::Docker {
                operation: format!("finding the new node {name}"),
                source: "it is not listed with the cluster's labels".into(),
            })?;
        wait_ready(
            &host,
            std::iter::once(&node),
            boot_timeout,
            node.transport(),
        )
        .await?;
        Ok(node)
    };
    match made.await {
        Ok(node) => Ok(node),
        Err(e) => {
            // Half a node is none: what was made of it goes.
            let _ = host.remove_container(&name).await;
            for volume in own_volumes(&spec, &name) {
                let _ = host.remove_volume(&volume).await;
            }
            Err(e)
        }
    }
}

/// The daemon and name of a node to model a new `role` node on (one of that role if
/// any), and every node's address.
async fn model(cluster: &Members<'_>, role: Role) -> Result<(DockerClient, String, Vec<IpAddr>)> {
    let filter = labels::cluster_filter(cluster.id, None);
    let mut best: Option<(DockerClient, String, bool)> = None;
    let mut taken = Vec::new();
    for host in &cluster.hosts {
        for c in host.containers(&filter).await? {
            let Some(r) = c
                .labels
                .get(labels::ROLE)
                .and_then(|r| r.parse::<Role>().ok())
            else {
                continue;
            };
            taken.extend(c.address);
            if best.as_ref().is_none_or(|(_, _, same)| !same && r == role) {
                best = Some((host.clone(), c.name.clone(), r == role));
            }
        }
    }
    let (host, name, _) = best.ok_or_else(|| Error::NoSuchCluster {
        cluster_id: cluster.id.to_string(),
    })?;
    Ok((host, name, taken))
}

/// Turn the model's spec into the new node's: its name, role and index, volumes of its
/// own (and the agent volume for its role), its own host key. Returns whether the keys
/// must be copied in (the daemon does not bind them from the workspace).
fn retarget(
    spec: &mut ContainerSpec,
    workspace: &Path,
    model: &str,
    name: &str,
    role: Role,
    index: usize,
    host_key: &russh::keys::ssh_key::PrivateKey,
) -> Result<bool> {
    spec.name = Some(name.to_string());
    spec.hostname = Some(name.to_string());
    spec.labels
        .insert(labels::ROLE.into(), role.as_str().into());
    spec.labels
        .insert(labels::NODE_INDEX.into(), index.to_string());
    // One node per daemon writes the shared genconf volume; a new one only reads it.
    if spec.labels.contains_key(labels::GENCONF_VOLUME) {
        spec.labels
            .insert(labels::GENCONF_VOLUME.into(), "ro".into());
    }
    let own = format!("{model}-");
    let mut volume_labels: Option<HashMap<String, String>> = None;
    for mount in &mut spec.mounts {
        if let MountSpec::Volume {
            source,
            labels: tags,
            read_only,
            ..
        } = mount
        {
            tags.insert(labels::ROLE.into(), role.as_str().into());
            match source.as_deref().and_then(|s| s.strip_prefix(&own)) {
                Some(suffix) => *source = Some(format!("{name}-{suffix}")),
                // The cluster's genconf volume, shared.
                None => *read_only = true,
            }
            volume_labels.get_or_insert_with(|| tags.clone());
        }
    }
    let has_agent_volume = spec
        .mounts
        .iter()
        .any(|m| matches!(m, MountSpec::Volume { target, .. } if target == AGENT_VOLUME));
    if role == Role::Master {
        spec.mounts
            .retain(|m| !matches!(m, MountSpec::Volume { target, .. } if target == AGENT_VOLUME));
    } else if !has_agent_volume {
        spec.mounts.push(MountSpec::Volume {
            source: Some(format!("{name}-var-lib-mesos-slave")),
            target: AGENT_VOLUME.into(),
            read_only: false,
            labels: volume_labels.unwrap_or_default(),
        });
    }
    // Keys bound from the workspace: the new node's own files beside the others'.
    let dir = workspace.join("nodes").join(name);
    let mut bound = false;
    for mount in &mut spec.mounts {
        let MountSpec::Bind { source, target, .. } = mount else {
            continue;
        };
        if target == HOST_KEY || target == AUTHORIZED_KEYS {
            if !bound {
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
                bound = true;
            }
            let file = dir.join(Path::new(target.as_str()).file_name().unwrap_or_default());
            if target == HOST_KEY {
                write_private_key(&file, host_key)?;
            } else {
                let from =
                    std::fs::read(source.as_str()).map_err(Error::io("read", source.as_str()))?;
                write_private(&file, &from)?;
            }
            *source = file.to_string_lossy().into_owned();
        }
    }
    let host_key_bound = spec
        .mounts
        .iter()
        .any(|m| matches!(m, MountSpec::Bind { target, .. } if target == HOST_KEY));
    Ok(!host_key_bound)
}

/// The node's own volumes (named after its container), not the cluster's shared ones.
fn own_volumes(spec: &ContainerSpec, name: &str) -> Vec<String> {
    let own = format!("{name}-");
    spec.mounts
        .iter()
        .filter_map(|m| match m {
            MountSpec::Volume {
                source: Some(s), ..
            } if s.starts_with(&own) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// The address after the highest a node has: nodes take their fixed addresses in order
/// from the subnet's second half (see `BridgeNetwork::node_address`).
fn next_address(taken: &[IpAddr]) -> Option<IpAddr> {
    let highest = taken
        .iter()
        .filter_map(|ip| match ip {
            IpAddr::V4(v4) => Some(u32::from(*v4)),
            IpAddr::V6(_) => None,
        })
        .max()?;
    Some(IpAddr::V4(highest.checked_add(1)?.into()))
}

/// The cluster's pinned host keys, less `ip`'s (a new node may take its address).
fn forget_host_key(workspace: &Path, ip: IpAddr) -> Result<()> {
    let path = workspace.join(KNOWN_HOSTS_FILE);
    let text = std::fs::read_to_string(&path).map_err(Error::io("read", &path))?;
    let prefix = format!("{ip} ");
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with(&prefix))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, kept).map_err(Error::io("write", &path))
}

/// Pin the new node's host key for every later handle on the cluster.
fn pin_host_key(
    workspace: &Path,
    ip: IpAddr,
    key: &russh::keys::ssh_key::PrivateKey,
) -> Result<()> {
    forget_host_key(workspace, ip)?;
    let path = workspace.join(KNOWN_HOSTS_FILE);
    let public = key.public_key().to_openssh().map_err(|e| {
        Error::io("encode the host key for", &path)(std::io::Error::other(e.to_string()))
    })?;
    let mut text = std::fs::read_to_string(&path).map_err(Error::io("read", &path))?;
    text.push_str(&format!("{ip} {public}\n"));
    std::fs::write(&path, text).map_err(Error::io("write", &path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_address_follows_the_highest() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            next_address(&[ip("172.18.128.3"), ip("172.18.128.1")]),
            Some(ip("172.18.128.4"))
        );
        assert_eq!(next_address(&[]), None);
    }

    #[test]
    fn a_new_agent_from_a_master_gets_volumes_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let volume = |source: &str, target: &str| MountSpec::Volume {
            source: Some(source.into()),
            target: target.into(),
            read_only: false,
            labels: HashMap::from([(labels::ROLE.to_string(), "master".to_string())]),
        };
        let mut spec = ContainerSpec {
            mounts: vec![
                volume("c-master-1-opt", "/opt"),
                volume("c-genconf", "/var/lib/dcos-e2e/genconf"),
            ],
            labels: HashMap::from([(labels::ROLE.to_string(), "master".to_string())]),
            ..Default::default()
        };
        let copy = retarget(
            &mut spec,
            dir.path(),
            "c-master-1",
            "c-agent-2",
            Role::Agent,
            2,
            &new_ed25519(),
        )
        .unwrap();
        assert!(copy, "no key is bound, so keys are copied in");
        assert_eq!(spec.labels[labels::ROLE], "agent");
        assert_eq!(spec.labels[labels::NODE_INDEX], "2");
        let sources: Vec<(String, bool)> = spec
            .mounts
            .iter()
            .filter_map(|m| match m {
                MountSpec::Volume {
                    source, read_only, ..
                } => Some((source.clone()?, *read_only)),
                _ => None,
            })
            .collect();
        assert_eq!(
            sources,
            vec![
                ("c-agent-2-opt".to_string(), false),
                ("c-genconf".to_string(), true),
                ("c-agent-2-var-lib-mesos-slave".to_string(), false),
            ]
        );
        assert_eq!(own_volumes(&spec, "c-agent-2").len(), 2);
    }
}
