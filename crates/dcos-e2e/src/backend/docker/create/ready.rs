//! Waiting until new nodes accept commands, and saying why one does not.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::backend::docker::daemon::client::DockerClient;
use crate::backend::docker::node::exec::DockerExecTransport;
use crate::error::{Error, Result};
use crate::node::transport::{Launch, Transport, TransportKind, finish};
use crate::node::{Command, Node};

/// Wait until every node accepts commands: an SSH login, or (docker exec) sshd active.
pub(crate) async fn wait_ready<'a>(
    client: &DockerClient,
    nodes: impl Iterator<Item = &'a Node>,
    timeout: Duration,
    transport: TransportKind,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let checks = nodes.map(|node| async move {
        let mut pause = Duration::from_millis(20);
        // Why the last attempt that ended by itself failed: more telling than the
        // deadline cutting the one after it.
        let mut last: Option<Error> = None;
        loop {
            let attempt = async {
                match transport {
                    TransportKind::Ssh => node.ping().await,
                    TransportKind::DockerExec => node
                        // Debian names the unit `ssh`, most others `sshd`.
                        .run(Command::shell(
                            "systemctl is-active --quiet ssh || systemctl is-active --quiet sshd",
                        ))
                        .await
                        .map(drop),
                }
            };
            // One attempt that hangs (a daemon that stopped answering) ends with the wait.
            let attempt = tokio::time::timeout_at(deadline.into(), attempt)
                .await
                .unwrap_or_else(|_| {
                    Err(Error::Timeout {
                        node: node.to_string(),
                        transport,
                        timeout,
                    })
                });
            match attempt {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() >= deadline => {
                    let e = match (e, last.take()) {
                        (Error::Timeout { .. }, Some(earlier)) => earlier,
                        (e, _) => e,
                    };
                    let why = stuck_boot(client, node).await;
                    return Err(Error::transport(
                        node.to_string(),
                        transport,
                        format!("not ready after {timeout:?}{why}"),
                        Some(Box::new(e)),
                    ));
                }
                Err(e) => {
                    last = Some(e);
                    // A refused connection costs nothing: poll often, so the cluster is
                    // returned within moments of its last sshd starting.
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(40));
                }
            }
        }
    });
    join_all(checks).await.into_iter().collect()
}

/// How long looking for the reason of a stalled boot may take.
const STUCK_BOOT_CHECK: Duration = Duration::from_secs(10);

/// Why a node's boot stalled, when it is the usual cause: systemd out of inotify
/// instances, a per-user limit of the host shared by every container (the same limit
/// kind documents).
async fn stuck_boot(client: &DockerClient, node: &Node) -> String {
    let Some(container) = node.container_name() else {
        return String::new();
    };
    let exec = DockerExecTransport::new(client.clone(), container.to_string(), node.to_string());
    let probe = "journalctl -b --no-pager 2>/dev/null | grep -m1 -o 'Failed to create inotify object: Too many open files'";
    let read = async {
        let process = exec.spawn(Launch::new("root", probe.to_string())).await?;
        finish(&exec, "reading the journal", process).await
    };
    match tokio::time::timeout(STUCK_BOOT_CHECK, read)
        .await
        .unwrap_or_else(|_| Ok(Vec::new()))
    {
        Ok(out) if !out.is_empty() => ": systemd on the node ran out of inotify instances; raise the \
             host's limit, e.g. `sysctl -w fs.inotify.max_user_instances=1024` (see `minidcos docker doctor`)"
            .to_string(),
        _ => String::new(),
    }
}
