//! Which SSH host key each node may present.
//!
//! Docker nodes: the keys we generated, pinned per cluster; nothing else is accepted.
//! Existing hosts: the entries of an OpenSSH `known_hosts` file, looked up by address
//! (`ADDR`, or `[ADDR]:PORT` off port 22), in the forms OpenSSH writes and reads: comma
//! lists, `*`/`?` patterns and `!` negations, hashed `|1|salt|hmac` names, `@revoked`
//! keys (refused). `@cert-authority` lines are skipped: we accept plain host keys only.
//! A host not listed is refused ([`HostKeyChecking::Strict`]) or trusted on first use
//! for as long as the cluster handle lives ([`HostKeyChecking::AcceptNew`]); the file is
//! never written.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hmac::{Hmac, KeyInit, Mac};
use russh::client;
use russh::keys::ssh_key::encoding::base64::{Base64, Encoding};
use russh::keys::{Algorithm, EcdsaCurve, HashAlg, PublicKey, PublicKeyOrCertificate};
use sha1::Sha1;

use crate::error::{Error, Result};

/// How host keys of existing hosts are checked against their `known_hosts` file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HostKeyChecking {
    /// A host must be listed with the key it presents; any other host is refused with
    /// [`Error::HostKeyUnknown`] (OpenSSH's `StrictHostKeyChecking yes`).
    #[default]
    Strict,
    /// A host not listed is trusted with the first key it presents, for as long as the
    /// cluster handle lives (the file is not written). A listed host must still present
    /// a listed key (OpenSSH's `accept-new`, without writing the file).
    AcceptNew,
}

/// Host keys for one cluster's nodes. Cheap to clone; clones share what was learnt.
#[derive(Clone, Debug, Default)]
pub(crate) struct HostKeys(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    /// Keys known for an address and port: generated (Docker) or accepted.
    pinned: Mutex<HashMap<(IpAddr, u16), PublicKey>>,
    /// For existing hosts: the file's entries.
    file: Option<KnownHosts>,
    /// The name a host at an address and port was given by (its file entries count too).
    names: Mutex<HashMap<(IpAddr, u16), String>>,
}

/// Why a key was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Another key is known for this address.
    Mismatch,
    /// No key is known for this address, and strict checking is on.
    Unknown { fingerprint: String, file: PathBuf },
    /// The file lists the key as `@revoked`.
    Revoked { fingerprint: String, file: PathBuf },
}

impl Refusal {
    /// The error for `node`.
    pub(crate) fn error(self, node: &str) -> Error {
        let node = node.to_string();
        match self {
            Refusal::Mismatch => Error::HostKeyMismatch { node },
            Refusal::Unknown { fingerprint, file } => Error::HostKeyUnknown {
                node,
                fingerprint,
                known_hosts: file,
            },
            Refusal::Revoked { fingerprint, file } => Error::HostKeyRevoked {
                node,
                fingerprint,
                known_hosts: file,
            },
        }
    }
}

impl HostKeys {
    /// The key of the node at `ip` (port 22).
    pub(crate) fn pin(&self, ip: IpAddr, key: PublicKey) {
        self.pin_at(ip, 22, key);
    }

    /// The key of the host at `ip` and `port`.
    pub(crate) fn pin_at(&self, ip: IpAddr, port: u16, key: PublicKey) {
        self.lock().insert((ip, port), key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(IpAddr, u16), PublicKey>> {
        self.0
            .pinned
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keys from an OpenSSH `known_hosts` file, checked as `checking` says. A missing
    /// file is an empty one when `missing_ok`, else an error, as is any other read
    /// failure: it never silently means "trust anything".
    pub(crate) fn from_file(
        path: &Path,
        checking: HostKeyChecking,
        missing_ok: bool,
    ) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if missing_ok && e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io("read the known_hosts file", path)(e)),
        };
        Ok(Self(Arc::new(Inner {
            pinned: Mutex::default(),
            file: Some(KnownHosts::parse(&text, path, checking)),
            names: Mutex::default(),
        })))
    }

    /// The host at `ip` and `port` was given as `name`: the file's entries for that name
    /// count for it too, as OpenSSH looks a host up by the name it was given (and writes
    /// it so).
    pub(crate) fn known_as(&self, ip: IpAddr, port: u16, name: &str) {
        self.0
            .names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((ip, port), name.to_ascii_lowercase());
    }

