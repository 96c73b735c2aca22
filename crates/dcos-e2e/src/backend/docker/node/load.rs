//! The container engine inside running nodes: whether it runs and with which storage
//! driver, and loading images from the host's Docker daemon into it without a registry
//! (one export, streamed into every chosen node's `docker load` at once).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::future::join_all;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::backend::docker::create::container::DEFAULT_USER;
use crate::backend::docker::daemon::client::{DockerClient, Fault, op};
use crate::backend::docker::labels;
use crate::backend::docker::node::exec::DockerExecTransport;
use crate::error::{Error, Parameter, Result};
use crate::node::transport::{Launch, RawProcess, Transport, drain, lost};
use crate::node::{Command, Node};

/// Receives progress lines.
pub(crate) type Progress<'a> = Option<&'a (dyn Fn(&str) + Send + Sync)>;

/// Whether a node's engine runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum EngineState {
    /// The node has no `docker` command.
    Absent,
    /// The daemon answers.
    Running,
    /// Not started: its socket listens, and the first client starts the daemon.
    OnDemand,
    /// Starting.
    Starting,
    /// Installed, not running (stopped or failed; `detail` says which).
    Stopped,
}

impl EngineState {
    /// `absent`, `running`, `on-demand`, `starting` or `stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineState::Absent => "absent",
            EngineState::Running => "running",
            EngineState::OnDemand => "on-demand",
            EngineState::Starting => "starting",
            EngineState::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for EngineState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A node's container engine, as [`engine_status`] found it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EngineStatus {
    /// Whether it runs.
    pub state: EngineState,
    /// The storage driver the daemon uses (when it runs).
    pub storage_driver: Option<String>,
    /// The daemon's version (when it runs).
    pub version: Option<String>,
    /// Why the node chose its storage driver, or why the engine does not run.
    pub detail: Option<String>,
}

/// Looks without side effects: an engine waiting on its socket is not started.
const STATUS_SCRIPT: &str = r#"command -v docker >/dev/null 2>&1 || { echo state=absent; exit 0; }
[ -r /run/dcos-e2e/engine-storage ] && sed -n 's/^reason=/detail=/p' /run/dcos-e2e/engine-storage
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  s=$(systemctl is-active docker.service 2>/dev/null)
  case "$s" in
    active) ;;
    activating|reloading) echo state=starting; exit 0 ;;
    failed) echo state=stopped; echo "detail=docker.service failed (journalctl -u docker says why)"; exit 0 ;;
    *) if systemctl is-active --quiet docker.socket 2>/dev/null; then echo state=on-demand
       else echo state=stopped; echo "detail=docker.service is $s"; fi; exit 0 ;;
  esac
fi
if out=$(timeout 20 docker info --format '{{.Driver}} {{.ServerVersion}}' 2>&1); then
  echo state=running; echo "driver=${out%% *}"; echo "version=${out#* }"
else
  echo state=stopped; echo "detail=$(printf '%s' "$out" | tail -n 1)"
fi"#;

/// Whether the node's engine runs, and with which storage driver. Looks only: an
/// engine that starts on first use is reported as such, not started.
pub async fn engine_status(node: &Node) -> Result<EngineStatus> {
    let out = node.run(Command::shell(STATUS_SCRIPT)).await?;
    Ok(parse_status(&out.stdout_text()))
}

fn parse_status(text: &str) -> EngineStatus {
    let mut status = EngineStatus {
        state: EngineState::Stopped,
        storage_driver: None,
        version: None,
        detail: None,
    };
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().to_string();
        match key {
            "state" => {
                status.state = match value.as_str() {
                    "absent" => EngineState::Absent,
                    "running" => EngineState::Running,
                    "on-demand" => EngineState::OnDemand,
                    "starting" => EngineState::Starting,
                    _ => EngineState::Stopped,
                }
            }
            "driver" if !value.is_empty() => status.storage_driver = Some(value),
            "version" if !value.is_empty() => status.version = Some(value),
            // The state's own reason wins over the storage choice.
            "detail" if !value.is_empty() => status.detail = Some(value),
            _ => {}
        }
    }
    status
}

/// Exit status of the engine check when the node has no `docker` command.
const NO_ENGINE: i32 = 90;

/// Starts an engine waiting on its socket, and waits for one still starting.
const CHECK_SCRIPT: &str = "command -v docker >/dev/null 2>&1 || exit 90; \
     timeout 60 docker info --format '{{.ServerVersion}}' >/dev/null";

