//! Copying files over any transport: `cat` through the remote shell's stdin and stdout,
//! so files are streamed, never held in memory.

use std::path::Path;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{ChunkReader, Launch, StreamRx, Transport, drain, lost};
use crate::error::{Error, Result};
use crate::node::command::quote;

/// Local file facts needed before anything is sent, so a missing file fails early.
pub(crate) fn local_source(local: &Path) -> Result<(std::fs::File, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let file = std::fs::File::open(local).map_err(Error::io("open", local))?;
    let meta = file
        .metadata()
        .map_err(Error::io("read metadata of", local))?;
    if !meta.is_file() {
        return Err(Error::invalid(
            "local path",
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
    local: &Path,
    remote: &str,
) -> Result<()> {
    let (file, mode) = local_source(local)?;
    let (dir, name) = split_remote(remote)?;
    let template = format!("{}/.{name}.dcos-e2e-XXXXXXXXXX", dir.trim_end_matches('/'));
    // A directory at `remote` is refused: `mv` would have put the file, under its
    // temporary name, inside it and reported success. The trap removes the temporary
    // file when anything fails.
    let script = format!(
        "set -e; if [ -d {r} ]; then echo {r_msg} >&2; exit 1; fi; mkdir -p -- {d}; \
         t=$(mktemp {template}); trap 'rm -f -- \"$t\"' EXIT; cat > \"$t\"; \
         chmod {mode:o} -- \"$t\"; mv -f -- \"$t\" {r}; trap - EXIT",
        d = quote(dir),
        template = quote(&template),
        r = quote(remote),
        r_msg = quote(&format!("{remote} is a directory")),
    );
    let mut p = t
        .spawn(Launch {
            stdin: true,
            ..Launch::new(user, script)
        })
        .await?;
    let mut stdin = p.stdin.take().ok_or_else(|| lost(t))?;
    let mut file = tokio::fs::File::from_std(file);
    let upload = async {
        let copied = copy_big(&mut file, &mut stdin).await;
        let _ = stdin.shutdown().await;
        drop(stdin);
        copied
    };
    // Its output is read while the file goes up, so that no output ever waits.
    let (copied, _, stderr) = tokio::join!(upload, drain(&mut p.stdout), drain(&mut p.stderr));
    let status = p.exit.await.unwrap_or_else(|_| Err(lost(t)));
    // A failed write means the remote side stopped reading (e.g. an unwritable path);
    // its exit status and stderr say why, so they come first.
    checked(t, &format!("writing {remote}"), status, &stderr)?;
    copied.map_err(Error::io("read", local))?;
    Ok(())
}

/// Stream `remote` into a private temporary file beside `local` (random name, created
/// mode 0600 and exclusively: a planted symlink is not followed, concurrent downloads do
/// not meet), then give it the remote mode and rename it over `local`.
pub(crate) async fn download_file(
    t: &(impl Transport + ?Sized),
    user: &str,
    remote: &str,
    local: &Path,
) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let script = format!("stat -c %a -- {r} && exec cat -- {r}", r = quote(remote));
    // The file is written at the local disk's pace.
    let launch = Launch {
        paced: true,
        ..Launch::new(user, script)
    };
    // Made first: a target directory we cannot write to fails before anything runs.
    let partial = partial_file(local)?;
    let mut p = t.spawn(launch).await?;
    let out = partial
        .as_file()
        .try_clone()
        .map_err(Error::io("open", partial.path()))?;
    // Output arrives in SSH-packet-sized chunks (32 KiB); written one by one, each was a
    // trip to tokio's blocking pool, and that made downloads about half as fast as
    // uploads on a busy machine. Batch them.
    let mut out = tokio::io::BufWriter::with_capacity(2 << 20, tokio::fs::File::from_std(out));
    let mut reader = ChunkReader::new(std::mem::replace(&mut p.stdout, StreamRx::ended()));
    // The first line is the mode; the rest is the file. stderr is read meanwhile.
    let fetch = async {
        let mut mode_line = Vec::new();
        let mut byte = [0u8; 1];
        while reader.read(&mut byte).await? == 1 && byte[0] != b'\n' {
            mode_line.push(byte[0]);
        }
        copy_big(&mut reader, &mut out).await?;
        out.flush().await?;
        Ok::<_, std::io::Error>(mode_line)
    };
    let (fetched, stderr) = tokio::join!(fetch, drain(&mut p.stderr));
    drop(reader);
    let status = p.exit.await.unwrap_or_else(|_| Err(lost(t)));
    checked(t, &format!("reading {remote}"), status, &stderr)?;
    let mode_line = fetched.map_err(Error::io("write", partial.path()))?;
    drop(out);
    let mode =
        u32::from_str_radix(String::from_utf8_lossy(&mode_line).trim(), 8).map_err(|_| {
            t.failure(
                format!(
                    "unexpected mode line {:?} for {remote}",
                    String::from_utf8_lossy(&mode_line)
                ),
                None,
            )
        })?;
    std::fs::set_permissions(partial.path(), std::fs::Permissions::from_mode(mode))
        .map_err(Error::io("set mode of", partial.path()))?;
    partial
        .persist(local)
        .map_err(|e| Error::io("rename into", local)(e.error))?;
    Ok(())
}

/// A download's file until it is complete, beside `local`; removed when dropped, unless
/// persisted.
fn partial_file(local: &Path) -> Result<tempfile::NamedTempFile> {
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
fn checked(
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
            "remote path",
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
