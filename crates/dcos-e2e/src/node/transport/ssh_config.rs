//! What our SSH client offers and presents: its algorithms, keepalives and windows,
//! and the user's private key (refused when others can read it, as OpenSSH does).

use std::path::Path;
use std::time::Duration;

use russh::client;
use russh::keys::PrivateKey;

use crate::error::{Error, Parameter, Result};

/// Our client settings; `host_key_order` puts some host key algorithms first.
pub(super) fn client_config(host_key_order: Option<Vec<russh::keys::Algorithm>>) -> client::Config {
    let mut preferred = russh::Preferred {
        // AES-GCM runs on the CPU's AES instructions: about twice the file
        // throughput of the default ChaCha20-Poly1305 here.
        cipher: std::borrow::Cow::Borrowed(&[
            russh::cipher::AES_256_GCM,
            russh::cipher::AES_128_GCM,
            russh::cipher::CHACHA20_POLY1305,
            russh::cipher::AES_256_CTR,
            russh::cipher::AES_128_CTR,
        ]),
        ..Default::default()
    };
    if let Some(order) = host_key_order {
        preferred.key = std::borrow::Cow::Owned(order);
    }
    client::Config {
        // A killed node sends nothing; keepalives notice within ~10 s.
        keepalive_interval: Some(Duration::from_secs(3)),
        keepalive_max: 3,
        window_size: 16 * 1024 * 1024,
        channel_buffer_size: 256,
        nodelay: true,
        preferred,
        ..Default::default()
    }
}

/// Load a private key, refusing one that group or others can read (as OpenSSH does).
pub(crate) fn load_private_key(path: &Path) -> Result<PrivateKey> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(Error::io("read", path))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(Error::invalid(
            Parameter::SshKeyPath,
            path.display(),
            format!(
                "the private key is readable by others (mode {:o}); run `chmod 600` on it",
                meta.permissions().mode() & 0o777
            ),
        ));
    }
    russh::keys::load_secret_key(path, None).map_err(|e| {
        Error::invalid(
            Parameter::SshKeyPath,
            path.display(),
            format!("not a usable private key: {e}"),
        )
    })
}
