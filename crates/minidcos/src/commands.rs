//! Each command: parse arguments into library calls, print the result.

mod create;
mod nodes;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use dcos_e2e::{Cluster, ImageOptions, InstallOptions, Privileged, TransportKind};
use serde::Serialize;

use crate::cli::{DockerCmd, InstallArgs, PrivilegedArg, RunArgs, TransportArg};
use crate::errors::{failure, in_flag_terms};
use crate::output::{self, Progress};

pub use nodes::existing;

/// Exit status of a command that ran.
pub type Status = i32;

pub async fn docker(cmd: DockerCmd, json: bool) -> Result<Status> {
    match cmd {
        DockerCmd::Create(args) => create::create(args, json).await,
        DockerCmd::Install { id, install } => {
            let options = install_options(&install)?;
            options.validate().map_err(in_flag_terms)?;
            let cluster = attach(&id, None).await?;
            let p = Progress::start(format!("installing DC/OS on {id}"));
            cluster.install(&options).await?;
            p.done();
            Ok(0)
        }
        DockerCmd::List => list(json).await,
        DockerCmd::Inspect { id } => {
            let cluster = attach(&id, None).await?;
            nodes::inspect(&cluster, json);
            Ok(0)
        }
        DockerCmd::Run(RunArgs {
            id,
            nodes,
            command,
            transport,
        }) => {
            let cluster = attach(&id, transport.map(TransportKind::from)).await?;
            nodes::run(&cluster, &nodes, &command).await
        }
        DockerCmd::SendFile {
            id,
            source,
            destination,
            nodes,
        } => {
            let cluster = attach(&id, None).await?;
            nodes::send_file(&cluster, &nodes, &source, &destination).await
        }
        DockerCmd::DownloadFile {
            id,
            source,
            destination,
            nodes,
        } => {
            let cluster = attach(&id, None).await?;
            nodes::download_file(&cluster, &nodes, &source, &destination).await
        }
        DockerCmd::Wait { id, timeout } => {
            let cluster = attach(&id, None).await?;
            nodes::wait(&cluster, timeout).await
        }
        DockerCmd::Destroy { ids, all } => destroy(ids, all, json).await,
        DockerCmd::Clean { all } => {
            let removed = dcos_e2e::clean(all).await?;
            if json {
                output::json(&serde_json::json!({ "removed": removed }));
            } else if removed.is_empty() {
                eprintln!("nothing to clean");
            } else {
                for id in removed {
                    crate::say!("{id}");
                }
            }
            Ok(0)
        }
        DockerCmd::Doctor { workspace_dir } => doctor(workspace_dir.as_deref(), json).await,
        DockerCmd::BuildImage {
            mirror,
            suite,
            extra_packages,
        } => {
            let p = Arc::new(Progress::start("building the node image"));
            let reporter = p.clone();
            let options = ImageOptions {
                mirror,
                suite: Some(suite),
                extra_packages,
                progress: Some(Arc::new(move |line: &str| reporter.detail(line))),
            };
            let tag = dcos_e2e::ensure_node_image(&options).await?;
            p.done();
            if json {
                output::json(&serde_json::json!({ "image": tag }));
            } else {
                crate::say!("{tag}");
            }
            Ok(0)
        }
    }
}

impl From<TransportArg> for TransportKind {
    fn from(t: TransportArg) -> Self {
        match t {
            TransportArg::Ssh => TransportKind::Ssh,
            TransportArg::DockerExec => TransportKind::DockerExec,
        }
    }
}

impl From<PrivilegedArg> for Privileged {
    fn from(p: PrivilegedArg) -> Self {
        match p {
            PrivilegedArg::Auto => Privileged::Auto,
            PrivilegedArg::Yes => Privileged::Yes,
            PrivilegedArg::No => Privileged::No,
        }
    }
}

/// A handle on a cluster by id; the error names the id and says where to look.
async fn attach(id: &str, transport: Option<TransportKind>) -> Result<Cluster> {
    Cluster::attach_docker(id, transport)
        .await
        .map_err(|e| match e {
            dcos_e2e::Error::InvalidParameter {
                parameter: "cluster_id",
                ..
            } => failure(
                format!("no cluster named `{id}`"),
                "`minidcos docker list` shows the clusters",
            ),
            other => other.into(),
        })
}

