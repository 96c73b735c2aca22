//! The host side of the installer contract: a fresh `genconf/` (`config.yaml`,
//! `ip-detect`, the user's files), then `bash <artifact> --offline -v --genconf` in the
//! workspace.

use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

use super::config;
use super::target::Target;
use crate::backend::running::GENCONF_LOG;
use crate::error::{Error, Result};
use crate::node::Node;
use crate::params::{InstallOptions, genconf_relative};

/// A fresh genconf: the directory itself stays (nodes see it through a bind mount), its
/// contents are replaced. The file work runs off the runtime's threads (the user's
/// files can be large).
pub(crate) async fn write_genconf(
    nodes: &Target<'_>,
    options: &InstallOptions,
    dir: &Path,
) -> Result<()> {
    let ips = |nodes: &[Node]| nodes.iter().map(Node::ip_address).collect::<Vec<_>>();
    let config = config::install_config(
        &ips(nodes.masters),
        &ips(nodes.agents),
        &ips(nodes.public_agents),
        nodes.ssh_user,
        options.extra_config.as_ref(),
    );
    let first_master = nodes
        .masters
        .first()
        .map(|m| m.ip_address().to_string())
        .unwrap_or_default();
    let (options, dir) = (options.clone(), dir.to_path_buf());
    let written =
        tokio::task::spawn_blocking(move || write_files(&dir, &config, &first_master, &options));
    written
        .await
        .map_err(|e| Error::io("write genconf in", "the workspace")(std::io::Error::other(e)))?
}

fn write_files(
    dir: &Path,
    config: &str,
    first_master: &str,
    options: &InstallOptions,
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
    let path = dir.join("config.yaml");
    std::fs::write(&path, config).map_err(Error::io("write", &path))?;
    let path = dir.join("ip-detect");
    std::fs::write(&path, config::ip_detect(first_master)).map_err(Error::io("write", &path))?;
    set_mode(&path, 0o755)?;

    for (source, destination) in &options.files_to_copy_to_installer {
        let target = dir.join(genconf_relative(destination)?);
        copy_recursive(source, &target, true)?;
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(Error::io("set mode of", path))
}

/// Copy a file or a tree. The path the user named is followed if it is a link; links
/// inside a tree are copied as links, never followed: a link out of the tree must not
/// bring host files to every node, and a loop must not recurse for ever.
fn copy_recursive(source: &Path, target: &Path, named: bool) -> Result<()> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(Error::io("create", parent))?;
    }
    let meta = if named {
        std::fs::metadata(source)
    } else {
        std::fs::symlink_metadata(source)
    }
    .map_err(Error::io("read", source))?;
    if meta.file_type().is_symlink() {
        let link = std::fs::read_link(source).map_err(Error::io("read the link", source))?;
        std::os::unix::fs::symlink(&link, target).map_err(Error::io("create the link", target))
    } else if meta.is_dir() {
        std::fs::create_dir_all(target).map_err(Error::io("create", target))?;
        for entry in std::fs::read_dir(source)
            .map_err(Error::io("read", source))?
            .flatten()
        {
            copy_recursive(&entry.path(), &target.join(entry.file_name()), false)?;
        }
        Ok(())
    } else {
        std::fs::copy(source, target)
            .map(drop)
            .map_err(Error::io("copy into genconf", source))
    }
}

/// What the host phase is asked to make.
#[derive(Clone, Debug)]
pub(crate) enum Mode {
    /// `--genconf`: the node installer.
    Install,
    /// `--generate-node-upgrade-script FROM`: that too, and the script that upgrades a
    /// node of version `FROM`.
    Upgrade { from: String },
}

impl Mode {
    fn step(&self) -> &'static str {
        match self {
            Mode::Install => "genconf",
            Mode::Upgrade { .. } => "generate-node-upgrade-script",
        }
    }

    fn args(&self) -> Vec<&str> {
        match self {
            Mode::Install => vec!["--offline", "-v", "--genconf"],
            Mode::Upgrade { from } => vec![
                "--offline",
                "-v",
                "--generate-node-upgrade-script",
                from.as_str(),
            ],
        }
    }
}

