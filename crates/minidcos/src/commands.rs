//! Each command: parse arguments into library calls, print the result.

mod create;
mod faults;
mod nodes;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use dcos_e2e::docker::{self, ImageOptions};
use dcos_e2e::{Cluster, ExtraConfig, InstallOptions, Privileged, TransportKind};
use serde::Serialize;

use crate::cli::{
    DockerCmd, PrivilegedArg, RecipeArgs, RunArgs, StorageDriverArg, TransportArg, UpgradeArgs,
};
use crate::errors::{failure, in_flag_terms};
use crate::output::{self, Progress};
use crate::signals::interruptible;

pub use nodes::existing;

/// Exit status of a command that ran.
pub type Status = i32;

pub async fn docker(cmd: DockerCmd, json: bool) -> Result<Status> {
    match cmd {
        DockerCmd::Create(args) => create::create(*args, json).await,
        DockerCmd::Install { id, install } => {
            let options = install_options(&install).map_err(in_flag_terms)?;
            options.validate().map_err(in_flag_terms)?;
            install_on(&attach(&id, None).await?, &options).await
        }
        DockerCmd::Upgrade { id, upgrade } => {
            let options = install_options(&upgrade.install).map_err(in_flag_terms)?;
            options.validate().map_err(in_flag_terms)?;
            upgrade_on(&attach(&id, None).await?, &options, &upgrade).await
        }
        DockerCmd::List => list(json).await,
        DockerCmd::Inspect { id } => {
            let cluster = attach(&id, None).await?;
            nodes::inspect(&cluster, json).await;
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
            copy,
        } => {
            let cluster = attach(&id, None).await?;
            interruptible(nodes::send_file(
                &cluster,
                &nodes,
                &source,
                &destination,
                &copy,
            ))
            .await
        }
        DockerCmd::DownloadFile {
            id,
            source,
            destination,
            nodes,
            copy,
        } => {
            let cluster = attach(&id, None).await?;
            interruptible(nodes::download_file(
                &cluster,
                &nodes,
                &source,
                &destination,
                &copy,
            ))
            .await
        }
        DockerCmd::Wait { id, timeout } => {
            let cluster = attach(&id, None).await?;
            interruptible(nodes::wait(&cluster, timeout)).await
        }
        DockerCmd::Web { id } => {
            let cluster = attach(&id, None).await?;
            let urls = cluster.web_urls().await?;
            for url in &urls {
                crate::say!("{url}");
            }
            // As `xdg-open` users expect: $BROWSER names the program.
            if let (Ok(browser), Some(url)) = (std::env::var("BROWSER"), urls.last()) {
                std::process::Command::new(&browser)
                    .arg(url)
                    .spawn()
                    .map_err(|e| {
                        failure(
                            format!("cannot run $BROWSER `{browser}`: {e}"),
                            "set BROWSER to a program that opens a URL, or unset it",
                        )
                    })?;
            }
            Ok(0)
        }
        DockerCmd::ExportLogs { id, dir } => {
            let cluster = attach(&id, None).await?;
            let p = Progress::start(format!("reading the logs of {id}"));
            let bundle = cluster.export_logs(&dir).await?;
            p.done();
            if json {
                output::json(&bundle);
            } else {
                crate::say!("{}", bundle.to_string().trim_end());
            }
            Ok(0)
        }
        DockerCmd::Destroy { ids, all } => destroy(ids, all, json).await,
        DockerCmd::Clean { all } => {
            let removed = docker::clean(all).await?;
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
            recipe,
            extra_packages,
        } => {
            let p = Arc::new(Progress::start("building the node image"));
            let reporter = p.clone();
            let mut options = recipe_options(
                ImageOptions::default().progress(move |line: &str| reporter.detail(line)),
                &recipe,
            );
            if let Some(mirror) = mirror {
                options = options.mirror(mirror);
            }
            for package in extra_packages {
                options = options.extra_package(package);
            }
            let tag = docker::ensure_node_image(&options)
                .await
                .map_err(in_flag_terms)?;
            p.done();
            if json {
                output::json(&serde_json::json!({ "image": tag }));
            } else {
                crate::say!("{tag}");
            }
            Ok(0)
        }
        DockerCmd::LoadImage { id, images, node } => {
            let cluster = attach(&id, None).await?;
            nodes::load_image(&cluster, &images, &node).await
        }
        DockerCmd::Node { action } => faults::node(action, json).await,
        DockerCmd::DestroyNode(target) => {
            let mut cluster = attach(&target.id, None).await?;
            let chosen: Vec<dcos_e2e::Node> = cluster
                .select(&target.nodes)?
                .into_iter()
                .cloned()
                .collect();
            for node in chosen {
                cluster.destroy_node(&node).await?;
                eprintln!("destroyed {node}");
            }
            Ok(0)
        }
        DockerCmd::AddNode {
            id,
            role,
            wait,
            timeout,
        } => {
            let mut cluster = attach(&id, None).await?;
            let p = Progress::start(format!("adding a {} to {id}", role.as_str()));
            let mut added = None;
            let status = interruptible(async {
                let node = cluster.add_node(role).await?;
                added = Some(node);
                if wait {
                    cluster.wait_for_dcos(timeout).await?;
                }
                Ok(0)
            })
            .await?;
            let Some(node) = added.filter(|_| status == 0) else {
                return Ok(status);
            };
            p.done();
            let name = node.container_name().unwrap_or_default();
            if json {
                output::json(&serde_json::json!({
                    "name": name,
                    "role": role.as_str(),
                    "index": node.index(),
                    "ip_address": node.ip_address().to_string(),
                }));
            } else {
                println!("{name} {}", node.ip_address());
            }
            Ok(0)
        }
    }
}