fn install_options(args: &InstallArgs) -> Result<InstallOptions> {
    Ok(InstallOptions {
        build_artifact: args.artifact.clone(),
        extra_config: read_extra_config(args.extra_config.as_deref())?,
        files_to_copy_to_installer: args.copy_to_genconf.clone(),
    })
}

fn read_extra_config(path: Option<&Path>) -> Result<Option<yaml_serde::Value>> {
    let Some(path) = path else { return Ok(None) };
    let text = std::fs::read_to_string(path).map_err(|e| {
        failure(
            format!("cannot read --extra-config {}: {e}", path.display()),
            "give a readable YAML file",
        )
    })?;
    let value = yaml_serde::from_str(&text).map_err(|e| {
        failure(
            format!("--extra-config {} is not YAML: {e}", path.display()),
            "give a YAML mapping, e.g. `cluster_name: test`",
        )
    })?;
    Ok(Some(value))
}

/// One row of `list --json`.
#[derive(Serialize)]
struct ClusterRow {
    cluster_id: String,
    masters: usize,
    agents: usize,
    public_agents: usize,
    running: usize,
    /// `user` (made by `create`, stays until destroyed), `process` (its owner is
    /// alive) or `none` (`clean` removes it).
    owner: &'static str,
    workspace: Option<PathBuf>,
}

async fn list(json: bool) -> Result<Status> {
    let rows: Vec<ClusterRow> = dcos_e2e::list_clusters()
        .await?
        .into_iter()
        .map(|c| ClusterRow {
            owner: if c.persisted {
                "user"
            } else if c.owner_alive {
                "process"
            } else {
                "none"
            },
            cluster_id: c.id,
            masters: c.masters,
            agents: c.agents,
            public_agents: c.public_agents,
            running: c.running,
            workspace: c.workspace,
        })
        .collect();
    if json {
        output::json(&rows);
        return Ok(0);
    }
    if rows.is_empty() {
        eprintln!("no clusters");
        return Ok(0);
    }
    let rows = rows
        .into_iter()
        .map(|c| {
            vec![
                c.cluster_id,
                c.masters.to_string(),
                c.agents.to_string(),
                c.public_agents.to_string(),
                c.running.to_string(),
                match c.owner {
                    "user" => "user",
                    "process" => "process (alive)",
                    _ => "none (clean removes it)",
                }
                .to_string(),
                c.workspace
                    .map(|w| w.display().to_string())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    output::table(
        &[
            "cluster",
            "masters",
            "agents",
            "public agents",
            "running",
            "owner",
            "workspace",
        ],
        rows,
    );
    Ok(0)
}

/// Every id is checked before anything is destroyed.
async fn destroy(ids: Vec<String>, all: bool, json: bool) -> Result<Status> {
    let known: Vec<String> = dcos_e2e::list_clusters()
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let ids = if all {
        known
    } else {
        let mut wanted: Vec<String> = Vec::new();
        for id in ids {
            if !known.contains(&id) {
                return Err(failure(
                    format!("no cluster named `{id}`; nothing was destroyed"),
                    "`minidcos docker list` shows the clusters",
                ));
            }
            if !wanted.contains(&id) {
                wanted.push(id);
            }
        }
        wanted
    };
    let results = futures_util::future::join_all(ids.iter().map(|id| async move {
        dcos_e2e::destroy_cluster(id)
            .await
            .with_context(|| format!("destroying {id}"))
    }))
    .await;
    for (id, result) in ids.iter().zip(&results) {
        if result.is_ok() && !json {
            crate::say!("{id}");
        }
    }
    if json {
        let destroyed: Vec<&String> = ids
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_ok())
            .map(|(id, _)| id)
            .collect();
        output::json(&serde_json::json!({ "destroyed": destroyed }));
    }
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(0)
}

async fn doctor(workspace_dir: Option<&Path>, json: bool) -> Result<Status> {
    let checks = dcos_e2e::doctor(workspace_dir).await;
    let ok = checks.iter().all(|c| c.ok);
    if json {
        output::json(&checks);
    } else {
        let rows = checks
            .iter()
            .map(|c| {
                vec![
                    c.check.to_string(),
                    if c.ok { "ok" } else { "PROBLEM" }.into(),
                    c.detail.clone(),
                    c.hint.clone().unwrap_or_default(),
                ]
            })
            .collect();
        output::table(&["check", "result", "detail", "hint"], rows);
    }
    Ok(if ok { 0 } else { 1 })
}
