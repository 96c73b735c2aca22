//! Node operations, the same on a Docker cluster and an existing one: inspect, run,
//! send-file, download-file, wait.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use dcos_e2e::docker::{self, EngineState, EngineStatus};
use dcos_e2e::{Cluster, Command, ExistingCluster, Node, NodeSelector, Role, quote};
use serde::Serialize;

use super::Status;
use crate::cli::{CommandArgs, CopyArgs, ExistingArgs, ExistingCmd, NodeArgs};
use crate::errors::{failure, in_flag_terms};
use crate::output::{self, Progress};
use crate::signals::Interrupt;
use crate::terminal::{self, Ended};

/// One node in `inspect --json`.
#[derive(Serialize)]
struct NodeView {
    role: Role,
    index: usize,
    container: Option<String>,
    ip_address: String,
    transport: String,
    ssh_command: String,
    /// The container's state (`running`, `exited`, ...); `null` for an existing host.
    state: Option<String>,
    /// The container engine inside the node; `null` when the node did not answer.
    engine: Option<EngineStatus>,
}

/// `inspect --json`.
#[derive(Serialize)]
struct ClusterView {
    cluster_id: String,
    backend: &'static str,
    default_user: String,
    workspace: Option<PathBuf>,
    ssh_key_path: Option<PathBuf>,
    /// Where a browser reaches the first master (its address; published ports).
    web: Vec<String>,
    nodes: Vec<NodeView>,
}

/// The engine column: its state, and the storage driver when it runs.
fn engine_cell(engine: &Option<EngineStatus>) -> String {
    match engine {
        None => "unknown (no answer)".into(),
        Some(e) => match (e.state, &e.storage_driver) {
            (EngineState::Absent, _) => "none".into(),
            (EngineState::Running, Some(driver)) => format!("running ({driver})"),
            (state, _) => state.to_string(),
        },
    }
}

pub async fn inspect(cluster: &Cluster, json: bool) {
    show(cluster, json).await;
}

/// Words joined so that a shell reads them back as they are.
fn shell_line(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            if w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./@:=%".contains(c))
            {
                w.clone()
            } else {
                quote(w)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn show(cluster: &Cluster, json: bool) {
    // Each node is asked at once; one that does not answer is shown as such.
    let engines = futures_util::future::join_all(cluster.nodes().map(docker::engine_status)).await;
    let mut states = cluster.node_states().await;
    let web = cluster.web_urls().await.unwrap_or_else(|e| {
        tracing::warn!("cannot read the published ports: {}", dcos_e2e::chain(&e));
        Vec::new()
    });
    let nodes: Vec<NodeView> = cluster
        .nodes()
        .zip(engines)
        .map(|(n, engine)| {
            let ssh = shell_line(&n.ssh_command());
            if let Err(e) = &engine {
                tracing::warn!(
                    "{n}: cannot tell whether its engine runs: {}",
                    dcos_e2e::chain(e)
                );
            }
            NodeView {
                role: n.role(),
                index: n.index(),
                container: n.container_name().map(str::to_string),
                ip_address: n.ip_address().to_string(),
                transport: n.transport().to_string(),
                ssh_command: ssh,
                state: n.container_name().and_then(|c| states.remove(c)),
                engine: engine.ok(),
            }
        })
        .collect();
    let view = ClusterView {
        cluster_id: cluster.id().to_string(),
        backend: cluster.backend_name(),
        default_user: cluster.default_user().to_string(),
        workspace: cluster.workspace().map(Path::to_path_buf),
        ssh_key_path: cluster
            .nodes()
            .next()
            .map(|n| n.ssh_key_path().to_path_buf()),
        web,
        nodes,
    };
    if json {
        output::json(&view);
        return;
    }
    crate::say!("cluster:   {}", view.cluster_id);
    crate::say!("backend:   {}", view.backend);
    if let Some(w) = &view.workspace {
        crate::say!("workspace: {}", w.display());
    }
    if let Some(k) = &view.ssh_key_path {
        crate::say!("ssh key:   {}", k.display());
    }
    if !view.web.is_empty() {
        crate::say!("web:       {}", view.web.join("  "));
    }
    let rows = view
        .nodes
        .iter()
        .map(|n| {
            vec![
                format!("{}:{}", n.role, n.index),
                n.container.clone().unwrap_or_default(),
                n.ip_address.clone(),
                n.state.clone().unwrap_or_else(|| "-".into()),
                n.transport.clone(),
                engine_cell(&n.engine),
                n.ssh_command.clone(),
            ]
        })
        .collect();
    output::table(
        &[
            "node",
            "container",
            "ip",
            "state",
            "transport",
            "engine",
            "ssh",
        ],
        rows,
    );
}

/// `load-image`: stream images from this host's daemon into the engines of the chosen
/// nodes (default: every node) at once, with a line per step.
pub async fn load_image(
    cluster: &Cluster,
    images: &[String],
    selectors: &[NodeSelector],
) -> Result<Status> {
    let selectors = if selectors.is_empty() {
        vec![NodeSelector::All]
    } else {
        selectors.to_vec()
    };
    let chosen = cluster.select(&selectors).map_err(in_flag_terms)?;
    let p = Arc::new(Progress::start(format!(
        "loading {} into {} node(s)",
        images.join(" "),
        chosen.len()
    )));
    let reporter = p.clone();
    let progress: docker::ProgressFn = Arc::new(move |line: &str| reporter.note(line));
    let images: Vec<&str> = images.iter().map(String::as_str).collect();
    cluster
        .load_images(&images, &chosen, Some(progress))
        .await
        .map_err(in_flag_terms)?;
    p.done();
    Ok(0)
}

/// The nodes a `--node` list names, without repeats (default: the first master).
fn select<'a>(cluster: &'a Cluster, args: &NodeArgs) -> Result<Vec<&'a Node>> {
    cluster.select(&args.node).map_err(in_flag_terms)
}

