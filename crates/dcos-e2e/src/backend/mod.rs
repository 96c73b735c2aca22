//! Backends make (or wrap) the machines of a cluster. The public side is two
//! configuration types, [`Docker`] and [`ExistingCluster`]; the running side is the small
//! [`RunningCluster`](running::RunningCluster) trait the [`Cluster`](crate::Cluster)
//! drives.

pub(crate) mod docker;
pub(crate) mod existing;
pub(crate) mod running;

use docker::config::Docker;
use existing::ExistingCluster;

use crate::error::{Error, Parameter, Result};
use crate::params::ClusterParams;
use running::NewCluster;

/// The backend a [`Cluster`](crate::Cluster) is created with.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ClusterBackend {
    /// Machine-like Docker containers made for the cluster.
    Docker(Docker),
    /// Hosts that already exist, reached over SSH.
    Existing(ExistingCluster),
}

impl From<Docker> for ClusterBackend {
    fn from(d: Docker) -> Self {
        ClusterBackend::Docker(d)
    }
}

impl From<ExistingCluster> for ClusterBackend {
    fn from(e: ExistingCluster) -> Self {
        ClusterBackend::Existing(e)
    }
}

impl ClusterBackend {
    /// The backend's checks of the parameters, before anything is made or contacted.
    /// `install`: the cluster is to be installed from `build_artifact` right away.
    pub(crate) fn validate(&self, params: &ClusterParams, install: bool) -> Result<()> {
        match self {
            ClusterBackend::Docker(_) => {
                if install && params.build_artifact.is_none() {
                    return Err(Error::invalid(
                        Parameter::BuildArtifact,
                        "(none)",
                        "the Docker backend installs DC/OS from a build artifact; give one, or call provision() for nodes only",
                    ));
                }
                if params.masters == 0 {
                    return Err(Error::invalid(
                        Parameter::Masters,
                        0,
                        "a cluster needs at least one master",
                    ));
                }
                if let Some(options) = params.install_options().filter(|_| install) {
                    options.validate()?;
                }
                Ok(())
            }
            ClusterBackend::Existing(existing) => existing.validate(params),
        }
    }

    /// Open an existing Docker cluster by id.
    pub(crate) async fn attach_docker(
        cluster_id: &str,
        transport: Option<crate::node::TransportKind>,
    ) -> Result<NewCluster> {
        docker::lifecycle::attach::attach(cluster_id, transport).await
    }

    /// Make (or wrap) the cluster's nodes.
    pub(crate) async fn provision(&self, params: &ClusterParams) -> Result<NewCluster> {
        match self {
            ClusterBackend::Docker(docker) => {
                docker::create::provision::provision(docker, params).await
            }
            ClusterBackend::Existing(existing) => existing.wrap(params),
        }
    }
}
