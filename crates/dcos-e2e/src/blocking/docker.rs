//! Blocking [`crate::docker`]: the Docker backend's functions for the host.

use std::path::Path;

use super::wait;
use crate::backend::docker::doctor::DoctorCheck;
use crate::backend::docker::image::ImageOptions;
use crate::backend::docker::list::ClusterSummary;
use crate::backend::docker::load::EngineStatus;
use crate::error::Result;

/// Blocking [`crate::docker::ensure_node_image`].
pub fn ensure_node_image(options: &ImageOptions) -> Result<String> {
    wait(crate::backend::docker::image::ensure_node_image(options))
}

/// Blocking [`crate::docker::list_clusters`].
pub fn list_clusters() -> Result<Vec<ClusterSummary>> {
    wait(crate::backend::docker::list::list_clusters())
}

/// Blocking [`crate::docker::destroy_cluster`].
pub fn destroy_cluster(cluster_id: &str) -> Result<()> {
    wait(crate::backend::docker::list::destroy_cluster(cluster_id))
}

/// Blocking [`crate::docker::clean`].
pub fn clean(all: bool) -> Result<Vec<String>> {
    wait(crate::backend::docker::list::clean(all))
}

/// Blocking [`crate::docker::doctor`].
pub fn doctor(workspace_dir: Option<&Path>) -> Vec<DoctorCheck> {
    wait(crate::backend::docker::doctor::doctor(workspace_dir))
}

/// Blocking [`crate::docker::engine_status`].
pub fn engine_status(node: &super::Node) -> Result<EngineStatus> {
    wait(crate::backend::docker::load::engine_status(node.as_async()))
}
