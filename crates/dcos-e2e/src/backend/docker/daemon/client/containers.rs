//! Containers: list, create, start, stop, pause, kill, inspect, remove, copy into,
//! attach, wait, logs.

use std::time::Duration;

use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, KillContainerOptionsBuilder,
    ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RestartContainerOptionsBuilder, StopContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::{
    ApiResult, Attached, ContainerDetails, ContainerEntry, ContainerSpec, DockerClient, Fault, op,
    output_stream, while_busy,
};
use crate::error::Result;

impl DockerClient {
    /// Every container (running or not) with all of `labels`.
    pub(crate) async fn containers(&self, labels: &[String]) -> Result<Vec<ContainerEntry>> {
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&super::label_filter(labels))
            .build();
        let list = self
            .api
            .list_containers(Some(options))
            .await
            .map_err(|e| op("listing containers")(e.into()))?;
        Ok(list.into_iter().map(ContainerEntry::from).collect())
    }

    /// Create a container (not started); returns its id.
    pub(crate) async fn create_container(&self, spec: &ContainerSpec) -> ApiResult<String> {
        let options = spec
            .name
            .as_deref()
            .map(|name| CreateContainerOptionsBuilder::default().name(name).build());
        let created = self.api.create_container(options, spec.body()).await?;
        Ok(created.id)
    }

    /// Start a created container. A create that lost its cluster id to ours may hold a
    /// network of the same name for a moment (Docker before API 1.44 allows that): the
    /// start is tried again while the daemon says so.
    pub(crate) async fn start_container(&self, id: &str) -> ApiResult<()> {
        while_busy(Duration::from_secs(10), || {
            self.api.start_container(id, None)
        })
        .await
    }

    pub(crate) async fn inspect_container(&self, id: &str) -> ApiResult<ContainerDetails> {
        Ok(self.api.inspect_container(id, None).await?.into())
    }

    /// What a container was created with (see [`ContainerSpec::from_inspect`]).
    pub(crate) async fn spec_of(&self, id: &str) -> ApiResult<super::ContainerSpec> {
        let info = self.api.inspect_container(id, None).await?;
        Ok(super::ContainerSpec::from_inspect(&info))
    }

    /// Force-remove a container and its anonymous volumes; gone already is fine, and so
    /// is a removal already under way (a concurrent destroy: it will finish).
    pub(crate) async fn remove_container(&self, id: &str) -> Result<()> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.api.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let e = super::DaemonError::from(e);
                match e.fault() {
                    Fault::NotFound | Fault::RemovalInProgress | Fault::Conflict => Ok(()),
                    _ => Err(op(format!("removing container {id}"))(e)),
                }
            }
        }
    }

    /// Unpack the tar archive `archive` at `/` in the container.
    pub(crate) async fn upload(&self, container: &str, archive: Vec<u8>) -> ApiResult<()> {
        let options = UploadToContainerOptionsBuilder::default().path("/").build();
        self.api
            .upload_to_container(container, Some(options), bollard::body_full(archive.into()))
            .await?;
        Ok(())
    }

    /// Attach to a created container's stdin and stdout (before it starts, so no output
    /// is missed).
    pub(crate) async fn attach(&self, id: &str) -> ApiResult<Attached> {
        let options = AttachContainerOptionsBuilder::default()
            .stdin(true)
            .stdout(true)
            .stream(true)
            .build();
        let attached = self.api.attach_container(id, Some(options)).await?;
        Ok(Attached {
            output: output_stream(attached.output),
            input: attached.input,
        })
    }

    /// Stop a container: its stop signal, then SIGKILL after `grace`.
    pub(crate) async fn stop_container(&self, id: &str, grace: Duration) -> ApiResult<()> {
        let t = i32::try_from(grace.as_secs()).unwrap_or(i32::MAX);
        let options = StopContainerOptionsBuilder::default().t(t).build();
        Ok(self.api.stop_container(id, Some(options)).await?)
    }

    /// Stop (as [`DockerClient::stop_container`]) and start a container.
    pub(crate) async fn restart_container(&self, id: &str, grace: Duration) -> ApiResult<()> {
        let t = i32::try_from(grace.as_secs()).unwrap_or(i32::MAX);
        let options = RestartContainerOptionsBuilder::default().t(t).build();
        Ok(self.api.restart_container(id, Some(options)).await?)
    }

    /// Freeze every process of a container (the cgroup freezer).
    pub(crate) async fn pause_container(&self, id: &str) -> ApiResult<()> {
        Ok(self.api.pause_container(id).await?)
    }

    pub(crate) async fn unpause_container(&self, id: &str) -> ApiResult<()> {
        Ok(self.api.unpause_container(id).await?)
    }

    /// Send `signal` (a name or number) to the container's first process.
    pub(crate) async fn kill_container(&self, id: &str, signal: &str) -> ApiResult<()> {
        let options = KillContainerOptionsBuilder::default()
            .signal(signal)
            .build();
        Ok(self.api.kill_container(id, Some(options)).await?)
    }

    /// Wait until the container stops (its exit status is not reported).
    pub(crate) async fn wait_container(&self, id: &str) {
        let _ = self.api.wait_container(id, None).next().await;
    }

    /// Everything the container wrote, stdout and stderr interleaved.
    pub(crate) async fn logs(&self, id: &str) -> ApiResult<String> {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .build();
        let mut logs = self.api.logs(id, Some(options));
        let mut text = String::new();
        while let Some(item) = logs.next().await {
            text.push_str(&item?.to_string());
        }
        Ok(text)
    }
}
