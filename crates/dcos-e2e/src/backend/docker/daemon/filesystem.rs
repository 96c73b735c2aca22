//! Whether the Docker daemon sees this machine's files: a daemon on another host (or in
//! another mount namespace) resolves bind-mount sources in its own filesystem, so the
//! workspace cannot be bound into nodes there and must be sent through the API instead.

use std::path::Path;

use crate::backend::docker::daemon::client::{
    ContainerSpec, DockerClient, Fault, MountSpec, op, to_the_end,
};
use crate::backend::docker::labels;
use crate::error::Result;

/// True when the daemon sees `dir` (a fresh directory of ours, with a random name): a
/// container bound to it can be created there. Created, never started, then removed.
pub(crate) async fn daemon_sees(client: &DockerClient, image: &str, dir: &Path) -> Result<bool> {
    let spec = ContainerSpec {
        image: image.to_string(),
        cmd: vec!["/bin/true".into()],
        // Owner labels: `clean` removes a probe whose process died before removing it.
        labels: labels::probe_labels(),
        network_disabled: true,
        // The API's bind mount (unlike `-v`) fails on a missing source instead of
        // making an empty directory there.
        mounts: vec![MountSpec::Bind {
            source: dir.to_string_lossy().into(),
            target: "/probe".into(),
            read_only: true,
        }],
        ..Default::default()
    };
    let client = client.clone();
    to_the_end(async move {
        match client.create_container(&spec).await {
            Ok(created) => {
                client.remove_container(&created).await?;
                Ok(true)
            }
            Err(e) if e.fault() == Fault::BindSourceMissing => Ok(false),
            Err(e) => Err(op(
                "probing whether the Docker daemon sees this machine's files",
            )(e)),
        }
    })
    .await
}
