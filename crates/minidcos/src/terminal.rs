//! `run` on a terminal: the node command gets a pseudo-terminal of the local one's size
//! and type, the local terminal goes into raw mode so every key (Ctrl-C, Ctrl-D, Ctrl-Z,
//! arrows) reaches the node as typed, window size changes (SIGWINCH) follow, and the
//! node's exit status is ours. The terminal is restored however the session ends: by
//! the command's end, an error, a signal (SIGINT, SIGTERM, SIGHUP from outside: the node
//! command is stopped), or a panic (a hook). Only SIGKILL leaves it raw (`reset` fixes
//! that).
//!
//! Raw mode and the window size are libc's termios calls on standard input: three calls
//! and one ioctl, on the very descriptor the keys are read from, with the saved state in
//! our hands for the panic hook. Keys are read from a descriptor of our own on the same
//! terminal (reopened through `/proc/self/fd/0`), non-blocking in the runtime: setting
//! `O_NONBLOCK` on standard input itself would change it for the shell that shares it,
//! and a blocking read on a thread would hold the runtime's shutdown until a key came.

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::{Mutex, Once, PoisonError};

use anyhow::{Context, Result};
use dcos_e2e::{Command, Node, Process, Tty};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::errors::failure;

/// What a terminal reports when it does not know its size (a serial line, some CI
/// runners): the classic size.
const FALLBACK_SIZE: (u16, u16) = (80, 24);

/// Whether `run` gives the command a terminal: `--no-tty` never, `--tty` always (and
/// standard input must be one: the keys come from there), otherwise when both standard
/// input and output are terminals, so pipes and files keep today's separate streams.
pub fn wanted(tty: bool, no_tty: bool) -> Result<bool> {
    if no_tty {
        return Ok(false);
    }
    let stdin = std::io::stdin().is_terminal();
    if tty && !stdin {
        return Err(failure(
            "--tty needs a terminal on standard input",
            "leave --tty out (or give --no-tty) when input comes from a pipe or a file",
        ));
    }
    Ok(tty || (stdin && std::io::stdout().is_terminal()))
}

/// How a session ended.
pub enum Ended {
    /// The command's exit status.
    Exited(i32),
    /// Interrupted by this signal; the command was stopped.
    Signalled(i32),
}

/// Run `cmd` on `node` on a pseudo-terminal joined to ours.
pub async fn session(node: &Node, cmd: Command) -> Result<Ended> {
    let mut signals = Signals::register()?;
    let (cols, rows) = local_size();
    let cmd = cmd.tty(Tty::new(cols, rows).term(local_term())).stdin(true);
    // Still cooked while connecting, so Ctrl-C is a signal and stops a slow connect.
    let mut process = tokio::select! {
        p = node.popen(cmd) => p?,
        signal = signals.stop() => return Ok(Ended::Signalled(signal)),
    };
    let local = Keys::open()
        .context("cannot read the terminal")
        .and_then(|keys| Ok((keys, RawMode::enter()?)));
    let (keys, raw) = match local {
        Ok(local) => local,
        Err(e) => {
            let _ = process.kill().await;
            return Err(e);
        }
    };
    let ended = joined(&mut process, keys, &mut signals).await;
    drop(raw);
    match ended {
        Some(signal) => {
            let _ = process.kill().await;
            Ok(Ended::Signalled(signal))
        }
        None => Ok(Ended::Exited(process.wait().await?.status)),
    }
}

