//! A harness that does not run as root (a member of the daemon's socket group).

use std::os::unix::fs::PermissionsExt;
use std::process::{Command as Proc, Stdio};

use super::Destroy;
use crate::common::{self, assert_gone};
use crate::process::{Ran, minidcos, unique_id};

#[test]
fn a_user_other_than_root_creates_and_reaches_nodes() {
    use std::os::unix::fs::{MetadataExt, chown};
    common::node_image();
    const NOBODY: u32 = 65534;
    let socket_gid = std::fs::metadata("/var/run/docker.sock")
        .expect("the daemon's local socket")
        .gid();
    // The binary and the workspace where that user can reach them.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("minidcos");
    std::fs::copy(common::minidcos(), &bin).unwrap();
    let workspace = dir.path().join("workspace");
    std::fs::create_dir(&workspace).unwrap();
    chown(&workspace, Some(NOBODY), Some(socket_gid)).unwrap();
    let id = unique_id("user");
    let _guard = Destroy(id.clone());
    let as_nobody = |args: &[&str]| -> Ran {
        Proc::new("setpriv")
            .args(["--reuid", &NOBODY.to_string()])
            .args(["--regid", &socket_gid.to_string(), "--clear-groups"])
            .arg(&bin)
            .args(args)
            .env("HOME", &workspace)
            .stdin(Stdio::null())
            .output()
            .expect("setpriv runs")
            .into()
    };
    as_nobody(&[
        "docker",
        "create",
        "--public-agents",
        "0",
        "--cluster-id",
        &id,
        "--workspace-dir",
        workspace.to_str().unwrap(),
    ])
    .ok();
    let key = minidcos(&["docker", "inspect", &id, "--json"]).ok().json()["ssh_key_path"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(std::fs::metadata(&key).unwrap().uid(), NOBODY);
    // Over SSH (the default transport), so sshd took root's key, copied in by this
    // user (root's, public keys readable by all).
    let ran = as_nobody(&[
        "docker",
        "run",
        &id,
        "--node",
        "all",
        "--",
        "stat",
        "-c",
        "%U %a",
        "/root/.ssh/authorized_keys",
    ])
    .ok();
    assert_eq!(ran.stdout, "root 644\n".repeat(2));
    as_nobody(&["docker", "destroy", &id]).ok();
    assert_gone(&id, None);
    assert_eq!(
        std::fs::read_dir(&workspace).unwrap().count(),
        0,
        "workspace left"
    );
}
