//! # dcos-e2e
//!
//! End-to-end test clusters for systems installed onto several machines, with DC/OS as
//! the reference case. A test asks for a [`Cluster`] of masters, agents and public
//! agents; gets Docker containers that behave like hosts (systemd, sshd, their own
//! address) or wraps existing SSH hosts; installs from a build artifact; waits for
//! health; runs commands and the integration tests; copies files; and tears everything
//! down, leaving nothing behind.
//!
//! The core is async (tokio). [`blocking`] is the same API for plain `#[test]`s.
//!
//! Layout: [`backend`](crate::Docker) makes or wraps machines (`Docker`,
//! `ExistingCluster`); [`Node`] runs commands over a transport (SSH or `docker exec`);
//! `install` implements the installer contract; [`Cluster`] holds the lifecycle.
#![warn(missing_docs)]

mod backend;
pub mod blocking;
mod cluster;
#[doc(hidden)]
pub mod docs;
mod error;
mod install;
mod node;

pub use backend::docker::admin::{
    ClusterSummary, DoctorCheck, clean, destroy_cluster, destroy_interrupted_cluster, doctor,
    list_clusters,
};
pub use backend::docker::image::{
    IMAGE_REPOSITORY, ImageOptions, default_image, host_debian_mirror,
};
pub use backend::docker::labels;
pub use backend::existing::Host;
pub use backend::{ClusterBackend, ClusterFile, Docker, ExistingCluster, Mount, Privileged};
pub use cluster::{Cluster, ClusterBuilder, KEEP_ENV, keep_requested};
pub use error::{Aftermath, BoxError, CommandFailed, Error, Result, chain};
pub use install::{InstallOptions, base_config, superuser_password_hash};
pub use node::{Command, Node, Output, OutputStream, Process, Role, TransportKind, quote};

/// Build the default node image if it is missing (needs root and `debootstrap`; about a
/// minute), and return its tag. Concurrent callers, in any process, build it once.
pub async fn ensure_node_image(options: &ImageOptions) -> Result<String> {
    let client = backend::docker::client::DockerClient::connect().await?;
    backend::docker::image::ensure_node_image(&client, options).await
}
