//! What a node image is made of: the options a user gives (distribution, packages, the
//! engine, the mirror) and the tag they name.

use std::sync::Arc;
use std::time::Duration;

use super::recipe::{DCOS_PREREQUISITES, Distribution, IMAGE_REPOSITORY, PACKAGES, recipe_hash};
use crate::error::Result;
use crate::params::ProgressFn;

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
const DEFAULT_SUITE: &str = "bookworm";

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

    pub(super) fn suite_name(&self) -> &str {
        self.suite.as_deref().unwrap_or(DEFAULT_SUITE)
    }

    /// The distribution asked for; an unknown one names those supported.
    pub fn checked_distribution(&self) -> Result<Distribution> {
        self.suite_name().parse()
    }

    pub(super) fn packages(&self) -> Vec<String> {
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

    pub(super) fn report(&self, line: &str) {
        tracing::info!(target: "dcos_e2e::image", "{line}");
        if let Some(progress) = &self.progress {
            progress(line);
        }
    }
}
