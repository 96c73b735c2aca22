//! Where root builds images: a private state directory, one lock per recipe with a
//! bounded wait, fresh build directories.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Run filesystem work off the runtime's threads.
pub(super) async fn blocking<T: Send + 'static>(
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
pub(super) fn private_dir(dir: &Path) -> Result<()> {
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
pub(super) async fn hold_lock(
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
pub(super) fn remove_stale_builds(state: &Path, slug: &str) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::is_root;
    use super::*;

    /// A lock someone else holds is waited for within a bound, then a
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

    /// A symbolic link planted where the lock or the state directory
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
}