    fn name_of(&self, ip: IpAddr, port: u16) -> Option<String> {
        self.0
            .names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(ip, port))
            .cloned()
    }

    /// Whether `key` may be `ip`'s (on `port`); a key accepted on first use is pinned.
    pub(crate) fn check(&self, ip: IpAddr, port: u16, key: &PublicKey) -> Result<(), Refusal> {
        let mut pinned = self.lock();
        if let Some(known) = pinned.get(&(ip, port)) {
            return if known.key_data() == key.key_data() {
                Ok(())
            } else {
                Err(Refusal::Mismatch)
            };
        }
        let Some(file) = &self.0.file else {
            // Docker nodes: only the keys we made.
            return Err(Refusal::Mismatch);
        };
        let fingerprint = || key.fingerprint(HashAlg::Sha256).to_string();
        let name = self.name_of(ip, port);
        let entries: Vec<&Entry> = file.for_host(ip, port, name.as_deref()).collect();
        if entries
            .iter()
            .any(|e| e.revoked && e.key.key_data() == key.key_data())
        {
            return Err(Refusal::Revoked {
                fingerprint: fingerprint(),
                file: file.path.clone(),
            });
        }
        let listed: Vec<&&Entry> = entries.iter().filter(|e| !e.revoked).collect();
        if listed.iter().any(|e| e.key.key_data() == key.key_data()) {
            pinned.insert((ip, port), key.clone());
            return Ok(());
        }
        if let Some(e) = listed.first() {
            tracing::warn!(
                host = %ip,
                known_hosts = %file.path.display(),
                line = e.line,
                "the host presents a key that is not the one listed for it"
            );
            return Err(Refusal::Mismatch);
        }
        match file.checking {
            HostKeyChecking::AcceptNew => {
                tracing::info!(host = %ip, fingerprint = %fingerprint(), "host key accepted on first use");
                pinned.insert((ip, port), key.clone());
                Ok(())
            }
            HostKeyChecking::Strict => Err(Refusal::Unknown {
                fingerprint: fingerprint(),
                file: file.path.clone(),
            }),
        }
    }

    /// Host key algorithms to ask `ip` for first: those of the keys listed for it, so a
    /// host listed only with, say, its ECDSA key is asked for that one (as OpenSSH
    /// does). `None` when nothing is listed.
    pub(crate) fn preferred_algorithms(&self, ip: IpAddr, port: u16) -> Option<Vec<Algorithm>> {
        let pinned = self.lock().get(&(ip, port)).map(|k| k.algorithm());
        let name = self.name_of(ip, port);
        let listed: Vec<Algorithm> = match (pinned, &self.0.file) {
            (Some(algorithm), _) => vec![algorithm],
            (None, Some(file)) => file
                .for_host(ip, port, name.as_deref())
                .filter(|e| !e.revoked)
                .map(|e| e.key.algorithm())
                .collect(),
            (None, None) => Vec::new(),
        };
        if listed.is_empty() {
            return None;
        }
        let family = |a: &Algorithm| match a {
            Algorithm::Rsa { .. } => Algorithm::Rsa { hash: None },
            other => other.clone(),
        };
        let wanted: Vec<Algorithm> = listed.iter().map(family).collect();
        let (first, rest): (Vec<Algorithm>, Vec<Algorithm>) = DEFAULT_ORDER
            .iter()
            .cloned()
            .partition(|a| wanted.contains(&family(a)));
        Some(first.into_iter().chain(rest).collect())
    }

    /// `known_hosts` lines for every pinned key.
    pub(crate) fn known_hosts(&self) -> String {
        let keys = self.lock();
        let mut lines: Vec<String> = keys
            .iter()
            .filter_map(|((ip, port), key)| {
                let name = match port {
                    22 => ip.to_string(),
                    _ => format!("[{ip}]:{port}"),
                };
                key.to_openssh().ok().map(|k| format!("{name} {k}\n"))
            })
            .collect();
        lines.sort();
        lines.concat()
    }
}

