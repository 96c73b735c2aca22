//! Installing from a build artifact (the installer contract), then waiting for health.
//!
//! 1. A fresh `genconf/` in the workspace: `config.yaml` (base keys, `extra_config`
//!    merged over them), `ip-detect`, and the `files_to_copy_to_installer`.
//! 2. `bash <artifact> --offline -v --genconf` on the host, in the workspace.
//! 3. `genconf/serve` visible read-only at `/opt/dcos_install_tmp` on every node, and
//!    `dcos_install.sh --no-block-dcos-setup <role>` as root on all nodes at once.

mod config;
mod wait;

use std::path::{Component, Path, PathBuf};
use std::process::Stdio;

use futures_util::future::join_all;
use tokio::io::{AsyncBufReadExt, BufReader};

pub use config::{base_config, superuser_password_hash};
pub(crate) use wait::wait_for_dcos;

use crate::backend::GenconfMount;
use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::node::{Command, Node, quote};

/// What to install: the artifact and its configuration.
#[derive(Clone, Debug, Default)]
pub struct InstallOptions {
    /// The installer, run with bash.
    pub build_artifact: PathBuf,
    /// YAML mapping merged over the base config (its keys win).
    pub extra_config: Option<yaml_serde::Value>,
    /// Host file or directory -> destination under `/genconf`.
    pub files_to_copy_to_installer: Vec<(PathBuf, PathBuf)>,
}

impl InstallOptions {
    /// Install from this artifact with the base config.
    pub fn new(build_artifact: impl Into<PathBuf>) -> Self {
        Self {
            build_artifact: build_artifact.into(),
            ..Default::default()
        }
    }

    /// Check everything that can be checked before any node is touched.
    pub fn validate(&self) -> Result<()> {
        let artifact = &self.build_artifact;
        match std::fs::metadata(artifact) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                return Err(Error::invalid(
                    "build_artifact",
                    artifact.display(),
                    "is not a file",
                ));
            }
            Err(e) => {
                return Err(Error::invalid(
                    "build_artifact",
                    artifact.display(),
                    format!("cannot be read: {e}"),
                ));
            }
        }
        if let Some(extra) = &self.extra_config
            && !matches!(
                extra,
                yaml_serde::Value::Mapping(_) | yaml_serde::Value::Null
            )
        {
            return Err(Error::invalid(
                "extra_config",
                crate::cluster::yaml_one_line(extra),
                "must be a YAML mapping",
            ));
        }
        for (source, destination) in &self.files_to_copy_to_installer {
            genconf_relative(destination)?;
            if !source.exists() {
                return Err(Error::invalid(
                    "files_to_copy_to_installer",
                    source.display(),
                    "the source does not exist",
                ));
            }
        }
        Ok(())
    }
}

/// The part of a `/genconf/...` destination below `/genconf`.
fn genconf_relative(destination: &Path) -> Result<PathBuf> {
    let rel = destination.strip_prefix("/genconf").ok().filter(|r| {
        !r.as_os_str().is_empty() && r.components().all(|c| matches!(c, Component::Normal(_)))
    });
    rel.map(Path::to_path_buf).ok_or_else(|| {
        Error::invalid(
            "files_to_copy_to_installer",
            destination.display(),
            "the destination must be a path under /genconf",
        )
    })
}

pub(crate) async fn install(
    cluster: &Cluster,
    options: &InstallOptions,
    genconf: &GenconfMount,
) -> Result<()> {
    options.validate()?;
    let step = std::time::Instant::now();
    write_genconf(cluster, options, &genconf.host_dir)?;
    run_genconf(cluster, options, &genconf.host_dir).await?;
    tracing::info!(cluster = %cluster.id(), "genconf done in {:.1?}", step.elapsed());
    let step = std::time::Instant::now();
    let serve = format!("{}/serve", genconf.node_dir);
    let results = join_all(cluster.nodes().map(|node| install_node(node, &serve))).await;
    let failures: Vec<Error> = results.into_iter().filter_map(Result::err).collect();
    tracing::info!(cluster = %cluster.id(), "node installs done in {:.1?}", step.elapsed());
    match failures.into_iter().next() {
        Some(first) => Err(first),
        None => Ok(()),
    }
}

/// A fresh genconf: the directory itself stays (nodes see it through a bind mount), its
/// contents are replaced.
fn write_genconf(cluster: &Cluster, options: &InstallOptions, dir: &Path) -> Result<()> {
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

    let ips = |nodes: &[Node]| {
        nodes
            .iter()
            .map(|n| n.ip_address().to_string())
            .collect::<Vec<_>>()
    };
    let config = config::merged(
        base_config(
            &ips(cluster.masters()),
            &ips(cluster.agents()),
            &ips(cluster.public_agents()),
            cluster.default_ssh_user(),
        ),
        options.extra_config.as_ref(),
    );
    let path = dir.join("config.yaml");
    let text = yaml_serde::to_string(&config)
        .map_err(|e| Error::invalid("extra_config", "", e.to_string()))?;
    std::fs::write(&path, text).map_err(Error::io("write", &path))?;

    let first_master = cluster
        .masters()
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
async fn run_genconf(
    cluster: &Cluster,
    options: &InstallOptions,
    genconf_dir: &Path,
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
    let live = cluster_live(cluster);
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
            detail: format!(
                "`bash {} --offline -v --genconf` exited with {status}:\n{}",
                artifact.display(),
                output[start..].join("\n")
            ),
        });
    }
    Ok(())
}

fn cluster_live(cluster: &Cluster) -> bool {
    cluster.nodes().next().is_some_and(|n| n.log_output_live())
}

/// Link the served genconf into place and run the node installer as root.
async fn install_node(node: &Node, serve: &str) -> Result<()> {
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
                    detail: format!("exited with status {}:\n{}", f.status, output.trim()),
                }
            }
            other => other,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_must_be_under_genconf() {
        assert_eq!(
            genconf_relative(Path::new("/genconf/a/b.txt")).unwrap(),
            PathBuf::from("a/b.txt")
        );
        for bad in [
            "/etc/passwd",
            "/genconf",
            "/genconf/../etc",
            "genconf/x",
            "/genconfx/y",
        ] {
            let err = genconf_relative(Path::new(bad)).unwrap_err().to_string();
            assert!(
                err.contains("files_to_copy_to_installer") && err.contains(bad),
                "{err}"
            );
        }
    }

    #[test]
    fn artifact_must_be_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = InstallOptions::new(dir.path())
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("build_artifact") && err.contains("not a file"),
            "{err}"
        );
        let err = InstallOptions::new(dir.path().join("missing.sh"))
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("build_artifact") && err.contains("missing.sh"),
            "{err}"
        );
        let file = dir.path().join("installer.sh");
        std::fs::write(&file, "exit 0").unwrap();
        InstallOptions::new(&file).validate().unwrap();
        let missing_src = InstallOptions {
            files_to_copy_to_installer: vec![(dir.path().join("nope"), "/genconf/nope".into())],
            ..InstallOptions::new(&file)
        };
        assert!(
            missing_src
                .validate()
                .unwrap_err()
                .to_string()
                .contains("does not exist")
        );
        let not_mapping = InstallOptions {
            extra_config: Some(yaml_serde::Value::from(3)),
            ..InstallOptions::new(&file)
        };
        assert!(
            not_mapping
                .validate()
                .unwrap_err()
                .to_string()
                .contains("extra_config")
        );
    }
}
