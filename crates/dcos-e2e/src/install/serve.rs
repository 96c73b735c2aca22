//! `genconf/serve` onto nodes that do not see this host's workspace (the hosts of an
//! existing cluster, the nodes of a daemon on another host). What a node already has,
//! with the same content and mode, stays; only files that differ or are missing are
//! sent (one tar stream per node), and files the new `serve/` lacks are removed. A
//! second install or an upgrade of a large artifact then sends only what changed.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::node::{Command, CopyOptions, Node, quote};

/// One entry of a `serve/` tree, by its path relative to the tree's root.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    /// A regular file: its permission bits and the hex sha256 of its content.
    File { mode: u32, sha256: String },
    /// Anything else (a symbolic link): always sent, tar keeps it as it is.
    Other,
}

type Listing = BTreeMap<String, Entry>;

/// This host's `serve/`, read once for all nodes.
pub(crate) struct LocalServe {
    dir: PathBuf,
    listing: Listing,
}

impl LocalServe {
    pub(crate) async fn read(dir: &Path) -> Result<Self> {
        let dir = dir.to_path_buf();
        let read = tokio::task::spawn_blocking(move || {
            let mut listing = Listing::new();
            walk(&dir, &dir, &mut listing)?;
            Ok(Self { dir, listing })
        });
        read.await
            .map_err(|e| Error::io("read", "genconf/serve")(std::io::Error::other(e)))?
    }
}

fn walk(root: &Path, dir: &Path, listing: &mut Listing) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(Error::io("read", dir))?;
    for entry in entries {
        let entry = entry.map_err(Error::io("read", dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(Error::io("read", &path))?;
        if kind.is_dir() {
            walk(root, &path, listing)?;
            continue;
        }
        let relative = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        let listed = if kind.is_file() {
            let meta = entry.metadata().map_err(Error::io("read", &path))?;
            Entry::File {
                mode: meta.permissions().mode() & 0o7777,
                sha256: file_sha256(&path)?,
            }
        } else {
            Entry::Other
        };
        listing.insert(relative, listed);
    }
    Ok(())
}

fn file_sha256(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(Error::io("read", path))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(Error::io("read", path))?;
    Ok(hex::encode(hasher.finalize()))
}

const SPLIT: &str = "==== dcos-e2e serve listing ====";

/// Makes `dir` and lists its regular files: `MODE ./PATH` lines, [`SPLIT`], then
/// `sha256sum` lines.
fn listing_script(dir: &str) -> String {
    format!(
        "mkdir -p {d} && cd {d} && find . -type f -printf '%m %p\\n' && echo '{SPLIT}' && \
         find . -type f -print0 | xargs -0 -r sha256sum --",
        d = quote(dir)
    )
}

/// The node's listing from [`listing_script`]'s output. A name `sha256sum` had to
/// escape (a backslash or newline in it) is left out, so it is sent again.
fn parse_listing(out: &str) -> Listing {
    let (modes, sums) = out.split_once(SPLIT).unwrap_or((out, ""));
    let modes: BTreeMap<&str, u32> = modes
        .lines()
        .filter_map(|l| {
            let (mode, path) = l.split_once(' ')?;
            Some((path.strip_prefix("./")?, u32::from_str_radix(mode, 8).ok()?))
        })
        .collect();
    sums.lines()
        .filter_map(|l| {
            let (sum, path) = l.split_once("  ")?;
            let path = path.strip_prefix("./")?;
            let mode = *modes.get(path)?;
            let file = Entry::File {
                mode,
                sha256: sum.to_string(),
            };
            Some((path.to_string(), file))
        })
        .collect()
}

/// What a node needs: the paths to send and the paths to remove.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    send: Vec<String>,
    remove: Vec<String>,
}

fn plan(local: &Listing, remote: &Listing) -> Plan {
    let send = local
        .iter()
        .filter(|(path, entry)| **entry == Entry::Other || remote.get(*path) != Some(entry))
        .map(|(path, _)| path.clone())
        .collect();
    let remove = remote
        .keys()
        .filter(|path| !local.contains_key(*path))
        .cloned()
        .collect();
    Plan { send, remove }
}