/// russh's default host key algorithms, in its order.
const DEFAULT_ORDER: &[Algorithm] = &[
    Algorithm::Ed25519,
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP256,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP384,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP521,
    },
    Algorithm::Rsa {
        hash: Some(HashAlg::Sha512),
    },
    Algorithm::Rsa {
        hash: Some(HashAlg::Sha256),
    },
    Algorithm::Rsa { hash: None },
];

/// The usable entries of a `known_hosts` file.
#[derive(Debug)]
struct KnownHosts {
    path: PathBuf,
    checking: HostKeyChecking,
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    line: usize,
    revoked: bool,
    hosts: Vec<Pattern>,
    key: PublicKey,
}

#[derive(Debug)]
enum Pattern {
    /// `|1|salt|hash`: HMAC-SHA1 of the name, keyed with the salt.
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
    /// A name or wildcard pattern; `negated` for `!pattern`.
    Plain { pattern: String, negated: bool },
}

impl KnownHosts {
    /// Parse the file; lines that are not usable entries (comments, keys of types we
    /// cannot read, `@cert-authority`) are skipped, as OpenSSH skips what it cannot use.
    fn parse(text: &str, path: &Path, checking: HostKeyChecking) -> Self {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let mut fields = line.split_whitespace().peekable();
            let revoked = match fields.peek() {
                None => continue,
                Some(f) if f.starts_with('#') => continue,
                Some(&"@revoked") => {
                    fields.next();
                    true
                }
                Some(f) if f.starts_with('@') => continue,
                Some(_) => false,
            };
            let (Some(hosts), Some(kind), Some(data)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let Ok(key) = PublicKey::from_openssh(&format!("{kind} {data}")) else {
                tracing::debug!(known_hosts = %path.display(), line = i + 1, "skipped: not a key we can read");
                continue;
            };
            entries.push(Entry {
                line: i + 1,
                revoked,
                hosts: hosts.split(',').filter_map(Pattern::parse).collect(),
                key,
            });
        }
        Self {
            path: path.to_path_buf(),
            checking,
            entries,
        }
    }

    /// The entries for this address and port, or for the name the host was given.
    fn for_host(&self, ip: IpAddr, port: u16, given: Option<&str>) -> impl Iterator<Item = &Entry> {
        let form = |host: &str| {
            if port == 22 {
                host.to_string()
            } else {
                format!("[{host}]:{port}")
            }
        };
        let names: Vec<String> = std::iter::once(form(&ip.to_string()))
            .chain(given.map(form))
            .collect();
        self.entries
            .iter()
            .filter(move |e| names.iter().any(|n| host_matches(&e.hosts, n)))
    }
}

impl Pattern {
    fn parse(text: &str) -> Option<Self> {
        if let Some(hashed) = text.strip_prefix("|1|") {
            let (salt, hash) = hashed.split_once('|')?;
            return Some(Pattern::Hashed {
                salt: Base64::decode_vec(salt).ok()?,
                hash: Base64::decode_vec(hash).ok()?,
            });
        }
        let (pattern, negated) = match text.strip_prefix('!') {
            Some(rest) => (rest, true),
            None => (text, false),
        };
        Some(Pattern::Plain {
            pattern: pattern.to_ascii_lowercase(),
            negated,
        })
    }
}

/// OpenSSH's rule for a host list: a negated pattern that matches excludes the host,
/// else any pattern that matches includes it.
fn host_matches(patterns: &[Pattern], name: &str) -> bool {
    let mut included = false;
    for p in patterns {
        match p {
            Pattern::Hashed { salt, hash } => {
                if let Ok(mac) = Hmac::<Sha1>::new_from_slice(salt)
                    && mac.chain_update(name.as_bytes()).verify_slice(hash).is_ok()
                {
                    included = true;
                }
            }
            Pattern::Plain { pattern, negated } => {
                if wildcard(pattern.as_bytes(), name.as_bytes()) {
                    if *negated {
                        return false;
                    }
                    included = true;
                }
            }
        }
    }
    included
}

