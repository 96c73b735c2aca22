//! The node side of the installer contract: each node runs `dcos_install.sh` for its
//! role from the served genconf, as root.

use crate::error::{Error, Result};
use crate::node::{Command, Node, quote};

/// Link the served genconf into place and run the node installer as root.
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
