//! The node image, built offline: `debootstrap` makes a Debian root filesystem from the
//! host's Debian mirror, we configure it for life as a machine-like container (systemd
//! PID 1, sshd, DC/OS's prerequisites, optionally a Docker Engine), and import it into
//! Docker tagged by a hash of this recipe, so an unchanged recipe is reused and a
//! changed one builds a new tag. Builds happen in a directory only root can enter, under
//! a lock with a bounded wait.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::models::SystemInfoCgroupVersionEnum;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio_util::io::ReaderStream;

use super::client::{DockerClient, op};
use super::{engine, labels};
use crate::error::{Error, Result};

/// Repository of the images we build; the tag is the recipe hash.
pub const IMAGE_REPOSITORY: &str = "dcos-e2e/node";

/// Bump when the customisation below changes in a way the hashed text does not show.
const RECIPE_VERSION: &str = "3";
const VARIANT: &str = "minbase";
/// What a node needs to be a node: systemd, sshd, and what the harness runs on it.
const PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "openssh-server",
    "sudo",
    "iproute2",
    "procps",
    "ca-certificates",
    "python3",
    "python3-pytest",
    "curl",
];

/// What DC/OS's installer checks for on a node and its services call (see
/// docs/node-image.md): its preflight wants `curl bash ping tar xz unzip ipset` on the
/// PATH, `lsmod`, and `ifconfig` in older releases; dcos-net programs iptables and ipset.
/// The `nogroup` group comes with Debian's base-passwd.
pub const DCOS_PREREQUISITES: &[&str] = &[
    "bash",
    "curl",
    "gzip",
    "iptables",
    "ipset",
    "iputils-ping",
    "kmod",
    "net-tools",
    "tar",
    "unzip",
    "xz-utils",
];

/// A Debian release a node image can be built from: the analogue of the original
/// harness's `linux_distribution`. Each builds its own recipe and tag.
///
/// ```
/// use dcos_e2e::docker::Distribution;
///
/// assert_eq!("trixie".parse::<Distribution>().unwrap(), Distribution::Trixie);
/// let err = "jessie".parse::<Distribution>().unwrap_err().to_string();
/// assert!(err.contains("bookworm") && err.contains("trixie"), "{err}");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Distribution {
    /// Debian 12 (oldstable): the default; Docker 20.10, the host's own release here.
    Bookworm,
    /// Debian 13 (stable): Docker 26.1.
    Trixie,
    /// Debian 14 (testing): its systemd (258 and later) refuses cgroup v1.
    Forky,
}

impl Distribution {
    /// Every distribution known, oldest first.
    pub const ALL: [Distribution; 3] = [
        Distribution::Bookworm,
        Distribution::Trixie,
        Distribution::Forky,
    ];

    /// The Debian codename (the suite `debootstrap` is given).
    pub fn name(self) -> &'static str {
        match self {
            Distribution::Bookworm => "bookworm",
            Distribution::Trixie => "trixie",
            Distribution::Forky => "forky",
        }
    }

    /// Whether its systemd boots on a cgroup v1 host (systemd 258 removed cgroup v1).
    pub fn boots_on_cgroup_v1(self) -> bool {
        !matches!(self, Distribution::Forky)
    }

    /// Docker Engine packages. Trixie split the `docker` command into docker-cli, which
    /// docker.io only recommends (and debootstrap never installs recommends).
    fn engine_packages(self) -> &'static [&'static str] {
        match self {
            Distribution::Bookworm => {
                &["docker.io", "containerd", "runc", "tini", "fuse-overlayfs"]
            }
            Distribution::Trixie | Distribution::Forky => &[
                "docker.io",
                "docker-cli",
                "containerd",
                "runc",
                "tini",
                "fuse-overlayfs",
            ],
        }
    }

    /// The debootstrap script for releases older debootstraps do not know (bookworm's
    /// has none for forky; testing bootstraps like sid).
    fn debootstrap_script(self) -> Option<&'static str> {
        match self {
            Distribution::Forky => Some("sid"),
            _ => None,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }
}