/// The command for `node`: in the test environment, its `DCOS_DNS_ADDRESS` is the node's.
fn build_command(cluster: &Cluster, node: &Node, args: &CommandArgs) -> Result<Command> {
    let env = args.env.iter().cloned().collect();
    let mut cmd = if args.test_env {
        cluster.test_command_on(node, args.args.clone(), env)?
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

/// Run on each chosen node in turn, streaming its output (or on a terminal joined to
/// ours: [`terminal`]); the status is the first non-zero one (or 0). An interrupt stops
/// the command on the node.
pub async fn run(cluster: &Cluster, nodes: &NodeArgs, args: &CommandArgs) -> Result<Status> {
    if terminal::wanted(args.tty, args.no_tty)? {
        let mut status = 0;
        for node in select(cluster, nodes)? {
            match terminal::session(node, build_command(cluster, node, args)?).await? {
                Ended::Exited(ran) if status == 0 => status = ran,
                Ended::Exited(_) => {}
                Ended::Signalled(signal) => return Ok(128 + signal),
            }
        }
        return Ok(status);
    }
    let mut interrupt = Interrupt::register()?;
    let mut status = 0;
    for node in select(cluster, nodes)? {
        let mut process = node.popen(build_command(cluster, node, args)?).await?;
        let streamed = process.forward(tokio::io::stdout(), tokio::io::stderr());
        let outcome = tokio::select! {
            r = streamed => Ok(r),
            signal = interrupt.recv() => Err(signal),
        };
        match outcome {
            Ok(result) => {
                let ran = result?;
                if status == 0 {
                    status = ran;
                }
            }
            Err(signal) => {
                let _ = process.kill().await;
                return Ok(128 + signal);
            }
        }
    }
    Ok(status)
}

pub async fn send_file(
    cluster: &Cluster,
    nodes: &NodeArgs,
    source: &Path,
    destination: &str,
    copy: &CopyArgs,
) -> Result<Status> {
    let chosen = select(cluster, nodes)?;
    let options = copy.options();
    futures_util::future::try_join_all(
        chosen
            .iter()
            .map(|n| n.send_file_with(source, destination, &options)),
    )
    .await?;
    Ok(0)
}

pub async fn download_file(
    cluster: &Cluster,
    nodes: &NodeArgs,
    source: &str,
    destination: &Path,
    copy: &CopyArgs,
) -> Result<Status> {
    let chosen = select(cluster, nodes)?;
    let [node] = chosen.as_slice() else {
        return Err(failure(
            format!(
                "--node names {} nodes; download-file copies from one",
                chosen.len()
            ),
            "name one node, e.g. --node agent:1",
        ));
    };
    node.download_file_with(source, destination, &copy.options())
        .await?;
    Ok(0)
}

pub async fn wait(cluster: &Cluster, timeout: Duration) -> Result<Status> {
    let p = Progress::start("waiting for DC/OS");
    cluster.wait_for_dcos(timeout).await?;
    p.done();
    Ok(0)
}

pub async fn existing(args: ExistingArgs, json: bool) -> Result<Status> {
    // Install flags are checked before any host is contacted.
    let checked = |install| {
        let options = super::install_options(install).map_err(in_flag_terms)?;
        options.validate().map_err(in_flag_terms)?;
        anyhow::Ok(options)
    };
    let cluster = wrap(&args.cluster_file);
    match args.command {
        ExistingCmd::Run { nodes, command } => run(&cluster.await?, &nodes, &command).await,
        ExistingCmd::SendFile {
            source,
            destination,
            nodes,
            copy,
        } => send_file(&cluster.await?, &nodes, &source, &destination, &copy).await,
        ExistingCmd::DownloadFile {
            source,
            destination,
            nodes,
            copy,
        } => download_file(&cluster.await?, &nodes, &source, &destination, &copy).await,
        ExistingCmd::Wait { timeout } => wait(&cluster.await?, timeout).await,
        ExistingCmd::Install { install } => {
            let options = checked(&install)?;
            super::install_on(&cluster.await?, &options).await
        }
        ExistingCmd::Upgrade { upgrade } => {
            let options = checked(&upgrade.install)?;
            super::upgrade_on(&cluster.await?, &options, &upgrade).await
        }
        ExistingCmd::Inspect => {
            show(&cluster.await?, json).await;
            Ok(0)
        }
    }
}

/// The hosts of a cluster file as a cluster, with the 2017 API's conditions met.
async fn wrap(cluster_file: &Path) -> Result<Cluster> {
    let backend = ExistingCluster::from_file(cluster_file)?;
    let cluster = Cluster::builder(backend.clone())
        .masters(backend.hosts(Role::Master).len())
        .agents(backend.hosts(Role::Agent).len())
        .public_agents(backend.hosts(Role::PublicAgent).len())
        .destroy_on_error(false)
        .destroy_on_success(false)
        .provision()
        .await?;
    Ok(cluster)
}
