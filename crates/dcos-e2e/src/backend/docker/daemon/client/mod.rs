//! The one door to the Docker daemon: the only code that uses the Engine API client
//! (bollard). Each operation the backend needs is a method taking and returning our own
//! types (`spec`); a failed call is a [`DaemonError`] whose [`Fault`] callers match on
//! (`fault`), turned into [`Error::Docker`] naming the operation by [`op`].
//!
//! Files: `fault` (telling the daemon's errors apart), `spec` (our types), `containers`,
//! `exec`, `images`, `objects` (networks, volumes, the daemon's own info), `ssh` (the
//! API over SSH).

mod containers;
mod exec;
pub(crate) mod fault;
mod images;
mod objects;
pub(crate) mod spec;
pub(crate) mod ssh;

use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

use bollard::Docker;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWrite;

use crate::error::{Error, Result};

pub(crate) use exec::ExecSpec;
pub(crate) use fault::{ApiResult, DaemonError, Fault};
pub(crate) use objects::NetworkSpec;
pub(crate) use spec::{
    ContainerDetails, ContainerEntry, ContainerSpec, MountSpec, ObjectEntry, Publish,
};

/// How long to wait for the daemon to answer the first call; an unreachable TCP daemon
/// must give an error, not a hang.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// This machine's daemon, where DOCKER_HOST does not say otherwise.
pub(crate) const LOCAL_HOST: &str = "unix:///var/run/docker.sock";
/// Per-request timeout: it guards against a daemon that stops answering. Uploads
/// (image loads and imports) may take longer and are bounded by their progress
/// instead (`images`); streams read after the answer (exec, logs) are not bounded by it.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// A connected Docker client. Cheap to clone; bound to the tokio runtime it is used on.
#[derive(Clone, Debug)]
pub(crate) struct DockerClient {
    api: Docker,
    host: String,
}

impl DockerClient {
    /// Connect the way the `docker` CLI does (DOCKER_HOST, else the local socket) and
    /// agree on an API version with the daemon.
    pub(crate) async fn connect() -> Result<Self> {
        let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| LOCAL_HOST.into());
        Self::connect_to(host, REQUEST_TIMEOUT).await
    }

    /// Connect to the daemon at `host`, or where DOCKER_HOST says.
    pub(crate) async fn connect_at(host: Option<String>) -> Result<Self> {
        match host {
            Some(host) => Self::connect_to(host, REQUEST_TIMEOUT).await,
            None => Self::connect().await,
        }
    }

    /// Connect to the daemon at `host` (`unix://`, `tcp://`, `http://`, `ssh://`), with this
    /// per-request timeout (cleanup from `Drop` must not wait for a daemon that stopped
    /// answering as long as a big upload may take).
    pub(crate) async fn connect_to(host: String, request_timeout: Duration) -> Result<Self> {
        let unreachable =
            |source: Box<dyn std::error::Error + Send + Sync>| Error::DockerUnreachable {
                host: host.clone(),
                source,
            };
        let api = if host.starts_with("ssh://") {
            ssh::connect(&host, request_timeout).await?
        } else {
            Docker::connect_with_host(&host)
                .map_err(|e| unreachable(Box::new(e)))?
                .with_timeout(request_timeout)
        };
        let api = match tokio::time::timeout(CONNECT_TIMEOUT, api.negotiate_version()).await {
            Ok(Ok(api)) => api,
            Ok(Err(e)) => return Err(unreachable(Box::new(e))),
            Err(_) => {
                return Err(unreachable(
                    format!("no answer within {CONNECT_TIMEOUT:?}").into(),
                ));
            }
        };
        Ok(Self { api, host })
    }

    /// The daemon address, for messages.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// `output`, ended by an error when the daemon stops answering, over TCP. A stream
    /// there is a plain TCP connection without keepalive: a quiet command's stream on a
    /// daemon whose host died would wait for ever. Over SSH the keepalives see it, and a
    /// local socket closes with its daemon.
    fn heartbeat(&self, output: OutputStream) -> OutputStream {
        if !(self.host.starts_with("tcp://") || self.host.starts_with("http")) {
            return output;
        }
        let (api, host) = (self.api.clone(), self.host.clone());
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let silent = {
            let cut = cut.clone();
            async move {
                let mut misses = 0;
                while misses < HEARTBEAT_MISSES {
                    tokio::time::sleep(HEARTBEAT).await;
                    match tokio::time::timeout(HEARTBEAT, api.ping()).await {
                        Ok(Ok(_)) => misses = 0,
                        _ => misses += 1,
                    }
                }
                cut.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        };
        let why = futures_util::stream::once(async move {
            cut.load(std::sync::atomic::Ordering::SeqCst).then(|| {
                Err(DaemonError::stream(format!(
                    "the Docker daemon at {host} stopped answering: {HEARTBEAT_MISSES} pings in a row had no answer within {HEARTBEAT:?}"
                )))
            })
        })
        .filter_map(std::future::ready);
        Box::pin(output.take_until(silent).chain(why))
    }
}

