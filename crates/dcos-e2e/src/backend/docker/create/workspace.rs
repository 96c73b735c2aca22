//! The cluster's workspace on the host: a private directory holding the cluster's SSH
//! key pair, each node's host key and pinned `known_hosts`, and the installer's genconf.

use std::path::{Path, PathBuf};

use russh::keys::ssh_key::{LineEnding, PrivateKey, private::Ed25519Keypair};

use crate::error::{Error, Result};

/// The private key in the workspace.
pub(crate) const KEY_FILE: &str = "ssh/id_ed25519";
/// Pinned host keys of the nodes, in OpenSSH `known_hosts` form.
pub(crate) const KNOWN_HOSTS_FILE: &str = "ssh/known_hosts";
/// The installer's genconf directory (its `serve/` is what nodes install from).
pub(crate) const GENCONF_DIR: &str = "genconf";
/// Written first into every workspace, holding the cluster id: what cleanup checks
/// before it removes a directory a label names.
pub(crate) const MARKER_FILE: &str = ".dcos-e2e-workspace";

/// Whether `path` is a workspace of cluster `id`: absolute, named after the cluster, and
/// holding our marker (or, made before the marker, our key). A label can name any path;
/// only such a directory is ever removed.
pub(crate) fn is_workspace_of(path: &Path, id: &str) -> bool {
    let named = path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{id}-")));
    let marked = std::fs::read_to_string(path.join(MARKER_FILE)).is_ok_and(|m| m.trim() == id)
        || path.join(KEY_FILE).is_file();
    path.is_absolute() && named && marked
}

/// The cluster's workspace while it is being made: removed if provisioning does not
/// finish (an error, or the provisioning future dropped by an interrupt), since it holds
/// keys and nothing labelled may point at it yet.
pub(crate) struct Workspace {
    path: PathBuf,
    armed: bool,
}

impl Workspace {
    /// A fresh private directory `<id>-XXXXXX` in `base` (an absolute path).
    pub(crate) fn create(base: &Path, id: &str) -> Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let path = tempfile::Builder::new()
            .prefix(&format!("{id}-"))
            // Keys and configuration live here: only the owner may look.
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(base)
            .map_err(Error::io("create a workspace in", base))?
            .keep();
        let marker = path.join(MARKER_FILE);
        std::fs::write(&marker, format!("{id}\n")).map_err(Error::io("write", &marker))?;
        let serve = path.join(GENCONF_DIR).join("serve");
        std::fs::create_dir_all(&serve).map_err(Error::io("create", &serve))?;
        Ok(Self { path, armed: true })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Provisioning finished: the workspace belongs to the cluster now.
    pub(crate) fn keep(mut self) -> PathBuf {
        self.armed = false;
        std::mem::take(&mut self.path)
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

pub(crate) fn new_ed25519() -> PrivateKey {
    PrivateKey::from(Ed25519Keypair::from_seed(&rand::random::<[u8; 32]>()))
}

/// Write the cluster's key pair; the private key is created with mode 0600.
pub(crate) fn write_keypair(workspace: &Path, key: &PrivateKey) -> Result<PathBuf> {
    let ssh_dir = workspace.join("ssh");
    std::fs::create_dir_all(&ssh_dir).map_err(Error::io("create", &ssh_dir))?;
    let path = workspace.join(KEY_FILE);
    write_private_key(&path, key)?;
    let public = key.public_key().to_openssh().unwrap_or_default();
    let pub_path = path.with_extension("pub");
    std::fs::write(&pub_path, format!("{public} dcos-e2e\n"))
        .map_err(Error::io("write", pub_path))?;
    Ok(path)
}

/// Write a private key in OpenSSH format, readable by its owner only.
pub(crate) fn write_private_key(path: &Path, key: &PrivateKey) -> Result<()> {
    let pem = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| Error::io("encode a key for", path)(std::io::Error::other(e.to_string())))?;
    write_private(path, pem.as_bytes())
}

/// Write a file only its owner can read (created so: never briefly readable).
pub(crate) fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(Error::io("create", path))?;
    file.write_all(data).map_err(Error::io("write", path))
}
