//! A command running on a node ([`Node::popen`](crate::Node::popen)): its output as it comes, waiting,
//! killing, and forwarding its output to local streams.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

use super::command::{Command, Output};
use super::liveness::Liveness;
use super::transport::{ChunkReader, Launch, RawProcess, Transport, drain, lost};
use crate::error::{Error, Result};

const PID_MARK: &str = "dcos-e2e-pid:";

/// What is known of a process's end.
struct Exit {
    /// Until the status arrives or `wait` takes it.
    pending: Option<oneshot::Receiver<Result<i32>>>,
    /// Arrived before `wait` asked for it.
    arrived: Option<Result<i32>>,
    /// It ended with a status: its pid is free for another process to take.
    ended: bool,
    waited: bool,
}

impl Exit {
    /// Take the status if it has arrived, without waiting.
    fn check(&mut self) -> bool {
        if let Some(rx) = self.pending.as_mut()
            && let Ok(status) = rx.try_recv()
        {
            self.pending = None;
            self.ended = status.is_ok();
            self.arrived = Some(status);
        }
        self.ended
    }
}

/// Where a process runs: the node's transport, its cluster's liveness, and its name.
pub(crate) struct Place {
    pub transport: Arc<dyn Transport>,
    pub liveness: Arc<Liveness>,
    pub node: String,
}

/// Start `cmd` as `user` and return once its shell has reported its pid.
pub(crate) async fn start(place: Place, user: String, cmd: Command) -> Result<Process> {
    let script = cmd.script_for(&user)?;
    // The shell reports its pid first: it leads the process group that kill() stops
    // (sshd and docker exec both start it as a session leader).
    let wrapped = format!("echo {PID_MARK}$$ >&2; {script}");
    place.liveness.check()?;
    let transport = &*place.transport;
    // The caller reads the streams when it likes, or never.
    let launch = Launch {
        paced: true,
        ..Launch::new(&user, wrapped)
    };
    let mut raw = transport.spawn(launch).await?;
    // Startup files of the login shell may print to stderr before the mark: keep
    // those lines as the process's stderr.
    let mut seen = Vec::new();
    let mut scanned = 0;
    let pid = 'mark: loop {
        let Some(chunk) = raw.stderr.recv().await else {
            break None;
        };
        seen.extend_from_slice(&chunk);
        while let Some(len) = seen[scanned..].iter().position(|&b| b == b'\n') {
            let end = scanned + len;
            let pid = std::str::from_utf8(&seen[scanned..end])
                .ok()
                .and_then(|line| line.strip_prefix(PID_MARK))
                .and_then(|p| p.trim().parse::<u32>().ok());
            if pid.is_some() {
                seen.drain(scanned..=end);
                break 'mark pid;
            }
            scanned = end + 1;
        }
    };
    let Some(pid) = pid else {
        let status = raw.exit.await.unwrap_or_else(|_| Err(lost(transport)))?;
        let stderr = String::from_utf8_lossy(&seen);
        return Err(Error::transport(
            place.node.clone(),
            transport.kind().as_str(),
            format!(
                "the process did not start (status {status}): {}",
                stderr.trim()
            ),
            None,
        ));
    };
    let RawProcess {
        stdout,
        stderr,
        exit,
        ..
    } = raw;
    let command = cmd.shown_for(&user)?;
    Ok(Process {
        place,
        user,
        sudo: cmd.sudo,
        pid,
        command,
        stdout: Some(ChunkReader::new(stdout)),
        stderr: Some(ChunkReader::with_prefix(stderr, Bytes::from(seen))),
        exit: Mutex::new(Exit {
            pending: Some(exit),
            arrived: None,
            ended: false,
            waited: false,
        }),
    })
}

/// A command running on a node, started by [`Node::popen`](crate::Node::popen).
pub struct Process {
    place: Place,
    user: String,
    sudo: bool,
    pid: u32,
    command: String,
    stdout: Option<ChunkReader>,
    stderr: Option<ChunkReader>,
    exit: Mutex<Exit>,
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("node", &self.place.node)
            .field("pid", &self.pid)
            .field("command", &self.command)
            .finish()
    }
}

/// A stream of a process's output; read it as it arrives.
#[derive(Debug)]
pub struct OutputStream(ChunkReader);