/// How often an open stream over TCP checks that its daemon answers, and how long each
/// check may take: a dead host is noticed within about 12 s, as SSH's keepalives do.
const HEARTBEAT: Duration = Duration::from_secs(3);
/// Checks in a row without an answer that end the stream.
const HEARTBEAT_MISSES: u32 = 2;

/// [`to_the_end`] tasks not finished yet, and a wake-up when one finishes.
static UNFINISHED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static FINISHED: tokio::sync::Notify = tokio::sync::Notify::const_new();

struct Unfinished;

impl Unfinished {
    fn new() -> Self {
        UNFINISHED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        UNFINISHED.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        FINISHED.notify_waiters();
    }
}

/// `work` on a task of its own, awaited: a caller that stops waiting (a create
/// cancelled by Ctrl-C) does not stop it halfway, as between a probe container's
/// create and its removal. A process about to exit waits for such tasks
/// ([`finish_pending`]): its runtime's end would stop them halfway too.
pub(crate) async fn to_the_end<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    let unfinished = Unfinished::new();
    let work = async move {
        let done = work.await;
        drop(unfinished);
        done
    };
    match tokio::spawn(work).await {
        Ok(done) => done,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // The runtime is going away, and this future with it.
        Err(_) => std::future::pending().await,
    }
}

/// Wait, up to `limit`, until Docker work that must not stop halfway (a probe container
/// between its create and its removal, started by a create that was then cancelled)
/// has finished. For a program about to exit: its runtime's end stops such work where
/// it is. Whether none is left.
pub async fn finish_pending(limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let finished = FINISHED.notified();
        if UNFINISHED.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            return true;
        }
        if tokio::time::timeout_at(deadline, finished).await.is_err() {
            return false;
        }
    }
}

/// Map a daemon error to ours, naming the operation.
pub(crate) fn op(operation: impl Into<String>) -> impl FnOnce(DaemonError) -> Error {
    let operation = operation.into();
    move |source| Error::Docker {
        operation,
        source: Box::new(source),
    }
}

/// Bytes the daemon streams (an image export).
pub(crate) type ByteStream = Pin<Box<dyn Stream<Item = ApiResult<Bytes>> + Send>>;

/// A container's or exec's output, as the daemon streams it.
pub(crate) type OutputStream = Pin<Box<dyn Stream<Item = ApiResult<Output>> + Send>>;

/// A container's or exec's input.
pub(crate) type InputStream = Pin<Box<dyn AsyncWrite + Send>>;

/// One piece of output: a terminal's output counts as stdout.
pub(crate) enum Output {
    Stdout(Bytes),
    Stderr(Bytes),
}

/// Both ends of an attached container or exec.
pub(crate) struct Attached {
    pub output: OutputStream,
    pub input: InputStream,
}

fn output_stream(
    stream: impl Stream<
        Item = std::result::Result<bollard::container::LogOutput, bollard::errors::Error>,
    > + Send
    + 'static,
) -> OutputStream {
    use bollard::container::LogOutput;
    Box::pin(stream.filter_map(|item| async move {
        match item {
            Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                Some(Ok(Output::Stdout(message)))
            }
            Ok(LogOutput::StdErr { message }) => Some(Ok(Output::Stderr(message))),
            Ok(LogOutput::StdIn { .. }) => None,
            Err(e) => Some(Err(e.into())),
        }
    }))
}

/// Label filter for list calls: every `key=value` (or bare `key`) must match.
fn label_filter(labels: &[String]) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), labels.to_vec())])
}

/// Make a call again while the daemon says the object is busy for a moment
/// ([`Fault::Busy`]), for up to `patience`.
async fn while_busy<T, Fut>(patience: Duration, mut call: impl FnMut() -> Fut) -> ApiResult<T>
where
    Fut: std::future::Future<Output = std::result::Result<T, bollard::errors::Error>>,
{
    let deadline = std::time::Instant::now() + patience;
    loop {
        match call().await.map_err(DaemonError::from) {
            Err(e) if e.fault() == Fault::Busy && std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            done => return done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A caller that stops waiting leaves the work running, and a process about to
    /// exit can wait for it (until its limit).
    #[tokio::test(start_paused = true)]
    async fn work_of_a_cancelled_caller_is_waited_for_before_exit() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let caller = tokio::spawn(to_the_end(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let _ = tx.send(());
        }));
        tokio::task::yield_now().await;
        caller.abort();
        assert!(
            !finish_pending(Duration::from_secs(1)).await,
            "still running"
        );
        assert!(finish_pending(Duration::from_secs(10)).await);
        assert!(rx.await.is_ok(), "it ran to its end");
    }
}
