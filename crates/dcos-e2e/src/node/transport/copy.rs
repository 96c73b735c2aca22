//! Copies, a file or a directory, in both directions: which of [`super::files`] and
//! [`super::trees`] does the work is decided here (locally by the path given, remotely by
//! what the node finds at it).

use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::files::{self, as_user, checked, copy_big, partial_file};
use super::{ChunkReader, Launch, StreamRx, Transport, drain, lost, trees};
use crate::error::{Error, Result};
use crate::node::command::quote;

/// Send the local file or directory `local` to `remote`.
pub(crate) async fn send(
    t: &(impl Transport + ?Sized),
    user: &str,
    sudo: bool,
    local: &Path,
    remote: &str,
) -> Result<()> {
    // A link to a directory is followed: the user named it.
    if local.is_dir() {
        trees::send_tree(t, user, sudo, local, remote).await
    } else {
        files::send_file(t, user, sudo, local, remote).await
    }
}

/// Stream `remote` into a private temporary file beside `local` (random name, created
/// mode 0600 and exclusively: a planted symlink is not followed, concurrent downloads do
/// not meet), then give it the remote mode and rename it over `local`. A directory is
/// streamed as `tar` and unpacked (see [`super::trees`]).
pub(crate) async fn download(
    t: &(impl Transport + ?Sized),
    user: &str,
    sudo: bool,
    remote: &str,
    local: &Path,
) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // The first line says what follows: `dir` and a tar stream, or a file's mode and
    // the file.
    let script = format!(
        "if [ -d {r} ]; then echo dir; exec tar -c -C {r} .; fi; \
         stat -c %a -- {r} && exec cat -- {r}",
        r = quote(remote)
    );
    let script = as_user(user, sudo, script)?;
    // The file is written at the local disk's pace.
    let launch = Launch {
        paced: true,
        ..Launch::new(user, script)
    };
    let mut p = t.spawn(launch).await?;
    let reader = ChunkReader::new(std::mem::replace(&mut p.stdout, StreamRx::ended()));
    // stderr is read all along: the remote side must never wait on it. `fetch` owns
    // the output: failing early, it lets go of it, and the remote side stops.
    let (fetched, stderr) = tokio::join!(fetch(reader, local), drain(&mut p.stderr));
    let status = p.exit.await.unwrap_or_else(|_| Err(lost(t)));
    checked(t, &format!("reading {remote}"), status, &stderr)?;
    match fetched? {
        Fetched::File(partial, mode) => {
            std::fs::set_permissions(partial.path(), std::fs::Permissions::from_mode(mode))
                .map_err(Error::io("set mode of", partial.path()))?;
            partial
                .persist(local)
                .map_err(|e| Error::io("rename into", local)(e.error))?;
            Ok(())
        }
        Fetched::Tree => Ok(()),
        Fetched::Nothing(first) => Err(t.failure(
            format!(
                "unexpected answer {:?} for {remote}",
                String::from_utf8_lossy(&first)
            ),
            None,
        )),
    }
}

/// What a download brought.
enum Fetched {
    /// A complete file, and the mode to give it.
    File(tempfile::NamedTempFile, u32),
    /// A directory, unpacked in place.
    Tree,
    /// No mode line (the remote command failed; its status says why).
    Nothing(Vec<u8>),
}

/// Read the first line, then the file or the directory that follows.
async fn fetch(mut reader: ChunkReader, local: &Path) -> Result<Fetched> {
    let mut first = Vec::new();
    let mut byte = [0u8; 1];
    while reader
        .read(&mut byte)
        .await
        .map_err(Error::io("read from the node for", local))?
        == 1
        && byte[0] != b'\n'
    {
        first.push(byte[0]);
    }
    if first == b"dir" {
        trees::unpack(&mut reader, local).await?;
        return Ok(Fetched::Tree);
    }
    let Ok(mode) = u32::from_str_radix(String::from_utf8_lossy(&first).trim(), 8) else {
        // Read the rest, so the remote side finishes.
        let _ = tokio::io::copy(&mut reader, &mut tokio::io::sink()).await;
        return Ok(Fetched::Nothing(first));
    };
    // Made now: a target directory we cannot write to fails before the file comes.
    let partial = partial_file(local)?;
    let out = partial
        .as_file()
        .try_clone()
        .map_err(Error::io("open", partial.path()))?;
    // Output arrives in SSH-packet-sized chunks (32 KiB); written one by one, each was a
    // trip to tokio's blocking pool, and that made downloads about half as fast as
    // uploads on a busy machine. Batch them.
    let mut out = tokio::io::BufWriter::with_capacity(2 << 20, tokio::fs::File::from_std(out));
    copy_big(&mut reader, &mut out)
        .await
        .map_err(Error::io("write", partial.path()))?;
    out.flush()
        .await
        .map_err(Error::io("write", partial.path()))?;
    Ok(Fetched::File(partial, mode))
}
