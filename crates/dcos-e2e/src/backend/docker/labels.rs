//! Labels on every Docker object we create, and the names we give them. A cluster is
//! whatever carries its label (as in kind): `list`, `destroy` and `clean` find objects
//! by label, never by name.

use std::collections::HashMap;
use std::path::Path;

use crate::backend::docker::lifecycle::owner::ProcessIdentity;
use crate::node::Role;

/// Present (value `1`) on every object of this project.
pub const PROJECT: &str = "dcos-e2e";
/// The cluster id.
pub const CLUSTER_ID: &str = "dcos-e2e.cluster-id";
/// `master`, `agent`, `public-agent`, `network`, `watchdog`, `jump`, `persisted`,
/// `probe` or `image`.
pub const ROLE: &str = "dcos-e2e.role";
/// Node index within its role, from 1.
pub const NODE_INDEX: &str = "dcos-e2e.node-index";
/// The cluster's workspace directory on the host.
pub const WORKSPACE: &str = "dcos-e2e.workspace";
/// Pid of the process that made the object (with its start time and the boot id, it
/// tells `clean` whether the owner still lives).
pub const OWNER_PID: &str = "dcos-e2e.owner-pid";
/// Start time (clock ticks since boot) of the owning process.
pub const OWNER_START: &str = "dcos-e2e.owner-start";
/// Boot id of the host the owner ran on.
pub const BOOT_ID: &str = "dcos-e2e.boot-id";
/// Machine id of the host the owner ran on.
pub const OWNER_MACHINE: &str = "dcos-e2e.owner-machine";
/// The owner's pid namespace (its pid means something only there).
pub const OWNER_PIDNS: &str = "dcos-e2e.owner-pidns";
/// The default SSH user of the cluster's nodes.
pub const SSH_USER: &str = "dcos-e2e.ssh-user";
/// The node transport chosen at creation (`ssh` or `docker-exec`).
pub const TRANSPORT: &str = "dcos-e2e.transport";
/// On nodes of a daemon that does not see this machine's files, how the node mounts
/// the volume that holds the installer's genconf there: `rw` on the node it is filled
/// through (one per daemon), `ro` on the others.
pub const GENCONF_VOLUME: &str = "dcos-e2e.genconf-volume";
/// On nodes of a cluster over several Docker daemons: their addresses, space-separated,
/// the swarm manager first.
pub const DOCKER_HOSTS: &str = "dcos-e2e.docker-hosts";
/// On the jump host: the address this machine reached its published port at.
pub const JUMP_ADDRESS: &str = "dcos-e2e.jump-address";
/// The SSH connect timeout chosen at creation, in milliseconds.
pub const CONNECT_TIMEOUT_MS: &str = "dcos-e2e.connect-timeout-ms";
/// The hash of the node image recipe, on images we build (their only label: containers
/// inherit image labels).
pub const IMAGE_RECIPE: &str = "dcos-e2e.image-recipe";

/// Role label of the cluster's cleanup watchdog container.
pub(crate) const WATCHDOG_ROLE: &str = "watchdog";
/// The watchdog's role label before it was called a watchdog; still read, so clusters
/// made by earlier versions are judged and cleaned the same way.
pub(crate) const OLD_WATCHDOG_ROLE: &str = "reaper";
/// Role label of the throwaway container that checks whether privileged is allowed.
pub(crate) const PROBE_ROLE: &str = "probe";
/// Role label of the marker volume of a cluster handed to the user.
pub(crate) const PERSISTED_ROLE: &str = "persisted";
/// Role label of the jump host container (SSH to nodes of a daemon elsewhere).
pub(crate) const JUMP_ROLE: &str = "jump";
/// Role label of a cluster's own network.
pub(crate) const NETWORK_ROLE: &str = "network";

/// `label=value` filter string for list calls.
pub fn filter(label: &str, value: &str) -> String {
    format!("{label}={value}")
}

/// The filter for one create's objects: its cluster id and, when given, its workspace
/// (another create racing for the same id has another workspace).
pub(crate) fn cluster_filter(cluster_id: &str, workspace: Option<&Path>) -> Vec<String> {
    let mut filter = vec![self::filter(CLUSTER_ID, cluster_id)];
    if let Some(ws) = workspace {
        filter.push(self::filter(WORKSPACE, &ws.to_string_lossy()));
    }
    filter
}

/// The container of a node: `<cluster-id>-master-1`, `-agent-2`, `-pub-agent-1`.
pub(crate) fn node_container(cluster_id: &str, role: Role, index: usize) -> String {
    format!("{cluster_id}-{}-{index}", role.container_part())
}

/// The jump host container's name.
pub(crate) fn jump_container(cluster_id: &str) -> String {
    format!("{cluster_id}-jump")
}

/// The watchdog container's name.
pub(crate) fn watchdog_container(cluster_id: &str) -> String {
    format!("{cluster_id}-watchdog")
}

/// Whether a role label is the watchdog's (new or old name).
pub(crate) fn is_watchdog(role: Option<&String>) -> bool {
    matches!(
        role.map(String::as_str),
        Some(WATCHDOG_ROLE | OLD_WATCHDOG_ROLE)
    )
}

/// Labels for an object of the cluster, naming this process as its owner.
pub(crate) fn object_labels(id: &str, role: &str, workspace: &Path) -> HashMap<String, String> {
    let mut l = HashMap::from([
        (PROJECT.to_string(), "1".to_string()),
        (CLUSTER_ID.to_string(), id.to_string()),
        (ROLE.to_string(), role.to_string()),
        (
            WORKSPACE.to_string(),
            workspace.to_string_lossy().to_string(),
        ),
    ]);
    l.extend(owner_labels());
    l
}

/// Labels naming the process that owns what is being made, so `clean` can tell a live
/// owner from a dead one on this host.
pub(crate) fn owner_labels() -> Vec<(String, String)> {
    let me = ProcessIdentity::current();
    let mut out = vec![(OWNER_PID.to_string(), me.pid.to_string())];
    for (key, value) in [
        (OWNER_START, me.start),
        (BOOT_ID, me.boot),
        (OWNER_MACHINE, me.machine),
        (OWNER_PIDNS, me.pidns),
    ] {
        if let Some(value) = value {
            out.push((key.to_string(), value));
        }
    }
    out
}

/// Labels of a throwaway probe container: ours, its role, and the owner (so `clean`
/// removes a probe whose process died before removing it).
pub(crate) fn probe_labels() -> HashMap<String, String> {
    [
        (PROJECT.to_string(), "1".to_string()),
        (ROLE.into(), PROBE_ROLE.into()),
    ]
    .into_iter()
    .chain(owner_labels())
    .collect()
}

/// The owning process named by an object's labels, if they name one.
pub(crate) fn owner_of(labels: &HashMap<String, String>) -> Option<ProcessIdentity> {
    Some(ProcessIdentity {
        pid: labels.get(OWNER_PID)?.parse().ok()?,
        start: labels.get(OWNER_START).cloned(),
        boot: labels.get(BOOT_ID).cloned(),
        machine: labels.get(OWNER_MACHINE).cloned(),
        pidns: labels.get(OWNER_PIDNS).cloned(),
    })
}

/// The workspace an object's labels name.
pub(crate) fn workspace_of(labels: &HashMap<String, String>) -> Option<std::path::PathBuf> {
    labels.get(WORKSPACE).map(std::path::PathBuf::from)
}
