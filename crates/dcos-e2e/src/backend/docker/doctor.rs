//! `doctor`: check this machine can run clusters, and say what to do where it cannot.

use std::path::Path;

use serde::Serialize;

use super::client::DockerClient;
use super::daemon::daemon_facts;
use super::image;

/// One line of `minidcos docker doctor`.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct DoctorCheck {
    /// What was checked.
    pub check: &'static str,
    /// Whether it is fine.
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// What to do when it is not fine.
    pub hint: Option<String>,
}

/// Enough inotify instances for a few hundred nodes.
const INOTIFY_INSTANCES: u64 = 1024;

fn check(check: &'static str, ok: bool, detail: impl Into<String>, hint: &str) -> DoctorCheck {
    DoctorCheck {
        check,
        ok,
        detail: detail.into(),
        hint: (!ok).then(|| hint.to_string()),
    }
}

/// Check this machine can run clusters: daemon, API version, cgroup version, whether
/// privileged containers are allowed, node image, debootstrap, free disk in the
/// workspace directory.
pub async fn doctor(workspace_dir: Option<&Path>) -> Vec<DoctorCheck> {
    let mut checks = Vec::new();
    let client = match DockerClient::connect().await {
        Ok(c) => c,
        Err(e) => {
            checks.push(check(
                "docker daemon",
                false,
                crate::error::chain(&e),
                "start dockerd, or point DOCKER_HOST at a running daemon",
            ));
            return checks;
        }
    };
    let version = client.api.version().await.ok();
    let server = version
        .as_ref()
        .and_then(|v| v.version.clone())
        .unwrap_or_default();
    checks.push(check(
        "docker daemon",
        true,
        format!("{} (Docker {server})", client.host()),
        "",
    ));
    let api = client.api.client_version();
    checks.push(check(
        "API version",
        true,
        format!("{}.{}", api.major_version, api.minor_version),
        "",
    ));
    let tag = image::default_image();
    let has_image = client.image_exists(&tag).await.unwrap_or(false);
    match client.api.info().await {
        Ok(info) => {
            let v = info
                .cgroup_version
                .map(|v| v.to_string())
                .unwrap_or_default();
            checks.push(check(
                "cgroup version",
                true,
                format!("v{v} (handled: nodes bind the host's cgroup tree read-write)"),
                "",
            ));
        }
        Err(e) => checks.push(check(
            "cgroup version",
            false,
            e.to_string(),
            "the daemon did not answer `info`",
        )),
    }
    if has_image {
        match daemon_facts(&client, &tag).await {
            Ok(f) => checks.push(check(
                "privileged containers",
                true,
                if f.privileged_allowed {
                    "allowed: nodes run privileged"
                } else {
                    "refused here: nodes run with SYS_ADMIN and unconfined seccomp/apparmor instead"
                },
                "",
            )),
            Err(e) => checks.push(check(
                "privileged containers",
                false,
                crate::error::chain(&e),
                "see the error",
            )),
        }
    } else {
        checks.push(check(
            "privileged containers",
            true,
            "not probed yet (needs the node image)",
            "",
        ));
    }
    checks.push(check(
        "node image",
        has_image,
        if has_image {
            tag.clone()
        } else {
            format!("{tag} missing")
        },
        "run `minidcos docker build-image` (or it is built on the first create)",
    ));
    let debootstrap = [
        "/usr/sbin/debootstrap",
        "/sbin/debootstrap",
        "/usr/bin/debootstrap",
    ]
    .iter()
    .any(|p| Path::new(p).exists());
    checks.push(check(
        "debootstrap",
        debootstrap || has_image,
        if debootstrap {
            "installed"
        } else if has_image {
            "not installed (not needed: the image exists)"
        } else {
            "not installed"
        },
        "apt-get install debootstrap",
    ));
    let mirror = super::mirror::host_debian_mirror();
    checks.push(check(
        "Debian mirror",
        mirror.is_some() || has_image,
        mirror.unwrap_or_else(|| "none in /etc/apt".into()),
        "pass --mirror URL to build-image",
    ));
    let instances = std::fs::read_to_string("/proc/sys/fs/inotify/max_user_instances")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok());
    checks.push(check(
        "inotify instances",
        instances.is_none_or(|n| n >= INOTIFY_INSTANCES),
        match instances {
            // Each node's systemd takes a few; they are counted per user across all containers.
            Some(n) => format!("fs.inotify.max_user_instances = {n} (about {} nodes)", n / 4),
            None => "not readable here".into(),
        },
        &format!("sysctl -w fs.inotify.max_user_instances={INOTIFY_INSTANCES} (nodes stall at boot past the limit)"),
    ));
    let dir = workspace_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    match free_bytes(&dir) {
        Some(free) => {
            let gib = free as f64 / (1u64 << 30) as f64;
            checks.push(check(
                "free disk in workspace",
                gib >= 2.0,
                format!("{gib:.1} GiB free in {}", dir.display()),
                "free space, or put workspaces elsewhere with --workspace-dir",
            ));
        }
        None => checks.push(check(
            "free disk in workspace",
            false,
            format!("cannot read {}", dir.display()),
            "create the directory",
        )),
    }
    checks
}

fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid NUL-terminated string and `st` a valid out-pointer.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
    (rc == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}
