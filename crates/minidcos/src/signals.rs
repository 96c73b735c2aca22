//! SIGINT and SIGTERM as values: a command that must clean up waits on them next to its
//! work, and exits with 128 + the signal's number.

use std::future::Future;

use anyhow::{Result, anyhow};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGINT and SIGTERM, caught from the moment this is made.
pub struct Interrupt {
    int: Signal,
    term: Signal,
}

impl Interrupt {
    pub fn register() -> Result<Self> {
        let int =
            signal(SignalKind::interrupt()).map_err(|e| anyhow!("cannot catch SIGINT: {e}"))?;
        let term =
            signal(SignalKind::terminate()).map_err(|e| anyhow!("cannot catch SIGTERM: {e}"))?;
        Ok(Self { int, term })
    }

    /// The signal number that came. From then on the signals have their default
    /// effect again: a second Ctrl-C during the cleanup that follows ends the program
    /// at once (a watchdog or `minidcos docker clean` removes what is left).
    pub async fn recv(&mut self) -> i32 {
        let signal = tokio::select! {
            _ = self.int.recv() => libc::SIGINT,
            _ = self.term.recv() => libc::SIGTERM,
        };
        for s in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: restoring a signal's default disposition has no preconditions.
            unsafe { libc::signal(s, libc::SIG_DFL) };
        }
        signal
    }
}

/// Run `work` unless SIGINT or SIGTERM comes first; then `work` is dropped (what it was
/// doing stops) and the status is 128 + the signal's number.
pub async fn interruptible(work: impl Future<Output = Result<i32>>) -> Result<i32> {
    let mut interrupt = Interrupt::register()?;
    tokio::select! {
        done = work => done,
        // Said before `work` is dropped: select! drops it before a handler runs, and
        // stopping what it did on the nodes can take a moment.
        signal = async {
            let signal = interrupt.recv().await;
            eprintln!("interrupted");
            signal
        } => Ok(128 + signal),
    }
}
