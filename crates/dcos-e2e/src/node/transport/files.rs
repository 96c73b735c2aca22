//! Copying files over any transport: `cat` through the remote shell's stdin and stdout,
//! so files are streamed, never held in memory.

use std::path::Path;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::{ChunkReader, Launch, Transport, drain, finish, lost};
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

/// Write to a temporary name beside the target and rename it, so a reader never sees a
/// half-written file; `cat` streams stdin, so the file is never held in memory.
pub(crate) async fn send_file(
    t: &(impl Transport + ?Sized),
    user: &str,
    local: &Path,
    remote: &str,
) -> Result<()> {
    let (file, mode) = local_source(local)?;
    let (dir, _) = split_remote(remote)?;
    let tmp = format!("{remote}.dcos-e2e-partial");
    // A directory at `remote` is refused: `mv` would have put the partial file, under
    // its temporary name, inside it and reported success. The trap removes the partial
    // file when anything fails.
    let script = format!(
        "set -e; if [ -d {r} ]; then echo {r_msg} >&2; exit 1; fi; mkdir -p -- {d}; \
         trap {cleanup} EXIT; cat > {t}; chmod {mode:o} -- {t}; mv -f -- {t} {r}",
        d = quote(dir),
        t = quote(&tmp),
        cleanup = quote(&format!("rm -f -- {}", quote(&tmp))),
        r = quote(remote),
        r_msg = quote(&format!("{remote} is a directory")),
    );
    let mut p = t
        .spawn(Launch {
            user,
            script,
            stdin: true,
        })
        .await?;
    let mut stdin = p.stdin.take().ok_or_else(|| lost(t))?;
    let mut file = tokio::fs::File::from_std(file);
    // A failed write means the remote side stopped reading (e.g. an unwritable path);
    // its exit status and stderr say why, so keep going to collect them.
    let copied = copy_big(&mut file, &mut stdin).await;
    let _ = stdin.shutdown().await;
    drop(stdin);
    finish(t, &format!("writing {remote}"), p).await?;
    copied.map_err(Error::io("read", local))?;
    Ok(())
}

pub(crate) async fn download_file(
    t: &(impl Transport + ?Sized),
    user: &str,
    remote: &str,
    local: &Path,
) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let script = format!("stat -c %a -- {r} && exec cat -- {r}", r = quote(remote));
    let mut p = t.spawn(Launch::new(user, script)).await?;
    let partial = partial_path(local);
    let out = tokio::fs::File::create(&partial)
        .await
        .map_err(Error::io("create", &partial))?;
    // Removed on every way out but the last, which renames it.
    let partial = Partial(partial);
    // Output arrives in SSH-packet-sized chunks (32 KiB); written one by one, each was a
    // trip to tokio's blocking pool, and that made downloads about half as fast as
    // uploads on a busy machine. Batch them.
    let mut out = tokio::io::BufWriter::with_capacity(2 << 20, out);
    // The first line is the mode; the rest is the file.
    let mut reader = ChunkReader::new(std::mem::replace(&mut p.stdout, mpsc::channel(1).1));
    let mut mode_line = Vec::new();
    let mut byte = [0u8; 1];
    while reader
        .read(&mut byte)
        .await
        .map_err(Error::io("read from node for", local))?
        == 1
        && byte[0] != b'\n'
    {
        mode_line.push(byte[0]);
    }
    let copied = copy_big(&mut reader, &mut out).await;
    let stderr = drain(&mut p.stderr).await;
    let status = p.exit.await.unwrap_or_else(|_| Err(lost(t)));
    let fail = |detail: String| t.failure(detail, None);
    let status = status?;
    if status != 0 {
        return Err(fail(format!(
            "reading {remote} failed (status {status}): {}",
            String::from_utf8_lossy(&stderr).trim()
        )));
    }
    copied.map_err(Error::io("write", &partial.0))?;
    out.flush().await.map_err(Error::io("write", &partial.0))?;
    drop(out);
    let mode =
        u32::from_str_radix(String::from_utf8_lossy(&mode_line).trim(), 8).map_err(|_| {
            fail(format!(
                "unexpected mode line {:?} for {remote}",
                String::from_utf8_lossy(&mode_line)
            ))
        })?;
    std::fs::set_permissions(&partial.0, std::fs::Permissions::from_mode(mode))
        .map_err(Error::io("set mode of", &partial.0))?;
    std::fs::rename(&partial.0, local).map_err(Error::io("rename into", local))?;
    Ok(())
}

/// A download's file until it is complete: removed when dropped, unless renamed.
struct Partial(std::path::PathBuf);

impl Drop for Partial {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `local` with a suffix, beside it: written first, renamed when complete.
pub(crate) fn partial_path(local: &Path) -> std::path::PathBuf {
    let mut name = local
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".dcos-e2e-partial");
    local.with_file_name(name)
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
