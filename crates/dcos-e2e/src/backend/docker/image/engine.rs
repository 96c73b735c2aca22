//! The container engine inside nodes (Debian's Docker Engine): what the image recipe adds
//! for it, and how each node picks its storage driver at boot. Using it on running
//! nodes is `load`.

use crate::error::{Error, Parameter, Result};

/// The container environment variable that overrides the storage driver a node picks.
pub(crate) const STORAGE_DRIVER_ENV: &str = "DCOS_E2E_ENGINE_STORAGE_DRIVER";

/// The inner engine's storage driver.
///
/// ```
/// use dcos_e2e::docker::StorageDriver;
///
/// assert_eq!("vfs".parse::<StorageDriver>().unwrap(), StorageDriver::Vfs);
/// assert!("aufs".parse::<StorageDriver>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StorageDriver {
    /// What works on the node's `/var/lib/docker` volume, tried in order at each boot:
    /// overlay2, then fuse-overlayfs (where the node has `/dev/fuse`), then vfs.
    #[default]
    Auto,
    /// Kernel overlayfs: fast; needs a volume on a real filesystem (ext4, xfs, tmpfs).
    Overlay2,
    /// overlayfs in user space; nodes then get the host's `/dev/fuse`.
    FuseOverlayfs,
    /// Plain copies: works everywhere, slow, and every layer takes its full size.
    Vfs,
}

impl StorageDriver {
    /// The name dockerd knows it by (`auto` for [`StorageDriver::Auto`]).
    pub fn as_str(self) -> &'static str {
        match self {
            StorageDriver::Auto => "auto",
            StorageDriver::Overlay2 => "overlay2",
            StorageDriver::FuseOverlayfs => "fuse-overlayfs",
            StorageDriver::Vfs => "vfs",
        }
    }
}

impl std::fmt::Display for StorageDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for StorageDriver {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(StorageDriver::Auto),
            "overlay2" => Ok(StorageDriver::Overlay2),
            "fuse-overlayfs" => Ok(StorageDriver::FuseOverlayfs),
            "vfs" => Ok(StorageDriver::Vfs),
            other => Err(Error::invalid(
                Parameter::EngineStorageDriver,
                other,
                "expected auto, overlay2, fuse-overlayfs or vfs",
            )),
        }
    }
}

/// Files the engine variant of the image adds: path in the root filesystem, content, mode.
pub(crate) const ENGINE_FILES: &[(&str, &str, u32)] = &[
    ("etc/docker/daemon.json", DAEMON_JSON, 0o644),
    (
        "etc/systemd/system/docker.service.d/dcos-e2e.conf",
        DOCKER_DROPIN,
        0o644,
    ),
    (
        "etc/systemd/system/dcos-e2e-engine-storage.service",
        STORAGE_UNIT,
        0o644,
    ),
    (
        "usr/local/lib/dcos-e2e/engine-storage",
        STORAGE_SCRIPT,
        0o755,
    ),
];

/// Units the package enables at boot that the node starts on first use instead: the
/// socket listens from boot, and the first `docker` client starts the daemon (and it,
/// containerd). At boot, dockerd took CPU from every node while sshd was starting
/// (1.15x to 1.46x the default image's provisioning time, about the same this way; the
/// bench's engine section), for a second or so on first use.
pub(crate) const ENGINE_UNITS_NOT_AT_BOOT: &[&str] = &["docker.service", "containerd.service"];

/// The systemd cgroup driver: with the host's cgroup namespace on cgroup v1, the
/// default (cgroupfs) puts inner containers at the host's cgroup root, outside their
/// node, and leaves their cgroup directories on the host when the node is removed.
/// The boot script rewrites this file with the storage driver it picks.
const DAEMON_JSON: &str = "{\n  \"exec-opts\": [\"native.cgroupdriver=systemd\"]\n}\n";

/// Docker 26 (trixie) refuses to start containers when it cannot disable IPv6 on their
/// interface, which a read-only /proc/sys (an unprivileged node) forbids; Docker 20.10
/// ignores the variable.
const DOCKER_DROPIN: &str = "\
# Written by dcos-e2e when building the node image.
[Unit]
Wants=dcos-e2e-engine-storage.service
After=dcos-e2e-engine-storage.service

