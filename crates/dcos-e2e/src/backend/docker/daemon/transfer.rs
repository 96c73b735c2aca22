//! An image into a daemon on another host that lacks it, without a registry: this
//! machine's daemon saves it and the other loads it, one stream between them (the
//! `docker save | docker -H … load` of the by-hand way, with nothing on disk).

use crate::backend::docker::daemon::client::{DockerClient, LOCAL_HOST, REQUEST_TIMEOUT, op};
use crate::error::Result;

/// Send `image` from this machine's daemon to `to`, when `to` is another daemon and
/// this machine's has it. False when there is nothing to send it from.
pub(crate) async fn from_local(to: &DockerClient, image: &str) -> Result<bool> {
    if to.host() == LOCAL_HOST {
        return Ok(false);
    }
    // No daemon here, or one without the image: the caller builds it or says it is missing.
    let Ok(local) = DockerClient::connect_to(LOCAL_HOST.into(), REQUEST_TIMEOUT).await else {
        return Ok(false);
    };
    if !local.image_exists(image).await? {
        return Ok(false);
    }
    send(&local, to, image).await?;
    Ok(true)
}

/// `image`, which `from` has, onto `to` too: from this machine's daemon if it has it,
/// else from `from`.
pub(crate) async fn ensure_copy(from: &DockerClient, to: &DockerClient, image: &str) -> Result<()> {
    if to.image_exists(image).await? || from_local(to, image).await? {
        return Ok(());
    }
    send(from, to, image).await
}

async fn send(from: &DockerClient, to: &DockerClient, image: &str) -> Result<()> {
    tracing::info!(target: "dcos_e2e::image", "sending {image} from the Docker daemon at {} to {}", from.host(), to.host());
    to.load_images(from.export_images(&[image]))
        .await
        .map_err(op(format!("sending image {image} to {}", to.host())))
}
