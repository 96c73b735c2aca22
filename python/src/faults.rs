//! Faults for Python: network cuts held until healed, and slow links' parameters.

use std::time::Duration;

use dcos_e2e::{Link, Partition};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::to_py;
use crate::wait::{OnSignal, wait};

/// A network cut between groups of nodes, until healed.
#[pyclass(module = "dcos_e2e._core", frozen)]
#[derive(Debug)]
pub struct PartitionHandle {
    partition: Partition,
}

impl PartitionHandle {
    pub(crate) fn new(partition: Partition) -> Self {
        Self { partition }
    }
}

#[pymethods]
impl PartitionHandle {
    /// The name its rules carry on the nodes.
    #[getter]
    fn name(&self) -> &str {
        self.partition.name()
    }

    /// Remove this cut's rules (only these); healing twice is healing once. Ctrl-C
    /// does not cut it short.
    fn heal(&self, py: Python<'_>) -> PyResult<()> {
        let partition = self.partition.clone();
        wait(py, OnSignal::Defer, async move { partition.heal().await })?
            .map_err(|e| to_py(py, e, None))
    }
}

fn duration(name: &str, seconds: Option<f64>) -> PyResult<Option<Duration>> {
    seconds
        .map(|s| {
            Duration::try_from_secs_f64(s).map_err(|_| {
                PyValueError::new_err(format!("{name} must be seconds, 0 or more, got {s}"))
            })
        })
        .transpose()
}

/// A slow link from Python's keywords: rate in bits per second, delay and jitter in
/// seconds, loss in percent.
pub(crate) fn link(
    rate: Option<u64>,
    delay: Option<f64>,
    jitter: Option<f64>,
    loss: Option<f64>,
) -> PyResult<Link> {
    let mut link = Link::new();
    if let Some(r) = rate {
        link = link.rate(r);
    }
    if let Some(d) = duration("delay", delay)? {
        link = link.delay(d);
    }
    if let Some(j) = duration("jitter", jitter)? {
        link = link.jitter(j);
    }
    if let Some(l) = loss {
        link = link.loss(l);
    }
    Ok(link)
}
