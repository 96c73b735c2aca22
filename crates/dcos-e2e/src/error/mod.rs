//! Error types: a leaf of the crate. Messages name what went wrong and the value
//! involved; the cause is kept as `source` (never repeated in the message), so a CLI can
//! print the whole chain. Each condition a caller may act on has its own variant, so
//! nobody needs to read message text.

mod parameter;
mod state;
mod transport;

pub use parameter::Parameter;
pub use state::NodeState;
pub use transport::TransportKind;

use std::path::PathBuf;
use std::time::Duration;

/// A boxed cause from a lower layer (Docker API, SSH, I/O).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `dcos_e2e`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter was refused before anything was created.
    #[error("invalid {parameter} `{value}`: {reason}")]
    InvalidParameter {
        /// The parameter, by the name the user knows it (e.g. `masters`, `build_artifact`).
        parameter: Parameter,
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: String,
    },

    /// A cluster (or a network or container of that name) already has this id.
    #[error(
        "invalid cluster_id `{cluster_id}`: a cluster (or network) with this id already exists"
    )]
    ClusterIdTaken {
        /// The id asked for.
        cluster_id: String,
    },

    /// No cluster carries this id.
    #[error("no cluster named `{cluster_id}`")]
    NoSuchCluster {
        /// The id asked for.
        cluster_id: String,
    },

    /// A node selector matched no node of the cluster.
    #[error("`{selector}` matches no node of {cluster_id}")]
    NoSuchNode {
        /// The selector as given.
        selector: String,
        /// The cluster.
        cluster_id: String,
    },

    /// The Docker daemon did not answer.
    #[error("cannot reach the Docker daemon at {host} (is it running? is DOCKER_HOST right?)")]
    DockerUnreachable {
        /// The daemon address that was tried.
        host: String,
        /// What the client saw.
        #[source]
        source: BoxError,
    },

    /// A Docker Engine API call failed.
    #[error("Docker: {operation} failed")]
    Docker {
        /// The operation, with the object it was about.
        operation: String,
        /// The API error.
        #[source]
        source: BoxError,
    },

    /// `debootstrap` is needed to build the node image but is not installed.
    #[error(
        "debootstrap is not installed; install it with `apt-get install debootstrap` (it builds the node image)"
    )]
    DebootstrapMissing,

    /// Building the node image failed.
    #[error("building the node image failed while {step}: {detail}")]
    ImageBuild {
        /// The step that failed.
        step: &'static str,
        /// What the tool said.
        detail: String,
    },

    /// The daemon's address pools have no subnet left for the cluster's network (each
    /// cluster takes one; Docker's default pools hold 31).
    #[error(
        "the Docker daemon at {host} has no free subnet for the cluster's network: each cluster takes one from the daemon's address pools, and they are all in use; destroy clusters you no longer need, or give the daemon more, smaller subnets with `default-address-pools` in its daemon.json"
    )]
    AddressPoolsExhausted {
        /// The daemon.
        host: String,
    },

    /// A file or directory operation on this host failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A command on a node exited with a non-zero status.
    #[error(transparent)]
    CommandFailed(Box<CommandFailed>),

    /// The node's SSH host key is not the one pinned for it.
    #[error(
        "ssh to {node}: its host key is not the one pinned for this cluster (a different machine at this address?); refusing to connect"
    )]
    HostKeyMismatch {
        /// The node (role and address).
        node: String,
    },

    /// An existing host's key is not in its `known_hosts` file, and host keys are
    /// checked strictly (the default).
    #[error(
        "ssh to {node}: its host key ({fingerprint}) is not listed for its address in {}, and host keys are checked strictly; refusing to connect",
        known_hosts.display()
    )]
    HostKeyUnknown {
        /// The node (role and address).
        node: String,
        /// The key it presented, as `ssh-keygen -l` prints it (`SHA256:...`).
        fingerprint: String,
        /// The file that was looked in.
        known_hosts: PathBuf,
    },

    /// The key a host presented is marked `@revoked` in the `known_hosts` file.
    #[error(
        "ssh to {node}: its host key ({fingerprint}) is revoked in {}; refusing to connect",
        known_hosts.display()
    )]
    HostKeyRevoked {
        /// The node (role and address).
        node: String,
        /// The key it presented (`SHA256:...`).
        fingerprint: String,
        /// The file that revokes it.
        known_hosts: PathBuf,
    },

    /// The node refused our key for this user.
    #[error("ssh to {node}: the key {} is not accepted for user {user}", key.display())]
    AuthenticationRefused {
        /// The node (role and address).
        node: String,
        /// The user we logged in as.
        user: String,
        /// The private key offered.
        key: PathBuf,
    },

    /// The node has no address to connect to (a stopped container has none).
    #[error("{transport} to {node}: the node has no address (is its container running?)")]
    NoAddress {
        /// The node (role and index).
        node: String,
        /// How the node was reached.
        transport: TransportKind,
    },

    /// The node cannot be reached at all: connection refused, no route to its network,
    /// or (docker exec) its container is stopped, paused or gone.
    #[error("{transport} to {node}: {detail}")]
    Unreachable {
        /// The node (role and address).
        node: String,
        /// How the node was reached.
        transport: TransportKind,
        /// What was seen.
        detail: String,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },

    /// Talking to a node failed after it was reached (a channel, a stream, a file copy).
    #[error("{transport} to {node}: {detail}")]
    Transport {
        /// The node (role and address).
        node: String,
        /// How the node was reached.
        transport: TransportKind,
        /// What failed.
        detail: String,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },

    /// A node did not answer within the connect timeout.
    #[error("{node} did not answer {transport} within {timeout:?}")]
    Timeout {
        /// The node (role and address).
        node: String,
        /// How the node was reached.
        transport: TransportKind,
        /// The timeout that passed.
        timeout: Duration,
    },

    /// A step of installing from the build artifact failed: its command exited with a
    /// non-zero status.
    #[error(
        "install step `{step}` failed{}: `{command}` exited with status {status}:\n{output}",
        node.as_deref().map(|n| format!(" on {n}")).unwrap_or_default()
    )]
    Install {
        /// The step (`genconf`, `dcos_install.sh`).
        step: &'static str,
        /// The node, for per-node steps.
        node: Option<String>,
        /// The command that ran, as it can be pasted into a shell (on the node for
        /// per-node steps, in the workspace for genconf).
        command: String,
        /// Its exit status (128 + signal number when killed by a signal).
        status: i32,
        /// The last lines of its output (stdout and stderr together).
        output: String,
    },

    /// A step of installing did not finish in time; it and what it started were killed.
    #[error(
        "install step `{step}` did not finish within {timeout:?}: `{command}` was killed, with all it started; its last output:\n{output}"
    )]
    InstallTimeout {
        /// The step (`genconf`).
        step: &'static str,
        /// The command that ran, as it can be pasted into a shell.
        command: String,
        /// The time it was given.
        timeout: Duration,
        /// The last lines of its output (stdout and stderr together).
        output: String,
    },

    /// `wait_for_dcos` gave up.
    #[error("DC/OS was not healthy after {timeout:?}: {}", failing.join("; "))]
    WaitTimeout {
        /// How long it waited.
        timeout: Duration,
        /// One entry per node and check still failing.
        failing: Vec<String>,
    },

    /// A fault of this process has the node stopped or paused: commands wait for
    /// [`Node::start`](crate::Node::start) or [`Node::resume`](crate::Node::resume).
    #[error("{node} is {state}: start or resume it before running anything on it")]
    NodeDown {
        /// The node (role and address).
        node: String,
        /// What it is doing.
        state: NodeState,
    },

    /// A slow link asks for something this kernel's traffic control cannot do.
    #[error(
        "{node}: {asked} needs the kernel module {module}, which this kernel does not have (`minidcos docker doctor` lists what it has)"
    )]
    KernelModuleMissing {
        /// The node.
        node: String,
        /// The module (`sch_netem`, `sch_tbf`, `sch_htb`).
        module: &'static str,
        /// What was asked.
        asked: String,
    },

    /// A loop device sidecar could not be made or taken apart
    /// ([`LoopbackVolume`](crate::docker::LoopbackVolume)).
    #[error("loop device: {detail}")]
    LoopDevice {
        /// What failed, with the sidecar's output.
        detail: String,
    },

    /// The backend cannot do this.
    #[error("{operation} is not supported by the {backend} backend")]
    NotSupported {
        /// What was asked.
        operation: &'static str,
        /// Which backend.
        backend: &'static str,
    },

    /// The cluster was destroyed (or never finished creating).
    #[error("cluster {cluster_id} has been destroyed")]
    Destroyed {
        /// The cluster.
        cluster_id: String,
    },

    /// Creating a cluster failed after objects were made; says what became of them.
    #[error(transparent)]
    CreateFailed(Box<CreateFailed>),

    /// A blocking call was made from inside an async runtime, where it would stall the
    /// runtime's thread (use the async API there).
    #[error(
        "dcos_e2e::blocking::{call} was called inside an async runtime; use the async API (dcos_e2e::{call}) there"
    )]
    InsideRuntime {
        /// The blocking call.
        call: &'static str,
    },

    /// The cleanup watchdog of a new cluster did not start.
    #[error("the cleanup watchdog did not start: {detail}")]
    WatchdogFailed {
        /// What it said, or that it said nothing.
        detail: String,
    },

    /// Several steps failed (each node's install, each object's removal): all of them.
    #[error("{} failures: {}", errors.len(), errors.iter().map(|e| chain(e)).collect::<Vec<_>>().join("; "))]
    Several {
        /// Every failure, in the order found.
        errors: Vec<Error>,
    },

    /// Another build of the same node image held its lock longer than the wait allowed.
    #[error(
        "another build of {tag} held the build lock {} for {waited:?}; gave up waiting",
        lock.display()
    )]
    ImageBuildLocked {
        /// The image being built.
        tag: String,
        /// The lock file.
        lock: PathBuf,
        /// How long it waited.
        waited: Duration,
    },

    /// An image to load into nodes is not on the host's Docker daemon.
    #[error("image `{image}` is not on the Docker daemon at {host}")]
    ImageMissing {
        /// The image as given.
        image: String,
        /// The daemon that was asked.
        host: String,
    },

    /// A node has no container engine (no `docker` command in its image).
    #[error("{node} has no container engine (no `docker` command)")]
    NoEngine {
        /// The node (role and address).
        node: String,
    },

    /// A node's container engine is installed but does not answer.
    #[error("the container engine on {node} does not answer: {detail}")]
    EngineDown {
        /// The node (role and address).
        node: String,
        /// What `docker info` said.
        detail: String,
    },

    /// A build artifact given by URL could not be fetched.
    #[error("cannot fetch the build artifact {url}: {}{detail}", status.map(|s| format!("HTTP status {s}: ")).unwrap_or_default())]
    Download {
        /// The URL as given.
        url: String,
        /// The HTTP status, when the server answered with an error.
        status: Option<u16>,
        /// What went wrong.
        detail: String,
    },

    /// A build artifact's content is not what its checksum says.
    #[error("the build artifact {url} has sha256 {actual}, not the {expected} asked for")]
    ChecksumMismatch {
        /// The URL (or path) as given.
        url: String,
        /// The sha256 asked for (hex).
        expected: String,
        /// The sha256 of what arrived (hex).
        actual: String,
    },

    /// DC/OS is not installed on a node: its build information is missing or unreadable.
    #[error("DC/OS is not installed on {node}: {detail}")]
    NotInstalled {
        /// The node (role and address).
        node: String,
        /// What is missing or wrong.
        detail: String,
    },

    /// DC/OS was installed with nodes that the cluster no longer has.
    #[error("DC/OS was installed with nodes the cluster no longer has: {}; add_node brings one back at its address", missing.join(", "))]
    NodesMissing {
        /// Each missing node: its role and address.
        missing: Vec<String>,
    },

    /// The nodes to upgrade are not all at one version.
    #[error("the nodes to upgrade are not at one DC/OS version: {}", versions.join("; "))]
    VersionsDiffer {
        /// Each node with its version.
        versions: Vec<String>,
    },

    /// An upgrade stopped at a node: it failed there, or the node was not healthy after.
    /// The nodes before it are upgraded; it and the ones after are not touched further.
    #[error("the upgrade stopped at {node}{}", if upgraded.is_empty() { String::from(" (no node was upgraded)") } else { format!(" after upgrading {}", upgraded.join(", ")) })]
    UpgradeStopped {
        /// The node (role and address).
        node: String,
        /// The nodes upgraded before it, in order.
        upgraded: Vec<String>,
        /// Why.
        #[source]
        source: Box<Error>,
    },

    /// Loading images into nodes failed on some of them (the others have them).
    #[error("loading {} failed on {}", images.join(", "), failed.join("; "))]
    ImageLoad {
        /// The images.
        images: Vec<String>,
        /// One entry per failed node: the node and why.
        failed: Vec<String>,
    },
}

