//! The node side of the installer contract: each node runs `dcos_install.sh` for its
//! role from the served genconf, as root.

use crate::error::{Error, Result};
use crate::node::{Command, Node, quote};

/// Link the served genconf into place and run the node installer as root.
/// Stop the node installer and what it started, if it runs (the process group of each
/// `dcos_install.sh`).
pub(crate) async fn stop_installer(node: &Node) -> Result<()> {
    // `[d]` keeps the pattern from matching this very script's command line.
    let script = "for p in $(pgrep -f '/opt/dcos_install_tmp/[d]cos_install.sh'); do \
                  g=$(ps -o pgid= \"$p\" | tr -d ' '); [ -n \"$g\" ] && kill -KILL -- \"-$g\" 2>/dev/null; done; true";
    node.run(Command::shell(script).sudo(true)).await.map(drop)
}

pub(crate) async fn install_node(node: &Node, serve: &str) -> Result<()> {
    let script = format!(
        "rm -rf /opt/dcos_install_tmp && ln -s {serve} /opt/dcos_install_tmp && \
         bash /opt/dcos_install_tmp/dcos_install.sh --no-block-dcos-setup {role}",
        serve = quote(serve),
        role = node.role().installer_role()
    );
    node.run(Command::shell(script).sudo(true))
        .await
        .map(drop)
        .map_err(|e| match e {
            Error::CommandFailed(f) => {
                let mut output = String::from_utf8_lossy(&f.stdout).to_string();
                output.push_str(&String::from_utf8_lossy(&f.stderr));
                Error::Install {
                    step: "dcos_install.sh",
                    node: Some(node.to_string()),
                    status: Some(f.status),
                    detail: format!("exited with status {}:\n{}", f.status, output.trim()),
                }
            }
            other => other,
        })
}
