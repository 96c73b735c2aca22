//! The one place that tells the daemon's errors apart: a daemon error becomes a small
//! [`Fault`], and callers match on that, never on the message text.

use bollard::errors::Error as ApiError;

/// What kind of failure the daemon reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The object does not exist (404).
    NotFound,
    /// The container is paused.
    Paused,
    /// The container is not running.
    NotRunning,
    /// Someone else's removal of the object is under way.
    RemovalInProgress,
    /// The object is busy for a moment (a network with endpoints still going, a name
    /// briefly held by a racing create).
    Busy,
    /// A bind mount's source does not exist on the daemon's host: the daemon does not
    /// see this machine's files (or not that path).
    BindSourceMissing,
    /// The runtime refused a privileged container.
    PrivilegesRefused,
    /// A conflict with an object that exists (a name taken, 409).
    Conflict,
    /// The daemon's address pools have no subnet left for a new network.
    PoolsExhausted,
    /// The subnet asked for overlaps another network's (one made a moment ago).
    SubnetTaken,
    /// A port cannot be published on that address: it is not one of the daemon's host.
    AddressUnavailable,
    /// No answer: the connection failed or the request timed out.
    Connection,
    /// Anything else.
    Other,
}

/// A failed Engine API call, with its kind.
#[derive(Debug)]
pub(crate) struct DaemonError {
    fault: Fault,
    inner: ApiError,
}

impl DaemonError {
    pub(crate) fn fault(&self) -> Fault {
        self.fault
    }

    /// An error the daemon reported inside a stream (an image load's error detail).
    pub(crate) fn stream(message: String) -> Self {
        ApiError::DockerStreamError { error: message }.into()
    }
}

impl From<ApiError> for DaemonError {
    fn from(inner: ApiError) -> Self {
        Self {
            fault: classify(&inner),
            inner,
        }
    }
}

impl std::fmt::Display for DaemonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl std::error::Error for DaemonError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

/// The result of an Engine API call.
pub(crate) type ApiResult<T> = std::result::Result<T, DaemonError>;

fn classify(error: &ApiError) -> Fault {
    match error {
        ApiError::DockerResponseServerError {
            status_code,
            message,
        } => classify_message(*status_code, message),
        ApiError::DockerStreamError { error } => classify_message(0, error),
        ApiError::RequestTimeoutError
        | ApiError::HyperResponseError { .. }
        | ApiError::IOError { .. } => Fault::Connection,
        _ => Fault::Other,
    }
}

/// `status`: the HTTP status, 0 for an error inside a stream.
fn classify_message(status: u16, message: &str) -> Fault {
    let m = message.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
    // Docker 20.10 and later, with a 404 (the pool was not found); before, "all
    // predefined address pools have been fully subnetted".
    if has(&[
        "non-overlapping ipv4 address pool",
        "have been fully subnetted",
    ]) {
        return Fault::PoolsExhausted;
    }
    if has(&["overlaps with other one"]) {
        return Fault::SubnetTaken;
    }
    if status == 404 {
        return Fault::NotFound;
    }
    if has(&["already in progress"]) {
        return Fault::RemovalInProgress;
    }
    if status == 409 && has(&["is paused"]) {
        return Fault::Paused;
    }
    if status == 409 && has(&["is not running"]) {
        return Fault::NotRunning;
    }
    // "has active endpoints"; a swarm manager's "in use by task" a moment after another
    // daemon's containers left its overlay; "is ambiguous" while a racing create's
    // network of the same name goes.
    if has(&["active endpoints", "in use by task", "is ambiguous"]) {
        return Fault::Busy;
    }
    if has(&[
        "bind source path does not exist",
        "bind mount source path does not exist",
    ]) {
        return Fault::BindSourceMissing;
    }
    if status >= 500
        && has(&[
            "apply caps",
            "capabilit",
            "privilege",
            "operation not permitted",
            "permission denied",
        ])
    {
        return Fault::PrivilegesRefused;
    }
    // A published port bound to an address that is not the daemon's host's.
    if has(&["cannot assign requested address"]) {
        return Fault::AddressUnavailable;
    }
    if status == 409 {
        return Fault::Conflict;
    }
    Fault::Other
}

#[cfg(test)]
mod tests {
    use super::{Fault, classify_message};

    /// Messages as Docker Engine 20.10 to 27 write them.
    #[test]
    fn the_daemons_messages_are_told_apart() {
        let cases: &[(u16, &str, Fault)] = &[
            (
                404,
                "No such container: dcos-e2e-1a2b-master-1",
                Fault::NotFound,
            ),
            (404, "No such image: dcos-e2e/node:0123", Fault::NotFound),
            (
                500,
                "driver failed programming external connectivity on endpoint dcos-e2e-1a2b-jump (5f0c): Error starting userland proxy: listen tcp4 203.0.113.7:32768: bind: cannot assign requested address",
                Fault::AddressUnavailable,
            ),
            (404, "network dcos-e2e-1a2b not found", Fault::NotFound),
            (
                403,
                "Pool overlaps with other one on this address space",
                Fault::SubnetTaken,
            ),
            (
                409,
                "Container 4f1c0e9d2a7b is paused, unpause the container before exec",
                Fault::Paused,
            ),
            (
                409,
                "Container 4f1c0e9d2a7b is not running",
                Fault::NotRunning,
            ),
            (
                409,
                "removal of container 4f1c0e9d2a7b is already in progress",
                Fault::RemovalInProgress,
            ),
            (
                403,
                "error while removing network: network dcos-e2e-1a2b id 5e6f has active endpoints",
                Fault::Busy,
            ),
            (
                500,
                "rpc error: code = FailedPrecondition desc = network 5e6f is in use by task 9a8b",
                Fault::Busy,
            ),
            (
                400,
                "network dcos-e2e-1a2b is ambiguous (2 matches found on name)",
                Fault::Busy,
            ),
            (
                400,
                "invalid mount config for type \"bind\": bind source path does not exist: /tmp/dcos-e2e-x",
                Fault::BindSourceMissing,
            ),
            (
                500,
                "OCI runtime create failed: container_linux.go:380: starting container process caused: unable to apply caps: operation not permitted: unknown",
                Fault::PrivilegesRefused,
            ),
            (
                409,
                "Conflict. The container name \"/dcos-e2e-1a2b-watchdog\" is already in use by container \"77aa\". You have to remove (or rename) that container to be able to reuse that name.",
                Fault::Conflict,
            ),
            (
                404,
                "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
                Fault::PoolsExhausted,
            ),
            (
                500,
                "failed to allocate gateway: all predefined address pools have been fully subnetted",
                Fault::PoolsExhausted,
            ),
            (
                400,
                "exec: \"/bin/true\": stat /bin/true: no such file or directory",
                Fault::Other,
            ),
            (
                500,
                "driver failed programming external connectivity on endpoint x: Bind for 0.0.0.0:80 failed: port is already allocated",
                Fault::Other,
            ),
        ];
        for (status, message, fault) in cases {
            assert_eq!(classify_message(*status, message), *fault, "{message}");
        }
    }
}
