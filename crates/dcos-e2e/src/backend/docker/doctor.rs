//! `doctor`: check this machine can run clusters, and say what to do where it cannot.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::backend::docker::daemon::client::{
    ContainerSpec, DockerClient, MountSpec, op, to_the_end,
};
use crate::backend::docker::daemon::facts::daemon_facts;
use crate::backend::docker::daemon::pools;
use crate::backend::docker::image::{self, Distribution, ImageOptions};
use crate::backend::docker::labels;
use crate::error::Result;

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
/// workspace directory, and what a container engine inside nodes needs here.
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
    let server = client
        .version()
        .await
        .map(|(server, _)| server)
        .unwrap_or_default();
    checks.push(check(
        "docker daemon",
        true,
        format!("{} (Docker {server})", client.host()),
        "",
    ));
    checks.push(check("API version", true, client.api_version(), ""));
    let tag = image::default_image();
    let has_image = client.image_exists(&tag).await.unwrap_or(false);
    let mut cgroup_v2 = None;
    match client.info().await {
        Ok(info) => {
            cgroup_v2 = Some(info.cgroup_v2);
            let v = info.cgroup_version;
            checks.push(check(
                "cgroup version",
                true,
                if info.cgroup_v2 {
                    format!("v{v} (handled: nodes bind the host's cgroup tree read-write)")
                } else {
                    format!(
                        "v{v} (handled: nodes bind the host's hierarchies into a tmpfs of their own)"
                    )
                },
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
    let mirror = crate::backend::docker::image::mirror::host_debian_mirror();
    checks.push(check(
        "Debian mirror",
        mirror.is_some() || has_image,
        mirror.unwrap_or_else(|| "none in /etc/apt".into()),
        "pass --mirror URL to build-image",
    ));
    checks.push(pool_check(&client).await);
    checks.push(isolation_check(&server));
    checks.extend(engine_checks(&client, has_image.then_some(tag.as_str()), cgroup_v2).await);
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

/// How many more clusters the daemon's address pools hold (one subnet each). The pools
/// are read from this machine's daemon.json for its default socket; any other daemon
/// is taken to have Docker's defaults, and the detail says so.
async fn pool_check(client: &DockerClient) -> DoctorCheck {
    let name = "address pools";
    let hint = "destroy clusters you no longer need, or set `default-address-pools` in the daemon's daemon.json (e.g. base 10.200.0.0/16, size 24: 256 subnets)";
    let used = match client.network_subnets().await {
        Ok(subnets) => subnets,
        Err(e) => {
            return check(
                name,
                false,
                crate::error::chain(&e),
                "the daemon did not list its networks",
            );
        }
    };
    let used: Vec<_> = used
        .iter()
        .filter_map(|s| pools::Subnet::parse(s))
        .collect();
    let reported = client
        .info()
        .await
        .map(|i| i.address_pools)
        .unwrap_or_default();
    let (source, pools) = pools::of_daemon(client.host(), &reported);
    let source = source.describe();
    let free = pools::free_subnets(&pools, &used);
    check(
        name,
        free > 0,
        format!(
            "{free} more clusters fit ({source}; subnets in use: {})",
            used.len()
        ),
        hint,
    )
}

/// Docker before 28.0 deletes and re-inserts its jumps to the isolation chains at the
/// top of `FORWARD` whenever a network is made: for that moment (about 10 ms here)
/// traffic between bridge networks is let through. Nothing of ours closes the window
/// without rewriting the host's or the nodes' firewall, so the doctor says where it is.
fn isolation_check(server: &str) -> DoctorCheck {
    let major = server
        .split('.')
        .next()
        .and_then(|m| m.trim().parse::<u32>().ok());
    let detail = match major {
        Some(m) if m < 28 => format!(
            "Docker {server}: for a moment at each network create, nodes of different clusters can reach each other (fixed in Docker 28)"
        ),
        Some(_) => format!("Docker {server}: networks stay isolated while others are made"),
        None => "the daemon did not say its version".to_string(),
    };
    check("network isolation", true, detail, "")
}

fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid NUL-terminated string and `st` a valid out-pointer.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
    (rc == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

/// What a node's container engine needs here, tried in a throwaway container with the
/// nodes' own capabilities and a fresh volume at `/var/lib/docker`, as a node has.
async fn engine_checks(
    client: &DockerClient,
    image: Option<&str>,
    cgroup_v2: Option<bool>,
) -> Vec<DoctorCheck> {
    let mut checks = Vec::new();
    let refused: Vec<&str> = Distribution::ALL
        .iter()
        .filter(|d| cgroup_v2 == Some(false) && !d.boots_on_cgroup_v1())
        .map(|d| d.name())
        .collect();
    let boots: Vec<&str> = Distribution::ALL
        .iter()
        .map(|d| d.name())
        .filter(|d| !refused.contains(d))
        .collect();
    checks.push(check(
        "distributions",
        true,
        if refused.is_empty() {
            format!("{} boot here", boots.join(", "))
        } else {
            format!(
                "{} boot here; {} {} a cgroup v2 host (systemd 258 and later refuses cgroup v1)",
                boots.join(", "),
                refused.join(", "),
                if refused.len() == 1 { "needs" } else { "need" }
            )
        },
        "",
    ));
    let engine_tag = ImageOptions::default().engine(true).image_tag();
    let built = client.image_exists(&engine_tag).await.unwrap_or(false);
    checks.push(check(
        "engine image",
        true,
        if built {
            format!("{engine_tag} (nodes with a Docker Engine: `create --engine`)")
        } else {
            format!("{engine_tag} not built yet (`build-image --engine`, or `create --engine` builds it)")
        },
        "",
    ));
    checks.push(check(
        "engine cgroups",
        true,
        match cgroup_v2 {
            Some(false) => "cgroup v1: the image's engine uses the systemd cgroup driver, so inner containers stay inside their node's cgroup and go with it",
            Some(true) => "cgroup v2: the image's engine uses the systemd cgroup driver under the node's own cgroup (not tried on this project's machines)",
            None => "unknown (the daemon did not say its cgroup version)",
        },
        "",
    ));
    let Some(image) = image else {
        checks.push(check(
            "engine capabilities",
            true,
            "not probed yet (needs the node image)",
            "",
        ));
        return checks;
    };
    match probe_engine(client, image).await {
        Ok(found) => {
            let field = |k: &str| found.get(k).map(String::as_str).unwrap_or("not reported");
            let net_admin = field("net_admin") == "ok";
            checks.push(check(
                "engine capabilities",
                net_admin,
                if net_admin {
                    "NET_ADMIN granted: nodes get it beyond SYS_ADMIN, for the engine's bridges and iptables (no --privileged needed)".to_string()
                } else {
                    format!("a node cannot make a bridge with NET_ADMIN: {}", field("net_admin"))
                },
                "the daemon must allow --cap-add NET_ADMIN; without it no inner container can start (runc brings up `lo`)",
            ));
            let iptables = field("iptables");
            checks.push(check(
                "engine iptables",
                iptables == "ok" || iptables.contains("not found"),
                match iptables {
                    "ok" => "iptables (nf_tables) works in a node's network namespace".to_string(),
                    other if other.contains("not found") => {
                        "not tried: the node image has no iptables (rebuild it)".to_string()
                    }
                    other => format!("iptables fails in a node: {other}"),
                },
                "the inner engine needs nf_tables (or legacy iptables) in the host kernel",
            ));
            checks.push(shaping_check(&found));
            let fs = field("fs");
            let overlay = field("overlay");
            checks.push(check(
                "engine storage",
                true,
                if overlay == "ok" {
                    format!("overlay2: overlay mounts work on node volumes ({fs})")
                } else {
                    format!(
                        "overlay mounts fail on node volumes ({fs}: {overlay}): nodes fall back to fuse-overlayfs where they have /dev/fuse (`--engine-storage-driver fuse-overlayfs` gives them the host's, {}), else vfs (slow, full copies)",
                        if Path::new("/dev/fuse").exists() { "present here" } else { "absent here" }
                    )
                },
                "",
            ));
        }
        Err(e) => checks.push(check(
            "engine capabilities",
            false,
            crate::error::chain(&e),
            "the probe container could not run; see the error",
        )),
    }
    checks
}

/// Which slow links the kernel's traffic control can make (see `Link`): from the
/// probe's tries of each queueing discipline in a node's network namespace.
fn shaping_check(found: &BTreeMap<String, String>) -> DoctorCheck {
    let has = |q: &str| found.get(&format!("qdisc_{q}")).is_some_and(|v| v == "ok");
    let mut can = Vec::new();
    if has("tbf") {
        can.push("a node's rate (sch_tbf)");
    }
    if has("htb") {
        can.push("rates between nodes (sch_htb)");
    }
    if has("netem") {
        can.push("delay, jitter and loss (sch_netem)");
    }
    let missing: Vec<&str> = [
        ("tbf", "sch_tbf"),
        ("htb", "sch_htb"),
        ("netem", "sch_netem"),
    ]
    .iter()
    .filter(|(q, _)| !has(q))
    .map(|(_, m)| *m)
    .collect();
    let detail = match (can.is_empty(), missing.is_empty()) {
        (_, true) => format!("all: {}", can.join(", ")),
        (true, false) => format!("none: the kernel has no {}", missing.join(", ")),
        (false, false) => format!(
            "{}; not {} (the kernel has no {})",
            can.join(", "),
            if missing.contains(&"sch_netem") {
                "delay, jitter or loss"
            } else {
                "the rest"
            },
            missing.join(", ")
        ),
    };
    check("link shaping", true, detail, "")
}

/// What the probe found: `key=value` lines.
async fn probe_engine(client: &DockerClient, image: &str) -> Result<BTreeMap<String, String>> {
    const SCRIPT: &str = r#"d=/var/lib/docker/probe; mkdir -p $d/l $d/u $d/w $d/m
echo "fs=$(stat -f -c %T /var/lib/docker)"
if e=$(mount -t overlay overlay -o lowerdir=$d/l,upperdir=$d/u,workdir=$d/w $d/m 2>&1); then umount $d/m; echo overlay=ok; else echo "overlay=$e"; fi
if e=$(ip link add dcos-e2e-probe type bridge 2>&1); then ip link del dcos-e2e-probe; echo net_admin=ok; else echo "net_admin=$e"; fi
if e=$(iptables -t nat -N DCOS_E2E_PROBE 2>&1); then echo iptables=ok; else echo "iptables=$e" | tr '\n' ' '; echo; fi
for q in "tbf rate 1mbit burst 32kb latency 50ms" "htb" "netem delay 1ms"; do k=${q%% *}; if e=$(tc qdisc add dev lo root $q 2>&1); then tc qdisc del dev lo root; echo "qdisc_$k=ok"; else echo "qdisc_$k=$e" | tr '\n' ' '; echo; fi; done
"#;
    let spec = ContainerSpec {
        image: image.to_string(),
        entrypoint: Some(vec!["/bin/sh".into(), "-c".into(), SCRIPT.into()]),
        // Owner labels: `clean` removes a probe whose process died before removing it
        // (with its anonymous volume).
        labels: labels::probe_labels(),
        network: Some("none".into()),
        cap_add: vec!["SYS_ADMIN".into(), "NET_ADMIN".into()],
        security_opt: vec!["seccomp=unconfined".into(), "apparmor=unconfined".into()],
        mounts: vec![MountSpec::Volume {
            source: None,
            target: "/var/lib/docker".into(),
            read_only: false,
            labels: Default::default(),
        }],
        ..Default::default()
    };
    // To its end on a task of its own: a doctor interrupted between the probe's create
    // and its removal would leave it.
    let client = client.clone();
    to_the_end(async move { run_probe(&client, &spec).await }).await
}

async fn run_probe(
    client: &DockerClient,
    spec: &ContainerSpec,
) -> Result<BTreeMap<String, String>> {
    let created = client
        .create_container(spec)
        .await
        .map_err(op("creating the engine probe"))?;
    let result = async {
        client
            .start_container(&created)
            .await
            .map_err(op("starting the engine probe"))?;
        // Its exit status is not the verdict: the lines are.
        client.wait_container(&created).await;
        let text = client
            .logs(&created)
            .await
            .map_err(op("reading the engine probe's output"))?;
        Ok(text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect())
    }
    .await;
    client.remove_container(&created).await?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_shaping_names_what_the_kernel_lacks() {
        let found = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        let here = shaping_check(&found(&[
            ("qdisc_tbf", "ok"),
            ("qdisc_htb", "ok"),
            ("qdisc_netem", "Error: Specified qdisc kind is unknown."),
        ]));
        assert!(
            here.detail.contains("not delay, jitter or loss"),
            "{}",
            here.detail
        );
        assert!(here.detail.contains("no sch_netem"), "{}", here.detail);
        let none = shaping_check(&found(&[]));
        assert!(none.detail.starts_with("none"), "{}", none.detail);
    }

    #[test]
    fn the_isolation_window_is_reported_for_docker_before_28() {
        let old = isolation_check("20.10.24+dfsg1");
        assert!(old.ok, "a limitation to know, not a failure");
        assert!(
            old.detail.contains("can reach each other"),
            "{}",
            old.detail
        );
        let new = isolation_check("28.0.1");
        assert!(new.detail.contains("stay isolated"), "{}", new.detail);
        assert!(isolation_check("").detail.contains("did not say"));
    }
}
