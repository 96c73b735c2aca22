//! `minidcos docker create`: provision, install, wait, then hand the cluster to the user.
//! Interrupted (Ctrl-C, SIGTERM) or failed, it removes what it made, and only that.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, anyhow};
use dcos_e2e::{Cluster, Docker, ImageOptions, InstallOptions, KEEP_ENV};
use tokio::signal::unix::{Signal, SignalKind, signal};

use super::{Status, read_extra_config};
use crate::cli::CreateArgs;
use crate::errors::{failure, in_flag_terms};
use crate::output::{self, Progress};

pub async fn create(args: CreateArgs, json: bool) -> Result<Status> {
    // From here on, an interrupt is ours to handle: nothing is half-made unnoticed.
    let mut interrupt = Interrupt::register()?;

    let install = match &args.artifact {
        Some(artifact) => Some(InstallOptions {
            build_artifact: artifact.clone(),
            extra_config: read_extra_config(args.extra_config.as_deref())?,
            files_to_copy_to_installer: args.copy_to_genconf.clone(),
        }),
        None => None,
    };
    if let Some(options) = &install {
        options.validate().map_err(in_flag_terms)?;
    }
    let id = args
        .cluster_id
        .clone()
        .unwrap_or_else(Docker::new_cluster_id);
    // Only what this run makes may be removed when it fails: refuse an id in use
    // before anything is made.
    if dcos_e2e::list_clusters().await?.iter().any(|c| c.id == id) {
        return Err(failure(
            format!("invalid --cluster-id `{id}`: a cluster with this id already exists"),
            "pick another id, or leave --cluster-id out for a random one",
        ));
    }

    let step = Arc::new(Progress::start(format!(
        "creating {id}: {} master(s), {} agent(s), {} public agent(s)",
        args.masters, args.agents, args.public_agents
    )));
    let mut backend = Docker::new()
        .cluster_id(&id)
        .privileged(args.privileged.into())
        .transport(args.transport.into())
        .image_options(image_progress(step.clone()));
    if let Some(dir) = &args.workspace_dir {
        backend = backend.workspace_dir(dir);
    }
    if let Some(image) = &args.node_image {
        backend = backend.node_image(image);
    }
    if let Some(network) = &args.network {
        backend = backend.network(network);
    }
    backend = backend
        .connect_timeout(args.connect_timeout)
        .ready_timeout(args.ready_timeout);
    for m in &args.custom_master_volume {
        backend = backend.master_mount(m.clone());
    }
    for m in &args.custom_agent_volume {
        backend = backend.agent_mount(m.clone());
    }
    for m in &args.custom_public_agent_volume {
        backend = backend.public_agent_mount(m.clone());
    }

    let work = async {
        let cluster = Cluster::builder(backend)
            .masters(args.masters.into())
            .agents(args.agents.into())
            .public_agents(args.public_agents.into())
            .log_output_live(args.log_output_live)
            .provision()
            .await
            .map_err(in_flag_terms)?;
        step.done();
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
    // An interrupt drops the work (a Cluster made so far destroys itself), then what
    // was made before the Cluster existed is removed by label.
    let outcome = tokio::select! {
        r = work => Ok(r),
        signal = interrupt.recv() => Err(signal),
    };
    drop(step);
    match outcome {
        Ok(Ok(cluster)) => {
            if json {
                output::json(&serde_json::json!({ "cluster_id": cluster.id() }));
            } else {
                crate::say!("{}", cluster.id());
            }
            Ok(0)
        }
        Ok(Err(e)) => {
            if dcos_e2e::keep_requested() {
                eprintln!(
                    "{KEEP_ENV} is set: {id} is kept; `minidcos docker destroy {id}` removes it"
                );
            } else if !id_refused(&e) {
                remove(&id).await;
                if about_the_cluster(&e) {
                    return Err(failure(
                        format!("{} ({id} was removed)", crate::errors::chain(&e)),
                        format!("run again with {KEEP_ENV}=1 to keep a failed cluster for a look"),
                    ));
                }
            }
            Err(e)
        }
        Err(signal) => {
            eprintln!("interrupted: removing {id}");
            remove(&id).await;
            Ok(128 + signal)
        }
    }
}

/// Image build lines go to the create step: a line in logs when a build starts, the
/// detail on a terminal.
fn image_progress(step: Arc<Progress>) -> ImageOptions {
    let first = AtomicBool::new(true);
    ImageOptions {
        progress: Some(Arc::new(move |line: &str| {
            if first.swap(false, Ordering::SeqCst) {
                step.note("building the node image (about a minute, once per machine)");
            }
            step.detail(line);
        })),
        ..Default::default()
    }
}

/// Whether the error refused the cluster id (malformed or taken): then nothing was made,
/// and objects carrying that id are someone else's.
fn id_refused(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.to_string().starts_with("invalid --cluster-id")
            // Also when another create won the id part way (inside CreateFailed, whose
            // cause is boxed).
            || matches!(
                c.downcast_ref::<dcos_e2e::Error>()
                    .or_else(|| c.downcast_ref::<Box<dcos_e2e::Error>>().map(|b| &**b)),
                Some(dcos_e2e::Error::InvalidParameter { parameter, .. }) if *parameter == "cluster_id"
            )
    })
}

/// Whether the error is about the cluster's nodes (then looking at them would help),
/// rather than about this machine or the arguments.
fn about_the_cluster(e: &anyhow::Error) -> bool {
    use dcos_e2e::Error as Lib;
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<Lib>(),
            Some(
                Lib::WaitTimeout { .. }
                    | Lib::Install { .. }
                    | Lib::Timeout { .. }
                    | Lib::Transport { .. }
                    | Lib::CommandFailed(_)
            )
        )
    })
}

/// Remove everything of the cluster (the library sweeps until nothing reappears and
/// also removes the workspace).
async fn remove(id: &str) {
    if let Err(e) = dcos_e2e::destroy_interrupted_cluster(id).await {
        eprintln!(
            "warning: removing {id}: {}; `minidcos docker clean` retries",
            dcos_e2e::chain(&e)
        );
    }
}

/// SIGINT and SIGTERM, caught from the moment this is made.
pub struct Interrupt {
    int: Signal,
    term: Signal,
}

impl Interrupt {
    pub fn register() -> Result<Self> {
        let int =
            signal(SignalKind::interrupt()).map_err(|e| anyhow!("cannot catch SIGINT: {e}"))?;
        let term =
            signal(SignalKind::terminate()).map_err(|e| anyhow!("cannot catch SIGTERM: {e}"))?;
        Ok(Self { int, term })
    }

    /// The signal number that came.
    pub async fn recv(&mut self) -> i32 {
        tokio::select! {
            _ = self.int.recv() => libc::SIGINT,
            _ = self.term.recv() => libc::SIGTERM,
        }
    }
}
