//! Upgrading an installed cluster from a second artifact, by the installer contract's
//! upgrade path:
//!
//! 1. every node's installed version (they must agree);
//! 2. a fresh `genconf/`, then `bash <artifact> --offline -v
//!    --generate-node-upgrade-script <version>` on the host, whose last line names the
//!    node upgrade script under `/opt/dcos_install_tmp`;
//! 3. on each node in turn (masters, agents, public agents), that script as root, then
//!    the node healthy again before the next one starts.

use std::time::Duration;

use futures_util::future::join_all;

use super::{Target, genconf, node, upload_serve, wait};
use crate::backend::running::GenconfMount;
use crate::error::{Error, Parameter, Result};
use crate::node::Node;
use crate::params::{InstallOptions, ProgressFn};

/// Where nodes see the served genconf, as `bootstrap_url` names it.
const SERVED: &str = "/opt/dcos_install_tmp/";

/// How an upgrade goes, beyond what it installs.
#[derive(Clone)]
pub struct UpgradeOptions {
    /// How long each node may take to be healthy again after its upgrade.
    pub node_timeout: Duration,
    /// Told each step: a node started, a node upgraded and healthy.
    pub progress: Option<ProgressFn>,
}

impl Default for UpgradeOptions {
    fn default() -> Self {
        Self {
            node_timeout: Duration::from_secs(600),
            progress: None,
        }
    }
}

impl std::fmt::Debug for UpgradeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpgradeOptions")
            .field("node_timeout", &self.node_timeout)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl UpgradeOptions {
    /// How long each node may take to be healthy again (default 10 minutes).
    pub fn node_timeout(mut self, timeout: Duration) -> Self {
        self.node_timeout = timeout;
        self
    }

    /// Called with a line for each step.
    pub fn progress(mut self, progress: ProgressFn) -> Self {
        self.progress = Some(progress);
        self
    }

    fn tell(&self, line: &str) {
        tracing::info!("{line}");
        if let Some(p) = &self.progress {
            p(line);
        }
    }
}

/// Upgrade `nodes` (in the order given) of the cluster whose every node `target` names.
pub(crate) async fn upgrade(
    cluster_id: &str,
    target: &Target<'_>,
    nodes: &[&Node],
    options: &InstallOptions,
    how: &UpgradeOptions,
    genconf: &GenconfMount,
) -> Result<()> {
    // The nodes are asked first: nothing is downloaded for an upgrade they refuse.
    options.validate()?;
    let from = one_version(nodes).await?;
    let options = &super::fetched(options).await?;
    how.tell(&format!(
        "upgrading {} node(s) of {cluster_id} from DC/OS {from}",
        nodes.len()
    ));
    genconf::write_genconf(target, options, &genconf.host_dir).await?;
    let printed = genconf::run_genconf(
        options,
        &genconf.host_dir,
        target.live,
        &genconf::Mode::Upgrade { from },
    )
    .await?;
    let script = upgrade_script(&printed).ok_or_else(|| {
        Error::invalid(
            Parameter::BuildArtifact,
            options.build_artifact.display(),
            format!(
                "its --generate-node-upgrade-script printed no file://{SERVED}... URL of a node upgrade script on its last line"
            ),
        )
    })?;
    if !genconf.upload.is_empty() {
        upload_serve(target, genconf).await?;
    }
    let serve = format!("{}/serve", genconf.node_dir);
    let mut upgraded = Vec::new();
    for &node in nodes {
        how.tell(&format!("upgrading {node}"));
        let step = async {
            node::upgrade_node(node, &serve, &script).await?;
            wait::wait_healthy(std::slice::from_ref(node), how.node_timeout).await
        };
        if let Err(e) = step.await {
            return Err(Error::UpgradeStopped {
                node: node.to_string(),
                upgraded,
                source: Box::new(e),
            });
        }
        how.tell(&format!("{node} upgraded and healthy"));
        upgraded.push(node.to_string());
    }
    Ok(())
}

/// The version every node has; an error naming each node when they differ.
async fn one_version(nodes: &[&Node]) -> Result<String> {
    let read = join_all(nodes.iter().map(|n| n.dcos_build_info())).await;
    let mut versions = Vec::new();
    let mut failures = Vec::new();
    for (node, info) in nodes.iter().zip(read) {
        match info {
            Ok(info) => versions.push((node.to_string(), info.version)),
            Err(e) => failures.push(e),
        }
    }
    if let Some(e) = Error::from_all(failures) {
        return Err(e);
    }
    match versions.first() {
        None => Err(Error::invalid(
            Parameter::Nodes,
            "(none)",
            "no node to upgrade",
        )),
        Some((_, first)) if versions.iter().all(|(_, v)| v == first) => Ok(first.clone()),
        Some(_) => Err(Error::VersionsDiffer {
            versions: versions
                .into_iter()
                .map(|(node, v)| format!("{node} at {v}"))
                .collect(),
        }),
    }
}

/// The node upgrade script the host phase named: a `file://` URL under the served
/// directory, on the last line that has one.
fn upgrade_script(printed: &[String]) -> Option<String> {
    let line = printed.iter().rev().find(|l| l.contains("file://"))?;
    let url = line.split("file://").last()?.split_whitespace().next()?;
    (url.starts_with(SERVED) && !url.contains("..")).then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(String::from).collect()
    }

    #[test]
    fn the_script_is_the_last_file_url_under_the_served_directory() {
        let printed = lines(
            "wrote serve\nNode upgrade script URL: file:///opt/dcos_install_tmp/upgrade/ab12/dcos_node_upgrade.sh\n",
        );
        assert_eq!(
            upgrade_script(&printed).as_deref(),
            Some("/opt/dcos_install_tmp/upgrade/ab12/dcos_node_upgrade.sh")
        );
    }

    #[test]
    fn a_script_outside_the_served_directory_or_none_is_refused() {
        assert_eq!(upgrade_script(&lines("done\n")), None);
        assert_eq!(
            upgrade_script(&lines("Node upgrade script URL: file:///tmp/x.sh")),
            None
        );
        assert_eq!(
            upgrade_script(&lines(
                "Node upgrade script URL: file:///opt/dcos_install_tmp/../etc/x.sh"
            )),
            None
        );
    }
}
