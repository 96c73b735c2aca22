//! The one place that talks to the Docker Engine API (bollard). Nothing outside
//! `backend::docker` sees bollard types; every call maps its failure to [`Error::Docker`]
//! naming the operation.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as ApiError;
use bollard::models::{ContainerSummary, EndpointSettings, Network, Volume};
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveContainerOptionsBuilder,
};

use crate::error::{Error, Result};

/// How long to wait for the daemon to answer the first call; an unreachable TCP daemon
/// must give an error, not a hang.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// This machine's daemon, where DOCKER_HOST does not say otherwise.
pub(crate) const LOCAL_HOST: &str = "unix:///var/run/docker.sock";
/// Per-request timeout. Long operations (image import, big uploads) stream and are not
/// bounded by it in practice; it guards against a daemon that stops answering.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// A connected Docker client. Cheap to clone; bound to the tokio runtime it is used on.
#[derive(Clone, Debug)]
pub(crate) struct DockerClient {
    pub(crate) api: Docker,
    host: String,
}

/// Map a bollard error to ours, naming the operation.
pub(crate) fn op(operation: impl Into<String>) -> impl FnOnce(ApiError) -> Error {
    let operation = operation.into();
    move |source| Error::Docker {
        operation,
        source: Box::new(source),
    }
}

/// True when the API said the object does not exist.
pub(crate) fn is_not_found(err: &ApiError) -> bool {
    matches!(
        err,
        ApiError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// Make a Docker call, again while its error says the object is busy for a moment
/// (one of `busy` in the message), for up to `patience`.
pub(crate) async fn while_busy<T, Fut>(
    busy: &[&str],
    patience: Duration,
    mut call: impl FnMut() -> Fut,
) -> std::result::Result<T, ApiError>
where
    Fut: std::future::Future<Output = std::result::Result<T, ApiError>>,
{
    let deadline = std::time::Instant::now() + patience;
    loop {
        match call().await {
            Err(e)
                if busy.iter().any(|b| e.to_string().contains(b))
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            done => return done,
        }
    }
}

/// A container's address: the first on its networks (a node has one network).
pub(crate) fn first_address(
    networks: Option<&HashMap<String, EndpointSettings>>,
) -> Option<std::net::IpAddr> {
    networks?.values().find_map(|e| {
        e.ip_address
            .as_deref()
            .filter(|ip| !ip.is_empty())
            .and_then(|ip| ip.parse().ok())
    })
}

/// Label filter for list calls: every `key=value` (or bare `key`) must match.
pub(crate) fn label_filter(labels: &[String]) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), labels.to_vec())])
}

impl DockerClient {
    /// Connect the way the `docker` CLI does (DOCKER_HOST, else the local socket) and
    /// agree on an API version with the daemon.
    pub(crate) async fn connect() -> Result<Self> {
        let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| LOCAL_HOST.into());
        Self::connect_to(host, REQUEST_TIMEOUT).await
    }

    /// Connect to the daemon at `host`, or where DOCKER_HOST says.
    pub(crate) async fn connect_at(host: Option<String>) -> Result<Self> {
        match host {
            Some(host) => Self::connect_to(host, REQUEST_TIMEOUT).await,
            None => Self::connect().await,
        }
    }

    /// Connect to the daemon at `host` (`unix://`, `tcp://`, `http://`, `ssh://`), with this
    /// per-request timeout (cleanup from `Drop` must not wait for a daemon that stopped
    /// answering as long as a big upload may take).
    pub(crate) async fn connect_to(host: String, request_timeout: Duration) -> Result<Self> {
        let unreachable =
            |source: Box<dyn std::error::Error + Send + Sync>| Error::DockerUnreachable {
                host: host.clone(),
                source,
            };
        let api = if host.starts_with("ssh://") {
            crate::backend::docker::daemon::ssh_host::connect(&host, request_timeout).await?
        } else {
            Docker::connect_with_host(&host)
                .map_err(|e| unreachable(Box::new(e)))?
                .with_timeout(request_timeout)
        };
        let api = match tokio::time::timeout(CONNECT_TIMEOUT, api.negotiate_version()).await {
            Ok(Ok(api)) => api,
            Ok(Err(e)) => return Err(unreachable(Box::new(e))),
            Err(_) => {
                return Err(unreachable(
                    format!("no answer within {CONNECT_TIMEOUT:?}").into(),
                ));
            }
        };
        Ok(Self { api, host })
    }

    /// The daemon address, for messages.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    pub(crate) async fn containers(&self, labels: &[String]) -> Result<Vec<ContainerSummary>> {
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&label_filter(labels))
            .build();
        self.api
            .list_containers(Some(options))
            .await
            .map_err(op("listing containers"))
    }

    pub(crate) async fn networks(&self, labels: &[String]) -> Result<Vec<Network>> {
        let options = ListNetworksOptionsBuilder::default()
            .filters(&label_filter(labels))
            .build();
        self.api
            .list_networks(Some(options))
            .await
            .map_err(op("listing networks"))
    }

    pub(crate) async fn volumes(&self, labels: &[String]) -> Result<Vec<Volume>> {
        let options = ListVolumesOptionsBuilder::default()
            .filters(&label_filter(labels))
            .build();
        let list = self
            .api
            .list_volumes(Some(options))
            .await
            .map_err(op("listing volumes"))?;
        Ok(list.volumes.unwrap_or_default())
    }

    /// Force-remove a container and its anonymous volumes; gone already is fine.
    pub(crate) async fn remove_container(&self, id: &str) -> Result<()> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.api.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            // Removal already under way (a concurrent destroy): it will finish.
            Err(ApiError::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(e) => Err(op(format!("removing container {id}"))(e)),
        }
    }

    /// Remove a network; gone already is fine. A container that someone else is still
    /// removing (our remove said "already in progress") keeps it busy for a moment. A
    /// swarm's overlay goes a moment after the manager accepted its removal: waited for.
    pub(crate) async fn remove_network(&self, id: &str) -> Result<()> {
        // A swarm's manager says "in use by task" a moment after another daemon's
        // containers on its overlay went.
        let busy = ["active endpoints", "in use by task"];
        let removed = while_busy(&busy, Duration::from_secs(15), || {
            self.api.remove_network(id)
        });
        match removed.await {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(op(format!("removing network {id}"))(e)),
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let inspected = self
                .api
                .inspect_network(id, None::<bollard::query_parameters::InspectNetworkOptions>)
                .await;
            match inspected {
                Err(e) if is_not_found(&e) => return Ok(()),
                _ if std::time::Instant::now() >= deadline => {
                    return Err(op(format!("removing network {id}"))(
                        ApiError::DockerStreamError {
                            error: "still there 15 s after its removal was accepted".into(),
                        },
                    ));
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    pub(crate) async fn remove_volume(&self, name: &str) -> Result<()> {
        match self
            .api
            .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(op(format!("removing volume {name}"))(e)),
        }
    }

    /// Whether an image with this reference exists locally.
    pub(crate) async fn image_exists(&self, reference: &str) -> Result<bool> {
        match self.api.inspect_image(reference).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(op(format!("inspecting image {reference}"))(e)),
        }
    }
}
