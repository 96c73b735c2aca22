//! The node image, built offline: `debootstrap` makes a Debian root filesystem from the
//! host's Debian mirror, we configure it for life as a machine-like container (systemd
//! PID 1, sshd, DC/OS's prerequisites, optionally a Docker Engine), and import it into
//! Docker tagged by a hash of this recipe, so an unchanged recipe is reused and a
//! changed one builds a new tag. Builds happen in a directory only root can enter, under
//! a lock with a bounded wait.

mod build;
pub(crate) mod engine;
pub(crate) mod mirror;
mod recipe;
mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::docker::daemon::client::{DockerClient, op};
use crate::error::{Error, Parameter, Result};

use build::*;
use recipe::*;
use state::*;

pub(crate) use build::is_root;
pub(crate) use recipe::MASKED_UNITS;
pub use recipe::{DCOS_PREREQUISITES, Distribution, IMAGE_REPOSITORY};

pub use crate::params::ProgressFn;

/// How long a build waits for another build of the same image before giving up.
const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// Where root builds images and keeps their build locks: a directory only root can
/// enter, so nobody else can swap a root filesystem before it is imported, nor hold a
/// lock that a build waits on.
const STATE_DIR: &str = "/var/lib/dcos-e2e";

/// Options for building the node image.
///
/// ```
/// use dcos_e2e::docker::{Distribution, ImageOptions};
///
/// let options = ImageOptions::default().distribution(Distribution::Trixie).engine(true);
/// assert_ne!(options.image_tag(), ImageOptions::default().image_tag());
/// assert_ne!(
///     ImageOptions::default().engine(true).image_tag(),
///     ImageOptions::default().image_tag(),
/// );
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ImageOptions {
    /// Debian mirror URL; by default the one in the host's apt configuration.
    pub mirror: Option<String>,
    /// Debian release (a [`Distribution`] name); default `bookworm`.
    pub suite: Option<String>,
    /// Packages to install beyond the standard set (part of the recipe hash).
    pub extra_packages: Vec<String>,
    /// Install a Docker Engine (docker.io, containerd, runc): its socket listens from
    /// boot and the first client starts the daemon.
    pub engine: bool,
    /// How long to wait for another build of the same image; default 20 minutes.
    pub lock_timeout: Option<Duration>,
    /// Called with each progress line (debootstrap steps, import).
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for ImageOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageOptions")
            .field("mirror", &self.mirror)
            .field("suite", &self.suite)
            .field("extra_packages", &self.extra_packages)
            .field("engine", &self.engine)
            .field("lock_timeout", &self.lock_timeout)
            .finish()
    }
}

/// The suite built when none is given.
pub const DEFAULT_SUITE: &str = "bookworm";

impl ImageOptions {
    /// Build from this Debian mirror instead of the host's.
    pub fn mirror(mut self, url: impl Into<String>) -> Self {
        self.mirror = Some(url.into());
        self
    }

    /// Build this Debian suite (a [`Distribution`] name; others are refused when the
    /// image is built).
    pub fn suite(mut self, suite: impl Into<String>) -> Self {
        self.suite = Some(suite.into());
        self
    }

    /// Build this distribution.
    pub fn distribution(mut self, distribution: Distribution) -> Self {
        self.suite = Some(distribution.name().to_string());
        self
    }

    /// Also install this package (part of the recipe: a new tag).
    pub fn extra_package(mut self, package: impl Into<String>) -> Self {
        self.extra_packages.push(package.into());
        self
    }

    /// Whether the image has a Docker Engine inside (a new recipe and tag).
    pub fn engine(mut self, engine: bool) -> Self {
        self.engine = engine;
        self
    }

    /// How long to wait for another process building the same image.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = Some(timeout);
        self
    }

    /// Call `progress` with each progress line while the image builds.
    pub fn progress(mut self, progress: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    fn suite_name(&self) -> &str {
        self.suite.as_deref().unwrap_or(DEFAULT_SUITE)
    }

    /// The distribution asked for; an unknown one names those supported.
    pub fn checked_distribution(&self) -> Result<Distribution> {
        self.suite_name().parse()
    }

    fn packages(&self) -> Vec<String> {
        let mut all: Vec<String> = PACKAGES
            .iter()
            .chain(DCOS_PREREQUISITES)
            .map(|p| p.to_string())
            .collect();
        if self.engine {
            // An unknown suite is refused before a build; its tag is never used.
            let distribution =
                Distribution::from_name(self.suite_name()).unwrap_or(Distribution::Bookworm);
            all.extend(distribution.engine_packages().iter().map(|p| p.to_string()));
        }
        all.extend(self.extra_packages.iter().cloned());
        all.sort();
        all.dedup();
        all
    }

    /// The tag this recipe builds.
    pub fn image_tag(&self) -> String {
        format!(
            "{IMAGE_REPOSITORY}:{}",
            recipe_hash(self.suite_name(), &self.packages(), self.engine)
        )
    }

    fn report(&self, line: &str) {
        tracing::info!(target: "dcos_e2e::image", "{line}");
        if let Some(progress) = &self.progress {
            progress(line);
        }
    }
}

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
