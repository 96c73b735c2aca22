//! A log bundle, for when a test failed: per node, the systemd journal, the unit states,
//! the installer's output and `dcos-diagnostics`, and (Docker) the container's inspect;
//! one directory per node, named by role and index, and a summary. Nodes are read at
//! once; a node that cannot be reached is noted, not fatal.

use std::fmt;
use std::path::{Path, PathBuf};

use futures_util::future::join_all;
use serde::Serialize;

use super::command::Command;
use super::node::Node;
use crate::error::{Error, Result, chain};

/// Where the node installer's output is kept on each node (see the installer contract).
pub(crate) const INSTALL_LOG: &str = "/var/log/dcos-e2e/install.log";

/// What is read from every node, into which file.
const READS: &[(&str, &str)] = &[
    ("journal.log", "journalctl -b --no-pager -o short-iso 2>&1"),
    (
        "units.txt",
        "systemctl list-units --all --no-pager --plain 2>&1; echo; systemctl --failed --no-pager 2>&1",
    ),
    (
        "installer.log",
        "if [ -f /var/log/dcos-e2e/install.log ]; then cat /var/log/dcos-e2e/install.log; else echo 'no installer ran here'; fi",
    ),
    (
        "diagnostics.txt",
        "d=/opt/mesosphere/bin/dcos-diagnostics; [ -x \"$d\" ] || d=/opt/mesosphere/bin/3dt; \
         if [ -x \"$d\" ]; then timeout -k 1 30 \"$d\" --diag 2>&1; echo \"(exit status $?)\"; \
         else echo 'no dcos-diagnostics here'; fi",
    ),
];

/// A node to read, with what the backend knows of it (the container's inspect, JSON).
pub(crate) struct Source<'a> {
    pub node: &'a Node,
    pub inspect: Option<String>,
}

/// What a log bundle holds.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct LogBundle {
    /// The bundle's directory.
    pub dir: PathBuf,
    /// The cluster.
    pub cluster_id: String,
    /// One entry per node.
    pub nodes: Vec<NodeLogs>,
}

/// What was read from one node.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct NodeLogs {
    /// The node's directory in the bundle: `master-1`, `agent-2`, `public-agent-1`.
    pub dir: String,
    /// The node as named in messages.
    pub node: String,
    /// The files written for it.
    pub files: Vec<String>,
    /// What could not be read, and why (a node that is down says so here).
    pub problems: Vec<String>,
}

impl fmt::Display for LogBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "logs of {} in {}", self.cluster_id, self.dir.display())?;
        for n in &self.nodes {
            writeln!(f, "{}: {} ({})", n.dir, n.node, n.files.join(", "))?;
            for p in &n.problems {
                writeln!(f, "  {p}")?;
            }
        }
        Ok(())
    }
}

/// Read every node at once into `dir` (made if missing); write the summary.
pub(crate) async fn collect(
    cluster_id: &str,
    sources: Vec<Source<'_>>,
    extra: &[(&str, PathBuf)],
    dir: &Path,
) -> Result<LogBundle> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(Error::io("create the log bundle directory", dir))?;
    let nodes = join_all(sources.into_iter().map(|s| read_node(s, dir))).await;
    let nodes: Vec<NodeLogs> = nodes.into_iter().collect::<Result<_>>()?;
    for (name, source) in extra {
        // Files of the cluster on this host (the installer's genconf output).
        if tokio::fs::copy(source, dir.join(name)).await.is_err() {
            tracing::debug!("no {} to add to the log bundle", source.display());
        }
    }
    let bundle = LogBundle {
        dir: dir.to_path_buf(),
        cluster_id: cluster_id.to_string(),
        nodes,
    };
    let summary = dir.join("summary.txt");
    tokio::fs::write(&summary, bundle.to_string())
        .await
        .map_err(Error::io("write", &summary))?;
    let json = dir.join("summary.json");
    let text = serde_json::to_string_pretty(&bundle).unwrap_or_default();
    tokio::fs::write(&json, text)
        .await
        .map_err(Error::io("write", &json))?;
    Ok(bundle)
}

async fn read_node(source: Source<'_>, dir: &Path) -> Result<NodeLogs> {
    let node = source.node;
    let name = format!("{}-{}", node.role(), node.index());
    let node_dir = dir.join(&name);
    tokio::fs::create_dir_all(&node_dir)
        .await
        .map_err(Error::io("create", &node_dir))?;
    let mut logs = NodeLogs {
        dir: name,
        node: node.to_string(),
        files: Vec::new(),
        problems: Vec::new(),
    };
    if let Some(inspect) = source.inspect {
        let path = node_dir.join("inspect.json");
        tokio::fs::write(&path, inspect)
            .await
            .map_err(Error::io("write", &path))?;
        logs.files.push("inspect.json".into());
    }
    for (file, script) in READS {
        let path = node_dir.join(file);
        match read_into(node, script, &path).await {
            Ok(()) => logs.files.push((*file).to_string()),
            Err(e @ Error::Io { .. }) => return Err(e),
            // A node that is down answers nothing: say so once, read nothing more.
            Err(e) => {
                logs.problems.push(format!("{file}: {}", chain(&e)));
                if !matches!(e, Error::CommandFailed(_)) {
                    logs.problems
                        .push("the node did not answer; nothing more was read".into());
                    break;
                }
            }
        }
    }
    Ok(logs)
}

/// Stream what `script` prints on the node into `path`.
async fn read_into(node: &Node, script: &str, path: &Path) -> Result<()> {
    let mut process = node.popen(Command::shell(script).sudo(true)).await?;
    let file = tokio::fs::File::create(path)
        .await
        .map_err(Error::io("create", path))?;
    let status = process
        .forward(tokio::io::BufWriter::new(file), tokio::io::sink())
        .await?;
    if status != 0 {
        tracing::debug!(node = %node, "{script} exited {status}");
    }
    Ok(())
}