[Service]
Environment=DOCKER_ALLOW_IPV6_ON_IPV4_INTERFACE=1
";

const STORAGE_UNIT: &str = "\
# Written by dcos-e2e when building the node image.
[Unit]
Description=dcos-e2e: pick the storage driver of this node's Docker Engine
Before=docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/lib/dcos-e2e/engine-storage
";

/// Runs before dockerd at every boot. It tries the drivers on /var/lib/docker itself
/// (the node's volume; the node's root filesystem is the host's storage and refuses
/// overlay there), and says what it chose and why in /run/dcos-e2e/engine-storage.
const STORAGE_SCRIPT: &str = r#"#!/bin/sh
# Written by dcos-e2e when building the node image.
set -u
root=/var/lib/docker
mkdir -p /run/dcos-e2e /etc/docker "$root"
wanted=$(tr '\0' '\n' </proc/1/environ 2>/dev/null | sed -n 's/^DCOS_E2E_ENGINE_STORAGE_DRIVER=//p')
fs=$(stat -f -c %T "$root" 2>/dev/null || echo unknown)
probe=$(mktemp -d "$root/.dcos-e2e-probe.XXXXXX")
trap 'umount "$probe/o/m" "$probe/f/m" 2>/dev/null; rm -rf "$probe"' EXIT
overlay() {
  mkdir -p "$probe/o/l" "$probe/o/u" "$probe/o/w" "$probe/o/m" &&
    mount -t overlay overlay -o "lowerdir=$probe/o/l,upperdir=$probe/o/u,workdir=$probe/o/w" "$probe/o/m" 2>&1 &&
    umount "$probe/o/m"
}
fuse() {
  [ -c /dev/fuse ] || { echo "the node has no /dev/fuse"; return 1; }
  command -v fuse-overlayfs >/dev/null 2>&1 || { echo "fuse-overlayfs is not installed"; return 1; }
  mkdir -p "$probe/f/l" "$probe/f/u" "$probe/f/w" "$probe/f/m" &&
    fuse-overlayfs -o "lowerdir=$probe/f/l,upperdir=$probe/f/u,workdir=$probe/f/w" "$probe/f/m" 2>&1 &&
    fusermount3 -u "$probe/f/m"
}
case "$wanted" in
  overlay2|fuse-overlayfs|vfs) driver=$wanted reason="asked for ($fs volume)" ;;
  *)
    if why=$(overlay); then
      driver=overlay2 reason="overlay mounts work on the $fs volume"
    elif fwhy=$(fuse); then
      driver=fuse-overlayfs reason="overlay mounts fail on the $fs volume ($why); fuse-overlayfs works"
    else
      driver=vfs reason="overlay mounts fail on the $fs volume ($why) and fuse-overlayfs cannot be used ($fwhy)"
    fi ;;
esac
printf '{\n  "exec-opts": ["native.cgroupdriver=systemd"],\n  "storage-driver": "%s"\n}\n' "$driver" >/etc/docker/daemon.json
printf 'driver=%s\nreason=%s\n' "$driver" "$(echo "$reason" | tr '\n' ' ')" >/run/dcos-e2e/engine-storage
echo "storage driver $driver: $reason"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_drivers_parse_and_print() {
        for d in [
            StorageDriver::Auto,
            StorageDriver::Overlay2,
            StorageDriver::FuseOverlayfs,
            StorageDriver::Vfs,
        ] {
            assert_eq!(d.as_str().parse::<StorageDriver>().unwrap(), d);
        }
        let err = "zfs".parse::<StorageDriver>().unwrap_err().to_string();
        assert!(err.contains("zfs") && err.contains("overlay2"), "{err}");
    }

    #[test]
    fn the_boot_script_only_writes_known_drivers() {
        // The value comes from the container's environment: anything else is ignored.
        assert!(STORAGE_SCRIPT.contains("overlay2|fuse-overlayfs|vfs) driver=$wanted"));
        assert!(STORAGE_SCRIPT.contains(STORAGE_DRIVER_ENV));
    }
}
