//! Copying files and directories over any transport: `cat` (a file) or `tar` (a
//! directory) through the remote shell's stdin and stdout, so nothing is held in memory,
//! as a user of the caller's choice, through `sudo` if asked.

use std::path::Path;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Launch, Transport, drain, lost};
use crate::error::{Error, Parameter, Result};
use crate::node::command::{Command, quote};

/// Whom a copy runs as on the node.
///
/// ```
/// use dcos_e2e::CopyOptions;
///
/// let as_alice = CopyOptions::new().user("alice");
/// let as_root = CopyOptions::new().user("alice").sudo(true);
/// # let _ = (as_alice, as_root);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyOptions {
    /// The user to copy as (default: the node's default user); the files are theirs.
    pub user: Option<String>,
    /// Copy as root through `sudo -n` (a no-op for root); the files are root's.
    pub sudo: bool,
}

impl CopyOptions {
    /// As the node's default user.
    pub fn new() -> Self {
        Self::default()
    }

    /// As this user.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Through `sudo -n`.
    pub fn sudo(mut self, sudo: bool) -> Self {
        self.sudo = sudo;
        self
    }
}

/// A copy's script, as `user`, wrapped in `sudo` when asked.
pub(crate) fn as_user(user: &str, sudo: bool, script: String) -> Result<String> {
    Command::shell(script).sudo(sudo).script_for(user)
}

/// Local file facts needed before anything is sent, so a missing file fails early.
pub(crate) fn local_source(local: &Path) -> Result<(std::fs::File, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let file = std::fs::File::open(local).map_err(Error::io("open", local))?;
    let meta = file
        .metadata()
        .map_err(Error::io("read metadata of", local))?;
    if !meta.is_file() {
        return Err(Error::invalid(
            Parameter::LocalPath,
            local.display(),
            "not a regular file",
        ));
    }
    Ok((file, meta.permissions().mode() & 0o7777))
}

/// Write to a private temporary file beside the target and rename it, so a reader
/// never sees a half-written file; `cat` streams stdin, so the file is never held in
/// memory. The temporary name is `mktemp`'s (random, created mode 0600 and exclusively):
/// concurrent uploads to one target do not meet, and nothing planted there is followed.
pub(crate) async fn send_file(
    t: &(impl Transport + ?Sized),
    user: &str,
    sudo: bool,
    local: &Path,
    remote: &str,
) -> Result<()> {
    let (file, mode) = local_source(local)?;
    // Exactly this many bytes, checked before the rename: an upload cut short (the
    // connection dropped, the caller interrupted) ends the remote `head` early, and a
    // truncated file must not take the target's place.
    let size = file
        .metadata()
        .map_err(Error::io("read metadata of", local))?
        .len();
    let (dir, name) = split_remote(remote)?;
    let template = format!("{}/.{name}.dcos-e2e-XXXXXXXXXX", dir.trim_end_matches('/'));
    // A directory at `remote` is refused: `mv` would have put the file, under its
    // temporary name, inside it and reported success. The trap removes the temporary
    // file when anything fails.
    let script = format!(
        "set -e; if [ -d {r} ]; then echo {r_msg} >&2; exit 1; fi; mkdir -p -- {d}; \
         t=$(mktemp {template}); trap 'rm -f -- \"$t\"' EXIT; head -c {size} > \"$t\"; \
         [ \"$(wc -c < \"$t\")\" -eq {size} ] || {{ echo 'the upload was cut short' >&2; exit 1; }}; \
         chmod {mode:o} -- \"$t\"; mv -f -- \"$t\" {r}; trap - EXIT",
        d = quote(dir),
        template = quote(&template),
        r = quote(remote),
        r_msg = quote(&format!("{remote} is a directory")),
    );
    let script = as_user(user, sudo, script)?;
    let mut file = tokio::fs::File::from_std(file).take(size);
    let (copied, status, stderr) = upload(t, user, script, &mut file).await?;
    // A failed write means the remote side stopped reading (e.g. an unwritable path);
    // its exit status and stderr say why, so they come first.
    checked(t, &format!("writing {remote}"), status, &stderr)?;
    copied.map_err(Error::io("read", local))?;
    Ok(())
}

/// Run `script` as `user` with `source` streamed to its stdin, reading its output all
/// along (no output ever waits): what was copied, its status, and its stderr.
pub(crate) async fn upload(
    t: &(impl Transport + ?Sized),
    user: &str,
    script: String,
    source: &mut (impl AsyncRead + Unpin + ?Sized),
) -> Result<(std::io::Result<u64>, Result<i32>, Vec<u8>)> {
    let mut p = t
        .spawn(Launch {
            stdin: true,
            ..Launch::new(user, script)
        })
        .await?;
    let mut stdin = p.stdin.take().ok_or_else(|| lost(t))?;
    let send = async {
        let copied = copy_big(source, &mut stdin).await;
        let _ = stdin.shutdown().await;
        drop(stdin);
        copied
    };
    let (copied, _, stderr) = tokio::join!(send, drain(&mut p.stdout), drain(&mut p.stderr));
    let status = p.exit.await.unwrap_or_else(|_| Err(lost(t)));
    Ok((copied, status, stderr))
}

/// A download's file until it is complete, beside `local`; removed when dropped, unless
/// persisted.
pub(crate) fn partial_file(local: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = match local.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = local
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // tempfile opens with O_CREAT|O_EXCL and mode 0600: an existing name, a symlink
    // included, is never opened, and a new random name is tried instead.
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".dcos-e2e-partial")
        .rand_bytes(10)
        .tempfile_in(dir)
        .map_err(Error::io("create a temporary file in", dir))
}

/// `status` of a finished transfer command, as an error naming `what` with its stderr
/// when it is not 0.
pub(crate) fn checked(
    t: &(impl Transport + ?Sized),
    what: &str,
    status: Result<i32>,
    stderr: &[u8],
) -> Result<()> {
    let status = status?;
    if status != 0 {
        return Err(t.failure(
            format!(
                "{what} failed (status {status}): {}",
                String::from_utf8_lossy(stderr).trim()
            ),
            None,
        ));
    }
    Ok(())
}

/// The remote file's directory and name; the path must be absolute.
pub(crate) fn split_remote(remote: &str) -> Result<(&str, &str)> {
    if !remote.starts_with('/') || remote.ends_with('/') {
        return Err(Error::invalid(
            Parameter::RemotePath,
            remote,
            "give an absolute path to a file",
        ));
    }
    let (dir, name) = remote.rsplit_once('/').unwrap_or(("/", remote));
    Ok((if dir.is_empty() { "/" } else { dir }, name))
}

/// Copy with a large buffer: file transfers are throughput-bound.
pub(crate) async fn copy_big<R, W>(r: &mut R, w: &mut W) -> std::io::Result<u64>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut r = tokio::io::BufReader::with_capacity(1 << 20, r);
    tokio::io::copy_buf(&mut r, w).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_paths_must_be_absolute_files() {
        assert_eq!(split_remote("/a/b/c.txt").unwrap(), ("/a/b", "c.txt"));
        assert_eq!(split_remote("/c.txt").unwrap(), ("/", "c.txt"));
        assert!(split_remote("relative/c.txt").is_err());
        assert!(split_remote("/dir/").is_err());
    }
}
