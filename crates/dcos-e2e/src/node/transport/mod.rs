//! How commands and files reach a node. A transport only knows how to start one script
//! under `sh` as a user (from the user's login environment) with piped
//! stdin/stdout/stderr, or on a pseudo-terminal it can resize; running, `popen`,
//! killing and (by default) file transfer are built on that once, in [`crate::node`].

pub(crate) mod copy;
pub(crate) mod files;
pub(crate) mod host_keys;
pub(crate) mod jump;
pub(crate) mod ssh;
mod ssh_config;
pub(crate) mod stream;
pub(crate) mod trees;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

pub(crate) use stream::StreamRx;

pub use crate::error::TransportKind;
use crate::error::{Error, Result};
use crate::node::command::Tty;

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A started script: its output streams, optional stdin, its terminal if it has one,
/// and its exit status.
pub(crate) struct RawProcess {
    /// Everything it writes when it runs on a terminal.
    pub stdout: StreamRx,
    /// Ended at once when it runs on a terminal.
    pub stderr: StreamRx,
    pub stdin: Option<Pin<Box<dyn AsyncWrite + Send>>>,
    pub terminal: Option<Box<dyn Terminal>>,
    /// Exit status (128 + signal when killed), or why it could not be known.
    pub exit: oneshot::Receiver<Result<i32>>,
}

/// The pseudo-terminal of a started script.
pub(crate) trait Terminal: Send + Sync {
    /// Tell the node the terminal now has `cols` columns and `rows` rows (the programs
    /// on it get SIGWINCH).
    fn resize(&self, cols: u16, rows: u16) -> BoxFuture<'_, Result<()>>;
}

/// Unread output held per stream of a [`Launch::paced`] process before the process is
/// paused until it is read (as a pipe pauses a writer, with a larger buffer).
pub(crate) const PACED_LIMIT: usize = 16 << 20;

pub(crate) trait Transport: Send + Sync {
    /// How it travels, and the node as named in errors.
    fn describe(&self) -> (TransportKind, &str);

    fn kind(&self) -> TransportKind {
        self.describe().0
    }

    fn node_name(&self) -> &str {
        self.describe().1
    }

    /// A failure talking to this node.
    fn failure(&self, detail: String, source: Option<crate::error::BoxError>) -> Error {
        Error::transport(self.node_name(), self.kind(), detail, source)
    }

    /// Run `script` with `sh` as `user`, in the user's login environment.
    fn spawn<'a>(&'a self, launch: Launch<'a>) -> BoxFuture<'a, Result<RawProcess>>;

    /// Forget kept-open connections: the node's machine was stopped or restarted, so
    /// they lead nowhere and the next command connects afresh.
    fn reset(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// What to start: `script` as `user`, with stdin piped if asked (else it reads end of
/// file, or on a terminal nothing is typed), on a terminal if asked.
pub(crate) struct Launch<'a> {
    pub user: &'a str,
    pub script: String,
    pub stdin: bool,
    /// Checked ([`Tty::checked`]) by the caller.
    pub tty: Option<Tty>,
    /// The consumer reads the output at its own pace, or not at all (`popen`, a
    /// download): its output is flow-controlled, and a transport must keep that from
    /// stalling anything else (over SSH: a connection of its own). Otherwise the
    /// consumer promises to read both streams to the end at once, and no output waits.
    pub paced: bool,
}

impl<'a> Launch<'a> {
    /// A script with no input whose output is read at once.
    pub(crate) fn new(user: &'a str, script: String) -> Self {
        Self {
            user,
            script,
            stdin: false,
            tty: None,
            paced: false,
        }
    }
}

/// Collect everything a process wrote, failing on a non-zero exit.
pub(crate) async fn finish(
    transport: &(impl Transport + ?Sized),
    what: &str,
    mut p: RawProcess,
) -> Result<Vec<u8>> {
    let (stdout, stderr) = tokio::join!(drain(&mut p.stdout), drain(&mut p.stderr));
    let status = p.exit.await.unwrap_or_else(|_| Err(lost(transport)))?;
    if status != 0 {
        return Err(transport.failure(
            format!(
                "{what} failed (status {status}): {}",
                String::from_utf8_lossy(&stderr).trim()
            ),
            None,
        ));
    }
    Ok(stdout)
}

pub(crate) async fn drain(rx: &mut StreamRx) -> Vec<u8> {
    let mut all = Vec::new();
    while let Some(chunk) = rx.recv().await {
        all.extend_from_slice(&chunk);
    }
    all
}

pub(crate) fn lost(transport: &(impl Transport + ?Sized)) -> Error {
    transport.failure(
        "the connection ended before the command finished".into(),
        None,
    )
}

/// Reads a stream of output chunks as bytes.
#[derive(Debug)]
pub(crate) struct ChunkReader {
    rx: StreamRx,
    current: Bytes,
}

impl ChunkReader {
    pub(crate) fn new(rx: StreamRx) -> Self {
        Self {
            rx,
            current: Bytes::new(),
        }
    }

    /// Put bytes back in front (already read while looking for something).
    pub(crate) fn with_prefix(rx: StreamRx, prefix: Bytes) -> Self {
        Self {
            rx,
            current: prefix,
        }
    }
}

impl AsyncRead for ChunkReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        while self.current.is_empty() {
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(chunk)) => self.current = chunk,
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
        let n = self.current.len().min(buf.remaining());
        let chunk = self.current.split_to(n);
        buf.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn chunk_reader_reads_across_chunks() {
        let (tx, rx) = stream::bounded(4);
        tx.send(Bytes::from_static(b"ab")).await;
        tx.send(Bytes::from_static(b"cd")).await;
        drop(tx);
        let mut out = String::new();
        ChunkReader::with_prefix(rx, Bytes::from_static(b">"))
            .read_to_string(&mut out)
            .await
            .unwrap();
        assert_eq!(out, ">abcd");
    }
}
