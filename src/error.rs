//! Error types. Messages name what went wrong and the value involved; the cause is kept
//! as `source` (never repeated in the message), so a CLI can print the whole chain.

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
        /// The parameter's name as the user knows it (e.g. `masters`, `build_artifact`).
        parameter: &'static str,
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: String,
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

    /// Talking to a node failed (connection, authentication, channel).
    #[error("{transport} to {node}: {detail}")]
    Transport {
        /// The node (role and address).
        node: String,
        /// `ssh` or `docker exec`.
        transport: &'static str,
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
        /// `ssh` or `docker exec`.
        transport: &'static str,
        /// The timeout that passed.
        timeout: Duration,
    },

    /// A step of installing from the build artifact failed.
    #[error("install step `{step}` failed{}: {detail}", node.as_deref().map(|n| format!(" on {n}")).unwrap_or_default())]
    Install {
        /// The step (genconf, install on a node, ...).
        step: &'static str,
        /// The node, for per-node steps.
        node: Option<String>,
        /// Exit status and output.
        detail: String,
    },

    /// `wait_for_dcos` gave up.
    #[error("DC/OS was not healthy after {timeout:?}: {}", failing.join("; "))]
    WaitTimeout {
        /// How long it waited.
        timeout: Duration,
        /// One entry per node and check still failing.
        failing: Vec<String>,
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
    #[error("creating cluster {cluster_id} failed ({aftermath})")]
    CreateFailed {
        /// The cluster id.
        cluster_id: String,
        /// Whether what was made is gone, kept, or partly left.
        aftermath: Aftermath,
        /// The first failure.
        #[source]
        source: Box<Error>,
    },
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
    /// Kept for inspection, with the reason the policy gives.
    pub(crate) fn kept() -> Self {
        Aftermath::Kept(if crate::cluster::keep_requested() {
            "DCOS_E2E_KEEP is set"
        } else {
            "destroy_on_error is false"
        })
    }

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
pub struct CommandFailed {
    /// The node (role and address).
    pub node: String,
    /// The command as it can be pasted into a shell on the node.
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
        parameter: &'static str,
        value: impl std::fmt::Display,
        reason: impl Into<String>,
    ) -> Error {
        Error::InvalidParameter {
            parameter,
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// The exit status when this is a failed node command.
    pub fn exit_status(&self) -> Option<i32> {
        match self {
            Error::CommandFailed(f) => Some(f.status),
            _ => None,
        }
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
