//! How a node sees cgroups: systemd as PID 1 needs a writable cgroup tree, and the host's
//! own mounts must stay as they are.
//!
//! On cgroup v1, systemd remounts the tmpfs at `/sys/fs/cgroup` read-only once its
//! hierarchies are there. That remount acts on the tmpfs's superblock, so a node given
//! the host's tmpfs (a bind) would turn the host's read-only as well. A node therefore
//! gets a tmpfs of its own there, and a short PID 1 before systemd binds each of the
//! host's hierarchies into it (read-write, in the host's cgroup namespace, so systemd
//! makes its subtree inside the container's cgroup, without privileges), lets go of the
//! host's tree and becomes systemd. On cgroup v2 the tree is one cgroup2 mount, which
//! systemd does not remount: it is bound as it is (privileged nodes get a private one).

/// Where a v1 node sees the host's cgroup tree until its PID 1 has bound the hierarchies.
const HOST_TREE: &str = "/run/dcos-e2e-host-cgroup";

/// The v1 node's PID 1 until it execs systemd. `set -e`: a node that cannot have its
/// hierarchies stops at once (its log says why) rather than booting half-blind.
fn v1_init() -> String {
    format!(
        r#"set -e
h={HOST_TREE}
for d in "$h"/*; do
  n=${{d##*/}}
  if [ -L "$d" ]; then
    ln -s "$(readlink "$d")" "/sys/fs/cgroup/$n"
  elif [ -d "$d" ]; then
    mkdir -p "/sys/fs/cgroup/$n"
    mount --bind "$d" "/sys/fs/cgroup/$n"
  fi
done
umount -l "$h"
rmdir "$h"
exec /sbin/init"#
    )
}

/// The parts of a node's container spec that give it its cgroups.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CgroupSetup {
    /// The container's command: systemd, or the v1 PID 1 that becomes it.
    pub cmd: Vec<String>,
    /// Tmpfs mounts to add (target, options).
    pub tmpfs: Vec<(String, String)>,
    /// Binds (`source:target:mode`).
    pub binds: Vec<String>,
    /// The host's cgroup namespace (false: a private one).
    pub host_cgroupns: bool,
}

/// What a node on a daemon with this cgroup version, privileged or not, is given.
pub(crate) fn setup(cgroup_v2: bool, privileged: bool) -> CgroupSetup {
    let init = || vec!["/sbin/init".to_string()];
    if cgroup_v2 && privileged {
        return CgroupSetup {
            cmd: init(),
            tmpfs: Vec::new(),
            binds: Vec::new(),
            host_cgroupns: false,
        };
    }
    if cgroup_v2 {
        return CgroupSetup {
            cmd: init(),
            tmpfs: Vec::new(),
            binds: vec!["/sys/fs/cgroup:/sys/fs/cgroup:rw".into()],
            host_cgroupns: true,
        };
    }
    CgroupSetup {
        cmd: vec!["/bin/sh".into(), "-c".into(), v1_init()],
        tmpfs: vec![(
            "/sys/fs/cgroup".into(),
            "rw,nosuid,nodev,noexec,mode=755".into(),
        )],
        binds: vec![format!("/sys/fs/cgroup:{HOST_TREE}:rw")],
        host_cgroupns: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v1_node_never_holds_the_host_s_cgroup_tmpfs_at_sys_fs_cgroup() {
        for privileged in [false, true] {
            let s = setup(false, privileged);
            assert!(s.host_cgroupns);
            assert!(s.tmpfs.iter().any(|(t, _)| t == "/sys/fs/cgroup"));
            assert_eq!(s.binds, [format!("/sys/fs/cgroup:{HOST_TREE}:rw")]);
            // The PID 1 lets go of the very path the host's tree is bound at.
            assert!(s.cmd[2].contains(&format!("h={HOST_TREE}\n")));
            assert!(s.cmd[2].ends_with("exec /sbin/init"));
        }
    }

    #[test]
    fn a_v2_node_binds_the_tree_or_gets_its_own_when_privileged() {
        let s = setup(true, false);
        assert_eq!(s.binds, ["/sys/fs/cgroup:/sys/fs/cgroup:rw"]);
        assert!(s.host_cgroupns && s.tmpfs.is_empty());
        let p = setup(true, true);
        assert!(!p.host_cgroupns && p.binds.is_empty() && p.tmpfs.is_empty());
        assert_eq!(p.cmd, ["/sbin/init"]);
    }
}
