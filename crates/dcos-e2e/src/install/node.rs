//! The node side of the installer contract: each node runs `dcos_install.sh` for its
//! role from the served genconf, as root.

use crate::error::{Error, Result};
use crate::node::logs::INSTALL_LOG;
use crate::node::{Command, Node, Role, quote};

/// Stop the node installer and what it started, if it runs (the process group of each
/// `dcos_install.sh`).
pub(crate) async fn stop_installer(node: &Node) -> Result<()> {
    // `[d]` keeps the pattern from matching this very script's command line.
    let script = "for p in $(pgrep -f '/opt/dcos_install_tmp/[d]cos_install.sh'); do \
                  g=$(ps -o pgid= \"$p\" | tr -d ' '); [ -n \"$g\" ] && kill -KILL -- \"-$g\" 2>/dev/null; done; true";
    node.run(Command::shell(script).sudo(true)).await.map(drop)
}

/// Link the served genconf into place and run the node installer as root for `role`.
/// Its output is also kept on the node (for a log bundle), and its own exit status is
/// the result.
pub(crate) async fn install_node(node: &Node, role: Role, serve: &str) -> Result<()> {
    let install = format!(
        "bash /opt/dcos_install_tmp/dcos_install.sh --no-block-dcos-setup {}",
        role.installer_role()
    );
    run_step(node, serve, "dcos_install.sh", install, false).await
}

/// Run the node upgrade script (a path under `/opt/dcos_install_tmp`) as root, its
/// output added to the node's install log.
pub(crate) async fn upgrade_node(node: &Node, serve: &str, script: &str) -> Result<()> {
    let upgrade = format!("bash {}", quote(script));
    run_step(node, serve, "dcos_node_upgrade.sh", upgrade, true).await
}

async fn run_step(
    node: &Node,
    serve: &str,
    step: &'static str,
    command: String,
    append: bool,
) -> Result<()> {
    let log = INSTALL_LOG;
    let script = format!(
        "rm -rf /opt/dcos_install_tmp && ln -s {serve} /opt/dcos_install_tmp && \
         mkdir -p {dir} && \
         {{ {command} 2>&1; echo $? > {log}.status; }} | tee {append}{log}; exit \"$(cat {log}.status)\"",
        serve = quote(serve),
        dir = quote(log.rsplit_once('/').map_or("/", |(d, _)| d)),
        log = quote(log),
        append = if append { "-a " } else { "" },
    );
    node.run(Command::shell(script).sudo(true))
        .await
        .map(drop)
        .map_err(|e| match e {
            Error::CommandFailed(f) => {
                let mut output = String::from_utf8_lossy(&f.stdout).to_string();
                output.push_str(&String::from_utf8_lossy(&f.stderr));
                Error::Install {
                    step,
                    node: Some(node.to_string()),
                    command,
                    status: f.status,
                    output: last_lines(output.trim(), 30),
                }
            }
            other => other,
        })
}

/// The last `n` lines of `text`: an error shows why, not a whole install log.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
