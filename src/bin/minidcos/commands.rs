//! Each command: parse arguments into library calls, print the result.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use dcos_e2e::{
    Cluster, Command, Docker, ExistingCluster, ImageOptions, InstallOptions, Mount, Node,
    Privileged, Role, TransportKind,
};
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use crate::cli::{
    CommandArgs, CreateArgs, DockerCmd, ExistingArgs, ExistingCmd, InstallArgs, NodeArgs, RunArgs,
};
use crate::output::{self, Progress};

/// Exit status of a command that ran.
pub type Status = i32;

pub async fn docker(cmd: DockerCmd, json: bool) -> Result<Status> {
    match cmd {
        DockerCmd::Create(args) => create(args, json).await,
        DockerCmd::Install { id, install } => {
            let cluster = Cluster::attach_docker(&id, None).await?;
            let options = install_options(&install)?;
            let p = Progress::start(format!("installing DC/OS on {id}"));
            cluster.install(&options).await?;
            p.done();
            Ok(0)
        }
        DockerCmd::List => list(json).await,
        DockerCmd::Inspect { id } => {
            let cluster = Cluster::attach_docker(&id, None).await?;
            inspect(&cluster, json);
            Ok(0)
        }
        DockerCmd::Run(RunArgs {
            id,
            nodes,
            command,
            transport,
        }) => {
            let transport = transport.map(|t| t.parse::<TransportKind>()).transpose()?;
            let cluster = Cluster::attach_docker(&id, transport).await?;
            run(&cluster, &nodes, &command).await
        }
        DockerCmd::SendFile {
            id,
            source,
            destination,
            nodes,
        } => {
            let cluster = Cluster::attach_docker(&id, None).await?;
            send_file(&cluster, &nodes, &source, &destination).await
        }
        DockerCmd::DownloadFile {
            id,
            source,
            destination,
            nodes,
        } => {
            let cluster = Cluster::attach_docker(&id, None).await?;
            download_file(&cluster, &nodes, &source, &destination).await
        }
        DockerCmd::Wait { id, timeout } => {
            let cluster = Cluster::attach_docker(&id, None).await?;
            wait(&cluster, timeout).await
        }
        DockerCmd::Destroy { ids, all } => {
            let ids = if all {
                dcos_e2e::list_clusters()
                    .await?
                    .into_iter()
                    .map(|c| c.id)
                    .collect()
            } else {
                ids
            };
            for id in &ids {
                let known = dcos_e2e::list_clusters().await?.iter().any(|c| &c.id == id);
                if !known {
                    bail!("no cluster named {id} (see `minidcos docker list`)");
                }
                dcos_e2e::destroy_cluster(id).await?;
                if json {
                    output::json(&serde_json::json!({ "destroyed": id }));
                } else {
                    println!("{id}");
                }
            }
            Ok(0)
        }
        DockerCmd::Clean { all } => {
            let removed = dcos_e2e::clean(all).await?;
            if json {
                output::json(&serde_json::json!({ "removed": removed }));
            } else if removed.is_empty() {
                eprintln!("nothing to clean");
            } else {
                for id in removed {
                    println!("{id}");
                }
            }
            Ok(0)
        }
        DockerCmd::Doctor { workspace_dir } => {
            let checks = dcos_e2e::doctor(workspace_dir.as_deref()).await;
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
            drop(options);
            if let Ok(p) = Arc::try_unwrap(p) {
                p.done();
            }
            if json {
                output::json(&serde_json::json!({ "image": tag }));
            } else {
                println!("{tag}");
            }
            Ok(0)
        }
    }
}

fn install_options(args: &InstallArgs) -> Result<InstallOptions> {
    Ok(InstallOptions {
        build_artifact: args.artifact.clone(),
        extra_config: read_extra_config(args.extra_config.as_deref())?,
        files_to_copy_to_installer: parse_copies(&args.copy_to_genconf)?,
    })
}

fn read_extra_config(path: Option<&Path>) -> Result<Option<yaml_serde::Value>> {
    let Some(path) = path else { return Ok(None) };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --extra-config {}", path.display()))?;
    let value = yaml_serde::from_str(&text)
        .with_context(|| format!("--extra-config {} is not YAML", path.display()))?;
    Ok(Some(value))
}

