//! The node image, built offline: `debootstrap` makes a Debian root filesystem from the
//! host's Debian mirror, we configure it for life as a machine-like container (systemd
//! PID 1, sshd, DC/OS's prerequisites, optionally a Docker Engine), and import it into
//! Docker tagged by a hash of this recipe, so an unchanged recipe is reused and a
//! changed one builds a new tag. Builds happen in a directory only root can enter, under
//! a lock with a bounded wait.

mod build;
pub(crate) mod engine;
pub(crate) mod mirror;
mod options;
mod recipe;
mod state;

use std::path::PathBuf;
use std::time::Duration;

use crate::backend::docker::daemon::client::{DockerClient, op};
use crate::error::{Error, Parameter, Result};
use build::build;
use state::{blocking, hold_lock, private_dir};

pub(crate) use build::is_root;
pub use options::ImageOptions;
pub use recipe::{DCOS_PREREQUISITES, Distribution, IMAGE_REPOSITORY};

pub use crate::params::ProgressFn;

/// How long a build waits for another build of the same image before giving up.
const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// Where root builds images and keeps their build locks: a directory only root can
/// enter, so nobody else can swap a root filesystem before it is imported, nor hold a
/// lock that a build waits on.
pub(crate) const STATE_DIR: &str = "/var/lib/dcos-e2e";

/// The tag of the default node image (default options).
pub fn default_image() -> String {
    ImageOptions::default().image_tag()
}

/// Build the node image of `options` if it is missing (needs root and `debootstrap`;
/// about a minute), and return its tag. Concurrent callers, in any process, build it once.
pub async fn ensure_node_image(options: &ImageOptions) -> Result<String> {
    let client = DockerClient::connect().await?;
    ensure_image(&client, options).await
}

/// Return the node image tag, building it first if it is missing. Two callers at once
/// (threads or processes) build it once: the build holds a lock file, and whoever gets
/// the lock second finds the image there.
pub(crate) async fn ensure_image(client: &DockerClient, options: &ImageOptions) -> Result<String> {
    let distribution = options.checked_distribution()?;
    if !distribution.boots_on_cgroup_v1() {
        let info = client.info().await.map_err(op("reading daemon info"))?;
        if !info.cgroup_v2 {
            return Err(Error::invalid(
                Parameter::Distribution,
                distribution,
                format!(
                    "its systemd (258 and later) no longer boots on cgroup v1, which this Docker daemon uses; supported here: {}",
                    Distribution::ALL
                        .iter()
                        .filter(|d| d.boots_on_cgroup_v1())
                        .map(|d| d.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    let tag = options.image_tag();
    if client.image_exists(&tag).await? {
        return Ok(tag);
    }
    // A daemon elsewhere: this machine's may have it already (a minute of building saved).
    if crate::backend::docker::daemon::transfer::from_local(client, &tag).await? {
        options.report(&format!("sent {tag} from this machine's Docker daemon"));
        return Ok(tag);
    }
    if !is_root() {
        return Err(Error::ImageBuild {
            step: "checking permissions",
            detail: format!(
                "{tag} is missing and debootstrap needs root; run as root or pass an existing node image"
            ),
        });
    }
    let state = PathBuf::from(STATE_DIR);
    blocking({
        let state = state.clone();
        move || private_dir(&state)
    })
    .await?;
    let slug = tag.replace(['/', ':'], "-");
    // One lock per recipe: building one image never waits for another.
    let lock_path = state.join(format!("image-{slug}.lock"));
    let timeout = options.lock_timeout.unwrap_or(DEFAULT_LOCK_TIMEOUT);
    let lock = hold_lock(&lock_path, timeout, &tag, || {
        options.report(&format!("waiting for another build of {tag}"));
    })
    .await?;
    let result = async {
        if client.image_exists(&tag).await? {
            options.report("node image was built by another process");
            return Ok(());
        }
        build(client, options, distribution, &tag, &state, &slug).await
    }
    .await;
    drop(lock);
    result.map(|()| tag)
}
