//! Images: whether one is there and its size, export and load (between daemons and
//! into nodes), import of a root filesystem, removal.

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};

use bollard::query_parameters::{CreateImageOptionsBuilder, ImportImageOptionsBuilder};

use super::{ApiResult, ByteStream, DaemonError, DockerClient, Fault, op};
use crate::error::Result;

impl DockerClient {
    /// Whether an image with this reference exists on the daemon.
    pub(crate) async fn image_exists(&self, reference: &str) -> Result<bool> {
        match self.image_size(reference).await {
            Ok(_) => Ok(true),
            Err(e) if e.fault() == Fault::NotFound => Ok(false),
            Err(e) => Err(op(format!("inspecting image {reference}"))(e)),
        }
    }

    /// The image's size in bytes.
    pub(crate) async fn image_size(&self, reference: &str) -> ApiResult<u64> {
        let info = self.api.inspect_image(reference).await?;
        Ok(u64::try_from(info.size.unwrap_or(0)).unwrap_or(0))
    }

    /// `docker save` of these images: one tar stream.
    pub(crate) fn export_images(&self, references: &[&str]) -> ByteStream {
        Box::pin(
            self.api
                .export_images(references)
                .map_err(DaemonError::from),
        )
    }

    /// `docker load` of a tar stream such as [`DockerClient::export_images`] gives; an
    /// error of that stream ends the load with it.
    pub(crate) async fn load_images(&self, archive: ByteStream) -> ApiResult<()> {
        let options = ImportImageOptionsBuilder::default().quiet(true).build();
        let mut loaded = self.api.import_image_stream(options, archive, None);
        while let Some(item) = loaded.next().await {
            let info = item?;
            if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                return Err(DaemonError::stream(detail));
            }
        }
        Ok(())
    }

    /// `docker import` of a root filesystem's tar stream as `repo:tag`, with Dockerfile
    /// `changes` (CMD, ENV, LABEL).
    pub(crate) async fn import_rootfs(
        &self,
        repo: &str,
        tag: &str,
        changes: Vec<String>,
        archive: impl Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    ) -> ApiResult<()> {
        let options = CreateImageOptionsBuilder::default()
            .from_src("-")
            .repo(repo)
            .tag(tag)
            .changes(changes)
            .build();
        let body = bollard::body_try_stream(archive);
        let mut stream = self.api.create_image(Some(options), Some(body), None);
        while let Some(item) = stream.next().await {
            item?;
        }
        Ok(())
    }

    pub(crate) async fn remove_image(&self, reference: &str) -> ApiResult<()> {
        self.api
            .remove_image(
                reference,
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await?;
        Ok(())
    }
}
