//! Building a [`Cluster`]: DC/OS E2E's 2017 API's parameters with their defaults, checked by the
//! backend before anything is made.

use std::path::PathBuf;

use super::Cluster;
use crate::backend::ClusterBackend;
use crate::error::{Aftermath, Error, Result};
use crate::params::{ClusterParams, ExtraConfig, Steps};
use crate::policy::keep_reason;

/// Builds a [`Cluster`]: set parameters, then [`create`](ClusterBuilder::create) (DC/OS E2E's 2017
/// path: provision and install from `build_artifact`) or
/// [`provision`](ClusterBuilder::provision) (nodes only; install later).
#[derive(Clone, Debug)]
pub struct ClusterBuilder {
    pub(crate) backend: ClusterBackend,
    pub(crate) params: ClusterParams,
}

impl ClusterBuilder {
    /// The installer to install from (a file run with bash; see the installer contract):
    /// a path, or an `http(s)://` or `file://` URL (downloaded once into a cache).
    pub fn build_artifact(mut self, path: impl Into<PathBuf>) -> Self {
        self.params.build_artifact = Some(path.into());
        self
    }

    /// The sha256 (hex) the build artifact's content must have: checked before it is run,
    /// for a URL (the download) or a path.
    pub fn artifact_sha256(mut self, hex: impl Into<String>) -> Self {
        self.params.artifact_sha256 = Some(hex.into());
        self
    }

    /// A YAML mapping merged over the base install config (its keys win).
    pub fn extra_config(mut self, config: ExtraConfig) -> Self {
        self.params.extra_config = Some(config);
        self
    }

    /// Number of masters (default 1).
    pub fn masters(mut self, n: usize) -> Self {
        self.params.masters = n;
        self
    }

    /// Number of private agents (default 1).
    pub fn agents(mut self, n: usize) -> Self {
        self.params.agents = n;
        self
    }

    /// Number of public agents (default 1).
    pub fn public_agents(mut self, n: usize) -> Self {
        self.params.public_agents = n;
        self
    }

    /// Stream node command output to the log while it runs (default false).
    pub fn log_output_live(mut self, live: bool) -> Self {
        self.params.log_output_live = live;
        self
    }

    /// Destroy when the scope ends by panic or the creation fails (default true).
    pub fn destroy_on_error(mut self, destroy: bool) -> Self {
        self.params.destroy_on_error = destroy;
        self
    }

    /// Destroy when the scope ends normally (default true).
    pub fn destroy_on_success(mut self, destroy: bool) -> Self {
        self.params.destroy_on_success = destroy;
        self
    }

    /// When the scope ends by error or panic (or creating fails at install), write a log
    /// bundle into `dir` first (see [`Cluster::export_logs`]). Docker clusters.
    pub fn logs_on_failure(mut self, dir: impl Into<PathBuf>) -> Self {
        self.params.logs_on_failure = Some(dir.into());
        self
    }

    /// Once the nodes are there (and, with [`create`](Self::create), installed), wait for
    /// DC/OS to be healthy (at most `timeout`), as part of creating: a cluster that does not become healthy is a
    /// failed creation (a log bundle with [`logs_on_failure`](Self::logs_on_failure),
    /// removed unless kept).
    pub fn wait_for_dcos(mut self, timeout: std::time::Duration) -> Self {
        self.params.wait_for_dcos = Some(timeout);
        self
    }

    /// Call `progress` as each step of creating starts (`installing DC/OS`, `waiting for
    /// DC/OS`); the steps are logged at info either way.
    pub fn progress(mut self, progress: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.params.progress = Some(Steps(std::sync::Arc::new(progress)));
        self
    }

    /// Copy a host file or directory into the installer's `genconf/` (the destination
    /// must lie under `/genconf`).
    pub fn file_to_copy_to_installer(
        mut self,
        source: impl Into<PathBuf>,
        destination: impl Into<PathBuf>,
    ) -> Self {
        self.params
            .files_to_copy_to_installer
            .push((source.into(), destination.into()));
        self
    }

    /// Create the cluster: provision nodes and, with a `build_artifact`, install DC/OS.
    /// The Docker backend requires a `build_artifact` here (use
    /// [`provision`](Self::provision) for nodes without DC/OS).
    pub async fn create(self) -> Result<Cluster> {
        self.build(true).await
    }

    /// Provision nodes without installing anything (Docker backend), or wrap an
    /// existing cluster. Install later with [`Cluster::install`].
    pub async fn provision(self) -> Result<Cluster> {
        self.build(false).await
    }

    async fn build(self, install: bool) -> Result<Cluster> {
        let ClusterBuilder {
            backend,
            mut params,
        } = self;
        backend.validate(&params, install)?;
        // An artifact by URL is fetched (and checked) before any node is made.
        if let Some(options) = params.install_options().filter(|_| install) {
            let fetched = crate::install::fetched(&options).await?;
            params.build_artifact = Some(fetched.build_artifact);
            params.artifact_sha256 = None;
        }
        let made = backend.provision(&params).await?;
        let cluster = Cluster::from_new(made, params);
        if let Err(e) = cluster.finish_create(install).await {
            let id = cluster.id().to_string();
            if let Some(dir) = &cluster.params.logs_on_failure {
                match cluster.export_logs(dir).await {
                    Ok(b) => {
                        tracing::warn!(cluster = %id, "creating failed: logs in {}", b.dir.display())
                    }
                    Err(l) => {
                        tracing::error!(cluster = %id, "writing the log bundle: {}", crate::error::chain(&l))
                    }
                }
            }
            let aftermath = if cluster.params.keep_on_error() {
                if let Err(kept) = cluster.keep_async().await {
                    tracing::error!("keeping {id}: {}", crate::error::chain(&kept));
                }
                Aftermath::Kept(keep_reason())
            } else {
                Aftermath::of_cleanup(cluster.destroy().await)
            };
            return Err(Error::create_failed(&id, aftermath, e));
        }
        Ok(cluster)
    }
}

impl Cluster {
    /// What creating does after the nodes are there: install from `build_artifact`
    /// (`create`, when given), then wait when asked.
    async fn finish_create(&self, install: bool) -> Result<()> {
        let steps = &self.params.progress;
        if install && let Some(options) = self.params.install_options() {
            Steps::tell(steps, "installing DC/OS");
            self.install(&options).await?;
        }
        if let Some(timeout) = self.params.wait_for_dcos {
            Steps::tell(steps, "waiting for DC/OS");
            self.wait_for_dcos(timeout).await?;
        }
        Ok(())
    }
}
