//! Whether the Docker daemon sees this machine's files: a daemon on another host (or in
//! another mount namespace) resolves bind-mount sources in its own filesystem, so the
//! workspace cannot be bound into nodes there and must be sent through the API instead.

use std::path::Path;

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};

use crate::backend::docker::daemon::client::{DockerClient, op};
use crate::backend::docker::labels;
use crate::error::Result;

/// True when the daemon sees `dir` (a fresh directory of ours, with a random name): a
/// container bound to it can be created there. Created, never started, then removed.
pub(crate) async fn daemon_sees(client: &DockerClient, image: &str, dir: &Path) -> Result<bool> {
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: Some(vec!["/bin/true".into()]),
        // Owner labels: `clean` removes a probe whose process died before removing it.
        labels: Some(labels::probe_labels()),
        network_disabled: Some(true),
        host_config: Some(HostConfig {
            // The API's bind mount (unlike `-v`) fails on a missing source instead of
            // making an empty directory there.
            mounts: Some(vec![Mount {
                typ: Some(MountType::BIND),
                source: Some(dir.to_string_lossy().into()),
                target: Some("/probe".into()),
                read_only: Some(true),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    match client.api.create_container(None, body).await {
        Ok(created) => {
            client.remove_container(&created.id).await?;
            Ok(true)
        }
        Err(e) if is_missing_source(&e.to_string()) => Ok(false),
        Err(e) => Err(op(
            "probing whether the Docker daemon sees this machine's files",
        )(e)),
    }
}

fn is_missing_source(message: &str) -> bool {
    message.contains("bind source path does not exist")
}

#[cfg(test)]
mod tests {
    use super::is_missing_source;

    #[test]
    fn only_a_missing_bind_source_means_another_filesystem() {
        assert!(is_missing_source(
            "Docker responded with status code 400: invalid mount config for type \"bind\": bind source path does not exist: /tmp/x"
        ));
        assert!(!is_missing_source(
            "Docker responded with status code 404: No such image: dcos-e2e/node:x"
        ));
    }
}
