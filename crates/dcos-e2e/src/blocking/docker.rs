//! Blocking [`crate::docker`]: the Docker backend's functions for the host.

use std::path::Path;

use super::wait;
use crate::backend::docker::doctor::DoctorCheck;
use crate::backend::docker::image::ImageOptions;
use crate::backend::docker::lifecycle::list::ClusterSummary;
use crate::backend::docker::node::load::EngineStatus;
use crate::error::Result;

/// Blocking [`crate::docker::ensure_node_image`].
pub fn ensure_node_image(options: &ImageOptions) -> Result<String> {
    wait(
        "docker::ensure_node_image",
        crate::backend::docker::image::ensure_node_image(options),
    )
}

/// Blocking [`crate::docker::list_clusters`].
pub fn list_clusters() -> Result<Vec<ClusterSummary>> {
    wait(
        "docker::list_clusters",
        crate::backend::docker::lifecycle::list::list_clusters(),
    )
}

/// Blocking [`crate::docker::destroy_cluster`].
pub fn destroy_cluster(cluster_id: &str) -> Result<()> {
    wait(
        "docker::destroy_cluster",
        crate::backend::docker::lifecycle::list::destroy_cluster(cluster_id),
    )
}

/// Blocking [`crate::docker::clean`].
pub fn clean(all: bool) -> Result<Vec<String>> {
    wait(
        "docker::clean",
        crate::backend::docker::lifecycle::list::clean(all),
    )
}

/// Blocking [`crate::docker::doctor`].
pub fn doctor(workspace_dir: Option<&Path>) -> Result<Vec<DoctorCheck>> {
    wait("docker::doctor", async {
        Ok(crate::backend::docker::doctor::doctor(workspace_dir).await)
    })
}

/// Blocking [`crate::docker::engine_status`].
pub fn engine_status(node: &super::Node) -> Result<EngineStatus> {
    wait(
        "docker::engine_status",
        crate::backend::docker::node::load::engine_status(node.as_async()),
    )
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_blocking_call_inside_a_runtime_is_an_error() {
        let err = super::list_clusters().unwrap_err();
        assert!(
            matches!(
                err,
                crate::error::Error::InsideRuntime {
                    call: "docker::list_clusters"
                }
            ),
            "{err}"
        );
    }
}
