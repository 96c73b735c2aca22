//! Waiting on library futures from Python: the future runs on the library's shared
//! runtime while the calling thread waits with the GIL released, waking every tick to
//! forward log records and to let Python run its signal handlers (Ctrl-C).

use std::future::Future;
use std::sync::mpsc;
use std::time::Duration;

use pyo3::prelude::*;

use crate::errors::HarnessError;

/// How often a waiting call looks at signals: Ctrl-C is raised within this time.
const TICK: Duration = Duration::from_millis(50);

/// What a pending signal (Ctrl-C) does to the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnSignal {
    /// Stop the work (drop its future) and raise at once.
    Abort,
    /// Let the work finish (cleanup that must not be cut short), then raise.
    Defer,
}

/// Run `future` to completion (or until a signal handler raises, per `on_signal`),
/// with the GIL released meanwhile.
pub(crate) fn wait<T, F>(py: Python<'_>, on_signal: OnSignal, future: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let (tx, mut rx) = mpsc::sync_channel(1);
    let task = dcos_e2e::blocking::runtime().spawn(async move {
        // The receiver is gone only when the caller stopped waiting.
        let _ = tx.send(future.await);
    });
    let mut deferred: Option<PyErr> = None;
    loop {
        // The receiver goes in and comes back: it may be used from one thread at a time.
        let (got, back) = py.detach(move || (rx.recv_timeout(TICK), rx));
        rx = back;
        crate::logs::flush(py);
        match got {
            Ok(value) => {
                return match deferred {
                    Some(signal) => Err(signal),
                    None => Ok(value),
                };
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(HarnessError::new_err(
                    "internal error: the library's task ended without a result (it panicked)",
                ));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Err(signal) = py.check_signals() {
            match on_signal {
                OnSignal::Abort => {
                    task.abort();
                    // Wait until the future is dropped: what it was doing has stopped
                    // (a value that was already on its way is dropped here too).
                    py.detach(move || drop(rx.recv()));
                    crate::logs::flush(py);
                    return Err(signal);
                }
                OnSignal::Defer => {
                    deferred.get_or_insert(signal);
                }
            }
        }
    }
}