/// How images reach a node's engine: docker exec for Docker nodes (no network path or
/// encryption needed), the node's own transport otherwise.
/// Each container of the cluster by name, with the daemon that holds it.
async fn containers_by_daemon(
    daemons: &[DockerClient],
    cluster_id: &str,
) -> Result<Vec<(String, DockerClient)>> {
    let filter = [labels::filter(labels::CLUSTER_ID, cluster_id)];
    let lists = join_all(daemons.iter().map(|d| d.containers(&filter))).await;
    let mut placed = Vec::new();
    for (daemon, list) in daemons.iter().zip(lists) {
        placed.extend(list?.into_iter().map(|c| (c.name, daemon.clone())));
    }
    Ok(placed)
}

/// How `docker load` reaches a node: docker exec through the daemon that holds its
/// container (whatever the node's own transport), else the node's transport.
fn shell_of(
    placed: &[(String, DockerClient)],
    node: &Node,
    cluster_id: &str,
) -> Result<(Arc<dyn Transport>, String)> {
    let Some(container) = node.container_name() else {
        return Ok((
            node.inner.transport.clone(),
            node.default_user().to_string(),
        ));
    };
    let (_, daemon) = placed
        .iter()
        .find(|(name, _)| name == container)
        .ok_or_else(|| Error::NoSuchNode {
            selector: node.to_string(),
            cluster_id: cluster_id.to_string(),
        })?;
    Ok((
        Arc::new(DockerExecTransport::new(
            daemon.clone(),
            container.to_string(),
            node.to_string(),
        )),
        DEFAULT_USER.to_string(),
    ))
}

async fn check_engine(node: &Node, shell: &dyn Transport, user: &str) -> Result<()> {
    let mut p = shell
        .spawn(Launch::new(user, CHECK_SCRIPT.to_string()))
        .await?;
    let (_, stderr) = tokio::join!(drain(&mut p.stdout), drain(&mut p.stderr));
    let status = p.exit.await.unwrap_or_else(|_| Err(lost(shell)))?;
    match status {
        0 => Ok(()),
        NO_ENGINE => Err(Error::NoEngine {
            node: node.to_string(),
        }),
        status => Err(Error::EngineDown {
            node: node.to_string(),
            detail: format!(
                "`docker info` exited with status {status}: {}",
                last_lines(&stderr)
            ),
        }),
    }
}

