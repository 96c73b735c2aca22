//! Install on a provisioned cluster, and the same node operations on it as an existing
//! cluster through a cluster file.

use std::path::PathBuf;

use super::{Destroy, extra_config, installer};
use crate::common::{self, assert_gone};
use crate::process::{minidcos, unique_id};

#[test]
fn install_then_existing_cluster_file_operations() {
    common::node_image();
    let dir = tempfile::tempdir().unwrap();
    let extra = extra_config(dir.path(), 0);
    let id = unique_id("ex");
    let _guard = Destroy(id.clone());
    let created = minidcos(&[
        "docker",
        "create",
        "--agents",
        "1",
        "--public-agents",
        "0",
        "--cluster-id",
        &id,
        "--json",
    ])
    .ok();
    assert_eq!(created.json()["cluster_id"], id.as_str());
    minidcos(&[
        "docker",
        "install",
        &id,
        &installer(),
        "--extra-config",
        extra.to_str().unwrap(),
    ])
    .ok();
    minidcos(&["docker", "wait", &id, "--timeout", "120s"]).ok();

    let view = minidcos(&["docker", "inspect", &id, "--json"]).ok().json();
    let ips = |role: &str| -> Vec<String> {
        view["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["role"] == role)
            .map(|n| n["ip_address"].as_str().unwrap().to_string())
            .collect()
    };
    let file = dir.path().join("cluster.yaml");
    std::fs::write(
        &file,
        format!(
            "ssh_user: root\nssh_key_path: {}\nmasters: [{}]\nagents: [{}]\npublic_agents: []\nknown_hosts: {}/ssh/known_hosts\n",
            view["ssh_key_path"].as_str().unwrap(),
            ips("master").join(", "),
            ips("agent").join(", "),
            view["workspace"].as_str().unwrap(),
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();

    let existing = minidcos(&["existing", "--cluster-file", f, "inspect", "--json"])
        .ok()
        .json();
    assert_eq!(existing["backend"], "ExistingCluster");
    let roles: Vec<&str> = existing["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["master", "agent"]);
    let all = minidcos(&[
        "existing",
        "--cluster-file",
        f,
        "run",
        "--node",
        "all",
        "--",
        "hostname",
    ])
    .ok();
    assert_eq!(all.stdout, format!("{id}-master-1\n{id}-agent-1\n"));
    let code = minidcos(&[
        "existing",
        "--cluster-file",
        f,
        "run",
        "--",
        "sh",
        "-c",
        "exit 3",
    ]);
    assert_eq!(code.code, Some(3), "{code:?}");
    let tests = minidcos(&[
        "existing",
        "--cluster-file",
        f,
        "run",
        "--test-env",
        "--",
        "pytest",
        "-x",
    ])
    .ok();
    assert!(tests.stdout.contains("passed"), "{tests:?}");
    let local = dir.path().join("note.txt");
    std::fs::write(&local, "from the host\n").unwrap();
    minidcos(&[
        "existing",
        "--cluster-file",
        f,
        "send-file",
        local.to_str().unwrap(),
        "/root/note.txt",
        "--node",
        "agent:1",
    ])
    .ok();
    let back = dir.path().join("back.txt");
    minidcos(&[
        "existing",
        "--cluster-file",
        f,
        "download-file",
        "/root/note.txt",
        back.to_str().unwrap(),
        "--node",
        "agent:1",
    ])
    .ok();
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "from the host\n");
    minidcos(&["existing", "--cluster-file", f, "wait", "--timeout", "60s"]).ok();

    let workspace = PathBuf::from(view["workspace"].as_str().unwrap());
    let destroyed = minidcos(&["docker", "destroy", &id]).ok();
    assert_eq!(destroyed.stdout.trim(), id);
    assert_gone(&id, Some(&workspace));
}