fn parse_copies(specs: &[String]) -> Result<Vec<(PathBuf, PathBuf)>> {
    specs
        .iter()
        .map(|s| {
            let (src, dst) = s
                .rsplit_once(':')
                .ok_or_else(|| anyhow!("--copy-to-genconf `{s}`: expected SRC:/genconf/DST"))?;
            Ok((PathBuf::from(src), PathBuf::from(dst)))
        })
        .collect()
}

async fn create(args: CreateArgs, json: bool) -> Result<Status> {
    let id = args
        .cluster_id
        .clone()
        .unwrap_or_else(Docker::new_cluster_id);
    let mut backend = Docker::new()
        .cluster_id(&id)
        .privileged(args.privileged.parse::<Privileged>()?)
        .transport(args.transport.parse::<TransportKind>()?);
    if let Some(dir) = &args.workspace_dir {
        backend = backend.workspace_dir(dir);
    }
    if let Some(image) = &args.node_image {
        backend = backend.node_image(image);
    }
    for spec in &args.custom_master_volume {
        backend = backend.master_mount(
            spec.parse::<Mount>()
                .map_err(|e| anyhow!("--custom-master-volume: {e}"))?,
        );
    }
    for spec in &args.custom_agent_volume {
        backend = backend.agent_mount(
            spec.parse::<Mount>()
                .map_err(|e| anyhow!("--custom-agent-volume: {e}"))?,
        );
    }
    for spec in &args.custom_public_agent_volume {
        backend = backend.public_agent_mount(
            spec.parse::<Mount>()
                .map_err(|e| anyhow!("--custom-public-agent-volume: {e}"))?,
        );
    }
    let install = match &args.artifact {
        Some(artifact) => Some(InstallOptions {
            build_artifact: artifact.clone(),
            extra_config: read_extra_config(args.extra_config.as_deref())?,
            files_to_copy_to_installer: parse_copies(&args.copy_to_genconf)?,
        }),
        None => None,
    };
    if let Some(options) = &install {
        options.validate()?;
    }
    if args.node_image.is_none() {
        let p = Arc::new(Progress::start("node image"));
        let reporter = p.clone();
        let options = ImageOptions {
            progress: Some(Arc::new(move |line: &str| reporter.detail(line))),
            ..Default::default()
        };
        dcos_e2e::ensure_node_image(&options).await?;
        drop(options);
        if let Ok(p) = Arc::try_unwrap(p) {
            p.done();
        }
    }

    let work = async {
        let p = Progress::start(format!(
            "creating {id}: {} master(s), {} agent(s), {} public agent(s)",
            args.masters, args.agents, args.public_agents
        ));
        let cluster = Cluster::builder(backend)
            .masters(args.masters)
            .agents(args.agents)
            .public_agents(args.public_agents)
            .log_output_live(args.log_output_live)
            .provision()
            .await?;
        p.done();
        if let Some(options) = &install {
            let p = Progress::start("installing DC/OS");
            cluster.install(options).await?;
            p.done();
        }
        if args.wait {
            let p = Progress::start("waiting for DC/OS");
            cluster.wait_for_dcos(args.timeout).await?;
            p.done();
        }
        cluster.persist().await?;
        anyhow::Ok(cluster)
    };
    // An interrupt drops the work (its Cluster destroys itself), then anything made
    // before the Cluster existed is removed by label.
    let outcome = tokio::select! {
        r = work => Some(r),
        () = interrupted() => None,
    };
    match outcome {
        Some(Ok(cluster)) => {
            if json {
                output::json(&serde_json::json!({ "cluster_id": cluster.id() }));
            } else {
                println!("{}", cluster.id());
            }
            Ok(0)
        }
        Some(Err(e)) => {
            let _ = dcos_e2e::destroy_cluster(&id).await;
            Err(e)
        }
        None => {
            eprintln!("interrupted: removing {id}");
            dcos_e2e::destroy_cluster(&id).await?;
            Ok(130)
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn interrupted() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

async fn list(json: bool) -> Result<Status> {
    let clusters = dcos_e2e::list_clusters().await?;
    if json {
        output::json(&clusters);
        return Ok(0);
    }
    let rows = clusters
        .into_iter()
        .map(|c| {
            let owner = if c.persisted {
                "user"
            } else if c.owner_alive {
                "process (alive)"
            } else {
                "none (clean removes it)"
            };
            vec![
                c.id,
                c.masters.to_string(),
                c.agents.to_string(),
                c.public_agents.to_string(),
                c.running.to_string(),
                owner.to_string(),
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

#[derive(Serialize)]
struct NodeView {
    role: Role,
    index: usize,
    container: Option<String>,
    ip_address: String,
    transport: String,
    ssh_command: String,
}

#[derive(Serialize)]
struct ClusterView {
    cluster_id: String,
    backend: &'static str,
    default_ssh_user: String,
    workspace: Option<PathBuf>,
    ssh_key_path: Option<PathBuf>,
    nodes: Vec<NodeView>,
}

fn inspect(cluster: &Cluster, json: bool) {
    let known_hosts = cluster.workspace().map(|w| w.join("ssh/known_hosts"));
    let nodes: Vec<NodeView> = cluster
        .nodes()
        .map(|n| {
            let mut ssh = format!("ssh -i {}", n.ssh_key_path().display());
            match &known_hosts {
                Some(kh) => ssh.push_str(&format!(" -o UserKnownHostsFile={}", kh.display())),
                None => ssh.push_str(" -o StrictHostKeyChecking=accept-new"),
            }
            ssh.push_str(&format!(" {}@{}", n.default_user(), n.ip_address()));
            NodeView {
                role: n.role(),
                index: n.index(),
                container: n.container_name().map(str::to_string),
                ip_address: n.ip_address().to_string(),
                transport: n.transport().to_string(),
                ssh_command: ssh,
            }
        })
        .collect();
    let view = ClusterView {
        cluster_id: cluster.id().to_string(),
        backend: cluster.backend_name(),
        default_ssh_user: cluster.default_ssh_user().to_string(),
        workspace: cluster.workspace().map(Path::to_path_buf),
        ssh_key_path: cluster
            .nodes()
            .next()
            .map(|n| n.ssh_key_path().to_path_buf()),
        nodes,
    };
    if json {
        output::json(&view);
        return;
    }
    println!("cluster:   {}", view.cluster_id);
    println!("backend:   {}", view.backend);
    if let Some(w) = &view.workspace {
        println!("workspace: {}", w.display());
    }
    if let Some(k) = &view.ssh_key_path {
        println!("ssh key:   {}", k.display());
    }
    let rows = view
        .nodes
        .iter()
        .map(|n| {
            vec![
                format!("{}:{}", n.role, n.index),
                n.container.clone().unwrap_or_default(),
                n.ip_address.clone(),
                n.ssh_command.clone(),
            ]
        })
        .collect();
    output::table(&["node", "container", "ip", "ssh"], rows);
}

/// The nodes a `--node` list names (default: the first master).
fn select<'a>(cluster: &'a Cluster, args: &NodeArgs) -> Result<Vec<&'a Node>> {
    if args.node.is_empty() {
        return cluster
            .masters()
            .first()
            .map(|m| vec![m])
            .ok_or_else(|| anyhow!("the cluster has no master"));
    }
    let mut chosen: Vec<&Node> = Vec::new();
    for spec in &args.node {
        let found: Vec<&Node> = match spec.as_str() {
            "all" => cluster.nodes().collect(),
            "all-masters" => cluster.masters().iter().collect(),
            "all-agents" => cluster.agents().iter().collect(),
            "all-public-agents" => cluster.public_agents().iter().collect(),
            s if s.parse::<std::net::IpAddr>().is_ok() => cluster
                .nodes()
                .filter(|n| n.ip_address().to_string() == s)
                .collect(),
            s => {
                let (role, index) = s.split_once(':').ok_or_else(|| anyhow!("--node `{s}`: expected an IP, ROLE:N, all-masters, all-agents, all-public-agents or all"))?;
                let role: Role = role.parse().map_err(|e| anyhow!("--node `{s}`: {e}"))?;
                let index: usize = index
                    .parse()
                    .map_err(|_| anyhow!("--node `{s}`: N must be a number from 1"))?;
                cluster
                    .nodes()
                    .filter(|n| n.role() == role && n.index() == index)
                    .collect()
            }
        };
        if found.is_empty() {
            bail!(
                "--node `{spec}` matches no node of {} (see `inspect`)",
                cluster.id()
            );
        }
        for n in found {
            if !chosen.iter().any(|c| {
                c.ip_address() == n.ip_address() && c.role() == n.role() && c.index() == n.index()
            }) {
                chosen.push(n);
            }
        }
    }
    Ok(chosen)
}

fn build_command(cluster: &Cluster, args: &CommandArgs) -> Result<Command> {
    let mut env = BTreeMap::new();
    for kv in &args.env {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| anyhow!("--env `{kv}`: expected K=V"))?;
        env.insert(k.to_string(), v.to_string());
    }
    let mut cmd = if args.test_env {
        cluster.test_command(args.args.clone(), env)?
    } else if args.shell {
        Command::shell(args.args.join(" ")).envs(env)
    } else {
        Command::new(args.args.clone()).envs(env)
    };
    if let Some(user) = &args.user {
        cmd = cmd.user(user);
    }
    Ok(cmd.sudo(args.sudo))
}

/// Run on each chosen node in turn, streaming its output; the status is the first
/// non-zero one (or 0).
async fn run(cluster: &Cluster, nodes: &NodeArgs, args: &CommandArgs) -> Result<Status> {
    let cmd = build_command(cluster, args)?;
    let mut status = 0;
    for node in select(cluster, nodes)? {
        let mut process = node.popen(cmd.clone()).await?;
        let mut out = process.stdout().ok_or_else(|| anyhow!("no stdout"))?;
        let mut err = process.stderr().ok_or_else(|| anyhow!("no stderr"))?;
        let copy_out = async {
            let mut stdout = tokio::io::stdout();
            let _ = tokio::io::copy(&mut out, &mut stdout).await;
            let _ = stdout.flush().await;
        };
        let copy_err = async {
            let mut stderr = tokio::io::stderr();
            let _ = tokio::io::copy(&mut err, &mut stderr).await;
            let _ = stderr.flush().await;
        };
        tokio::join!(copy_out, copy_err);
        let result = tokio::select! {
            r = process.wait() => r?,
            () = interrupted() => {
                process.kill().await?;
                return Ok(130);
            }
        };
        if status == 0 {
            status = result.status;
        }
    }
    Ok(status)
}

async fn send_file(
    cluster: &Cluster,
    nodes: &NodeArgs,
    source: &Path,
    destination: &str,
) -> Result<Status> {
    let chosen = select(cluster, nodes)?;
    futures_util::future::try_join_all(chosen.iter().map(|n| n.send_file(source, destination)))
        .await?;
    Ok(0)
}

async fn download_file(
    cluster: &Cluster,
    nodes: &NodeArgs,
    source: &str,
    destination: &Path,
) -> Result<Status> {
    let chosen = select(cluster, nodes)?;
    let [node] = chosen.as_slice() else {
        bail!("download-file takes exactly one --node")
    };
    node.download_file(source, destination).await?;
    Ok(0)
}

async fn wait(cluster: &Cluster, timeout: std::time::Duration) -> Result<Status> {
    let p = Progress::start("waiting for DC/OS");
    cluster.wait_for_dcos(timeout).await?;
    p.done();
    Ok(0)
}

pub async fn existing(args: ExistingArgs, json: bool) -> Result<Status> {
    let backend = ExistingCluster::from_file(&args.cluster_file)?;
    let cluster = Cluster::builder(backend.clone())
        .masters(backend.hosts(Role::Master).len())
        .agents(backend.hosts(Role::Agent).len())
        .public_agents(backend.hosts(Role::PublicAgent).len())
        .destroy_on_error(false)
        .destroy_on_success(false)
        .provision()
        .await?;
    match args.command {
        ExistingCmd::Run { nodes, command } => run(&cluster, &nodes, &command).await,
        ExistingCmd::SendFile {
            source,
            destination,
            nodes,
        } => send_file(&cluster, &nodes, &source, &destination).await,
        ExistingCmd::DownloadFile {
            source,
            destination,
            nodes,
        } => download_file(&cluster, &nodes, &source, &destination).await,
        ExistingCmd::Wait { timeout } => wait(&cluster, timeout).await,
        ExistingCmd::Inspect => {
            inspect(&cluster, json);
            Ok(0)
        }
    }
}
