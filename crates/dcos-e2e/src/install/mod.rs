//! Installing from a build artifact (the installer contract), then waiting for health.
//!
//! 1. A fresh `genconf/` in the workspace: `config.yaml` (base keys, `extra_config`
//!    merged over them), `ip-detect`, and the `files_to_copy_to_installer`.
//! 2. `bash <artifact> --offline -v --genconf` on the host, in the workspace.
//! 3. `genconf/serve` visible read-only at `/opt/dcos_install_tmp` on every node (bound
//!    from the workspace, or copied where the nodes do not see it: only what changed),
//!    and `dcos_install.sh --no-block-dcos-setup <role>` as root on all nodes at once.

pub(crate) mod artifact;
pub(crate) mod config;
pub(crate) mod genconf;
pub(crate) mod node;
mod serve;
mod target;
pub(crate) mod upgrade;
pub(crate) mod wait;

use futures_util::future::join_all;

use crate::backend::running::GenconfMount;
use crate::error::{Error, Parameter, Result};
use crate::params::InstallOptions;
pub(crate) use target::Target;

/// `genconf/serve` onto the nodes that do not see this host's workspace (one per
/// daemon on another host, or every host of an existing cluster), only what changed.
async fn upload_serve(target: &Target<'_>, genconf: &GenconfMount) -> Result<()> {
    let serve = format!("{}/serve", genconf.node_dir);
    let local = serve::LocalServe::read(&genconf.host_dir.join("serve")).await?;
    let sends = genconf.upload.iter().map(|&(role, index)| {
        let (serve, local) = (serve.as_str(), &local);
        async move {
            let node = target
                .nodes()
                .find(|n| n.role() == role && n.index() == index)
                .ok_or_else(|| {
                    Error::invalid(Parameter::Nodes, format!("{role} {index}"), "no such node")
                })?;
            serve::sync(node, local, serve).await
        }
    });
    let failures: Vec<Error> = join_all(sends)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    match Error::from_all(failures) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// `options` with the artifact on this host: a URL fetched (or found in the cache), the
/// checksum checked.
pub(crate) async fn fetched(options: &InstallOptions) -> Result<InstallOptions> {
    options.validate()?;
    let local = artifact::resolve(
        &options.build_artifact,
        options.artifact_sha256.as_deref(),
        None,
    )
    .await?;
    Ok(InstallOptions {
        build_artifact: local,
        ..options.clone()
    })
}

pub(crate) async fn install(
    cluster_id: &str,
    target: &Target<'_>,
    options: &InstallOptions,
    genconf: &GenconfMount,
) -> Result<()> {
    let every: Vec<_> = target.nodes().map(|n| (n, n.role())).collect();
    install_as(cluster_id, target, options, genconf, &every).await
}

/// [`install`] with only `nodes` installing, each as the role given with it.
pub(crate) async fn install_as(
    cluster_id: &str,
    target: &Target<'_>,
    options: &InstallOptions,
    genconf: &GenconfMount,
    nodes: &[(&crate::node::Node, crate::node::Role)],
) -> Result<()> {
    let options = &fetched(options).await?;
    let step = std::time::Instant::now();
    genconf::write_genconf(target, options, &genconf.host_dir).await?;
    genconf::run_genconf(
        options,
        &genconf.host_dir,
        target.live,
        &genconf::Mode::Install,
    )
    .await?;
    tracing::info!(cluster = %cluster_id, "genconf done in {:.1?}", step.elapsed());
    if !genconf.upload.is_empty() {
        upload_serve(target, genconf).await?;
    }
    let step = std::time::Instant::now();
    let serve = format!("{}/serve", genconf.node_dir);
    let results = join_all(
        nodes
            .iter()
            .map(|&(n, role)| node::install_node(n, role, &serve)),
    )
    .await;
    let failures: Vec<Error> = results.into_iter().filter_map(Result::err).collect();
    tracing::info!(cluster = %cluster_id, "node installs done in {:.1?}", step.elapsed());
    match Error::from_all(failures) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
