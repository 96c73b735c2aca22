//! Files this process keeps between runs (the daemon's privilege verdict): in a
//! directory only this user can write, read and written without following links, so
//! another local user can neither plant an answer nor redirect a write.

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// `<temp dir>/dcos-e2e-<uid>`, made 0700 if missing; `None` if what is there is not a
/// directory that this user owns and only this user can use.
pub(crate) fn private_dir() -> Option<PathBuf> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    let dir = std::env::temp_dir().join(format!("dcos-e2e-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    trusted(&dir, uid).then_some(dir)
}

/// A directory (not a link to one) owned by `uid`, closed to group and others.
fn trusted(dir: &Path, uid: u32) -> bool {
    std::fs::symlink_metadata(dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0)
}

/// The contents of `name` in the private directory (not through a link).
pub(crate) fn read(name: &str) -> Option<String> {
    let path = private_dir()?.join(name);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    Some(text)
}

/// Write `name` in the private directory: a new file of ours, renamed into place.
pub(crate) fn write(name: &str, text: &str) {
    let Some(dir) = private_dir() else { return };
    let temp = dir.join(format!(".{name}.{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&temp)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .and_then(|()| std::fs::rename(&temp, dir.join(name)));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_closed_directory_of_ours_is_trusted() {
        // SAFETY: geteuid has no preconditions.
        let uid = unsafe { libc::geteuid() };
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("d");
        std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
        assert!(trusted(&dir, uid));
        assert!(!trusted(&dir, uid + 1), "owned by someone else");
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(!trusted(&link, uid), "a link to a directory");
        let open = base.path().join("open");
        std::fs::DirBuilder::new()
            .mode(0o777)
            .create(&open)
            .unwrap();
        std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        assert!(!trusted(&open, uid), "others can write there");
    }
}
