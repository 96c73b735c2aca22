//! Directories over any transport, as a `tar` stream: modes and symbolic links kept
//! (links are sent as links, never followed), owners not (the files belong to whoever
//! copies them, as with `cp`). A new directory appears whole or not at all: it is
//! unpacked beside its target and renamed into place; an existing one is merged into.

use std::io::{Read, Write};
use std::path::Path;

use tokio::io::AsyncWriteExt;
use tokio_util::io::SyncIoBridge;

use super::files::{as_user, checked, copy_big, split_remote, upload};
use super::{ChunkReader, Transport};
use crate::error::{Error, Parameter, Result};
use crate::node::command::quote;

/// Send the local directory `local` to `remote` on the node.
pub(crate) async fn send_tree(
    t: &(impl Transport + ?Sized),
    user: &str,
    sudo: bool,
    local: &Path,
    remote: &str,
) -> Result<()> {
    let (dir, name) = split_remote(remote)?;
    let template = format!("{}/.{name}.dcos-e2e-XXXXXXXXXX", dir.trim_end_matches('/'));
    // Over a file: refused. Into a new directory: unpacked beside it and renamed, so a
    // stream cut short leaves nothing. Into an existing one: merged, as `cp -r` would.
    let script = format!(
        "set -e; if [ -e {r} ] && [ ! -d {r} ]; then echo {r_msg} >&2; exit 1; fi; \
         if [ -d {r} ]; then exec tar -x --no-same-owner -p -C {r} -f -; fi; \
         mkdir -p -- {d}; t=$(mktemp -d {template}); trap 'rm -rf -- \"$t\"' EXIT; \
         tar -x --no-same-owner -p -C \"$t\" -f -; \
         mv -T -- \"$t\" {r}; trap - EXIT",
        d = quote(dir),
        template = quote(&template),
        r = quote(remote),
        r_msg = quote(&format!("{remote} exists and is not a directory")),
    );
    let script = as_user(user, sudo, script)?;
    let (mut reader, writer) = tokio::io::duplex(1 << 20);
    let root = local.to_path_buf();
    // The archive is written by a blocking thread into a pipe the upload reads.
    let pack = tokio::task::spawn_blocking(move || pack(&root, SyncIoBridge::new(writer)));
    let (copied, status, stderr) = upload(t, user, script, &mut reader).await?;
    let packed = pack
        .await
        .map_err(|e| Error::io("archive", local)(std::io::Error::other(e)))?;
    checked(
        t,
        &format!("writing the directory {remote}"),
        status,
        &stderr,
    )?;
    packed?;
    copied.map_err(Error::io("send", local))?;
    Ok(())
}

/// Write the tree at `root` as a tar archive: entries relative to it, links as links.
fn pack(root: &Path, out: impl Write) -> Result<()> {
    let mut archive = tar::Builder::new(out);
    archive.follow_symlinks(false);
    archive
        .append_dir_all(".", root)
        .map_err(Error::io("archive", root))?;
    archive
        .into_inner()
        .and_then(|mut w| w.flush())
        .map_err(Error::io("archive", root))
}

/// Unpack a tar stream into `local`: a new directory beside it renamed into place, or
/// merged into an existing directory. A file at `local` is refused.
pub(crate) async fn unpack(reader: &mut ChunkReader, local: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(local);
    if meta.as_ref().is_ok_and(|m| !m.is_dir()) {
        // Read the rest, so the remote side finishes, then refuse.
        let _ = tokio::io::copy(reader, &mut tokio::io::sink()).await;
        return Err(Error::invalid(
            Parameter::LocalPath,
            local.display(),
            "exists and is not a directory",
        ));
    }
    let exists = meta.is_ok();
    let parent = match local.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let staging = if exists {
        None
    } else {
        Some(
            tempfile::Builder::new()
                .prefix(".dcos-e2e-download-")
                .tempdir_in(&parent)
                .map_err(Error::io("create a temporary directory in", &parent))?,
        )
    };
    let target = staging
        .as_ref()
        .map_or_else(|| local.to_path_buf(), |s| s.path().to_path_buf());
    let (pipe_read, mut pipe_write) = tokio::io::duplex(1 << 20);
    let unpacked = {
        let target = target.clone();
        tokio::task::spawn_blocking(move || extract(SyncIoBridge::new(pipe_read), &target))
    };
    let fed = async {
        let fed = copy_big(reader, &mut pipe_write).await;
        let _ = pipe_write.shutdown().await;
        drop(pipe_write);
        fed
    };
    let fed = fed.await;
    let unpacked = unpacked
        .await
        .map_err(|e| Error::io("unpack into", local)(std::io::Error::other(e)))?;
    unpacked?;
    match fed {
        // The archive ended (tar's end blocks) before the stream: the node's tar pads
        // its output to a whole record. The rest is read and dropped.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            tokio::io::copy(reader, &mut tokio::io::sink())
                .await
                .map_err(Error::io("read from the node for", local))?;
        }
        fed => {
            fed.map_err(Error::io("read from the node for", local))?;
        }
    }
    if let Some(staging) = staging {
        let made = staging.keep();
        std::fs::rename(&made, local).map_err(Error::io("rename into", local))?;
    }
    Ok(())
}

fn extract(input: impl Read, target: &Path) -> Result<()> {
    let mut archive = tar::Archive::new(input);
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    // The files are the downloader's (as `cp` makes them), not the node's users'.
    archive.set_preserve_ownerships(false);
    archive
        .unpack(target)
        .map_err(Error::io("unpack into", target))
}
