//! Looking after the host: list clusters, clean up what dead processes left, and check
//! the machine (doctor). Everything is found by label.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use futures_util::future::join_all;
use serde::Serialize;

use super::client::DockerClient;
use super::provision::{PERSISTED_ROLE, PROBE_ROLE, daemon_facts};
use super::{destroy_by_label, image, labels, reaper};
use crate::error::Result;
use crate::node::Role;

/// One cluster found on this Docker daemon.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ClusterSummary {
    /// The cluster id.
    pub id: String,
    /// Its workspace directory on the host.
    pub workspace: Option<PathBuf>,
    /// Master containers.
    pub masters: usize,
    /// Agent containers.
    pub agents: usize,
    /// Public agent containers.
    pub public_agents: usize,
    /// Node containers that are running.
    pub running: usize,
    /// Whether the process that made it is still alive (it owns the cluster).
    pub owner_alive: bool,
    /// Whether it was handed to the user (`minidcos docker create`) and stays until
    /// destroyed.
    pub persisted: bool,
}

/// Every cluster on the daemon, by id.
pub async fn list_clusters() -> Result<Vec<ClusterSummary>> {
    let client = DockerClient::connect().await?;
    list(&client).await
}

async fn list(client: &DockerClient) -> Result<Vec<ClusterSummary>> {
    let project = [labels::PROJECT.to_string()];
    let mut clusters: BTreeMap<String, ClusterSummary> = BTreeMap::new();
    let entry = |clusters: &mut BTreeMap<String, ClusterSummary>, id: &str| {
        clusters
            .entry(id.to_string())
            .or_insert_with(|| ClusterSummary {
                id: id.to_string(),
                workspace: None,
                masters: 0,
                agents: 0,
                public_agents: 0,
                running: 0,
                owner_alive: false,
                persisted: false,
            });
    };
    for c in client.containers(&project).await? {
        let l = c.labels.unwrap_or_default();
        let Some(id) = l.get(labels::CLUSTER_ID) else {
            continue;
        };
        entry(&mut clusters, id);
        let Some(s) = clusters.get_mut(id) else {
            continue;
        };
        s.workspace = s
            .workspace
            .take()
            .or_else(|| l.get(labels::WORKSPACE).map(PathBuf::from));
        let running = c
            .state
            .map(|st| st.to_string() == "running")
            .unwrap_or(false);
        match l.get(labels::ROLE).and_then(|r| r.parse::<Role>().ok()) {
            Some(Role::Master) => s.masters += 1,
            Some(Role::Agent) => s.agents += 1,
            Some(Role::PublicAgent) => s.public_agents += 1,
            None => {
                // The cleanup watchdog runs while its owner lives.
                if l.get(labels::ROLE).map(String::as_str) == Some("reaper") && running {
                    s.owner_alive = true;
                }
                continue;
            }
        }
        if running {
            s.running += 1;
        }
        if owner_alive(&l) {
            s.owner_alive = true;
        }
    }
    // A create killed early may have left only a network or volumes.
    for n in client.networks(&project).await? {
        let l = n.labels.unwrap_or_default();
        if let Some(id) = l.get(labels::CLUSTER_ID) {
            entry(&mut clusters, id);
            if let Some(s) = clusters.get_mut(id) {
                s.workspace = s
                    .workspace
                    .take()
                    .or_else(|| l.get(labels::WORKSPACE).map(PathBuf::from));
                s.owner_alive |= owner_alive(&l);
            }
        }
    }
    for v in client.volumes(&project).await? {
        if let Some(id) = v.labels.get(labels::CLUSTER_ID) {
            entry(&mut clusters, id);
            if let Some(s) = clusters.get_mut(id) {
                s.persisted |=
                    v.labels.get(labels::ROLE).map(String::as_str) == Some(PERSISTED_ROLE);
            }
        }
    }
    Ok(clusters.into_values().collect())
}

/// Labels naming the process that owns what is being made, so `clean` can tell a live
/// owner from a dead one on this host.
pub(crate) fn owner_labels() -> Vec<(String, String)> {
    let mut out = vec![(
        labels::OWNER_PID.to_string(),
        std::process::id().to_string(),
    )];
    if let (Some(start), Some(boot)) = (process_start(std::process::id()), boot_id()) {
        out.push((labels::OWNER_START.to_string(), start));
        out.push((labels::BOOT_ID.to_string(), boot));
    }
    out
}

fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
}

/// Start time of a process (field 22 of /proc/PID/stat): with the pid, it names the
/// process uniquely on this boot, even after the pid is reused.
fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    after_name.split_whitespace().nth(19).map(str::to_string)
}

fn owner_alive(l: &std::collections::HashMap<String, String>) -> bool {
    let (Some(pid), Some(start), Some(boot)) = (
        l.get(labels::OWNER_PID),
        l.get(labels::OWNER_START),
        l.get(labels::BOOT_ID),
    ) else {
        return false;
    };
    boot_id().as_ref() == Some(boot)
        && pid.parse().ok().and_then(process_start).as_ref() == Some(start)
}

/// Destroy one Docker cluster by id, whatever state it is in (also a partial create):
/// its containers with their volumes, network and workspace.
pub async fn destroy_cluster(cluster_id: &str) -> Result<()> {
    let client = DockerClient::connect().await?;
    let _ = reaper::disarm(&client, cluster_id).await;
    destroy_by_label(&client, cluster_id, None).await.map(drop)
}

/// Destroy a cluster whose creator was cut off, sweeping until nothing reappears:
/// Docker requests it had in flight can land after a sweep.
pub async fn destroy_interrupted_cluster(cluster_id: &str) -> Result<()> {
    let client = DockerClient::connect().await?;
    sweep(&client, cluster_id, None).await
}

pub(crate) async fn sweep(
    client: &DockerClient,
    cluster_id: &str,
    workspace: Option<&Path>,
) -> Result<()> {
    // With a workspace, the sweep is one create's own: its watchdog carries that
    // workspace's label and goes with the rest, and a watchdog of another create of the
    // same id (which won the id) is not ours to stop.
    if workspace.is_none() {
        let _ = reaper::disarm(client, cluster_id).await;
    }
    use std::time::{Duration, Instant};
    // Requests the creator had in flight when it was cut off (a network or container
    // being made) land up to a moment later: done once passes over QUIET found nothing.
    const QUIET: Duration = Duration::from_secs(3);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(20);
    let mut last_found = started;
    loop {
        // A failure (a removal already under way elsewhere, a network still in use while
        // its containers go) is retried like a leftover until the deadline.
        match destroy_by_label(client, cluster_id, workspace).await {
            Ok(0) if last_found.elapsed() >= QUIET => return Ok(()),
            Ok(0) => {}
            Err(e) if Instant::now() >= deadline => return Err(e),
            // This pass removed all it found; only a request landing later could add more.
            Ok(_) if Instant::now() >= deadline => return Ok(()),
            _ => last_found = Instant::now(),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Remove clusters nobody owns any more: their owning process is gone, no watchdog
/// runs for them, and they were not handed to the user. With `all`, remove every
/// cluster of ours. Returns the ids removed.
pub async fn clean(all: bool) -> Result<Vec<String>> {
    let client = DockerClient::connect().await?;
    let doomed: Vec<ClusterSummary> = list(&client)
        .await?
        .into_iter()
        .filter(|c| all || !(c.owner_alive || c.persisted))
        .collect();
    let results = join_all(doomed.iter().map(|c| async {
        sweep(&client, &c.id, c.workspace.as_deref())
            .await
            .map(|()| c.id.clone())
    }))
    .await;
    // Privilege probes belong to no cluster; one whose process died is left over.
    let probes = [
        labels::PROJECT.to_string(),
        labels::filter(labels::ROLE, PROBE_ROLE),
    ];
    for probe in client.containers(&probes).await? {
        let orphan = all || !owner_alive(&probe.labels.unwrap_or_default());
        if let (true, Some(id)) = (orphan, probe.id) {
            client.remove_container(&id).await?;
        }
    }
    results.into_iter().collect()
}

/// One line of `minidcos docker doctor`.
#[derive(Clone, Debug, Serialize)]
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
    let mirror = image::host_debian_mirror();
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
