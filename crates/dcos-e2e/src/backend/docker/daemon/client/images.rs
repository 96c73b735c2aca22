//! Images: whether one is there and its size, export and load (between daemons and
//! into nodes), import of a root filesystem, removal.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

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
    /// error of that stream ends the load with it. Bounded by its progress, not by the
    /// request timeout (see [`Paced`]).
    pub(crate) async fn load_images(&self, archive: ByteStream) -> ApiResult<()> {
        let options = ImportImageOptionsBuilder::default().quiet(true).build();
        let (archive, pace) = Paced::watch(archive);
        let api = self.api.clone().with_timeout(UPLOAD_TIMEOUT);
        pace.bound(async move {
            let mut loaded = api.import_image_stream(options, archive, None);
            while let Some(item) = loaded.next().await {
                let info = item?;
                if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                    return Err(DaemonError::stream(detail));
                }
            }
            Ok(())
        })
        .await
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
        let (archive, pace) = Paced::watch(archive);
        let body = bollard::body_try_stream(archive);
        let api = self.api.clone().with_timeout(UPLOAD_TIMEOUT);
        pace.bound(async move {
            let mut stream = api.create_image(Some(options), Some(body), None);
            while let Some(item) = stream.next().await {
                item?;
            }
            Ok(())
        })
        .await
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

/// The request timeout of an upload, which only guards against a bug: its real bounds
/// are [`Paced`]'s.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long an upload may go without the daemon taking a byte of it.
const UPLOAD_STALL: Duration = Duration::from_secs(120);
/// How long the daemon may take, after the last byte, to finish (unpacking layers).
const AFTER_UPLOAD: Duration = super::REQUEST_TIMEOUT;

/// An upload's body, boxed.
type Chunks<E> = std::pin::Pin<Box<dyn Stream<Item = std::result::Result<Bytes, E>> + Send>>;

/// An upload's progress: a big image over a slow link may take longer than any fixed
/// timeout, so it is bounded by the daemon taking its bytes, then by its answer.
struct Paced {
    /// Bytes taken so far, and whether the stream has ended.
    sent: Arc<AtomicU64>,
    ended: Arc<AtomicBool>,
}

impl Paced {
    /// `archive`, counted as the daemon takes it.
    fn watch<E: Send + 'static>(
        archive: impl Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
    ) -> (Chunks<E>, Self) {
        let (sent, ended) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (counter, done) = (sent.clone(), ended.clone());
        let counted = archive
            .inspect_ok(move |chunk| {
                counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            })
            .chain(futures_util::stream::poll_fn(move |_| {
                done.store(true, Ordering::Relaxed);
                std::task::Poll::Ready(None)
            }));
        (Box::pin(counted), Self { sent, ended })
    }

    /// `upload`, or an error once it stalls or its answer is late.
    async fn bound<T>(self, upload: impl Future<Output = ApiResult<T>>) -> ApiResult<T> {
        let watch = async {
            let mut last = (0, tokio::time::Instant::now());
            let mut since_end = None;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let now = tokio::time::Instant::now();
                if self.ended.load(Ordering::Relaxed) {
                    let end = *since_end.get_or_insert(now);
                    if now - end > AFTER_UPLOAD {
                        return format!("no answer within {AFTER_UPLOAD:?} after the upload");
                    }
                    continue;
                }
                let sent = self.sent.load(Ordering::Relaxed);
                if sent != last.0 {
                    last = (sent, now);
                } else if now - last.1 > UPLOAD_STALL {
                    return format!(
                        "the daemon took no byte for {UPLOAD_STALL:?} (after {sent} bytes)"
                    );
                }
            }
        };
        tokio::select! {
            done = upload => done,
            why = watch => Err(DaemonError::stream(why)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_upload_the_daemon_stops_taking_is_cut_and_a_slow_one_is_not() {
        let chunk = || Ok::<_, std::io::Error>(Bytes::from_static(b"layer"));
        // Taken once, then never again.
        let (archive, pace) = Paced::watch(
            futures_util::stream::iter([chunk()]).chain(futures_util::stream::pending()),
        );
        let stalled = pace
            .bound(async move {
                let mut archive = archive;
                archive.next().await;
                std::future::pending::<ApiResult<()>>().await
            })
            .await
            .unwrap_err();
        assert!(stalled.to_string().contains("took no byte"), "{stalled}");
        // A chunk a minute for twenty minutes: longer than the request timeout, moving.
        let slow = futures_util::stream::iter(0..20).then(move |_| async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
            chunk()
        });
        let (archive, pace) = Paced::watch(slow);
        let taken = pace.bound(async move { Ok(archive.count().await) }).await;
        assert_eq!(taken.unwrap(), 20);
    }
}
