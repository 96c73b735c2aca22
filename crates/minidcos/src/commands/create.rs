//! `minidcos docker create`: provision, install, wait, then hand the cluster to the user.
//! Interrupted (Ctrl-C, SIGTERM) or failed, what it made is removed by the library, and
//! only that: the work is dropped, which destroys a cluster made so far and cancels a
//! provisioning under way.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use dcos_e2e::docker::ImageOptions;
use dcos_e2e::{Cluster, Docker, ExtraConfig, KEEP_ENV, Role};

use super::Status;
use crate::cli::CreateArgs;
use crate::errors::in_flag_terms;
use crate::output::{self, Progress};
use crate::signals::Interrupt;

pub async fn create(args: CreateArgs, json: bool) -> Result<Status> {
    // From here on, an interrupt is ours to handle: nothing is half-made unnoticed.
    let mut interrupt = Interrupt::register()?;

    let id = args
        .cluster_id
        .clone()
        .unwrap_or_else(Docker::new_cluster_id);

    let step = Arc::new(Progress::start(format!(
        "creating {id}: {} master(s), {} agent(s), {} public agent(s)",
        args.masters, args.agents, args.public_agents
    )));
    let mut backend = Docker::new()
        .cluster_id(&id)
        .privileged(args.privileged.into())
        .mount_sources_on_daemon(args.mount_sources_on_daemon)
        .image_options(super::recipe_options(
            image_progress(step.clone()),
            &args.recipe,
        ))
        .engine_storage_driver(args.engine_storage_driver.into())
        .connect_timeout(args.connect_timeout)
        .ready_timeout(args.ready_timeout);
    if let Some(dir) = &args.workspace_dir {
        backend = backend.workspace_dir(dir);
    }
    if let Some(address) = &args.published_address {
        backend = backend.published_address(address);
    }
    if let Some(image) = &args.node_image {
        backend = backend.node_image(image);
    }
    if !args.docker_host.is_empty() {
        backend = backend.docker_hosts(&args.docker_host);
    }
    if let Some(transport) = args.transport {
        backend = backend.transport(transport.into());
    }
    if let Some(network) = &args.network {
        backend = backend.network(network);
    }
    for m in &args.custom_master_volume {
        backend = backend.master_mount(m.clone());
    }
    for m in &args.custom_agent_volume {
        backend = backend.agent_mount(m.clone());
    }
    for m in &args.custom_public_agent_volume {
        backend = backend.public_agent_mount(m.clone());
    }
    for (k, v) in &args.labels {
        backend = backend.label(k, v);
    }
    for (role, labels) in [
        (Role::Master, &args.master_labels),
        (Role::Agent, &args.agent_labels),
        (Role::PublicAgent, &args.public_agent_labels),
    ] {
        for (k, v) in labels {
            backend = backend.role_label(role, k, v);
        }
    }
    if let Some(address) = args.publish_on {
        backend = backend.publish_on(address);
    }
    for (host, container) in &args.one_master_host_port_map {
        backend = backend.one_master_host_port(*host, *container);
    }

    let current = Arc::new(Mutex::new(None::<Progress>));
    let mut builder = Cluster::builder(backend)
        .masters(args.masters.into())
        .agents(args.agents.into())
        .public_agents(args.public_agents.into())
        .log_output_live(args.log_output_live)
        .progress(steps(step.clone(), current.clone()));
    if let Some(artifact) = &args.artifact {
        builder = builder.build_artifact(artifact);
        if let Some(hex) = &args.sha256 {
            builder = builder.artifact_sha256(hex);
        }
    }
    if let Some(path) = &args.extra_config {
        builder = builder.extra_config(ExtraConfig::from_file(path).map_err(in_flag_terms)?);
    }
    for (source, destination) in &args.copy_to_genconf {
        builder = builder.file_to_copy_to_installer(source, destination);
    }
    if let Some(dir) = &args.logs_on_failure {
        builder = builder.logs_on_failure(dir);
    }
    if args.wait {
        builder = builder.wait_for_dcos(args.timeout);
    }
    // The library installs, waits, writes the log bundle and removes (or keeps) a
    // failed cluster; its error says which became of it.
    let work = async {
        let cluster = if args.artifact.is_some() {
            builder.create().await
        } else {
            builder.provision().await
        }
        .map_err(in_flag_terms)?;
        step.done();
        if let Some(last) = lock(&current).take() {
            last.done();
        }
        cluster.persist().await?;
        anyhow::Ok(cluster)
    };
    let outcome = tokio::select! {
        r = work => Ok(r),
        // Said before the branch's handler runs: select! drops the work (and so runs
        // its cleanup) before that.
        signal = async {
            let signal = interrupt.recv().await;
            eprintln!("interrupted: cleaning up {id} (Ctrl-C again stops at once; `minidcos docker clean` then removes what is left)");
            signal
        } => Err(signal),
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
        Ok(Err(e)) => Err(e),
        // The work was dropped above: what it made is gone.
        Err(signal) => {
            if dcos_e2e::keep_requested() {
                eprintln!(
                    "{KEEP_ENV} is set: {id} is kept; `minidcos docker destroy {id}` removes it"
                );
            } else {
                eprintln!("{id} was removed");
            }
            Ok(128 + signal)
        }
    }
}

/// The library's steps of creating (installing, waiting) each get a line of their own,
/// after the create step (the nodes); `current` holds the one under way.
fn steps(
    create: Arc<Progress>,
    current: Arc<Mutex<Option<Progress>>>,
) -> impl Fn(&str) + Send + Sync + 'static {
    move |step: &str| {
        create.done();
        let mut current = lock(&current);
        if let Some(previous) = current.take() {
            previous.done();
        }
        *current = Some(Progress::start(step));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Image build lines go to the create step: a line in logs when a build starts, the
/// detail on a terminal.
fn image_progress(step: Arc<Progress>) -> ImageOptions {
    let first = AtomicBool::new(true);
    ImageOptions::default().progress(move |line: &str| {
        if first.swap(false, Ordering::SeqCst) {
            step.note("building the node image (about a minute, once per machine)");
        }
        step.detail(line);
    })
}