fn last_lines(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

/// Chunks handed to each node's `docker load` are at least this big: fewer, larger
/// writes through the exec stream.
const CHUNK: usize = 1 << 20;
/// Chunks buffered per node: the slowest node paces the export, the others may run
/// this far ahead.
const NODE_BUFFER: usize = 8;

fn report(progress: Progress<'_>, line: &str) {
    tracing::info!(target: "dcos_e2e::engine", "{line}");
    if let Some(progress) = progress {
        progress(line);
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

/// Load `images` from the host's Docker daemon into the engine of every node in
/// `nodes`: one export (`docker save`), streamed into each node's `docker load` at once.
/// Every image and every node's engine is checked before anything is sent. Each node is
/// reached through the daemon of `daemons` that holds its container (labelled with
/// `cluster_id`), never through another daemon's container of the same name.
pub(crate) async fn load_images(
    nodes: &[&Node],
    images: &[String],
    progress: Progress<'_>,
    daemons: &[DockerClient],
    cluster_id: &str,
) -> Result<()> {
    if images.is_empty() {
        return Err(Error::invalid(
            Parameter::Images,
            "(none)",
            "name at least one image to load",
        ));
    }
    if nodes.is_empty() {
        return Err(Error::invalid(
            Parameter::Nodes,
            "(none)",
            "choose at least one node",
        ));
    }
    for node in nodes {
        node.transport_live()?;
    }
    let placed = containers_by_daemon(daemons, cluster_id).await?;
    let client = DockerClient::connect().await?;
    let mut total = 0u64;
    for image in images {
        match client.image_size(image).await {
            Ok(size) => total += size,
            Err(e) if e.fault() == Fault::NotFound => {
                return Err(Error::ImageMissing {
                    image: image.clone(),
                    host: client.host().to_string(),
                });
            }
            Err(e) => return Err(op(format!("inspecting image {image}"))(e)),
        }
    }
    let shells = nodes
        .iter()
        .map(|n| shell_of(&placed, n, cluster_id))
        .collect::<Result<Vec<_>>>()?;
    // All checks are waited for; the first failure in node order is the answer.
    join_all(
        nodes
            .iter()
            .zip(&shells)
            .map(|(n, (t, user))| check_engine(n, &**t, user)),
    )
    .await
    .into_iter()
    .collect::<Result<Vec<()>>>()?;

    report(
        progress,
        &format!(
            "loading {} ({}) into {} node(s)",
            images.join(", "),
            mb(total),
            nodes.len()
        ),
    );
    let started = join_all(shells.iter().map(|(t, user)| {
        t.spawn(Launch {
            user,
            script: "docker load -q".into(),
            stdin: true,
            tty: None,
            // Both streams are read to the end while the input is written.
            paced: false,
        })
    }))
    .await;
    let mut processes = Vec::new();
    let mut start_error = None;
    for (p, (t, _)) in started.into_iter().zip(&shells) {
        match p {
            Ok(p) => processes.push((p, t)),
            Err(e) => start_error = start_error.or(Some(e)),
        }
    }
    if let Some(e) = start_error {
        // The others see their input end at once and stop; wait for them all the same.
        join_all(
            processes
                .into_iter()
                .map(|(p, t)| finish_load(&**t, p, mpsc::channel(1).1)),
        )
        .await;
        return Err(e);
    }

    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..nodes.len()).map(|_| mpsc::channel(NODE_BUFFER)).unzip();
    let refs: Vec<&str> = images.iter().map(String::as_str).collect();
    let feed = async move {
        let mut senders: Vec<Option<mpsc::Sender<Bytes>>> = senders.into_iter().map(Some).collect();
        let mut stream = client.export_images(&refs);
        let mut buffer = BytesMut::new();
        let mut sent = 0u64;
        let mut next_report = total / 4;
        let mut fan_out = async |chunk: Bytes| {
            for slot in senders.iter_mut() {
                if let Some(tx) = slot
                    && tx.send(chunk.clone()).await.is_err()
                {
                    // That node's load stopped reading; the others go on.
                    *slot = None;
                }
            }
            senders.iter().any(Option::is_some)
        };
        while let Some(item) = stream.next().await {
            let chunk = item.map_err(op(format!("exporting {}", refs.join(", "))))?;
            buffer.extend_from_slice(&chunk);
            if buffer.len() < CHUNK {
                continue;
            }
            let chunk = buffer.split().freeze();
            sent += chunk.len() as u64;
            if !fan_out(chunk).await {
                break;
            }
            if sent >= next_report && total > 0 {
                report(
                    progress,
                    &format!("streamed {} of about {}", mb(sent), mb(total)),
                );
                next_report = sent + total / 4;
            }
        }
        if !buffer.is_empty() {
            sent += buffer.len() as u64;
            fan_out(buffer.freeze()).await;
        }
        Ok::<u64, Error>(sent)
    };
    let loads = join_all(
        processes
            .into_iter()
            .zip(receivers)
            .map(|((p, t), rx)| finish_load(&**t, p, rx)),
    );
    let (fed, loaded) = tokio::join!(feed, loads);
    let sent = fed?;
    let mut failed = Vec::new();
    for (node, result) in nodes.iter().zip(loaded) {
        match result {
            Ok(out) => {
                for line in out.lines().filter(|l| !l.trim().is_empty()) {
                    report(progress, &format!("{node}: {line}"));
                }
            }
            Err(why) => failed.push(format!("{node}: {why}")),
        }
    }
    if !failed.is_empty() {
        return Err(Error::ImageLoad {
            images: images.to_vec(),
            failed,
        });
    }
    report(
        progress,
        &format!("loaded {} into {} node(s)", mb(sent), nodes.len()),
    );
    Ok(())
}

/// Feed one node's `docker load` from `rx` until it ends, then its output; why not,
/// when it exits non-zero or the node is lost.
async fn finish_load(
    shell: &dyn Transport,
    mut p: RawProcess,
    mut rx: mpsc::Receiver<Bytes>,
) -> std::result::Result<String, String> {
    let stdin = p.stdin.take();
    let write = async move {
        let Some(mut stdin) = stdin else { return };
        while let Some(chunk) = rx.recv().await {
            // The process stopped reading: its status and stderr say why.
            if stdin.write_all(&chunk).await.is_err() {
                break;
            }
        }
        drop(rx);
        let _ = stdin.shutdown().await;
    };
    let ((), stdout, stderr) = tokio::join!(write, drain(&mut p.stdout), drain(&mut p.stderr));
    let status = p
        .exit
        .await
        .unwrap_or_else(|_| Err(lost(shell)))
        .map_err(|e| crate::error::chain(&e))?;
    if status != 0 {
        return Err(format!(
            "`docker load` exited with status {status}: {}",
            last_lines(&stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse() {
        let s = parse_status(
            "detail=overlay mounts work on the ext2/ext3 volume\nstate=running\ndriver=overlay2\nversion=20.10.24+dfsg1\n",
        );
        assert_eq!(s.state, EngineState::Running);
        assert_eq!(s.storage_driver.as_deref(), Some("overlay2"));
        assert_eq!(s.version.as_deref(), Some("20.10.24+dfsg1"));
        assert!(s.detail.is_some_and(|d| d.contains("overlay")));
        assert_eq!(parse_status("state=absent\n").state, EngineState::Absent);
        assert_eq!(
            parse_status("state=on-demand\n").state,
            EngineState::OnDemand
        );
    }
}