impl AsyncRead for OutputStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl Process {
    /// The process id of the command's shell on the node.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Take the standard output stream (once). Output not taken is collected by `wait`.
    ///
    /// Output nobody reads is held up to 16 MiB per stream; past that the process is
    /// paused until it is read, as a pipe pauses its writer. Nothing else on the node
    /// waits for it.
    pub fn stdout(&mut self) -> Option<OutputStream> {
        self.stdout.take().map(OutputStream)
    }

    /// Take the standard error stream (once).
    pub fn stderr(&mut self) -> Option<OutputStream> {
        self.stderr.take().map(OutputStream)
    }

    /// Wait for the process to end. Returns its status and any output not taken.
    pub async fn wait(&mut self) -> Result<Output> {
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let out = async {
            if let Some(r) = self.stdout.as_mut() {
                let _ = r.read_to_end(&mut stdout).await;
            }
        };
        let err = async {
            if let Some(r) = self.stderr.as_mut() {
                let _ = r.read_to_end(&mut stderr).await;
            }
        };
        tokio::join!(out, err);
        self.stdout = None;
        self.stderr = None;
        let exit = self.exit.get_mut().unwrap_or_else(PoisonError::into_inner);
        if exit.waited {
            return Err(Error::invalid("process", self.pid, "already waited for"));
        }
        exit.waited = true;
        let status = match (exit.arrived.take(), exit.pending.take()) {
            (Some(status), _) => status,
            (None, Some(rx)) => rx
                .await
                .unwrap_or_else(|_| Err(lost(&*self.place.transport))),
            (None, None) => Err(lost(&*self.place.transport)),
        };
        let exit = self.exit.get_mut().unwrap_or_else(PoisonError::into_inner);
        exit.ended = status.is_ok();
        let status = status?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    /// Copy the output not yet taken to `stdout` and `stderr` as it comes, then wait
    /// for the exit status. When `stdout` stops taking output (a closed pipe, as with
    /// `| head`), the command is stopped, as ssh would stop it.
    pub async fn forward<O, E>(&mut self, mut stdout: O, mut stderr: E) -> Result<i32>
    where
        O: AsyncWrite + Unpin,
        E: AsyncWrite + Unpin,
    {
        let (out, err) = (self.stdout.take(), self.stderr.take());
        let this = &*self;
        let copy_out = async move {
            let Some(mut out) = out else { return };
            let copied = tokio::io::copy(&mut out, &mut stdout).await;
            if copied.is_err() || stdout.flush().await.is_err() {
                // Stop holding its stream, so its other ends finish, and stop it.
                drop(out);
                let _ = this.kill().await;
            }
        };
        let copy_err = async move {
            let Some(mut err) = err else { return };
            let _ = tokio::io::copy(&mut err, &mut stderr).await;
            let _ = stderr.flush().await;
        };
        tokio::join!(copy_out, copy_err);
        self.wait().await.map(|o| o.status)
    }

    /// Stop the process and everything it started (SIGKILL to its process group and
    /// descendants). Returns once the signal is sent; `wait` then returns.
    ///
    /// Once its exit status is known (`wait` returned it, or it has arrived), this does
    /// nothing: the pid may already be another process's. Background processes it left
    /// running are then not stopped.
    pub async fn kill(&self) -> Result<()> {
        if self
            .exit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .check()
        {
            return Ok(());
        }
        // Stop first so nothing new is forked while the tree is walked.
        let script = format!(
            "k() {{ kill -STOP \"$1\" 2>/dev/null; for c in $(ps -o pid= --ppid \"$1\" 2>/dev/null); do k \"$c\"; done; kill -KILL \"$1\" 2>/dev/null; }}; \
             k {pid}; kill -KILL -- -{pid} 2>/dev/null; true",
            pid = self.pid
        );
        let script = Command::shell(script)
            .sudo(self.sudo)
            .script_for(&self.user)?;
        self.place.liveness.check()?;
        let transport = &*self.place.transport;
        let mut p = transport
            .spawn(Launch::new(&self.user, script.clone()))
            .await?;
        let (stdout, stderr) = tokio::join!(drain(&mut p.stdout), drain(&mut p.stderr));
        let status = p.exit.await.unwrap_or_else(|_| Err(lost(transport)))?;
        Output {
            status,
            stdout,
            stderr,
        }
        .checked(&self.place.node, script)
        .map(drop)
    }
}
