//! The cleanup watchdog: a small container per cluster that removes the cluster when the
//! process owning it dies without destroying it (SIGKILL, OOM, a crashed test binary).
//!
//! The owner keeps the watchdog's stdin open through a Docker attach connection. When
//! the owner dies, the kernel closes that connection, Docker closes the watchdog's stdin
//! (`StdinOnce`), and the watchdog removes every object carrying the cluster's label and
//! the workspace directory, then itself (`AutoRemove`). On this machine's socket nothing
//! polls, so removal starts at once. A cluster handed to the user (`minidcos docker
//! create`), or kept on purpose, disarms it by removing the watchdog container, which
//! works from any thread or runtime.
//!
//! Over a network (`ssh://`, `tcp://`) a closed connection may be a lost link rather than
//! a dead owner: the watchdog then waits [`LINK_GRACE`] for the owner to hold it again,
//! and the owner, while alive, does so as soon as the daemon answers, with a holder
//! process exec'd in the watchdog whose stdin it keeps open (an attach's stdin, once
//! closed, stays closed). Only when no holder has lived for that long does it remove.

use std::path::Path;

use futures_util::StreamExt;

use crate::backend::docker::daemon::client::{
    ApiResult, Attached, ContainerSpec, DockerClient, ExecSpec, Fault, InputStream, MountSpec,
    Output, OutputStream, op,
};
use crate::backend::docker::labels;
use crate::error::{Error, Parameter, Result};

/// How long the watchdog may take to say it is armed (it starts in well under a second).
const ARM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How long a watchdog over a network waits for its owner to hold it again after the
/// connection closed: longer than a link drop that SSH's keepalives (3 s x 3) or the
/// TCP heartbeat give up on, plus a reconnect.
pub(crate) const LINK_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// What the owner's holder process is called (its `$0`), for the watchdog to find it.
const HOLDER: &str = "dcos-e2e-holder";

/// Runs with `sh` and `curl` from the node image: `$1` cluster id, `$2` workspace name,
/// `$3` the label filter (JSON) for the cluster's objects, `$4` (if not empty) the ID the
/// daemon behind the socket must have (the socket was guessed: it may be another's),
/// `$5` seconds to wait for a holder after stdin closes, `$6` the holder's name.
const SCRIPT: &str = r#"
command -v curl >/dev/null 2>&1 || { echo no-curl; exit 3; }
api() { curl -sS --unix-socket /var/run/docker.sock "$@"; }
if [ -n "$4" ]; then
  id=$(api http://d/info | grep -o '"ID":"[^"]*"' | head -n 1 | cut -d'"' -f4)
  [ "$id" = "$4" ] || { echo other-daemon; exit 4; }
fi
echo armed
cat >/dev/null
# A holder: a process whose $0 (the 4th word of its command line) is $6.
held() {
  for p in /proc/[0-9]*; do
    [ "$(tr '\0' '\n' <"$p/cmdline" 2>/dev/null | sed -n 4p)" = "$6" ] && return 0
  done
  return 1
}
if [ "$5" -gt 0 ]; then
  echo "the owner's connection closed: waiting up to $5 s for it to hold on again"
  quiet=0
  while [ "$quiet" -lt "$5" ]; do
    if held; then
      [ "$quiet" -gt 0 ] && echo "held again"
      quiet=0
    else
      quiet=$((quiet + 1))
    fi
    sleep 1
  done
fi
echo "owner of cluster $1 is gone: removing it"
f="$3"
self=$(cat /etc/hostname)
# Prints how many objects it found (and asked to remove).
sweep() {
  found=0
  for c in $(api -G --data-urlencode "filters=$f" "http://d/containers/json?all=1" | grep -o '"Id":"[0-9a-f]*"' | cut -d'"' -f4); do
    case "$c" in "$self"*) ;; *) api -X DELETE "http://d/containers/$c?force=1&v=1" >/dev/null; found=$((found + 1)) ;; esac
  done
  for v in $(api -G --data-urlencode "filters=$f" "http://d/volumes" | grep -o '"Name":"[^"]*"' | cut -d'"' -f4); do
    api -X DELETE "http://d/volumes/$v" >/dev/null; found=$((found + 1))
  done
  for n in $(api -G --data-urlencode "filters=$f" "http://d/networks" | grep -o '"Id":"[0-9a-z]*"' | cut -d'"' -f4); do
    api -X DELETE "http://d/networks/$n" >/dev/null; found=$((found + 1))
  done
  echo "$found"
}
sweep >/dev/null
# A create the owner sent just before dying may land after the first sweep; an overlay
# network shared with other daemons goes once their nodes are gone: again until a
# sweep finds nothing (at most half a minute).
i=0
while [ $i -lt 15 ]; do
  sleep 2
  [ "$(sweep)" = 0 ] && break
  i=$((i + 1))
