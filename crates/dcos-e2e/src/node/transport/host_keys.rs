//! SSH host keys pinned per cluster: known in advance for Docker nodes (we generate
//! them), trusted on first use otherwise.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use russh::client;
use russh::keys::{PublicKey, PublicKeyOrCertificate};

/// Host keys pinned for one cluster, by node address.
#[derive(Clone, Debug, Default)]
pub(crate) struct HostKeys(Arc<Mutex<HashMap<IpAddr, PublicKey>>>);

impl HostKeys {
    pub(crate) fn pin(&self, ip: IpAddr, key: PublicKey) {
        self.lock().insert(ip, key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, PublicKey>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Accept a key seen for the first time; afterwards only that key.
    fn check(&self, ip: IpAddr, key: &PublicKey) -> bool {
        let mut keys = self.lock();
        match keys.get(&ip) {
            Some(pinned) => pinned.key_data() == key.key_data(),
            None => {
                keys.insert(ip, key.clone());
                true
            }
        }
    }

    /// Keys from `known_hosts` lines of the form `ADDRESS KEY` (as [`Self::known_hosts`]
    /// writes them); other lines are skipped.
    pub(crate) fn from_known_hosts(text: &str) -> Self {
        let keys = Self::default();
        for line in text.lines() {
            if let Some((ip, key)) = line.split_once(' ')
                && let (Ok(ip), Ok(key)) = (ip.parse(), PublicKey::from_openssh(key))
            {
                keys.pin(ip, key);
            }
        }
        keys
    }

    /// `known_hosts` lines for every pinned key.
    pub(crate) fn known_hosts(&self) -> String {
        let keys = self.lock();
        let mut lines: Vec<String> = keys
            .iter()
            .filter_map(|(ip, key)| key.to_openssh().ok().map(|k| format!("{ip} {k}\n")))
            .collect();
        lines.sort();
        lines.concat()
    }
}

pub(crate) struct Checker {
    pub(crate) ip: IpAddr,
    pub(crate) host_keys: HostKeys,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        // Nodes present plain host keys; a certificate is not something we pinned.
        let PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            return Ok(false);
        };
        let ok = self.host_keys.check(self.ip, key);
        if !ok {
            tracing::warn!(node = %self.ip, "host key does not match the one pinned for this cluster");
        }
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hosts_round_trip() {
        let key = russh::keys::PrivateKey::from(
            russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&[7; 32]),
        );
        let keys = HostKeys::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        keys.pin(ip, key.public_key().clone());
        let text = keys.known_hosts();
        let back = HostKeys::from_known_hosts(&format!("# comment\n{text}garbage line\n"));
        assert_eq!(back.known_hosts(), text);
        assert!(back.check(ip, key.public_key()));
    }
}