/// Pass keys to the node and its output to ours, and size changes, until its output
/// ends (`None`) or a signal comes (its number).
async fn joined(process: &mut Process, keys: Keys, signals: &mut Signals) -> Option<i32> {
    let output = process.stdout();
    let input = process.stdin();
    let process = &*process;
    let screen = async {
        let Some(mut output) = output else { return };
        let mut stdout = tokio::io::stdout();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match output.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let shown = async {
                stdout.write_all(&buf[..n]).await?;
                stdout.flush().await
            };
            if shown.await.is_err() {
                // Nothing shows its output any more: stop it, as `forward` does.
                let _ = process.kill().await;
                return;
            }
        }
    };
    let typing = async {
        if let Some(mut input) = input {
            let mut buf = [0u8; 4096];
            // End of file or an error: the terminal hung up (SIGHUP follows).
            while let Ok(n @ 1..) = keys.read(&mut buf).await {
                if input.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
        std::future::pending::<()>().await
    };
    let Signals {
        winch,
        int,
        term,
        hup,
    } = signals;
    let resizing = async {
        while winch.recv().await.is_some() {
            let (cols, rows) = local_size();
            if let Err(e) = process.resize(cols, rows).await {
                tracing::debug!("cannot resize the terminal: {e}");
            }
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        () = screen => None,
        () = typing => None,
        () = resizing => None,
        signal = stop_signal(int, term, hup) => Some(signal),
    }
}

/// The signals a session answers: window changes, and those that stop it.
struct Signals {
    winch: Signal,
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl Signals {
    fn register() -> Result<Self> {
        let catch = |kind: SignalKind, name: &str| {
            signal(kind).with_context(|| format!("cannot catch {name}"))
        };
        Ok(Self {
            winch: catch(SignalKind::window_change(), "SIGWINCH")?,
            int: catch(SignalKind::interrupt(), "SIGINT")?,
            term: catch(SignalKind::terminate(), "SIGTERM")?,
            hup: catch(SignalKind::hangup(), "SIGHUP")?,
        })
    }

    async fn stop(&mut self) -> i32 {
        stop_signal(&mut self.int, &mut self.term, &mut self.hup).await
    }
}

/// The first of SIGINT, SIGTERM, SIGHUP. From then on they have their default effect
/// again: a second one ends the program at once (the terminal is restored by then).
async fn stop_signal(int: &mut Signal, term: &mut Signal, hup: &mut Signal) -> i32 {
    let signal = tokio::select! {
        _ = int.recv() => libc::SIGINT,
        _ = term.recv() => libc::SIGTERM,
        _ = hup.recv() => libc::SIGHUP,
    };
    restore_terminal();
    for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: restoring a signal's default disposition has no preconditions.
        unsafe { libc::signal(s, libc::SIG_DFL) };
    }
    signal
}

/// The local terminal's size as (columns, rows): standard input's, else standard
/// output's, else [`FALLBACK_SIZE`].
fn local_size() -> (u16, u16) {
    for fd in [libc::STDIN_FILENO, libc::STDOUT_FILENO] {
        // SAFETY: an all-zero winsize is valid; TIOCGWINSZ fills it in or fails.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: `size` is a valid, writable winsize for this ioctl.
        let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) };
        if rc == 0 && size.ws_col > 0 && size.ws_row > 0 {
            return (size.ws_col, size.ws_row);
        }
    }
    FALLBACK_SIZE
}

/// `$TERM`, when it is a name a node can be given; else `xterm`.
fn local_term() -> String {
    std::env::var("TERM")
        .ok()
        .filter(|t| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.+_".contains(c))
        })
        .unwrap_or_else(|| "xterm".into())
}

/// The terminal settings before raw mode, while raw mode is on.
static SAVED: Mutex<Option<libc::termios>> = Mutex::new(None);

/// Put the saved settings back (once; later calls do nothing). Safe from the panic hook
/// and after a hangup (then it fails quietly: there is no terminal left).
fn restore_terminal() {
    let saved = SAVED.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(saved) = saved {
        // SAFETY: `saved` is a termios tcgetattr filled in for this descriptor.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSADRAIN, &saved) };
    }
}

/// Raw mode on standard input while this lives.
struct RawMode(());

impl RawMode {
    fn enter() -> Result<Self> {
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                // Restored first, so the panic message reads as usual.
                restore_terminal();
                previous(info);
            }));
        });
        // SAFETY: an all-zero termios is valid storage; tcgetattr fills it in or fails.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: `saved` is a valid, writable termios.
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut saved) } != 0 {
            return Err(std::io::Error::last_os_error())
                .context("cannot read the terminal's settings");
        }
        let mut raw = saved;
        // SAFETY: `raw` is a valid termios.
        unsafe { libc::cfmakeraw(&mut raw) };
        *SAVED.lock().unwrap_or_else(PoisonError::into_inner) = Some(saved);
        // SAFETY: `raw` is a valid termios derived from this descriptor's.
        if unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSADRAIN, &raw) } != 0 {
            let e = std::io::Error::last_os_error();
            restore_terminal();
            return Err(e).context("cannot put the terminal in raw mode");
        }
        Ok(RawMode(()))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Keys as they are typed: a non-blocking descriptor of our own on the terminal.
struct Keys(AsyncFd<File>);

impl Keys {
    fn open() -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open("/proc/self/fd/0")?;
        // SAFETY: the File owns its descriptor and keeps it open, unchanged, for as long
        // as the AsyncFd that owns the File.
        let fd = unsafe { AsyncFd::register_with_interest(file, Interest::READABLE) }?;
        Ok(Keys(fd))
    }

    async fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let mut ready = self.0.readable().await?;
            if let Ok(read) = ready.try_io(|fd| fd.get_ref().read(buf)) {
                return read;
            }
        }
    }
}