impl std::fmt::Display for Distribution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Distribution {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::from_name(s).ok_or_else(|| {
            Error::invalid(
                "distribution",
                s,
                format!("supported: {}", supported_distributions()),
            )
        })
    }
}

/// `bookworm (default), trixie, forky (needs a cgroup v2 host)`.
fn supported_distributions() -> String {
    Distribution::ALL
        .iter()
        .map(|d| match d {
            Distribution::Bookworm => format!("{d} (default)"),
            d if !d.boots_on_cgroup_v1() => format!("{d} (needs a cgroup v2 host)"),
            d => d.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// sshd settings for nodes: one host key we inject per node, and room for many
/// concurrent sessions on one connection (the harness multiplexes commands).
const SSHD_CONFIG: &str = "\
# Written by dcos-e2e when building the node image.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
UseDNS no
GSSAPIAuthentication no
MaxSessions 256
MaxStartups 256:30:512
";

/// The harness injects a host key per node before start; a container started some other
/// way still gets sshd working.
/// The empty `ExecStartPre=` drops the unit's own `sshd -t`, which would fail before a
/// key exists and costs boot time when one does (sshd checks its config as it starts).
const SSH_HOSTKEY_DROPIN: &str = "\
[Service]
ExecStartPre=
ExecStartPre=/bin/sh -c 'test -s /etc/ssh/ssh_host_ed25519_key || ssh-keygen -q -t ed25519 -N \"\" -f /etc/ssh/ssh_host_ed25519_key'
";

/// Units that make no sense in a container, masked to keep boot fast and quiet: about
/// half of a node's boot time and CPU went to the later ones (Docker provides /dev and
/// the root mount; users exist in the image; the journal stays in /run).
pub(crate) const MASKED_UNITS: &[&str] = &[
    "getty@.service",
    "console-getty.service",
    "e2scrub_reap.service",
    "e2scrub_all.timer",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "fstrim.timer",
    "systemd-timesyncd.service",
    "systemd-tmpfiles-setup-dev.service",
    "systemd-sysusers.service",
    "systemd-journal-flush.service",
    "systemd-update-utmp.service",
    "systemd-update-utmp-runlevel.service",
    "systemd-remount-fs.service",
];

/// Receives progress lines while the image builds.
pub type ProgressFn = Arc<dyn Fn(&str) + Send + Sync>;

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

/// Hash of everything that decides the image's content (not the mirror: any mirror
/// serves the same packages).
fn recipe_hash(suite: &str, packages: &[String], engine: bool) -> String {
    let mut h = Sha256::new();
    let mut parts = vec![
        RECIPE_VERSION.to_string(),
        suite.to_string(),
        VARIANT.to_string(),
        packages.join(","),
        SSHD_CONFIG.to_string(),
        SSH_HOSTKEY_DROPIN.to_string(),
        MASKED_UNITS.join(","),
    ];
    if engine {
        for (path, content, mode) in engine::ENGINE_FILES {
            parts.push(format!("{path} {mode:o}\n{content}"));
        }
        parts.push(engine::ENGINE_UNITS_NOT_AT_BOOT.join(","));
    }
    for part in parts {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..6])
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
        let info = client.api.info().await.map_err(op("reading daemon info"))?;
        if !matches!(info.cgroup_version, Some(SystemInfoCgroupVersionEnum::_2)) {
            return Err(Error::invalid(
                "distribution",
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
    if super::transfer::from_local(client, &tag).await? {
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

/// Run filesystem work off the runtime's threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::ImageBuild {
            step: "working on the build directory",
            detail: e.to_string(),
        })?
}

/// Make `dir` (mode 0700) or check the one there: a directory, not a symbolic link,
/// ours, and closed to everyone else.
fn private_dir(dir: &Path) -> Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io("create", dir)(e)),
    }
    // Opened without following a link: what is checked is what is used.
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir)
        .map_err(Error::io("open (refusing symbolic links)", dir))?;
    let meta = handle
        .metadata()
        .map_err(Error::io("read metadata of", dir))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if meta.uid() != euid {
        return Err(Error::ImageBuild {
            step: "checking the build directory",
            detail: format!(
                "{} belongs to uid {}, not to us (uid {euid}); refusing to build in it",
                dir.display(),
                meta.uid()
            ),
        });
    }
    if meta.mode() & 0o077 != 0 {
        handle
            .set_permissions(std::fs::Permissions::from_mode(0o700))
            .map_err(Error::io("restrict the mode of", dir))?;
    }
    Ok(())
}

