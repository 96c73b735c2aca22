//! Log bundles: what a person asks for first when a CI run failed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use dcos_e2e::blocking::Cluster;
use dcos_e2e::{Error, ExtraConfig};

use crate::common::{self, assert_gone, docker_cli};
use crate::process::minidcos;

fn installed() -> Cluster {
    Cluster::builder(common::docker())
        .build_artifact(common::sample_installer())
        .extra_config(ExtraConfig::from_yaml("sample_startup_delay: 0").unwrap())
        .create()
        .unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_bundle_holds_each_nodes_logs_and_a_down_node_is_noted() {
    let cluster = installed();
    let dir = tempfile::tempdir().unwrap();
    let bundle = cluster.export_logs(dir.path().join("logs")).unwrap();
    let root = dir.path().join("logs");
    assert_eq!(bundle.nodes.len(), 3);
    for (name, node) in [
        ("master-1", &cluster.masters()[0]),
        ("agent-1", &cluster.agents()[0]),
        ("public-agent-1", &cluster.public_agents()[0]),
    ] {
        let d = root.join(name);
        assert!(read(&d.join("journal.log")).contains("systemd"), "{name}");
        assert!(read(&d.join("units.txt")).contains("dcos-sample"), "{name}");
        assert!(
            read(&d.join("installer.log")).contains(node.role().installer_role()),
            "{name}"
        );
        assert!(d.join("diagnostics.txt").is_file(), "{name}");
        let inspect: serde_json::Value =
            serde_json::from_str(&read(&d.join("inspect.json"))).unwrap();
        assert_eq!(
            inspect["Name"].as_str().unwrap().trim_start_matches('/'),
            node.container_name().unwrap()
        );
    }
    assert!(read(&root.join("genconf.log")).contains("genconf"));
    let summary = read(&root.join("summary.txt"));
    assert!(summary.contains(cluster.id()), "{summary}");
    let json: serde_json::Value = serde_json::from_str(&read(&root.join("summary.json"))).unwrap();
    assert_eq!(json["nodes"].as_array().unwrap().len(), 3);

    // A node that is down is noted; the others are read all the same.
    let agent = cluster.agents()[0].container_name().unwrap().to_string();
    docker_cli(&["stop", &agent]);
    let again = cluster.export_logs(dir.path().join("again")).unwrap();
    let down = again.nodes.iter().find(|n| n.dir == "agent-1").unwrap();
    assert!(!down.problems.is_empty(), "{again}");
    let up = again.nodes.iter().find(|n| n.dir == "master-1").unwrap();
    assert!(up.problems.is_empty(), "{again}");
    assert!(read(&dir.path().join("again/master-1/journal.log")).contains("systemd"));
    assert!(read(&dir.path().join("again/summary.txt")).contains("agent-1"));
}

#[test]
fn bad_places_and_destroyed_clusters_are_errors() {
    let cluster = common::one_master();
    let file = tempfile::NamedTempFile::new().unwrap();
    let err = cluster.export_logs(file.path().join("logs")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    cluster.destroy().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = cluster.export_logs(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Destroyed { .. }), "{err}");
    let ran = minidcos(&[
        "docker",
        "export-logs",
        cluster.id(),
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(ran.stderr.contains("no cluster named"), "{ran:?}");
}

#[test]
fn a_scope_that_fails_leaves_its_logs_before_it_is_destroyed() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("on-failure");
    let mut id = String::new();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let cluster = Cluster::builder(common::docker())
            .masters(1)
            .agents(0)
            .public_agents(0)
            .logs_on_failure(&logs)
            .provision()
            .unwrap();
        id = cluster.id().to_string();
        panic!("the test failed");
    }));
    assert!(result.is_err());
    assert!(read(&logs.join("master-1/journal.log")).contains("systemd"));
    assert_gone(&id, None);
}

#[test]
fn the_cli_writes_a_bundle_when_create_fails_and_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let extra = dir.path().join("extra.yaml");
    // The installer refuses this: the install step fails after the nodes exist.
    std::fs::write(&extra, "master_discovery: dynamic\n").unwrap();
    let logs = dir.path().join("failed");
    let installer = common::sample_installer();
    let ran = minidcos(&[
        "docker",
        "create",
        installer.to_str().unwrap(),
        "--agents",
        "0",
        "--public-agents",
        "0",
        "--extra-config",
        extra.to_str().unwrap(),
        "--logs-on-failure",
        logs.to_str().unwrap(),
    ]);
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(logs.join("master-1/journal.log").is_file(), "{ran:?}");
    assert!(read(&logs.join("genconf.log")).contains("master_discovery"));

    let cluster = common::one_master();
    let out = dir.path().join("asked");
    let ran = minidcos(&["docker", "export-logs", cluster.id(), out.to_str().unwrap()]).ok();
    assert!(ran.stdout.contains("master-1"), "{ran:?}");
    assert!(out.join("master-1/units.txt").is_file());
}
