//! Loop device sidecars for Python (`dcos_e2e.docker_utils.DockerLoopbackVolume`).

use std::collections::HashMap;
use std::sync::Mutex;

use dcos_e2e::docker::LoopbackVolume;
use pyo3::prelude::*;

use crate::errors::to_py;
use crate::wait::{OnSignal, wait};

/// A loop device held by its sidecar container until `destroy`.
#[pyclass(module = "dcos_e2e._core", frozen)]
#[derive(Debug)]
pub struct LoopbackHandle {
    path: String,
    container: String,
    volume: Mutex<Option<LoopbackVolume>>,
}

#[pymethods]
impl LoopbackHandle {
    /// The device, such as `/dev/loop3`.
    #[getter]
    fn path(&self) -> &str {
        &self.path
    }

    /// The sidecar container's id.
    #[getter]
    fn container(&self) -> &str {
        &self.container
    }

    /// Detach the device and remove the sidecar; a second call does nothing. Ctrl-C
    /// does not cut it short.
    fn destroy(&self, py: Python<'_>) -> PyResult<()> {
        let taken = self.volume.lock().ok().and_then(|mut v| v.take());
        let Some(volume) = taken else {
            return Ok(());
        };
        wait(py, OnSignal::Defer, volume.destroy())?.map_err(|e| to_py(py, e, None))
    }
}

/// Make a loop device of `size_mib` MiB in a sidecar labelled with `labels` too.
#[pyfunction]
pub(crate) fn create_loopback(
    py: Python<'_>,
    size_mib: u64,
    labels: HashMap<String, String>,
) -> PyResult<LoopbackHandle> {
    let volume = wait(
        py,
        OnSignal::Abort,
        LoopbackVolume::create(size_mib, labels),
    )?
    .map_err(|e| to_py(py, e, None))?;
    Ok(LoopbackHandle {
        path: volume.path().to_string(),
        container: volume.container().to_string(),
        volume: Mutex::new(Some(volume)),
    })
}
