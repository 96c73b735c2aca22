//! Upgrading an installed cluster from a second artifact: versions, the order of nodes,
//! a failing node stops it and is named.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dcos_e2e::blocking::Cluster;
use dcos_e2e::{DcosVariant, Error, ExtraConfig, InstallOptions, UpgradeOptions};

use crate::common;

/// The progress lines of an upgrade, in order.
fn recorded() -> (UpgradeOptions, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let how = UpgradeOptions::default()
        .node_timeout(Duration::from_secs(120))
        .progress(Arc::new(move |l: &str| {
            sink.lock().unwrap().push(l.to_string())
        }));
    (how, lines)
}

fn versions(cluster: &Cluster) -> Vec<String> {
    cluster
        .nodes()
        .map(|n| n.dcos_build_info().unwrap().version)
        .collect()
}

fn fast() -> ExtraConfig {
    ExtraConfig::from_yaml("sample_startup_delay: 0").unwrap()
}

#[test]
fn upgrade_goes_node_by_node_and_stops_at_the_first_failing_one() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::builder(common::docker())
        .build_artifact(common::sample_installer())
        .extra_config(fast())
        .masters(3)
        .agents(1)
        .public_agents(1)
        .create()
        .unwrap();
    cluster.wait_for_dcos(Duration::from_secs(120)).unwrap();
    let info = cluster.masters()[0].dcos_build_info().unwrap();
    assert_eq!(info.version, "2.2.0");
    assert_eq!(info.variant, DcosVariant::Oss);
    assert_eq!(info.commit.len(), 40, "{info:?}");

    let b =
        InstallOptions::new(common::sample_installer_at("2.3.0", dir.path())).extra_config(fast());
    let (how, lines) = recorded();
    cluster.upgrade(&b, &how).unwrap();
    assert_eq!(versions(&cluster), vec!["2.3.0"; 5]);
    // One node at a time, in the order of roles, each healthy before the next starts.
    let names: Vec<String> = cluster.nodes().map(|n| n.to_string()).collect();
    let expected: Vec<String> = names
        .iter()
        .flat_map(|n| {
            [
                format!("upgrading {n}"),
                format!("{n} upgraded and healthy"),
            ]
        })
        .collect();
    let steps: Vec<String> = lines.lock().unwrap().iter().skip(1).cloned().collect();
    assert_eq!(steps, expected);
    assert!(
        lines.lock().unwrap()[0].contains("from DC/OS 2.2.0"),
        "{:?}",
        lines.lock().unwrap()
    );
    // The upgraded cluster is whole: healthy, and its tests pass.
    common::healthy_and_tested(&cluster);

    // A node the upgrade cannot handle stops it there; the nodes after are not touched.
    let broken = &cluster.agents()[0];
    broken.run(["rm", "/opt/mesosphere/etc/role"]).unwrap();
    let c =
        InstallOptions::new(common::sample_installer_at("2.4.0", dir.path())).extra_config(fast());
    let (how, lines) = recorded();
    let err = cluster.upgrade(&c, &how).unwrap_err();
    let Error::UpgradeStopped {
        node,
        upgraded,
        source,
    } = &err
    else {
        panic!("not an upgrade stop: {err}");
    };
    assert_eq!(node, &broken.to_string());
    let masters: Vec<String> = cluster.masters().iter().map(|m| m.to_string()).collect();
    assert_eq!(upgraded, &masters);
    let Error::Install { step, output, .. } = &**source else {
        panic!("not the node's upgrade step: {source}");
    };
    assert_eq!(*step, "dcos_node_upgrade.sh");
    assert!(output.contains("no role recorded"), "{output}");
    assert!(
        !lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("public agent")),
        "{:?}",
        lines.lock().unwrap()
    );
    assert_eq!(
        versions(&cluster),
        vec!["2.4.0", "2.4.0", "2.4.0", "2.3.0", "2.3.0"]
    );

    // Nodes at two versions are refused before anything runs, each named.
    let d =
        InstallOptions::new(common::sample_installer_at("2.5.0", dir.path())).extra_config(fast());
    let err = cluster.upgrade(&d, &UpgradeOptions::default()).unwrap_err();
    let Error::VersionsDiffer { versions: named } = &err else {
        panic!("not a version mismatch: {err}");
    };
    assert_eq!(named.len(), 5);
    assert!(
        named[0].ends_with("at 2.4.0") && named[4].ends_with("at 2.3.0"),
        "{named:?}"
    );
    // Upgrading only the nodes left behind is how to go on.
    let public = &cluster.public_agents()[0];
    cluster
        .upgrade_nodes(&c, &UpgradeOptions::default(), &[public])
        .unwrap();
    assert_eq!(public.dcos_build_info().unwrap().version, "2.4.0");
}

#[test]
fn a_node_without_dcos_has_no_build_info_and_cannot_be_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = common::one_master();
    let master = &cluster.masters()[0];
    let err = master.dcos_build_info().unwrap_err();
    assert!(matches!(err, Error::NotInstalled { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("/opt/mesosphere/etc/dcos-version.json is missing")
            && err.to_string().contains(&master.to_string()),
        "{err}"
    );
    let b = InstallOptions::new(common::sample_installer_at("2.3.0", dir.path()));
    let err = cluster.upgrade(&b, &UpgradeOptions::default()).unwrap_err();
    assert!(matches!(err, Error::NotInstalled { .. }), "{err}");
    // Nothing ran: the genconf of no upgrade was written.
    let genconf = cluster.workspace().unwrap().join("genconf/serve/upgrade");
    assert!(!genconf.exists());
}

#[test]
fn the_cli_upgrades_and_waits() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::builder(common::docker())
        .build_artifact(common::sample_installer())
        .extra_config(fast())
        .agents(0)
        .public_agents(1)
        .create()
        .unwrap();
    let b = common::sample_installer_at("2.3.0", dir.path());
    let out = std::process::Command::new(common::minidcos())
        .args(["docker", "upgrade", cluster.id()])
        .arg(&b)
        .args(["--wait", "--timeout", "2m"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let master = cluster.masters()[0].to_string();
    assert!(
        stderr.contains(&format!("{master} upgraded and healthy")),
        "{stderr}"
    );
    assert_eq!(versions(&cluster), vec!["2.3.0"; 2]);
    // Again from 2.3.0 to itself, on one node by its selector.
    let out = std::process::Command::new(common::minidcos())
        .args(["docker", "upgrade", cluster.id()])
        .arg(&b)
        .args(["--node", "public-agent:1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains(&format!("upgrading {master}")), "{stderr}");
}
