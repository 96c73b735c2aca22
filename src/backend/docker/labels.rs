//! Labels on every Docker object we create. A cluster is whatever carries its label
//! (as in kind): `list`, `destroy` and `clean` find objects by label, never by name.

/// Present (value `1`) on every object of this project.
pub const PROJECT: &str = "dcos-e2e";
/// The cluster id.
pub const CLUSTER_ID: &str = "dcos-e2e.cluster-id";
/// `master`, `agent`, `public-agent`, `network`, `reaper` or `image`.
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
/// The default SSH user of the cluster's nodes.
pub const SSH_USER: &str = "dcos-e2e.ssh-user";
/// The node transport chosen at creation (`ssh` or `docker-exec`).
pub const TRANSPORT: &str = "dcos-e2e.transport";
/// The hash of the node image recipe, on images we build (their only label: containers
/// inherit image labels).
pub const IMAGE_RECIPE: &str = "dcos-e2e.image-recipe";

/// `label=value` filter string for list calls.
pub fn filter(label: &str, value: &str) -> String {
    format!("{label}={value}")
}
