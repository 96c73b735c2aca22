//! Library errors as the exceptions the original Python API raised: a command that
//! failed (or could not reach its node) and a failing installer are
//! `subprocess.CalledProcessError`; refused parameters `ValueError`; what a backend
//! cannot do `NotImplementedError`. The rest is `HarnessError`.

use dcos_e2e::Error;
use pyo3::exceptions::{
    PyNotImplementedError, PyOSError, PyRuntimeError, PyTimeoutError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

pyo3::create_exception!(
    dcos_e2e,
    HarnessError,
    PyRuntimeError,
    "The harness itself failed (Docker, SSH, the node image), rather than a command on a node."
);

pyo3::create_exception!(
    dcos_e2e,
    DCOSNotInstalledError,
    pyo3::exceptions::PyException,
    "DC/OS is not installed on the node: it has no build information (the final DC/OS E2E API's name)."
);

pyo3::import_exception!(subprocess, CalledProcessError);

/// The exit status `ssh` reports when it cannot reach a host: what the original's
/// commands failed with on an unreachable or removed node.
const UNREACHABLE: i32 = 255;

/// A library error as a Python exception. `command` is what the caller asked to run,
/// for errors about a command.
pub(crate) fn to_py(py: Python<'_>, err: Error, command: Option<&Bound<'_, PyAny>>) -> PyErr {
    let message = dcos_e2e::chain(&err);
    match err {
        Error::CreateFailed(failed) => {
            let inner = to_py(py, failed.cause, command);
            // Says what became of the cluster (removed or kept).
            add_note(py, &inner, &message);
            inner
        }
        Error::CommandFailed(f) => {
            let cmd = command_or(py, command, &f.command);
            called_process_error(py, f.status, cmd, &f.stdout, &f.stderr, &message)
        }
        Error::Install {
            command,
            status,
            output,
            ..
        } => {
            let cmd = pyo3::types::PyString::new(py, &command).into_any();
            called_process_error(py, status, cmd, output.as_bytes(), b"", &message)
        }
        // The node is gone or cannot be reached: the original's `ssh` exited 255.
        Error::Destroyed { .. }
        | Error::NodeDown { .. }
        | Error::Transport { .. }
        | Error::Unreachable { .. }
        | Error::NoAddress { .. }
        | Error::Timeout { .. }
            if command.is_some() =>
        {
            let cmd = command_or(py, command, "");
            called_process_error(py, UNREACHABLE, cmd, b"", message.as_bytes(), &message)
        }
        Error::Destroyed { .. } => {
            let cmd = command_or(py, command, "");
            called_process_error(py, UNREACHABLE, cmd, b"", message.as_bytes(), &message)
        }
        // The node that stopped an upgrade speaks for it; the note says which and after
        // which nodes.
        Error::UpgradeStopped { source, .. } => {
            let inner = to_py(py, *source, command);
            add_note(py, &inner, &message);
            inner
        }
        Error::NotInstalled { .. } => DCOSNotInstalledError::new_err(message),
        Error::Download { .. } | Error::ChecksumMismatch { .. } | Error::VersionsDiffer { .. } => {
            PyValueError::new_err(message)
        }
        // Several nodes' install failed: the first speaks for them (all are in the note).
        Error::Several { mut errors } if !errors.is_empty() => {
            let inner = to_py(py, errors.remove(0), command);
            add_note(py, &inner, &message);
            inner
        }
        Error::InvalidParameter { .. }
        | Error::ClusterIdTaken { .. }
        | Error::NoSuchCluster { .. }
        | Error::NoSuchNode { .. } => PyValueError::new_err(message),
        Error::NotSupported { .. } | Error::KernelModuleMissing { .. } => {
            PyNotImplementedError::new_err(message)
        }
        Error::WaitTimeout { .. } | Error::Timeout { .. } | Error::InstallTimeout { .. } => {
            PyTimeoutError::new_err(message)
        }
        Error::Io { source, .. } => match source.raw_os_error() {
            // (errno, text) makes Python pick the subclass: FileNotFoundError, ...
            Some(errno) => PyOSError::new_err((errno, message)),
            None => PyOSError::new_err(message),
        },
        _ => HarnessError::new_err(message),
    }
}

fn command_or<'py>(
    py: Python<'py>,
    command: Option<&Bound<'py, PyAny>>,
    fallback: &str,
) -> Bound<'py, PyAny> {
    match command {
        Some(c) => c.clone(),
        None => pyo3::types::PyString::new(py, fallback).into_any(),
    }
}

/// `subprocess.CalledProcessError(status, cmd, output=stdout, stderr=stderr)`, with the
/// library's one-line account as a note (shown in tracebacks on Python 3.11+).
fn called_process_error(
    py: Python<'_>,
    status: i32,
    cmd: Bound<'_, PyAny>,
    stdout: &[u8],
    stderr: &[u8],
    note: &str,
) -> PyErr {
    let made = py.get_type::<CalledProcessError>().call1((
        status,
        cmd,
        PyBytes::new(py, stdout),
        PyBytes::new(py, stderr),
    ));
    match made {
        Ok(value) => {
            let err = PyErr::from_value(value);
            add_note(py, &err, note);
            err
        }
        Err(e) => e,
    }
}

/// `BaseException.add_note` where Python has it (3.11+); nothing before.
fn add_note(py: Python<'_>, err: &PyErr, note: &str) {
    let value = err.value(py);
    if value.hasattr("add_note").unwrap_or(false) {
        let _ = value.call_method1("add_note", (note,));
    }
}