/// Creating a cluster failed part-way: which cluster, what became of what was made, and
/// the failure (its `source`, an [`Error`]).
#[derive(Debug, thiserror::Error)]
#[error("creating cluster {cluster_id} failed ({aftermath})")]
pub struct CreateFailed {
    /// The cluster id.
    pub cluster_id: String,
    /// Whether what was made is gone, kept, or partly left.
    pub aftermath: Aftermath,
    /// The first failure.
    #[source]
    pub cause: Error,
}

/// What became of a cluster whose creation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Aftermath {
    /// Everything created was removed.
    Removed,
    /// Kept for inspection, and why (`destroy_on_error` false, or `DCOS_E2E_KEEP` set).
    Kept(&'static str),
    /// Removing it failed too (the failure); `minidcos docker clean` removes the rest.
    CleanupFailed(String),
}

impl Aftermath {
    /// The outcome of removing what was made.
    pub(crate) fn of_cleanup(result: Result<()>) -> Self {
        match result {
            Ok(()) => Aftermath::Removed,
            Err(e) => Aftermath::CleanupFailed(chain(&e)),
        }
    }
}

impl std::fmt::Display for Aftermath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Aftermath::Removed => f.write_str("everything created was removed"),
            Aftermath::Kept(why) => write!(f, "kept for inspection because {why}"),
            Aftermath::CleanupFailed(e) => write!(f, "and removing what was made failed: {e}"),
        }
    }
}