/// The image recipe the flags choose.
pub fn recipe_options(options: ImageOptions, recipe: &RecipeArgs) -> ImageOptions {
    options
        .distribution(recipe.distribution)
        .engine(recipe.engine)
}

impl From<StorageDriverArg> for docker::StorageDriver {
    fn from(d: StorageDriverArg) -> Self {
        match d {
            StorageDriverArg::Auto => docker::StorageDriver::Auto,
            StorageDriverArg::Overlay2 => docker::StorageDriver::Overlay2,
            StorageDriverArg::FuseOverlayfs => docker::StorageDriver::FuseOverlayfs,
            StorageDriverArg::Vfs => docker::StorageDriver::Vfs,
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

/// A handle on a cluster by id (the library names a missing id).
async fn attach(id: &str, transport: Option<TransportKind>) -> Result<Cluster> {
    Ok(Cluster::attach_docker(id, transport).await?)
}

/// The install options the flags give: the artifact, `--sha256`, `--extra-config`,
/// `--copy-to-genconf`.
/// Install on `cluster`; an interrupted install stops the node installers (they
/// outlive the connections that started them).
pub async fn install_on(cluster: &Cluster, options: &InstallOptions) -> Result<Status> {
    let id = cluster.id();
    let p = Progress::start(format!("installing DC/OS on {id}"));
    let status = interruptible(async {
        cluster.install(options).await?;
        Ok(0)
    })
    .await?;
    if status != 0 {
        eprintln!("stopping the installers on the nodes of {id}");
        cluster.stop_install().await?;
        return Ok(status);
    }
    p.done();
    Ok(0)
}

/// Upgrade the nodes of `cluster` that `args` names, each step on stderr.
pub async fn upgrade_on(
    cluster: &Cluster,
    options: &InstallOptions,
    args: &UpgradeArgs,
) -> Result<Status> {
    let nodes = if args.node.is_empty() {
        cluster.nodes().collect()
    } else {
        cluster.select(&args.node)?
    };
    let steps: docker::ProgressFn = Arc::new(|line: &str| eprintln!("{line}"));
    let how = dcos_e2e::UpgradeOptions::default()
        .node_timeout(args.node_timeout)
        .progress(steps);
    interruptible(async {
        cluster.upgrade_nodes(options, &how, &nodes).await?;
        if args.wait {
            let p = Progress::start(format!("waiting for DC/OS on {}", cluster.id()));
            cluster.wait_for_dcos(args.timeout).await?;
            p.done();
        }
        Ok(0)
    })
    .await
}

pub fn install_options(args: &crate::cli::InstallArgs) -> dcos_e2e::Result<InstallOptions> {
    let mut options = InstallOptions::new(&args.artifact);
    if let Some(hex) = &args.sha256 {
        options = options.artifact_sha256(hex);
    }
    if let Some(path) = &args.extra_config {
        options = options.extra_config(ExtraConfig::from_file(path)?);
    }
    for (source, destination) in &args.copy_to_genconf {
        options = options.file_to_copy_to_installer(source, destination);
    }
    Ok(options)
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
    owner: docker::Owner,
    workspace: Option<PathBuf>,
}

async fn list(json: bool) -> Result<Status> {
    let rows: Vec<ClusterRow> = docker::list_clusters()
        .await?
        .into_iter()
        .map(|c| ClusterRow {
            owner: c.owner,
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
                    docker::Owner::Process => "process (alive)",
                    docker::Owner::Nobody => "none (clean removes it)",
                    docker::Owner::Elsewhere => "elsewhere (another host; clean leaves it)",
                    _ => "user",
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

/// Each cluster named (or every one, with `all`); an unknown id is an error of its own,
/// the others still go.
async fn destroy(ids: Vec<String>, all: bool, json: bool) -> Result<Status> {
    let ids = if all {
        docker::list_clusters()
            .await?
            .into_iter()
            .map(|c| c.id)
            .collect()
    } else {
        let mut wanted: Vec<String> = Vec::new();
        for id in ids {
            if !wanted.contains(&id) {
                wanted.push(id);
            }
        }
        wanted
    };
    let results = futures_util::future::join_all(ids.iter().map(|id| async move {
        docker::destroy_cluster(id)
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
    let checks = docker::doctor(workspace_dir).await;
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
