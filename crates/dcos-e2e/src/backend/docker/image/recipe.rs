//! What goes into the node image: Debian's packages, DC/OS's prerequisites, the
//! distributions, our boot tweaks, and the hash of all of it that names the image.

use sha2::{Digest, Sha256};

use crate::backend::docker::image::engine;
use crate::error::{Error, Parameter, Result};

/// Repository of the images we build; the tag is the recipe hash.
pub const IMAGE_REPOSITORY: &str = "dcos-e2e/node";

/// Bump when the customisation below changes in a way the hashed text does not show.
pub(super) const RECIPE_VERSION: &str = "5";
pub(super) const VARIANT: &str = "minbase";
/// What a node needs to be a node: systemd, sshd, and what the harness runs on it.
pub(super) const PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "openssh-server",
    "sudo",
    "iproute2",
    "procps",
    "ca-certificates",
    "python3",
    "python3-pytest",
    "curl",
];

/// What DC/OS's installer checks for on a node and its services call (see
/// docs/node-image.md): its preflight wants `curl bash ping tar xz unzip ipset` on the
/// PATH, `lsmod`, and `ifconfig` in older releases; dcos-net programs iptables and ipset.
/// The `nogroup` group comes with Debian's base-passwd.
pub const DCOS_PREREQUISITES: &[&str] = &[
    "bash",
    "curl",
    "gzip",
    "iptables",
    "ipset",
    "iputils-ping",
    "kmod",
    "net-tools",
    "tar",
    "unzip",
    "xz-utils",
];

/// A Debian release a node image can be built from: the analogue of the original
/// harness's `linux_distribution`. Each builds its own recipe and tag.
///
/// ```
/// use dcos_e2e::docker::Distribution;
///
/// assert_eq!("trixie".parse::<Distribution>().unwrap(), Distribution::Trixie);
/// let err = "jessie".parse::<Distribution>().unwrap_err().to_string();
/// assert!(err.contains("bookworm") && err.contains("trixie"), "{err}");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Distribution {
    /// Debian 12 (oldstable): the default; Docker 20.10, the host's own release here.
    Bookworm,
    /// Debian 13 (stable): Docker 26.1.
    Trixie,
    /// Debian 14 (testing): its systemd (258 and later) refuses cgroup v1.
    Forky,
}

impl Distribution {
    /// Every distribution known, oldest first.
    pub const ALL: [Distribution; 3] = [
        Distribution::Bookworm,
        Distribution::Trixie,
        Distribution::Forky,
    ];

    /// The Debian codename (the suite `debootstrap` is given).
    pub fn name(self) -> &'static str {
        match self {
            Distribution::Bookworm => "bookworm",
            Distribution::Trixie => "trixie",
            Distribution::Forky => "forky",
        }
    }

    /// Whether its systemd boots on a cgroup v1 host (systemd 258 removed cgroup v1).
    pub fn boots_on_cgroup_v1(self) -> bool {
        !matches!(self, Distribution::Forky)
    }

    /// Docker Engine packages. Trixie split the `docker` command into docker-cli, which
    /// docker.io only recommends (and debootstrap never installs recommends).
    pub(super) fn engine_packages(self) -> &'static [&'static str] {
        match self {
            Distribution::Bookworm => {
                &["docker.io", "containerd", "runc", "tini", "fuse-overlayfs"]
            }
            Distribution::Trixie | Distribution::Forky => &[
                "docker.io",
                "docker-cli",
                "containerd",
                "runc",
                "tini",
                "fuse-overlayfs",
            ],
        }
    }

    /// The debootstrap script for releases older debootstraps do not know (bookworm's
    /// has none for forky; testing bootstraps like sid).
    pub(super) fn debootstrap_script(self) -> Option<&'static str> {
        match self {
            Distribution::Forky => Some("sid"),
            _ => None,
        }
    }

    pub(super) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }
}

impl std::fmt::Display for Distribution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Distribution {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::from_name(s).ok_or_else(|| {
            Error::invalid(
                Parameter::Distribution,
                s,
                format!("supported: {}", supported_distributions()),
            )
        })
    }
}