/// Open the lock file (never through a symbolic link) and take it, trying again until
/// `timeout`; `waiting` is called once if someone else holds it.
async fn hold_lock(
    path: &Path,
    timeout: Duration,
    tag: &str,
    waiting: impl Fn(),
) -> Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(Error::io("open the build lock", path))?;
    let started = Instant::now();
    let mut told = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io("lock", path)(e));
            }
        }
        if started.elapsed() >= timeout {
            return Err(Error::ImageBuildLocked {
                tag: tag.to_string(),
                lock: path.to_path_buf(),
                waited: timeout,
            });
        }
        if !told {
            waiting();
            told = true;
        }
        // A build takes a minute or more: a few checks a second cost nothing.
        tokio::time::sleep(Duration::from_millis(250).min(timeout)).await;
    }
}

/// Build directories of this recipe left by a build that was killed (no destructor
/// ran). We hold the recipe's lock, so none is in use.
fn remove_stale_builds(state: &Path, slug: &str) -> Result<()> {
    let prefix = format!("build-{slug}-");
    let entries = std::fs::read_dir(state).map_err(Error::io("read", state))?;
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let path = entry.path();
            std::fs::remove_dir_all(&path).map_err(Error::io("remove", &path))?;
        }
    }
    Ok(())
}

/// Build and import the image under `tag`, unconditionally.
async fn build(
    client: &DockerClient,
    options: &ImageOptions,
    distribution: Distribution,
    tag: &str,
    state: &Path,
    slug: &str,
) -> Result<()> {
    let debootstrap = find_debootstrap().ok_or(Error::DebootstrapMissing)?;
    let mirror = match &options.mirror {
        Some(m) => m.clone(),
        None => super::mirror::host_debian_mirror().ok_or_else(|| {
            Error::invalid(
                "mirror",
                "(none)",
                "no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d; pass one with --mirror",
            )
        })?,
    };
    // A fresh directory with a random name, made 0700 by us (never one that exists).
    let work = blocking({
        let (state, slug) = (state.to_path_buf(), slug.to_string());
        move || {
            remove_stale_builds(&state, &slug)?;
            tempfile::Builder::new()
                .prefix(&format!("build-{slug}-"))
                .permissions(std::fs::Permissions::from_mode(0o700))
                .tempdir_in(&state)
                .map_err(Error::io("create a build directory in", &state))
        }
    })
    .await?;
    let root = work.path().join("rootfs");
    let suite = distribution.name();
    options.report(&format!(
        "debootstrap {suite} from {mirror} (takes about a minute)"
    ));
    let result = async {
        run_debootstrap(&debootstrap, distribution, &root, &mirror, options).await?;
        options.report("configuring the root filesystem");
        blocking({
            let (root, engine) = (root.clone(), options.engine);
            let info = format!(
                "recipe {RECIPE_VERSION}\ndistribution {suite}\nengine {}\n",
                if engine { "docker" } else { "none" }
            );
            move || customise(&root, engine, &info)
        })
        .await?;
        options.report(&format!("importing into Docker as {tag}"));
        import(client, &root, tag).await
    }
    .await;
    // A root filesystem is a few hundred megabytes of small files: removed off the
    // runtime's threads, whichever way the build ended.
    let removed = blocking(move || {
        let path = work.path().to_path_buf();
        work.close().map_err(Error::io("remove", path))
    })
    .await;
    result?;
    removed?;
    options.report(&format!("node image {tag} ready"));
    Ok(())
}

pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `DCOS_E2E_DEBOOTSTRAP` names the program; else it is looked up in PATH and the sbin
/// directories (often missing from a non-login root PATH).
fn find_debootstrap() -> Option<PathBuf> {
    if let Some(explicit) = std::env::var_os("DCOS_E2E_DEBOOTSTRAP") {
        let explicit = PathBuf::from(explicit);
        return explicit.is_file().then_some(explicit);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join("debootstrap"))
        .find(|p| p.is_file())
}

/// The script argument for a release this debootstrap has no script of (its scripts
/// sit beside each other; a newer debootstrap knows more releases).
fn debootstrap_script(debootstrap: &Path, distribution: Distribution) -> Option<PathBuf> {
    let fallback = distribution.debootstrap_script()?;
    let dirs = [
        PathBuf::from("/usr/share/debootstrap/scripts"),
        debootstrap
            .parent()
            .map(|p| p.join("../share/debootstrap/scripts"))
            .unwrap_or_default(),
    ];
    let known = dirs.iter().any(|d| d.join(distribution.name()).exists());
    (!known).then(|| {
        dirs.iter()
            .map(|d| d.join(fallback))
            .find(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from(fallback))
    })
}

async fn run_debootstrap(
    debootstrap: &Path,
    distribution: Distribution,
    root: &Path,
    mirror: &str,
    options: &ImageOptions,
) -> Result<()> {
    let suite = distribution.name();
    let mut command = tokio::process::Command::new(debootstrap);
    command
        .arg(format!("--variant={VARIANT}"))
        .arg(format!("--include={}", options.packages().join(",")))
        .arg(suite)
        .arg(root)
        .arg(mirror);
    if let Some(script) = debootstrap_script(debootstrap, distribution) {
        command.arg(script);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(Error::io("run", debootstrap))?;
    let stdout = child.stdout.take().map(|s| BufReader::new(s).lines());
    let stderr = child.stderr.take().map(|s| BufReader::new(s).lines());
    let mut tail: Vec<String> = Vec::new();
    let (mut out, mut err) = (stdout, stderr);
    loop {
        let line = tokio::select! {
            Some(l) = async { match out.as_mut() { Some(o) => o.next_line().await.ok().flatten(), None => None } } => Some(l),
            Some(l) = async { match err.as_mut() { Some(e) => e.next_line().await.ok().flatten(), None => None } } => Some(l),
            else => None,
        };
        let Some(line) = line else { break };
        if line.starts_with("I: Retrieving") || line.starts_with("I: Validating") {
            tracing::debug!(target: "dcos_e2e::image", "{line}");
        } else {
            options.report(line.trim_start_matches("I: "));
        }
        tail.push(line);
        if tail.len() > 20 {
            tail.remove(0);
        }
    }
    let status = child
        .wait()
        .await
        .map_err(Error::io("wait for", debootstrap))?;
    if !status.success() {
        return Err(Error::ImageBuild {
            step: "running debootstrap",
            detail: format!(
                "mirror {mirror} suite {suite}: debootstrap exited with {status}: {}",
                tail.join(" | ")
            ),
        });
    }
    Ok(())
}

/// Make the debootstrapped tree a good container node.
fn customise(root: &Path, engine: bool, info: &str) -> Result<()> {
    let write = |rel: &str, content: &str, mode: u32| -> Result<()> {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(Error::io("create", parent))?;
        }
        std::fs::write(&path, content).map_err(Error::io("write", &path))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(Error::io("set the mode of", &path))
    };
    write("etc/ssh/sshd_config.d/dcos-e2e.conf", SSHD_CONFIG, 0o644)?;
    write(
        "etc/systemd/system/ssh.service.d/dcos-e2e-hostkey.conf",
        SSH_HOSTKEY_DROPIN,
        0o644,
    )?;
    // An empty entry overrides the distribution's: /run/nologin is never created, so
    // non-root users can log in while the node is still booting.
    write("etc/tmpfiles.d/systemd-nologin.conf", "", 0o644)?;
    // Empty: systemd makes a fresh machine id at each node's first boot.
    write("etc/machine-id", "", 0o644)?;
    write("etc/dcos-e2e-node-image", info, 0o644)?;
    let etc_ssh = root.join("etc/ssh");
    for entry in std::fs::read_dir(&etc_ssh)
        .map_err(Error::io("read", &etc_ssh))?
        .flatten()
    {
        if entry.file_name().to_string_lossy().starts_with("ssh_host_") {
            std::fs::remove_file(entry.path()).map_err(Error::io("remove", entry.path()))?;
        }
    }
    for unit in MASKED_UNITS {
        let link = root.join("etc/systemd/system").join(unit);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("/dev/null", &link).map_err(Error::io("mask", &link))?;
    }
    if engine {
        for (rel, content, mode) in engine::ENGINE_FILES {
            write(rel, content, *mode)?;
        }
        for unit in engine::ENGINE_UNITS_NOT_AT_BOOT {
            let wants = root
                .join("etc/systemd/system/multi-user.target.wants")
                .join(unit);
            match std::fs::remove_file(&wants) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("disable", wants)(e)),
            }
        }
    }
    for dir in ["var/cache/apt/archives", "var/lib/apt/lists"] {
        let dir = root.join(dir);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.path().is_file() {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
    let _ = std::fs::remove_file(root.join("etc/hostname"));
    Ok(())
}

/// Of tar's messages, the last this many bytes are kept for an error.
const TAR_STDERR_KEPT: usize = 16 << 10;

/// Stream the root filesystem into the daemon as an image (`docker import`). GNU tar
/// keeps what a root filesystem needs: owners, setuid bits, hard links, xattrs.
async fn import(client: &DockerClient, root: &Path, tag: &str) -> Result<()> {
    let mut tar = tokio::process::Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "--exclude=./dev/*", "-C"])
        .arg(root)
        .args(["-cf", "-", "."])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(Error::io("run tar on", root))?;
    let stdout = tar.stdout.take().ok_or_else(|| Error::ImageBuild {
        step: "archiving the root filesystem",
        detail: "no tar output".into(),
    })?;
    // Read while tar runs: a full stderr pipe (64 KiB of warnings, e.g. one per socket
    // in the tree) would stop tar, and with it the import, for good.
    let stderr = tar.stderr.take();
    let messages = tokio::spawn(async move {
        let mut kept = Vec::new();
        let Some(mut stderr) = stderr else {
            return (kept, 0usize);
        };
        let mut buf = vec![0u8; 8192];
        let mut total = 0;
        while let Ok(n) = stderr.read(&mut buf).await {
            if n == 0 {
                break;
            }
            total += n;
            kept.extend_from_slice(&buf[..n]);
            if kept.len() > TAR_STDERR_KEPT {
                kept.drain(..kept.len() - TAR_STDERR_KEPT);
            }
        }
        (kept, total)
    });
    let (repo, version) = tag.split_once(':').unwrap_or((tag, "latest"));
    let hash = version.to_string();
    let options = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(repo)
        .tag(version)
        .changes(vec![
            r#"CMD ["/sbin/init"]"#.to_string(),
            "ENV container=docker".to_string(),
            format!(
                "LABEL {}=1 {}={} {}=image",
                labels::PROJECT,
                labels::IMAGE_RECIPE,
                hash,
                labels::ROLE
            ),
        ])
        .build();
    let body = bollard::body_try_stream(ReaderStream::with_capacity(stdout, 1 << 20));
    let mut stream = client.api.create_image(Some(options), Some(body), None);
    let mut imported = Ok(());
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            imported = Err(op(format!("importing image {tag}"))(e));
            break;
        }
    }
    drop(stream);
    let status = tar
        .wait()
        .await
        .map_err(Error::io("wait for tar of", root))?;
    let (kept, total) = messages.await.unwrap_or_default();
    if total > 0 {
        tracing::debug!(target: "dcos_e2e::image", "tar wrote {total} bytes of messages; the last: {}", String::from_utf8_lossy(&kept));
    }
    imported?;
    if !status.success() {
        // What was imported is a truncated tree: it must not be taken for the image.
        let _ = client
            .api
            .remove_image(
                tag,
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await;
        return Err(Error::ImageBuild {
            step: "archiving the root filesystem",
            detail: format!(
                "tar exited with {status}: {}",
                String::from_utf8_lossy(&kept).trim()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_follows_the_recipe() {
        let default = ImageOptions::default();
        assert_eq!(default.image_tag(), default_image());
        assert!(default_image().starts_with("dcos-e2e/node:"));
        let other_suite = ImageOptions {
            suite: Some("trixie".into()),
            ..Default::default()
        };
        assert_ne!(other_suite.image_tag(), default_image());
        assert_eq!(
            other_suite.image_tag(),
            ImageOptions::default()
                .distribution(Distribution::Trixie)
                .image_tag()
        );
        let extra = ImageOptions {
            extra_packages: vec!["less".into()],
            ..Default::default()
        };
        assert_ne!(extra.image_tag(), default_image());
        // The mirror is not part of the recipe: any mirror serves the same packages.
        let mirror = ImageOptions {
            mirror: Some("http://elsewhere.example/debian".into()),
            ..Default::default()
        };
        assert_eq!(mirror.image_tag(), default_image());
        // A standard package named again changes nothing.
        let dup = ImageOptions {
            extra_packages: vec!["curl".into()],
            ..Default::default()
        };
        assert_eq!(dup.image_tag(), default_image());
        // Each distribution with the engine is a recipe of its own.
        let engines: std::collections::BTreeSet<String> = Distribution::ALL
            .iter()
            .map(|d| {
                ImageOptions::default()
                    .distribution(*d)
                    .engine(true)
                    .image_tag()
            })
            .collect();
        assert_eq!(engines.len(), Distribution::ALL.len());
        assert!(!engines.contains(&default_image()));
    }

    #[test]
    fn distributions_are_checked_by_name() {
        for d in Distribution::ALL {
            assert_eq!(d.name().parse::<Distribution>().unwrap(), d);
        }
        let err = ImageOptions::default()
            .suite("sid")
            .checked_distribution()
            .unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidParameter {
                parameter: "distribution",
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "invalid distribution `sid`: supported: bookworm (default), trixie, forky (needs a cgroup v2 host)"
        );
        // The engine's CLI is its own package from trixie on.
        assert!(
            ImageOptions::default()
                .distribution(Distribution::Trixie)
                .engine(true)
                .packages()
                .contains(&"docker-cli".to_string())
        );
        assert!(
            !ImageOptions::default()
                .engine(true)
                .packages()
                .contains(&"docker-cli".to_string())
        );
    }

    #[test]
    fn the_default_image_has_what_dcos_checks_for() {
        let packages = ImageOptions::default().packages();
        for p in [
            "curl",
            "iputils-ping",
            "tar",
            "xz-utils",
            "unzip",
            "ipset",
            "kmod",
        ] {
            assert!(packages.contains(&p.to_string()), "{p}");
        }
        assert!(
            !packages.contains(&"docker.io".to_string()),
            "the engine is a variant"
        );
    }

    /// Issue 15, item 7: a lock someone else holds is waited for within a bound, then a
    /// clear error naming it (before, the build waited forever).
    #[tokio::test]
    async fn a_held_build_lock_is_a_clear_error_after_the_wait_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image-x.lock");
        let holder = std::fs::File::create(&path).unwrap();
        holder.lock().unwrap();
        let waited = std::sync::atomic::AtomicUsize::new(0);
        let attempt = hold_lock(&path, Duration::from_millis(300), "dcos-e2e/node:x", || {
            waited.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        let err = tokio::time::timeout(Duration::from_secs(30), attempt)
            .await
            .expect("the wait is bounded")
            .unwrap_err();
        assert!(
            matches!(&err, Error::ImageBuildLocked { lock, .. } if lock == &path),
            "{err}"
        );
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert_eq!(
            waited.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "told once"
        );
        // Once it is free, it is ours.
        drop(holder);
        hold_lock(&path, Duration::from_secs(5), "t", || {})
            .await
            .unwrap();
    }

    /// Issue 15, item 7: a symbolic link planted where the lock or the state directory
    /// goes is refused, and what it points at is left alone.
    #[tokio::test]
    async fn planted_symbolic_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("victim");
        std::os::unix::fs::symlink(&target, dir.path().join("image-x.lock")).unwrap();
        let err = hold_lock(
            &dir.path().join("image-x.lock"),
            Duration::from_secs(1),
            "t",
            || {},
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert!(!target.exists(), "nothing created through the link");

        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o755)).unwrap();
        let state = dir.path().join("state");
        std::os::unix::fs::symlink(&elsewhere, &state).unwrap();
        let err = private_dir(&state).unwrap_err();
        assert!(err.to_string().contains("symbolic"), "{err}");
        let mode = std::fs::metadata(&elsewhere).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o755, "the link's target is untouched");
    }

    #[test]
    fn the_state_directory_is_made_private_and_must_be_ours() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        private_dir(&state).unwrap();
        assert_eq!(std::fs::metadata(&state).unwrap().mode() & 0o777, 0o700);
        // One of ours left open is closed.
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
        private_dir(&state).unwrap();
        assert_eq!(std::fs::metadata(&state).unwrap().mode() & 0o777, 0o700);
        // Someone else's is refused: as root, one given away; otherwise root's own.
        let foreign = if is_root() {
            let foreign = dir.path().join("foreign");
            std::fs::create_dir(&foreign).unwrap();
            std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
            foreign
        } else {
            PathBuf::from("/usr")
        };
        let err = private_dir(&foreign).unwrap_err();
        assert!(err.to_string().contains("not to us"), "{err}");
    }

    #[test]
    fn build_directories_are_fresh_and_stale_ones_of_the_recipe_go() {
        let state = tempfile::tempdir().unwrap();
        let stale = state.path().join("build-dcos-e2e-node-aa-x1");
        let other = state.path().join("build-dcos-e2e-node-bb-x2");
        std::fs::create_dir_all(stale.join("rootfs/etc")).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        remove_stale_builds(state.path(), "dcos-e2e-node-aa").unwrap();
        assert!(
            !stale.exists(),
            "a killed build's tree of this recipe is removed"
        );
        assert!(other.exists(), "another recipe's build is left alone");
        let fresh = tempfile::Builder::new()
            .prefix("build-dcos-e2e-node-aa-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(state.path())
            .unwrap();
        assert_eq!(
            std::fs::metadata(fresh.path()).unwrap().mode() & 0o777,
            0o700
        );
    }

    /// Issue 15, item 18: tar writes one warning per socket in the tree; more than a
    /// pipe's worth (64 KiB) stopped tar, and the import with it, while nobody read
    /// them. A real import into the daemon, of a tree with 4000 sockets.
    #[tokio::test]
    async fn an_import_goes_through_many_tar_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("rootfs");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("run/sockets")).unwrap();
        std::fs::write(root.join("etc/hello"), "hello\n").unwrap();
        for i in 0..4000 {
            let path = root.join(format!("run/sockets/socket-with-a-longish-name-{i:05}"));
            drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        }
        let client = DockerClient::connect().await.unwrap();
        let tag = format!(
            "dcos-e2e-test/tar-warnings:{}",
            hex::encode(rand::random::<[u8; 4]>())
        );
        let imported =
            tokio::time::timeout(Duration::from_secs(120), import(&client, &root, &tag)).await;
        let exists = client.image_exists(&tag).await.unwrap();
        let _ = client
            .api
            .remove_image(
                &tag,
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await;
        imported
            .expect("the import finishes while tar warns")
            .unwrap();
        assert!(exists, "the image was imported");
    }
}
