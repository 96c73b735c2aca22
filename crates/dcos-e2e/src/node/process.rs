//! A command running on a node ([`Node::popen`](crate::Node::popen)): its output as it
//! comes, its input, its terminal, waiting, killing, and forwarding its output to local
//! streams.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

use super::command::{Command, Output, check_size};
use super::liveness::Liveness;
use super::transport::{ChunkReader, Launch, RawProcess, Terminal, Transport, drain, lost};
use crate::error::{Error, Parameter, Result};

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
    let tty = cmd.checked_tty()?.cloned();
    // The shell reports its pid first: it leads the process group that kill() stops
    // (sshd and docker exec both start it as a session leader).
    let wrapped = format!("echo {PID_MARK}$$ >&2; {script}");
    place.liveness.check()?;
    let transport = &*place.transport;
    let on_tty = tty.is_some();
    // The caller reads the streams when it likes, or never.
    let launch = Launch {
        paced: true,
        stdin: cmd.stdin,
        tty,
        ..Launch::new(&user, wrapped)
    };
    let mut raw = transport.spawn(launch).await?;
    // Startup files of the login shell may print to stderr before the mark: keep
    // those lines as the process's stderr. On a terminal everything, the mark too,
    // arrives as one stream, on stdout.
    let marked = if on_tty {
        &mut raw.stdout
    } else {
        &mut raw.stderr
    };
    let mut seen = Vec::new();
    let mut scanned = 0;
    let pid = 'mark: loop {
        let Some(chunk) = marked.recv().await else {
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
            transport.kind(),
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
        stdin,
        terminal,
        exit,
    } = raw;
    let command = cmd.shown_for(&user)?;
    let seen = Bytes::from(seen);
    let (stdout, stderr) = if on_tty {
        (ChunkReader::with_prefix(stdout, seen), None)
    } else {
        (
            ChunkReader::new(stdout),
            Some(ChunkReader::with_prefix(stderr, seen)),
        )
    };
    Ok(Process {
        place,
        user,
        sudo: cmd.sudo,
        pid,
        command,
        stdout: Some(stdout),
        stderr,
        stdin: stdin.map(|inner| ProcessStdin {
            inner: Mutex::new(Some(inner)),
            on_tty,
            runtime: tokio::runtime::Handle::current(),
        }),
        terminal,
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
    stdin: Option<ProcessStdin>,
    terminal: Option<Box<dyn Terminal>>,
    exit: Mutex<Exit>,
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("node", &self.place.node)
            .field("pid", &self.pid)
            .field("command", &self.command)
            .field("tty", &self.terminal.is_some())
            .finish()
    }
}

/// The standard input of a process started with [`Command::stdin`]: what is written is
/// what the command reads (on a terminal: what is typed on it). Shutting it down
/// (`AsyncWriteExt::shutdown`) or dropping it closes it: the command reads end of file.
/// A terminal has no end of file, so on one closing sends nothing: write `\x04`
/// (Ctrl-D) for a shell or `cat` to see the end of its input.
pub struct ProcessStdin {
    /// None once shut down. Only ever used through `&mut self` (`get_mut`, no locking):
    /// the mutex makes it `Sync`, as a `Process` holding it must be.
    inner: Mutex<Option<Pin<Box<dyn AsyncWrite + Send>>>>,
    on_tty: bool,
    /// Where a drop finishes the close (it is async).
    runtime: tokio::runtime::Handle,
}

impl fmt::Debug for ProcessStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessStdin")
            .field("tty", &self.on_tty)
            .finish_non_exhaustive()
    }
}

impl ProcessStdin {
    fn writer(&mut self) -> &mut Option<Pin<Box<dyn AsyncWrite + Send>>> {
        self.inner.get_mut().unwrap_or_else(PoisonError::into_inner)
    }
}

fn closed() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the input was closed")
}

impl AsyncWrite for ProcessStdin {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if buf.is_empty() {
            // The SSH writer refuses empty writes; for a caller, one is a no-op.
            return Poll::Ready(Ok(0));
        }
        match self.writer() {
            Some(w) => w.as_mut().poll_write(cx, buf),
            None => Poll::Ready(Err(closed())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.writer() {
            Some(w) => w.as_mut().poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.on_tty {
            // Over docker exec, closing a terminal's input also detaches its output.
            *self.writer() = None;
            return Poll::Ready(Ok(()));
        }
        let Some(w) = self.writer() else {
            return Poll::Ready(Ok(()));
        };
        let done = std::task::ready!(w.as_mut().poll_shutdown(cx));
        *self.writer() = None;
        Poll::Ready(done)
    }
}

impl Drop for ProcessStdin {
    fn drop(&mut self) {
        if let Some(mut w) = self.writer().take()
            && !self.on_tty
        {
            self.runtime.spawn(async move {
                let _ = w.shutdown().await;
            });
        }
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

    /// Take the standard error stream (once). A process on a terminal has none: all
    /// its output is on [`Process::stdout`].
    pub fn stderr(&mut self) -> Option<OutputStream> {
        self.stderr.take().map(OutputStream)
    }

    /// Take the standard input (once), for a command started with
    /// [`Command::stdin`]; otherwise `None`.
    pub fn stdin(&mut self) -> Option<ProcessStdin> {
        self.stdin.take()
    }

    /// Whether the process runs on a terminal ([`Command::tty`]).
    pub fn has_tty(&self) -> bool {
        self.terminal.is_some()
    }

    /// Resize its terminal to `cols` columns and `rows` rows; the programs on it get
    /// SIGWINCH. Once its exit status is known this does nothing.
    pub async fn resize(&self, cols: u16, rows: u16) -> Result<()> {
        let Some(terminal) = &self.terminal else {
            return Err(Error::invalid(
                Parameter::Tty,
                &self.command,
                "the process has no terminal (start it with Command::tty)",
            ));
        };
        check_size(cols, rows)?;
        if self
            .exit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .check()
        {
            return Ok(());
        }
        self.place.liveness.check()?;
        terminal.resize(cols, rows).await
    }

    /// Wait for the process to end. Returns its status and any output not taken. Its
    /// standard input, if not taken, is closed first (as `std::process::Child::wait`
    /// does), so a command reading it does not wait for input that cannot come.
    pub async fn wait(&mut self) -> Result<Output> {
        drop(self.stdin.take());
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
            return Err(Error::invalid(
                Parameter::Process,
                self.pid,
                "already waited for",
            ));
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