/// `bookworm (default), trixie, forky (needs a cgroup v2 host)`.
pub(super) fn supported_distributions() -> String {
    Distribution::ALL
        .iter()
        .map(|d| match d {
            Distribution::Bookworm => format!("{d} (default)"),
            d if !d.boots_on_cgroup_v1() => format!("{d} (needs a cgroup v2 host)"),
            d => d.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// sshd settings for nodes: one host key we inject per node, and room for many
/// concurrent sessions on one connection (the harness multiplexes commands).
pub(super) const SSHD_CONFIG: &str = "\
# Written by dcos-e2e when building the node image.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
UseDNS no
GSSAPIAuthentication no
MaxSessions 256
MaxStartups 256:30:512
";

/// The harness injects a host key per node before start; a container started some other
/// way still gets sshd working.
/// The empty `ExecStartPre=` drops the unit's own `sshd -t`, which would fail before a
/// key exists and costs boot time when one does (sshd checks its config as it starts).
pub(super) const SSH_HOSTKEY_DROPIN: &str = "\
[Service]
ExecStartPre=
ExecStartPre=/bin/sh -c 'test -s /etc/ssh/ssh_host_ed25519_key || ssh-keygen -q -t ed25519 -N \"\" -f /etc/ssh/ssh_host_ed25519_key'
";

/// Units that make no sense in a container, masked to keep boot fast and quiet: about
/// half of a node's boot time and CPU went to the later ones (Docker provides /dev and
/// the root mount; users exist in the image; the journal stays in /run).
pub(crate) const MASKED_UNITS: &[&str] = &[
    "getty@.service",
    "console-getty.service",
    "e2scrub_reap.service",
    "e2scrub_all.timer",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "fstrim.timer",
    "systemd-timesyncd.service",
    "systemd-tmpfiles-setup-dev.service",
    "systemd-sysusers.service",
    "systemd-journal-flush.service",
    "systemd-update-utmp.service",
    "systemd-update-utmp-runlevel.service",
    "systemd-remount-fs.service",
];

/// Hash of everything that decides the image's content (not the mirror: any mirror
/// serves the same packages).
pub(super) fn recipe_hash(suite: &str, packages: &[String], engine: bool) -> String {
    let mut h = Sha256::new();
    let mut parts = vec![
        RECIPE_VERSION.to_string(),
        suite.to_string(),
        VARIANT.to_string(),
        packages.join(","),
        SSHD_CONFIG.to_string(),
        SSH_HOSTKEY_DROPIN.to_string(),
        MASKED_UNITS.join(","),
    ];
    if engine {
        for (path, content, mode) in engine::ENGINE_FILES {
            parts.push(format!("{path} {mode:o}\n{content}"));
        }
        parts.push(engine::ENGINE_UNITS_NOT_AT_BOOT.join(","));
    }
    for part in parts {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..6])
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::*;

    #[test]
    fn tag_follows_the_recipe() {
        let default = ImageOptions::default();
        assert_eq!(default.image_tag(), default_image());
        assert!(default_image().starts_with("dcos-e2e/node:"));
        let other_suite = ImageOptions {
            suite: Some("trixie".into()),
            ..Default::default()
        };
        assert_ne!(other_suite.image_tag(), default_image());
        assert_eq!(
            other_suite.image_tag(),
            ImageOptions::default()
                .distribution(Distribution::Trixie)
                .image_tag()
        );
        let extra = ImageOptions {
            extra_packages: vec!["less".into()],
            ..Default::default()
        };
        assert_ne!(extra.image_tag(), default_image());
        // The mirror is not part of the recipe: any mirror serves the same packages.
        let mirror = ImageOptions {
            mirror: Some("http://elsewhere.example/debian".into()),
            ..Default::default()
        };
        assert_eq!(mirror.image_tag(), default_image());
        // A standard package named again changes nothing.
        let dup = ImageOptions {
            extra_packages: vec!["curl".into()],
            ..Default::default()
        };
        assert_eq!(dup.image_tag(), default_image());
        // Each distribution with the engine is a recipe of its own.
        let engines: std::collections::BTreeSet<String> = Distribution::ALL
            .iter()
            .map(|d| {
                ImageOptions::default()
                    .distribution(*d)
                    .engine(true)
                    .image_tag()
            })
            .collect();
        assert_eq!(engines.len(), Distribution::ALL.len());
        assert!(!engines.contains(&default_image()));
    }

    #[test]
    fn distributions_are_checked_by_name() {
        for d in Distribution::ALL {
            assert_eq!(d.name().parse::<Distribution>().unwrap(), d);
        }
        let err = ImageOptions::default()
            .suite("sid")
            .checked_distribution()
            .unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidParameter {
                parameter: Parameter::Distribution,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "invalid distribution `sid`: supported: bookworm (default), trixie, forky (needs a cgroup v2 host)"
        );
        // The engine's CLI is its own package from trixie on.
        assert!(
            ImageOptions::default()
                .distribution(Distribution::Trixie)
                .engine(true)
                .packages()
                .contains(&"docker-cli".to_string())
        );
        assert!(
            !ImageOptions::default()
                .engine(true)
                .packages()
                .contains(&"docker-cli".to_string())
        );
    }

    #[test]
    fn the_default_image_has_what_dcos_checks_for() {
        let packages = ImageOptions::default().packages();
        for p in [
            "curl",
            "iputils-ping",
            "tar",
            "xz-utils",
            "unzip",
            "ipset",
            "kmod",
        ] {
            assert!(packages.contains(&p.to_string()), "{p}");
        }
        assert!(
            !packages.contains(&"docker.io".to_string()),
            "the engine is a variant"
        );
    }
}