done
[ -n "$2" ] && rm -rf "/workspaces/$2"
echo done
"#;

/// The owner's end of a watchdog: dropping it (or dying) sets the watchdog off.
pub(crate) struct Watchdog {
    _stdin: InputStream,
    /// Reads the watchdog's output (it holds the other half of the connection), and
    /// holds the watchdog again when the connection is lost.
    keeper: tokio::task::JoinHandle<()>,
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Both halves must go for the connection to close.
        self.keeper.abort();
    }
}

/// Drain the watchdog's output until its connection ends; then, over a network, hold
/// it again with a holder process while the watchdog is there, for as long as this
/// owner lives (the task is aborted with its [`Watchdog`]).
async fn hold_on(client: DockerClient, container: String, mut output: OutputStream, grace: bool) {
    let mut holder = None;
    loop {
        while output.next().await.is_some() {}
        drop(holder.take());
        if !grace {
            return;
        }
        let lost = tokio::time::Instant::now();
        loop {
            match tokio::time::timeout(HOLD_TIMEOUT, hold(&client, &container)).await {
                Ok(Ok(attached)) => {
                    tracing::info!(watchdog = %container, "the cleanup watchdog is held again after a lost connection");
                    output = attached.output;
                    holder = Some(attached.input);
                    break;
                }
                // Removed (stood down, or it went off): nothing to hold.
                Ok(Err(e))
                    if matches!(
                        e.fault(),
                        Fault::NotFound | Fault::NotRunning | Fault::Conflict
                    ) =>
                {
                    return;
                }
                _ if lost.elapsed() > LINK_GRACE => {
                    tracing::error!(watchdog = %container, "the cleanup watchdog could not be held again within {LINK_GRACE:?}: it removes the cluster");
                    return;
                }
                _ => tokio::time::sleep(HOLD_RETRY).await,
            }
        }
    }
}

/// How long one attempt to hold the watchdog again may take, and the pause between them.
const HOLD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const HOLD_RETRY: std::time::Duration = std::time::Duration::from_secs(2);

/// A holder process in the watchdog, its stdin attached.
async fn hold(client: &DockerClient, container: &str) -> ApiResult<Attached> {
    let spec = ExecSpec {
        cmd: vec![
            "/bin/sh".into(),
            "-c".into(),
            "cat >/dev/null; :".into(),
            HOLDER.into(),
        ],
        // The container's own user.
        user: String::new(),
        stdin: true,
        tty: None,
    };
    let exec = client.create_exec(container, spec).await?;
    client.start_exec(&exec, false).await
}

/// Stand the watchdog down, so the cluster outlives this process: remove it before the
/// owner's end of the connection closes. Only a container with our labels is removed,
/// found by them (its role under the watchdog's old name too, for clusters made by
/// earlier versions), never one that merely has the name.
pub(crate) async fn disarm(client: &DockerClient, cluster_id: &str) -> Result<()> {
    let ours = client
        .containers(&[labels::filter(labels::CLUSTER_ID, cluster_id)])
        .await?;
    let removals = ours
        .iter()
        .filter(|c| labels::is_watchdog(c.labels.get(labels::ROLE)))
        .map(|c| client.remove_container(&c.id));
    let results = futures_util::future::join_all(removals).await;
    results.into_iter().collect()
}