/// Make `remote_dir` on `node` hold what `local` holds (as root).
pub(crate) async fn sync(node: &Node, local: &LocalServe, remote_dir: &str) -> Result<()> {
    let listed = node
        .run(Command::shell(listing_script(remote_dir)).sudo(true))
        .await?;
    let remote = parse_listing(&String::from_utf8_lossy(&listed.stdout));
    let plan = plan(&local.listing, &remote);
    if !plan.remove.is_empty() {
        let paths: Vec<String> = plan.remove.iter().map(|p| quote(p)).collect();
        let script = format!(
            "cd {} && rm -f -- {} && find . -mindepth 1 -depth -type d -empty -delete",
            quote(remote_dir),
            paths.join(" ")
        );
        node.run(Command::shell(script).sudo(true)).await?;
    }
    let options = CopyOptions::new().sudo(true);
    if plan.send.len() == local.listing.len() {
        // Nothing there to keep (a first install): the tree as it is.
        node.send_file_with(&local.dir, remote_dir, &options)
            .await?;
    } else if !plan.send.is_empty() {
        let staging = stage(local, &plan.send).await?;
        node.send_file_with(staging.path(), remote_dir, &options)
            .await?;
    }
    tracing::info!(
        node = %node,
        sent = plan.send.len(),
        kept = local.listing.len() - plan.send.len(),
        removed = plan.remove.len(),
        "genconf/serve synced"
    );
    Ok(())
}

/// A directory beside `local` holding only `paths` (hard links where the filesystem
/// allows, else copies), for one tar stream that merges into the node's directory.
async fn stage(local: &LocalServe, paths: &[String]) -> Result<tempfile::TempDir> {
    let (dir, paths) = (local.dir.clone(), paths.to_vec());
    let staged = tokio::task::spawn_blocking(move || {
        let parent = dir.parent().unwrap_or(&dir);
        let staging = tempfile::Builder::new()
            .prefix(".serve-send-")
            .tempdir_in(parent)
            .map_err(Error::io("make a directory in", parent))?;
        for path in &paths {
            let (from, to) = (dir.join(path), staging.path().join(path));
            if let Some(up) = to.parent() {
                std::fs::create_dir_all(up).map_err(Error::io("make", up))?;
            }
            let meta = std::fs::symlink_metadata(&from).map_err(Error::io("read", &from))?;
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&from).map_err(Error::io("read", &from))?;
                std::os::unix::fs::symlink(target, &to).map_err(Error::io("write", &to))?;
            } else if std::fs::hard_link(&from, &to).is_err() {
                std::fs::copy(&from, &to).map_err(Error::io("write", &to))?;
            }
        }
        Ok(staging)
    });
    staged
        .await
        .map_err(|e| Error::io("stage", "genconf/serve")(std::io::Error::other(e)))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(mode: u32, sha256: &str) -> Entry {
        Entry::File {
            mode,
            sha256: sha256.into(),
        }
    }

    #[test]
    fn the_listing_pairs_modes_with_sums() {
        let out = format!(
            "755 ./dcos_install.sh\n644 ./bootstrap/ab.tar.gz\n{SPLIT}\n\
             1111  ./dcos_install.sh\n2222  ./bootstrap/ab.tar.gz\n\\3333  ./odd\\nname\n"
        );
        let listing = parse_listing(&out);
        assert_eq!(listing.len(), 2, "{listing:?}");
        assert_eq!(listing["dcos_install.sh"], file(0o755, "1111"));
        assert_eq!(listing["bootstrap/ab.tar.gz"], file(0o644, "2222"));
    }

    #[test]
    fn an_empty_or_cut_listing_lists_nothing() {
        assert!(parse_listing("").is_empty());
        assert!(parse_listing(&format!("{SPLIT}\n")).is_empty());
        assert!(parse_listing("755 ./a\n").is_empty());
    }

    #[test]
    fn only_what_differs_is_sent_and_what_is_gone_removed() {
        let local: Listing = [
            ("same".to_string(), file(0o644, "1")),
            ("changed".to_string(), file(0o644, "2")),
            ("mode".to_string(), file(0o755, "3")),
            ("new".to_string(), file(0o644, "4")),
            ("link".to_string(), Entry::Other),
        ]
        .into();
        let remote: Listing = [
            ("same".to_string(), file(0o644, "1")),
            ("changed".to_string(), file(0o644, "9")),
            ("mode".to_string(), file(0o644, "3")),
            ("old".to_string(), file(0o644, "5")),
        ]
        .into();
        let plan = plan(&local, &remote);
        assert_eq!(plan.send, ["changed", "link", "mode", "new"]);
        assert_eq!(plan.remove, ["old"]);
        assert_eq!(super::plan(&remote, &remote), Plan::default());
    }

    #[tokio::test]
    async fn the_local_tree_is_listed_with_modes_and_sums() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a"), "abc").unwrap();
        std::fs::write(dir.path().join("x.sh"), "").unwrap();
        for (name, mode) in [("sub/a", 0o640), ("x.sh", 0o750)] {
            let mode = std::fs::Permissions::from_mode(mode);
            std::fs::set_permissions(dir.path().join(name), mode).unwrap();
        }
        let local = LocalServe::read(dir.path()).await.unwrap();
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(local.listing["sub/a"], file(0o640, abc));
        assert_eq!(local.listing["x.sh"], file(0o750, empty));
    }
}
