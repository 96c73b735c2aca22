//! SIGINT and SIGTERM as values: a command that must clean up waits on them next to its
//! work, and exits with 128 + the signal's number.

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

    /// The signal number that came.
    pub async fn recv(&mut self) -> i32 {
        tokio::select! {
            _ = self.int.recv() => libc::SIGINT,
            _ = self.term.recv() => libc::SIGTERM,
        }
    }
}