/// [`disarm`] on every daemon of a cluster, at once.
pub(crate) async fn disarm_on_all(hosts: &[DockerClient], cluster_id: &str) -> Result<()> {
    let results = futures_util::future::join_all(hosts.iter().map(|h| disarm(h, cluster_id))).await;
    match crate::error::Error::from_all(results.into_iter().filter_map(Result::err).collect()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Where a daemon that does not see this machine's files most likely has its socket.
const USUAL_SOCKET: &str = "/var/run/docker.sock";

/// The daemon's ID, which the watchdog compares with that of the daemon it reaches.
async fn daemon_id(client: &DockerClient) -> Result<String> {
    let info = client.info().await.map_err(op("reading the daemon's ID"))?;
    Ok(info.id)
}

/// The daemon's socket path as seen by the daemon's host, when it is a unix socket
/// (over SSH, the one on that host the API is reached through).
fn daemon_socket(host: &str) -> Option<String> {
    if host.starts_with("ssh://") {
        return crate::backend::docker::daemon::client::ssh::SshAddress::parse(host)
            .ok()
            .map(|at| at.socket);
    }
    host.strip_prefix("unix://").map(str::to_string)
}

/// The watchdog's container, created but not started. Its name is the cluster id's
/// claim: container names are unique, so of creates racing for one id only one gets it.
pub(crate) struct Claim {
    container: String,
    /// A socket was bound (at the usual place: the watchdog checks it is this daemon's).
    armable: bool,
    /// The daemon is reached over a network: a closed connection may be a lost link.
    grace: bool,
}

/// Claim the cluster id by creating its watchdog container (not started yet).
///
/// The watchdog holds the Docker API, which is root on the daemon's host, so it runs
/// only our script from our image, with as little as that script needs: the daemon's
/// socket, the workspace's parent directory (to remove the workspace itself), no
/// network, no capabilities, no new privileges, a read-only root, small pid and memory
/// limits, and (on this machine) this process's user with the socket's group, so it
/// can remove only what we could.
pub(crate) async fn claim(
    client: &DockerClient,
    cluster_id: &str,
    image: &str,
    workspace: &Path,
    binds_workspace: bool,
) -> Result<Claim> {
    // Over TCP the daemon's socket on its host is unknown: the usual path, if the
    // daemon there is this one (the watchdog checks its ID), else none, as `arm` warns.
    let grace = !client.host().starts_with("unix://");
    let grace_secs = if grace { LINK_GRACE.as_secs() } else { 0 };
    let (socket, expect_id) = match daemon_socket(client.host()) {
        Some(socket) => (socket, None),
        None => (USUAL_SOCKET.to_string(), Some(daemon_id(client).await?)),
    };
    let (parent, name) = match (workspace.parent(), workspace.file_name()) {
        (Some(p), Some(n)) => (p.to_path_buf(), n.to_string_lossy().to_string()),
        _ => {
            return Err(Error::invalid(
                Parameter::WorkspaceDir,
                workspace.display(),
                "the workspace must be a directory inside another",
            ));
        }
    };
    let object_labels = labels::object_labels(cluster_id, labels::WATCHDOG_ROLE, workspace);
    // This create's objects only: its id and its workspace (another create racing for
    // the same id has another workspace).
    let filter = serde_json::json!({
        "label": labels::cluster_filter(cluster_id, Some(workspace))
    })
    .to_string();
    let bind = |source: String, target: &str| MountSpec::Bind {
        source,
        target: target.to_string(),
        read_only: false,
    };
    // On this machine: as this process's user, with the socket's group. Elsewhere our
    // ids mean nothing; root of that host owns its socket (still without capabilities).
    let (uid, gid) = if binds_workspace { owner_ids() } else { (0, 0) };
    let socket_group = binds_workspace
        .then(|| std::fs::metadata(&socket).ok())
        .flatten()
        .map(|m| std::os::unix::fs::MetadataExt::gid(&m).to_string());
    let mounts = |socket: &str| {
        let mut mounts = vec![bind(socket.to_string(), "/var/run/docker.sock")];
        // Elsewhere the workspace is not there to remove (this process's own cleanup
        // and `clean` remove it here).
        if binds_workspace {
            mounts.push(bind(parent.to_string_lossy().to_string(), "/workspaces"));
        }
        mounts
    };
    let spec = |mounts: Vec<MountSpec>, expect_id: Option<&str>| ContainerSpec {
        name: Some(labels::watchdog_container(cluster_id)),
        image: image.to_string(),
        user: Some(format!("{uid}:{gid}")),
        entrypoint: Some(vec![
            "/bin/sh".into(),
            "-c".into(),
            SCRIPT.into(),
            "watchdog".into(),
            cluster_id.into(),
            if binds_workspace {
                name.clone()
            } else {
                String::new()
            },
            filter.clone(),
            expect_id.unwrap_or_default().into(),
            grace_secs.to_string(),
            HOLDER.into(),
        ]),
        labels: object_labels.clone(),
        stdin_once: true,
        auto_remove: true,
        network: Some("none".into()),
        mounts,
        group_add: socket_group.clone().into_iter().collect(),
        cap_drop: vec!["ALL".into()],
        security_opt: vec!["no-new-privileges".into()],
        readonly_rootfs: true,
        pids_limit: Some(WATCHDOG_PIDS),
        memory: Some(WATCHDOG_MEMORY),
        ..Default::default()
    };
    let mut created = client
        .create_container(&spec(mounts(&socket), expect_id.as_deref()))
        .await;
    let mut armable = true;
    // A daemon elsewhere may not have its socket where we reach it (a forwarded socket):
    // then at the usual place, if it is this daemon's, else no watchdog.
    let missing =
        |c: &ApiResult<String>| matches!(c, Err(e) if e.fault() == Fault::BindSourceMissing);
    if missing(&created) && !binds_workspace && socket != USUAL_SOCKET {
        let id = daemon_id(client).await?;
        created = client
            .create_container(&spec(mounts(USUAL_SOCKET), Some(&id)))
            .await;
    }
    if missing(&created) {
        armable = false;
        created = client.create_container(&spec(Vec::new(), None)).await;
    }
    match created {
        Ok(container) => Ok(Claim {
            container,
            armable,
            grace,
        }),
        Err(e) if e.fault() == Fault::Conflict => Err(Error::ClusterIdTaken {
            cluster_id: cluster_id.to_string(),
        }),
        Err(e) => Err(op("creating the cleanup watchdog")(e)),
    }
}

/// Processes the watchdog may run at once: its shell, curl, and a few for the loops.
const WATCHDOG_PIDS: i64 = 32;
/// Memory the watchdog may use: a shell and curl need a few MiB.
const WATCHDOG_MEMORY: i64 = 64 << 20;

/// This process's user and group, for the watchdog to run as.
fn owner_ids() -> (u32, u32) {
    // SAFETY: geteuid and getegid have no preconditions and cannot fail.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

/// Start the claimed watchdog. `None` (with a warning, and the container removed) where
/// it cannot work: no socket of the daemon could be bound, or the one at the usual
/// place is another daemon's; and when `keep`. A watchdog that does
/// not say it is armed is an error: without it a killed owner would leak the cluster.
pub(crate) async fn arm(
    client: &DockerClient,
    claim: Claim,
    keep: bool,
) -> Result<Option<Watchdog>> {
    if keep || !claim.armable {
        if !keep {
            tracing::warn!(
                "no cleanup watchdog: the Docker daemon's socket cannot be bound into a container there (not at the address's path nor at {USUAL_SOCKET}); use `minidcos docker clean` after a killed run"
            );
        }
        client.remove_container(&claim.container).await?;
        return Ok(None);
    }
    let created = claim.container;
    // Attach before start, so the owner holds stdin from the watchdog's first instant.
    let attached = client
        .attach(&created)
        .await
        .map_err(op("attaching to the cleanup watchdog"))?;
    let (mut output, stdin) = (attached.output, attached.input);
    client
        .start_container(&created)
        .await
        .map_err(op("starting the cleanup watchdog"))?;
    let mut said = String::new();
    let armed = tokio::time::timeout(ARM_TIMEOUT, async {
        while let Some(Ok(Output::Stdout(out) | Output::Stderr(out))) = output.next().await {
            said.push_str(&String::from_utf8_lossy(&out));
            if said.contains("armed") {
                return true;
            }
            if said.contains("no-curl") || said.contains("other-daemon") {
                return false;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    if armed {
        // Keep draining so the daemon never blocks on the watchdog's output.
        let keeper = tokio::spawn(hold_on(client.clone(), created, output, claim.grace));
        return Ok(Some(Watchdog {
            _stdin: stdin,
            keeper,
        }));
    }
    let _ = client.remove_container(&created).await;
    if said.contains("other-daemon") {
        tracing::warn!(
            "no cleanup watchdog: {USUAL_SOCKET} on the Docker daemon's host belongs to another daemon (its socket there is unknown); use `minidcos docker clean` after a killed run"
        );
        return Ok(None);
    }
    Err(Error::WatchdogFailed {
        detail: if said.trim().is_empty() {
            format!("it said nothing within {ARM_TIMEOUT:?}")
        } else {
            format!("it said: {}", said.trim())
        },
    })
}