/// `bash <artifact> --offline -v --genconf` (or the upgrade's form) in the workspace;
/// output goes to the log (live with `log_output_live`) and into the error on failure.
/// Its standard output, by line, is the result.
pub(crate) async fn run_genconf(
    options: &InstallOptions,
    genconf_dir: &Path,
    live: bool,
    mode: &Mode,
) -> Result<Vec<String>> {
    let workspace = genconf_dir.parent().unwrap_or(genconf_dir);
    let artifact = std::fs::canonicalize(&options.build_artifact)
        .map_err(Error::io("read", &options.build_artifact))?;
    // A process group of its own: what the installer leaves running in the background
    // (holding our pipes open) goes with it.
    let mut child = tokio::process::Command::new("bash")
        .arg(&artifact)
        .args(mode.args())
        .current_dir(workspace)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(Error::io("run", &artifact))?;
    let group = KillGroup(child.id());
    // Asked for by this install: stderr lines are warnings (see `InstallOptions`).
    let (live, stderr_warns) = match options.log_output_live {
        Some(asked) => (asked, asked),
        None => (live, false),
    };
    let read = move |stream: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>,
                     name: &'static str| async move {
        let mut lines = Vec::new();
        if let Some(s) = stream {
            let mut reader = BufReader::new(s).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if live && stderr_warns && name == "stderr" {
                    tracing::warn!(target: "dcos_e2e::installer", stream = name, "{line}");
                } else if live {
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
    let reading =
        tokio::spawn(async move { tokio::join!(read(stdout, "stdout"), read(stderr, "stderr")) });
    let status = tokio::time::timeout(GENCONF_TIMEOUT, child.wait()).await;
    // Done (or out of time): nothing of it stays, and the pipes close.
    drop(group);
    let (out, err) = reading
        .await
        .map_err(|e| Error::io("read the output of", &artifact)(std::io::Error::other(e)))?;
    let command = format!("bash {} {}", artifact.display(), mode.args().join(" "));
    let last_lines = |out: &[String], err: &[String]| {
        let output: Vec<&String> = out.iter().chain(err).collect();
        let start = output.len().saturating_sub(30);
        output[start..]
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let Ok(status) = status else {
        return Err(Error::InstallTimeout {
            step: mode.step(),
            command,
            timeout: GENCONF_TIMEOUT,
            output: last_lines(&out, &err),
        });
    };
    let status = status.map_err(Error::io("wait for", &artifact))?;
    // Kept beside genconf for a log bundle.
    let kept = workspace.join(GENCONF_LOG);
    let text = format!(
        "{}\n--- stderr\n{}\n--- {status}\n",
        out.join("\n"),
        err.join("\n")
    );
    if let Err(e) = tokio::fs::write(&kept, text).await {
        tracing::debug!(
            "cannot keep the installer's output in {}: {e}",
            kept.display()
        );
    }
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        return Err(Error::Install {
            step: mode.step(),
            node: None,
            command,
            status: status
                .code()
                .or_else(|| status.signal().map(|s| 128 + s))
                .unwrap_or(1),
            output: last_lines(&out, &err),
        });
    }
    Ok(out)
}

/// How long genconf may take: DC/OS's takes minutes (it unpacks its bootstrap); far
/// longer means it hangs.
const GENCONF_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Kills a process group when dropped (the caller returns, fails, or is cancelled).
struct KillGroup(Option<u32>);

impl Drop for KillGroup {
    fn drop(&mut self) {
        if let Some(pgid) = self.0.and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: kill has no memory preconditions; the group is the installer's own
            // (process_group(0) made it, with its leader's pid as id).
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Live processes whose command line holds `marker`.
    fn running(marker: &str) -> usize {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .filter(|c| String::from_utf8_lossy(c).contains(marker))
            .count()
    }

    #[tokio::test]
    async fn what_genconf_leaves_in_the_background_goes_and_does_not_hold_it() {
        let dir = tempfile::tempdir().unwrap();
        let genconf = dir.path().join("genconf");
        std::fs::create_dir(&genconf).unwrap();
        let marker = format!("dcos-e2e-straggler-{}", std::process::id());
        let artifact = dir.path().join("installer.sh");
        // A child in the background with our stdout still open: reading until the
        // pipe closes would wait for it.
        std::fs::write(
            &artifact,
            format!("echo generating\nbash -c 'exec -a {marker} sleep 300' &\nexit 0\n"),
        )
        .unwrap();
        run_genconf(
            &InstallOptions::new(&artifact),
            &genconf,
            false,
            &Mode::Install,
        )
        .await
        .unwrap();
        let log = std::fs::read_to_string(dir.path().join(GENCONF_LOG)).unwrap();
        assert!(log.contains("generating"), "{log}");
        // SIGKILL is sent before run_genconf returns; the kernel reaps at once.
        for _ in 0..100 {
            if running(&marker) == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the installer's background child outlived genconf");
    }

    #[test]
    fn links_in_a_tree_are_copied_as_links() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(tree.join("sub")).unwrap();
        std::fs::write(tree.join("sub/file"), "data").unwrap();
        // Out of the tree, and a loop.
        std::os::unix::fs::symlink("/etc/passwd", tree.join("passwd")).unwrap();
        std::os::unix::fs::symlink("..", tree.join("sub/up")).unwrap();
        let target = dir.path().join("copy");
        copy_recursive(&tree, &target, true).unwrap();
        assert_eq!(
            std::fs::read_to_string(target.join("sub/file")).unwrap(),
            "data"
        );
        assert_eq!(
            std::fs::read_link(target.join("passwd")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert!(
            std::fs::symlink_metadata(target.join("passwd"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_link(target.join("sub/up")).unwrap(),
            Path::new("..")
        );
    }
}