/// `*` (any run) and `?` (any one character) matching, as OpenSSH's `match_pattern`.
fn wildcard(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            wildcard(&pattern[1..], name) || (!name.is_empty() && wildcard(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => wildcard(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => wildcard(&pattern[1..], &name[1..]),
        _ => false,
    }
}

pub(crate) struct Checker {
    pub(crate) ip: IpAddr,
    pub(crate) port: u16,
    pub(crate) host_keys: HostKeys,
    /// Why the key was refused, for the error after russh's plain `UnknownKey`.
    pub(crate) refusal: Arc<Mutex<Option<Refusal>>>,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        // We do not advertise certificate algorithms, so servers present plain keys.
        let PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            return Ok(false);
        };
        match self.host_keys.check(self.ip, self.port, key) {
            Ok(()) => Ok(true),
            Err(refusal) => {
                tracing::warn!(node = %self.ip, ?refusal, "host key refused");
                *self
                    .refusal
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(refusal);
                Ok(false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> PublicKey {
        russh::keys::PrivateKey::from(russh::keys::ssh_key::private::Ed25519Keypair::from_seed(
            &[seed; 32],
        ))
        .public_key()
        .clone()
    }

    fn line(key: &PublicKey) -> String {
        key.to_openssh().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn file(text: &str, checking: HostKeyChecking) -> (tempfile::TempDir, HostKeys) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, text).unwrap();
        let keys = HostKeys::from_file(&path, checking, false).unwrap();
        (dir, keys)
    }

    /// `|1|salt|hmac` for `name`, as `ssh-keygen -H` writes it.
    fn hashed(name: &str, salt: &[u8]) -> String {
        let mac = Hmac::<Sha1>::new_from_slice(salt)
            .unwrap()
            .chain_update(name.as_bytes())
            .finalize()
            .into_bytes();
        format!(
            "|1|{}|{}",
            Base64::encode_string(salt),
            Base64::encode_string(&mac)
        )
    }

    #[test]
    fn pinned_keys_round_trip_and_nothing_else_is_accepted() {
        let keys = HostKeys::default();
        keys.pin(ip("10.0.0.1"), key(7));
        let text = keys.known_hosts();
        assert_eq!(text, format!("10.0.0.1 {}\n", line(&key(7))));
        assert_eq!(keys.check(ip("10.0.0.1"), 22, &key(7)), Ok(()));
        assert_eq!(
            keys.check(ip("10.0.0.1"), 22, &key(8)),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            keys.check(ip("10.0.0.2"), 22, &key(7)),
            Err(Refusal::Mismatch),
            "a Docker cluster trusts only the keys it made"
        );
    }

    #[test]
    fn a_host_given_by_name_is_found_by_its_name_or_its_address() {
        let text = format!(
            "docker-host.example {k1}\n[{hashed}]:2222 {k2}\n",
            k1 = line(&key(1)),
            k2 = line(&key(2)),
            hashed = "other.example",
        );
        let (_dir, keys) = file(&text, HostKeyChecking::Strict);
        let at = ip("10.0.0.5");
        assert!(matches!(
            keys.check(at, 22, &key(1)),
            Err(Refusal::Unknown { .. })
        ));
        keys.known_as(at, 22, "Docker-Host.example");
        assert_eq!(keys.check(at, 22, &key(1)), Ok(()));
        assert_eq!(
            keys.preferred_algorithms(at, 22).unwrap()[0],
            key(1).algorithm()
        );
        // On another port the name is written `[name]:port`, as OpenSSH does.
        let other = ip("10.0.0.6");
        keys.known_as(other, 2222, "other.example");
        assert_eq!(keys.check(other, 2222, &key(2)), Ok(()));
        assert_eq!(keys.check(other, 2222, &key(1)), Err(Refusal::Mismatch));
    }

    #[test]
    fn openssh_forms_are_understood() {
        let text = format!(
            "# a comment\n\
             \n\
             10.0.0.9,10.0.0.1 {k1} comment here\n\
             [10.0.0.2]:2222 {k2}\n\
             {hashed} {k3}\n\
             10.0.1.* {k4}\n\
             10.0.2.*,!10.0.2.5 {k5}\n\
             @cert-authority * {k6}\n\
             10.0.0.7 ssh-unknown-type AAAA\n\
             10.0.0.8 {k1}\n\
             @revoked 10.0.0.8 {k1}\n",
            k1 = line(&key(1)),
            k2 = line(&key(2)),
            k3 = line(&key(3)),
            k4 = line(&key(4)),
            k5 = line(&key(5)),
            k6 = line(&key(6)),
            hashed = hashed("10.0.0.3", b"0123456789abcdefghij"),
        );
        let (_dir, keys) = file(&text, HostKeyChecking::Strict);
        let ok = |addr: &str, port, k| keys.check(ip(addr), port, &key(k));
        // Comma lists; a second look at a host goes by the key accepted first.
        assert_eq!(ok("10.0.0.1", 22, 1), Ok(()));
        assert_eq!(ok("10.0.0.9", 22, 1), Ok(()));
        assert_eq!(ok("10.0.0.1", 22, 2), Err(Refusal::Mismatch));
        // `[host]:port` only for that port.
        assert_eq!(ok("10.0.0.2", 2222, 2), Ok(()));
        let unknown = |r: Result<(), Refusal>| matches!(r, Err(Refusal::Unknown { .. }));
        assert!(unknown(ok("10.0.0.2", 22, 2)));
        // Hashed names.
        assert_eq!(ok("10.0.0.3", 22, 3), Ok(()));
        // Wildcards and negation.
        assert_eq!(ok("10.0.1.200", 22, 4), Ok(()));
        assert_eq!(ok("10.0.2.4", 22, 5), Ok(()));
        assert!(unknown(ok("10.0.2.5", 22, 5)));
        // Certificate authorities are not host keys; unreadable keys are skipped.
        assert!(unknown(ok("10.0.3.1", 22, 6)));
        assert!(unknown(ok("10.0.0.7", 22, 1)));
        // A revoked key is refused even where it is also listed.
        assert!(matches!(
            ok("10.0.0.8", 22, 1),
            Err(Refusal::Revoked { .. })
        ));
        // An unknown host under strict checking names the file and the fingerprint.
        match ok("10.9.9.9", 22, 9) {
            Err(Refusal::Unknown { fingerprint, file }) => {
                assert!(fingerprint.starts_with("SHA256:"), "{fingerprint}");
                assert!(file.ends_with("known_hosts"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn accept_new_trusts_unlisted_hosts_once_and_listed_hosts_only_as_listed() {
        let text = format!("10.0.0.1 {}\n", line(&key(1)));
        let (_dir, keys) = file(&text, HostKeyChecking::AcceptNew);
        assert_eq!(
            keys.check(ip("10.0.0.1"), 22, &key(2)),
            Err(Refusal::Mismatch)
        );
        assert_eq!(keys.check(ip("10.0.0.5"), 22, &key(5)), Ok(()));
        assert_eq!(keys.check(ip("10.0.0.5"), 22, &key(5)), Ok(()));
        assert_eq!(
            keys.check(ip("10.0.0.5"), 22, &key(6)),
            Err(Refusal::Mismatch),
            "the first key is kept"
        );
    }

    #[test]
    fn a_missing_file_is_an_error_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none");
        let err = HostKeys::from_file(&missing, HostKeyChecking::Strict, false).unwrap_err();
        assert!(
            matches!(&err, Error::Io { path, .. } if *path == missing),
            "{err:?}"
        );
        let keys = HostKeys::from_file(&missing, HostKeyChecking::Strict, true).unwrap();
        assert!(matches!(
            keys.check(ip("10.0.0.1"), 22, &key(1)),
            Err(Refusal::Unknown { .. })
        ));
    }

    #[test]
    fn listed_algorithms_are_asked_for_first() {
        // A real ECDSA public key (made with ssh-keygen for this test).
        let ecdsa_line = "10.0.0.1 ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGQXRkYKr59RptGvr36ZyYJVAzcPiDD+4DzVzl8pSz4kZlM9QGFu/U3JHwV+pOxEWM6Joe7gUcE9Kglag9u8+mc=\n";
        let (_dir, keys) = file(ecdsa_line, HostKeyChecking::Strict);
        let order = keys.preferred_algorithms(ip("10.0.0.1"), 22).unwrap();
        assert_eq!(
            order[0],
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256
            },
            "{order:?}"
        );
        assert_eq!(order[1], Algorithm::Ed25519, "the rest keep their order");
        assert_eq!(order.len(), DEFAULT_ORDER.len());
        assert_eq!(keys.preferred_algorithms(ip("10.0.0.2"), 22), None);
    }
}
