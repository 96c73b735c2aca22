//! The host side of the installer contract: a fresh `genconf/` (`config.yaml`,
//! `ip-detect`, the user's files), then `bash <artifact> --offline -v --genconf` in the
//! workspace.

use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

use super::Target;
use super::config;
use crate::error::{Error, Result};
use crate::node::Node;
use crate::params::{InstallOptions, genconf_relative};

/// A fresh genconf: the directory itself stays (nodes see it through a bind mount), its
/// contents are replaced.
pub(crate) fn write_genconf(
    nodes: &Target<'_>,
    options: &InstallOptions,
    dir: &Path,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
    for entry in std::fs::read_dir(dir)
        .map_err(Error::io("read", dir))?
        .flatten()
    {
        let path = entry.path();
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(Error::io("remove", &path))?;
    }
    std::fs::create_dir_all(dir.join("serve")).map_err(Error::io("create", dir.join("serve")))?;

    let ips = |nodes: &[Node]| nodes.iter().map(Node::ip_address).collect::<Vec<_>>();
    let text = config::install_config(
        &ips(nodes.masters),
        &ips(nodes.agents),
        &ips(nodes.public_agents),
        nodes.ssh_user,
        options.extra_config.as_ref(),
    );
    let path = dir.join("config.yaml");
    std::fs::write(&path, text).map_err(Error::io("write", &path))?;

    let first_master = nodes
        .masters
        .first()
        .map(|m| m.ip_address().to_string())
        .unwrap_or_default();
    let path = dir.join("ip-detect");
    std::fs::write(&path, config::ip_detect(&first_master)).map_err(Error::io("write", &path))?;
    set_mode(&path, 0o755)?;

    for (source, destination) in &options.files_to_copy_to_installer {
        let target = dir.join(genconf_relative(destination)?);
        copy_recursive(source, &target)?;
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(Error::io("set mode of", path))
}

fn copy_recursive(source: &Path, target: &Path) -> Result<()> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(Error::io("create", parent))?;
    }
    if source.is_dir() {
        std::fs::create_dir_all(target).map_err(Error::io("create", target))?;
        for entry in std::fs::read_dir(source)
            .map_err(Error::io("read", source))?
            .flatten()
        {
            copy_recursive(&entry.path(), &target.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        std::fs::copy(source, target)
            .map(drop)
            .map_err(Error::io("copy into genconf", source))
    }
}

/// `bash <artifact> --offline -v --genconf` in the workspace; output goes to the log
/// (live with `log_output_live`) and into the error on failure.
pub(crate) async fn run_genconf(
    options: &InstallOptions,
    genconf_dir: &Path,
    live: bool,
) -> Result<()> {
    let workspace = genconf_dir.parent().unwrap_or(genconf_dir);
    let artifact = std::fs::canonicalize(&options.build_artifact)
        .map_err(Error::io("read", &options.build_artifact))?;
    let mut child = tokio::process::Command::new("bash")
        .arg(&artifact)
        .args(["--offline", "-v", "--genconf"])
        .current_dir(workspace)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(Error::io("run", &artifact))?;
    let read = |stream: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>,
                name: &'static str| async move {
        let mut lines = Vec::new();
        if let Some(s) = stream {
            let mut reader = BufReader::new(s).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if live {
                    tracing::info!(target: "dcos_e2e::installer", stream = name, "{line}");
                } else {
                    tracing::debug!(target: "dcos_e2e::installer", stream = name, "{line}");
                }
                lines.push(line);
            }
        }
        lines
    };
    let stdout = child
        .stdout
        .take()
        .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>);
    let stderr = child
        .stderr
        .take()
        .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>);
    let (out, err) = tokio::join!(read(stdout, "stdout"), read(stderr, "stderr"));
    let status = child
        .wait()
        .await
        .map_err(Error::io("wait for", &artifact))?;
    if !status.success() {
        let mut output = out;
        output.extend(err);
        let start = output.len().saturating_sub(30);
        return Err(Error::Install {
            step: "genconf",
            node: None,
            status: status.code(),
            detail: format!(
                "`bash {} --offline -v --genconf` exited with {status}:\n{}",
                artifact.display(),
                output[start..].join("\n")
            ),
        });
    }
    Ok(())
}
