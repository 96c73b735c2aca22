//! `minidcos docker create`: provision, install, wait, then hand the cluster to the user.
//! Interrupted (Ctrl-C, SIGTERM) or failed, what it made is removed by the library, and
//! only that: the work is dropped, which destroys a cluster made so far and cancels a
//! provisioning under way.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use dcos_e2e::docker::ImageOptions;
use dcos_e2e::{Cluster, Docker, Error as Lib, KEEP_ENV, Role};

use super::{Status, install_options};
use crate::cli::CreateArgs;
use crate::errors::{failure, in_flag_terms, library_error};
use crate::output::{self, Progress};
use crate::signals::Interrupt;

pub async fn create(args: CreateArgs, json: bool) -> Result<Status> {
    // From here on, an interrupt is ours to handle: nothing is half-made unnoticed.
    let mut interrupt = Interrupt::register()?;

    let install = match &args.artifact {
        Some(artifact) => Some(
            install_options(
                artifact,
                args.extra_config.as_deref(),
                &args.copy_to_genconf,
            )
            .map_err(in_flag_terms)?,
        ),
        None => None,
    };
    if let Some(options) = &install {
        options.validate().map_err(in_flag_terms)?;
    }
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
    for (host, container) in &args.one_master_host_port_map {
        backend = backend.one_master_host_port(*host, *container);
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
        let installed = async {
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
            anyhow::Ok(())
        };
        if let Err(e) = installed.await {
            if let Some(dir) = &args.logs_on_failure {
                match cluster.export_logs(dir).await {
                    Ok(bundle) => eprintln!("logs of {id} in {}", bundle.dir.display()),
                    Err(l) => eprintln!("warning: no log bundle: {}", dcos_e2e::chain(&l)),
                }
            }
            return Err(e);
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
        Ok(Err(e)) => {
            if dcos_e2e::keep_requested() {
                eprintln!(
                    "{KEEP_ENV} is set: {id} is kept; `minidcos docker destroy {id}` removes it"
                );
            } else if about_the_cluster(&e) {
                return Err(failure(
                    format!("{} ({id} was removed)", crate::errors::chain(&e)),
                    format!("run again with {KEEP_ENV}=1 to keep a failed cluster for a look"),
                ));
            }
            Err(e)
        }
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

/// Whether the error is about the cluster's nodes after they were made (then looking
/// at them would help), rather than about this machine or the arguments.
fn about_the_cluster(e: &anyhow::Error) -> bool {
    // A failed provisioning says itself what became of the cluster (CreateFailed).
    matches!(
        library_error(e),
        Some(
            Lib::WaitTimeout { .. }
                | Lib::Install { .. }
                | Lib::Timeout { .. }
                | Lib::Transport { .. }
                | Lib::Unreachable { .. }
                | Lib::CommandFailed(_)
        )
    )
}
