//! Building the image: debootstrap into a fresh root filesystem, our configuration on
//! top, then a tar stream of it imported through the Docker API.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio_util::io::ReaderStream;

use super::options::ImageOptions;
use super::recipe::{
    Distribution, MASKED_UNITS, RECIPE_VERSION, SSH_HOSTKEY_DROPIN, SSHD_CONFIG, VARIANT,
};
use super::state::{blocking, remove_stale_builds};
use crate::backend::docker::daemon::client::{DockerClient, op};
use crate::backend::docker::image::engine;
use crate::backend::docker::labels;
use crate::error::{Error, Parameter, Result};

/// Build and import the image under `tag`, unconditionally.
pub(super) async fn build(
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
        None => crate::backend::docker::image::mirror::host_debian_mirror().ok_or_else(|| {
            Error::invalid(
                Parameter::Mirror,
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
pub(super) fn find_debootstrap() -> Option<PathBuf> {
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
pub(super) fn debootstrap_script(
    debootstrap: &Path,
    distribution: Distribution,
) -> Option<PathBuf> {
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

pub(super) async fn run_debootstrap(
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
pub(super) fn customise(root: &Path, engine: bool, info: &str) -> Result<()> {
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
    // Root's ~/.ssh holds only public keys (bound or copied in at create): readable
    // by all, so a copy of it works for another user (see `put_keys`).
    let root_ssh = root.join("root/.ssh");
    std::fs::create_dir_all(&root_ssh).map_err(Error::io("create", &root_ssh))?;
    std::fs::set_permissions(&root_ssh, std::fs::Permissions::from_mode(0o755))
        .map_err(Error::io("set the mode of", &root_ssh))?;
    // `useradd` makes the home directory, as on the RHEL-like hosts DC/OS runs on (and
    // the final Python API's tests expect); Debian's default is not to.
    let login_defs = root.join("etc/login.defs");
    let defs = std::fs::read_to_string(&login_defs).unwrap_or_default();
    if !defs
        .lines()
        .any(|l| l.trim_start().starts_with("CREATE_HOME"))
    {
        write(
            "etc/login.defs",
            &format!("{defs}\nCREATE_HOME yes\n"),
            0o644,
        )?;
    }
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
pub(super) const TAR_STDERR_KEPT: usize = 16 << 10;

/// Stream the root filesystem into the daemon as an image (`docker import`). GNU tar
/// keeps what a root filesystem needs: owners, setuid bits, hard links, xattrs.
pub(super) async fn import(client: &DockerClient, root: &Path, tag: &str) -> Result<()> {
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
    let changes = vec![
        r#"CMD ["/sbin/init"]"#.to_string(),
        "ENV container=docker".to_string(),
        format!(
            "LABEL {}=1 {}={} {}=image",
            labels::PROJECT,
            labels::IMAGE_RECIPE,
            hash,
            labels::ROLE
        ),
    ];
    let archive = ReaderStream::with_capacity(stdout, 1 << 20);
    let imported = client
        .import_rootfs(repo, version, changes, archive)
        .await
        .map_err(op(format!("importing image {tag}")));
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
        let _ = client.remove_image(tag).await;
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
    use std::time::Duration;

    use super::*;

    /// Tar writes one warning per socket in the tree; more than a
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
        let _ = client.remove_image(&tag).await;
        imported
            .expect("the import finishes while tar warns")
            .unwrap();
        assert!(exists, "the image was imported");
    }
}
