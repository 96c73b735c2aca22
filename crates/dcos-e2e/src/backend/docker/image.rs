//! The default node image, built offline: `debootstrap` makes a Debian root filesystem
//! from the host's Debian mirror, we configure it for life as a machine-like container
//! (systemd PID 1, sshd), and import it into Docker tagged by a hash of this recipe, so an
//! unchanged recipe is reused and a changed one builds a new tag.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::io::ReaderStream;

use super::client::{DockerClient, op};
use super::labels;
use crate::error::{Error, Result};

/// Repository of the images we build; the tag is the recipe hash.
pub const IMAGE_REPOSITORY: &str = "dcos-e2e/node";

/// Bump when the customisation below changes in a way the hashed text does not show.
const RECIPE_VERSION: &str = "2";
const VARIANT: &str = "minbase";
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
const MASKED_UNITS: &[&str] = &[
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

/// Options for building the node image.
///
/// ```
/// use dcos_e2e::docker::ImageOptions;
///
/// let options = ImageOptions::default().suite("bookworm").extra_package("jq");
/// assert_ne!(options.image_tag(), ImageOptions::default().image_tag());
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ImageOptions {
    /// Debian mirror URL; by default the one in the host's apt configuration.
    pub mirror: Option<String>,
    /// Debian suite; default `bookworm`.
    pub suite: Option<String>,
    /// Packages to install beyond the standard set (part of the recipe hash).
    pub extra_packages: Vec<String>,
    /// Called with each progress line (debootstrap steps, import).
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for ImageOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageOptions")
            .field("mirror", &self.mirror)
            .field("suite", &self.suite)
            .field("extra_packages", &self.extra_packages)
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

    /// Build this Debian suite.
    pub fn suite(mut self, suite: impl Into<String>) -> Self {
        self.suite = Some(suite.into());
        self
    }

    /// Also install this package (part of the recipe: a new tag).
    pub fn extra_package(mut self, package: impl Into<String>) -> Self {
        self.extra_packages.push(package.into());
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

    fn packages(&self) -> Vec<String> {
        let mut all: Vec<String> = PACKAGES.iter().map(|p| p.to_string()).collect();
        all.extend(self.extra_packages.iter().cloned());
        all.sort();
        all.dedup();
        all
    }

    /// The tag this recipe builds.
    pub fn image_tag(&self) -> String {
        format!(
            "{IMAGE_REPOSITORY}:{}",
            recipe_hash(self.suite_name(), &self.packages())
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
fn recipe_hash(suite: &str, packages: &[String]) -> String {
    let mut h = Sha256::new();
    for part in [
        RECIPE_VERSION,
        suite,
        VARIANT,
        &packages.join(","),
        SSHD_CONFIG,
        SSH_HOSTKEY_DROPIN,
        &MASKED_UNITS.join(","),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..6])
}

/// The tag of the default node image (default options).
pub fn default_image() -> String {
    ImageOptions::default().image_tag()
}

/// Build the default node image if it is missing (needs root and `debootstrap`; about a
/// minute), and return its tag. Concurrent callers, in any process, build it once.
pub async fn ensure_node_image(options: &ImageOptions) -> Result<String> {
    let client = DockerClient::connect().await?;
    ensure_image(&client, options).await
}

/// Return the node image tag, building it first if it is missing. Two callers at once
/// (threads or processes) build it once: the build holds a lock file, and whoever gets
/// the lock second finds the image there.
pub(crate) async fn ensure_image(client: &DockerClient, options: &ImageOptions) -> Result<String> {
    let tag = options.image_tag();
    if client.image_exists(&tag).await? {
        return Ok(tag);
    }
    // One lock per recipe: building one image never waits for another.
    let lock_path = std::env::temp_dir().join(format!(
        "dcos-e2e-image-{}.lock",
        tag.replace(['/', ':'], "-")
    ));
    let lock = {
        let path = lock_path.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            file.lock()?;
            Ok(file)
        })
        .await
        .map_err(|e| Error::ImageBuild {
            step: "waiting for the build lock",
            detail: e.to_string(),
        })?
        .map_err(Error::io("lock", &lock_path))?
    };
    let result = async {
        if client.image_exists(&tag).await? {
            options.report("node image was built by another process");
            return Ok(());
        }
        build(client, options, &tag).await
    }
    .await;
    drop(lock);
    result.map(|()| tag)
}

/// Build and import the image under `tag`, unconditionally.
async fn build(client: &DockerClient, options: &ImageOptions, tag: &str) -> Result<()> {
    if !is_root() {
        return Err(Error::ImageBuild {
            step: "checking permissions",
            detail: "debootstrap needs root; run as root or pass an existing node image".into(),
        });
    }
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
    // One directory per recipe, emptied first: a build killed earlier (no destructor
    // ran) leaves a whole root filesystem, which the next build removes. We hold the lock.
    let work = BuildDir(std::env::temp_dir().join(format!(
        "dcos-e2e-image-build-{}",
        tag.replace(['/', ':'], "-")
    )));
    let _ = std::fs::remove_dir_all(&work.0);
    std::fs::create_dir_all(&work.0).map_err(Error::io("create", &work.0))?;
    let root = work.0.join("rootfs");
    let suite = options.suite_name();
    options.report(&format!(
        "debootstrap {suite} from {mirror} (takes about a minute)"
    ));
    run_debootstrap(&debootstrap, suite, &root, &mirror, options).await?;
    options.report("configuring the root filesystem");
    customise(&root)?;
    options.report(&format!("importing into Docker as {tag}"));
    import(client, &root, tag).await?;
    options.report(&format!("node image {tag} ready"));
    Ok(())
}

/// Removed when the build ends, however it ends (short of the process being killed).
struct BuildDir(PathBuf);

impl Drop for BuildDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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

async fn run_debootstrap(
    debootstrap: &Path,
    suite: &str,
    root: &Path,
    mirror: &str,
    options: &ImageOptions,
) -> Result<()> {
    let mut child = tokio::process::Command::new(debootstrap)
        .arg(format!("--variant={VARIANT}"))
        .arg(format!("--include={}", options.packages().join(",")))
        .arg(suite)
        .arg(root)
        .arg(mirror)
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
fn customise(root: &Path) -> Result<()> {
    let write = |rel: &str, content: &str| -> Result<()> {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(Error::io("create", parent))?;
        }
        std::fs::write(&path, content).map_err(Error::io("write", &path))
    };
    write("etc/ssh/sshd_config.d/dcos-e2e.conf", SSHD_CONFIG)?;
    write(
        "etc/systemd/system/ssh.service.d/dcos-e2e-hostkey.conf",
        SSH_HOSTKEY_DROPIN,
    )?;
    // An empty entry overrides the distribution's: /run/nologin is never created, so
    // non-root users can log in while the node is still booting.
    write("etc/tmpfiles.d/systemd-nologin.conf", "")?;
    // Empty: systemd makes a fresh machine id at each node's first boot.
    write("etc/machine-id", "")?;
    write(
        "etc/dcos-e2e-node-image",
        &format!("recipe {}\n", RECIPE_VERSION),
    )?;
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
    while let Some(item) = stream.next().await {
        item.map_err(op(format!("importing image {tag}")))?;
    }
    let status = tar
        .wait()
        .await
        .map_err(Error::io("wait for tar of", root))?;
    if !status.success() {
        let mut detail = String::new();
        if let Some(mut e) = tar.stderr.take() {
            use tokio::io::AsyncReadExt;
            let _ = e.read_to_string(&mut detail).await;
        }
        return Err(Error::ImageBuild {
            step: "archiving the root filesystem",
            detail: format!("tar exited with {status}: {detail}"),
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
    }
}
