//! The minimal installer of the installer contract refuses what it must and installs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as Proc;
use std::time::Duration;

use dcos_e2e::blocking::Cluster;

use super::{fenced_blocks, is_shell, read, repo};
use crate::common;

/// The block after `<!-- docs-test: minimal-installer -->` in the installer contract.
fn minimal_installer() -> String {
    let text = read(&repo().join("docs/installer-contract.md"));
    let marker = "<!-- docs-test: minimal-installer -->";
    let after = text
        .split_once(marker)
        .expect("the installer contract marks its minimal installer")
        .1;
    let block = fenced_blocks(after)
        .into_iter()
        .next()
        .expect("a code block follows the marker");
    assert!(
        is_shell(&block.info),
        "the minimal installer is a shell block"
    );
    block.lines.join("\n") + "\n"
}

fn write_minimal_installer(dir: &Path) -> PathBuf {
    let path = dir.join("my_installer.sh");
    std::fs::write(&path, minimal_installer()).expect("write the installer");
    path
}

#[test]
fn the_minimal_installer_refuses_what_the_contract_says_it_must() {
    let dir = tempfile::tempdir().expect("temp dir");
    let installer = write_minimal_installer(dir.path());
    // Without --genconf: usage, exit 2.
    let out = Proc::new("bash")
        .arg(&installer)
        .args(["--offline", "-v"])
        .current_dir(dir.path())
        .output()
        .expect("bash runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // No genconf/ to read: a message, exit 1, and nothing written.
    let out = Proc::new("bash")
        .arg(&installer)
        .args(["--offline", "-v", "--genconf"])
        .current_dir(dir.path())
        .output()
        .expect("bash runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("genconf/config.yaml"));
    // A config without master_list is refused.
    std::fs::create_dir_all(dir.path().join("genconf/serve")).unwrap();
    std::fs::write(dir.path().join("genconf/config.yaml"), "agent_list: []\n").unwrap();
    std::fs::write(dir.path().join("genconf/ip-detect"), "#!/bin/sh\n").unwrap();
    let out = Proc::new("bash")
        .arg(&installer)
        .args(["--offline", "-v", "--genconf"])
        .current_dir(dir.path())
        .output()
        .expect("bash runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("master_list"));
    assert!(!dir.path().join("genconf/serve/dcos_install.sh").exists());
}

#[test]
fn the_minimal_installer_of_the_docs_installs_a_cluster() {
    let dir = tempfile::tempdir().expect("temp dir");
    let installer = write_minimal_installer(dir.path());
    let cluster = Cluster::builder(common::docker())
        .build_artifact(&installer)
        .masters(1)
        .agents(1)
        .public_agents(1)
        .create()
        .expect("the minimal installer installs");
    let id = cluster.id().to_string();
    let workspace = cluster.workspace().map(Path::to_path_buf);
    cluster
        .wait_for_dcos(Duration::from_secs(120))
        .expect("wait_for_dcos accepts the minimal installation");
    let out = cluster
        .run_integration_tests(["pytest", "-q"], BTreeMap::new())
        .expect("the minimal installation's tests pass");
    assert!(
        out.stdout_text().contains("1 passed"),
        "{}",
        out.stdout_text()
    );
    // The contract: the serve directory is read-only on nodes.
    let node = &cluster.agents()[0];
    let write = node
        .output(["touch", "/opt/dcos_install_tmp/x"])
        .expect("the command runs");
    assert_ne!(write.status, 0, "/opt/dcos_install_tmp is writable");
    cluster.destroy().expect("destroy");
    common::assert_gone(&id, workspace.as_deref());
}
