//! `dcos_e2e._core`: the Rust side of the `dcos_e2e` Python package.
//!
//! Thin by design: it converts values, maps library errors to the exceptions the
//! original Python API raised, runs library futures with the GIL released while
//! watching for Ctrl-C, and forwards the library's log events to Python `logging`.
//! The API itself (names, defaults, parameter checks) is the Python layer's; the work is
//! the library's.

mod cluster;
mod errors;
mod faults;
mod logs;
mod loopback;
mod node;
mod wait;

use pyo3::prelude::*;

/// The Rust side of `dcos_e2e`; use the `dcos_e2e.cluster`, `dcos_e2e.backends` and
/// `dcos_e2e.node` modules instead.
#[pymodule]
mod _core {
    use pyo3::prelude::*;

    #[pymodule_export]
    use crate::cluster::{
        ClusterHandle, attach_docker_cluster, base_config, create_docker_cluster, existing_cluster,
        keep_requested, test_environment,
    };
    #[pymodule_export]
    use crate::errors::{DCOSNotInstalledError, HarnessError};
    #[pymodule_export]
    use crate::faults::PartitionHandle;
    #[pymodule_export]
    use crate::logs::flush_logs;
    #[pymodule_export]
    use crate::loopback::{LoopbackHandle, create_loopback};
    #[pymodule_export]
    use crate::node::{NodeHandle, ProcessHandle, docker_node_at, standalone_node};

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        crate::logs::install();
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        Ok(())
    }
}