/// A command on a node that exited with a non-zero status.
#[derive(Debug, thiserror::Error)]
#[error(
    "command exited with status {status} on {node}: {command}{}",
    tail(stderr)
)]
#[non_exhaustive]
pub struct CommandFailed {
    /// The node (role and address).
    pub node: String,
    /// The command as it can be pasted into a shell on the node, except that values
    /// given with [`Command::env`](crate::Command::env) show as `<redacted>` (they are
    /// often secrets); pasted, such a command fails instead of running without them.
    pub command: String,
    /// Exit status (128 + signal number when killed by a signal).
    pub status: i32,
    /// Captured standard output.
    pub stdout: Vec<u8>,
    /// Captured standard error.
    pub stderr: Vec<u8>,
}

/// The last lines of a command's stderr, so a failure message shows why.
fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    let start = lines.len().saturating_sub(5);
    format!("\nstderr (last lines):\n  {}", lines[start..].join("\n  "))
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }

    pub(crate) fn invalid(
        parameter: Parameter,
        value: impl std::fmt::Display,
        reason: impl Into<String>,
    ) -> Error {
        Error::InvalidParameter {
            parameter,
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// A failure talking to a node that was reached.
    pub(crate) fn transport(
        node: impl Into<String>,
        transport: TransportKind,
        detail: impl Into<String>,
        source: Option<BoxError>,
    ) -> Error {
        Error::Transport {
            node: node.into(),
            transport,
            detail: detail.into(),
            source,
        }
    }

    pub(crate) fn create_failed(cluster_id: &str, aftermath: Aftermath, cause: Error) -> Error {
        Error::CreateFailed(Box::new(CreateFailed {
            cluster_id: cluster_id.to_string(),
            aftermath,
            cause,
        }))
    }

    /// One error for several failures: `None` for none, the error itself for one.
    pub(crate) fn from_all(mut errors: Vec<Error>) -> Option<Error> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(Error::Several { errors }),
        }
    }

    /// `Ok` when every result is, else the one error for all failures
    /// ([`Error::from_all`]).
    pub(crate) fn all<T>(results: impl IntoIterator<Item = Result<T>>) -> Result<()> {
        Error::from_all(results.into_iter().filter_map(|r| r.err()).collect()).map_or(Ok(()), Err)
    }

    /// The exit status when this is a failed node command.
    pub fn exit_status(&self) -> Option<i32> {
        match self {
            Error::CommandFailed(f) => Some(f.status),
            _ => None,
        }
    }

    /// The parameter this error refuses, when it refuses one (for callers that restate
    /// it in their own terms, such as a CLI's flag names).
    pub fn parameter(&self) -> Option<Parameter> {
        match self {
            Error::InvalidParameter { parameter, .. } => Some(*parameter),
            Error::ClusterIdTaken { .. } | Error::NoSuchCluster { .. } => {
                Some(Parameter::ClusterId)
            }
            _ => None,
        }
    }

    /// This error, or the first error of ours among its causes that `pick` accepts
    /// (e.g. the cause inside [`Error::CreateFailed`]).
    pub fn find<'a, T>(&'a self, mut pick: impl FnMut(&'a Error) -> Option<T>) -> Option<T> {
        let mut current: Option<&'a (dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = current {
            if let Some(ours) = e.downcast_ref::<Error>()
                && let Some(found) = pick(ours)
            {
                return Some(found);
            }
            current = e.source();
        }
        None
    }
}

impl From<CommandFailed> for Error {
    fn from(f: CommandFailed) -> Self {
        Error::CommandFailed(Box::new(f))
    }
}

/// An error and its causes on one line: `what failed: because: because`.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_of_a_failed_create_is_one_of_ours() {
        let e = Error::create_failed(
            "c1",
            Aftermath::Removed,
            Error::ClusterIdTaken {
                cluster_id: "c1".into(),
            },
        );
        let source = std::error::Error::source(&e).expect("a cause");
        assert!(matches!(
            source.downcast_ref::<Error>(),
            Some(Error::ClusterIdTaken { .. })
        ));
        assert_eq!(
            e.find(|e| e.parameter()),
            Some(Parameter::ClusterId),
            "found through the chain"
        );
        assert!(chain(&e).starts_with(
            "creating cluster c1 failed (everything created was removed): invalid cluster_id `c1`"
        ));
    }
}
