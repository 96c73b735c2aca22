//! Installing from a build artifact (the sample installer), wait_for_dcos and
//! run_integration_tests.

use std::collections::BTreeMap;
use std::time::Duration;

use dcos_e2e::blocking::Cluster;
use dcos_e2e::{Aftermath, Docker, Error, ExtraConfig, InstallOptions, Parameter};

use crate::common::{self, assert_gone, force_remove, leftovers};

fn extra(yaml: &str) -> ExtraConfig {
    ExtraConfig::from_yaml(yaml).unwrap()
}

#[test]
fn full_cycle_create_wait_and_integration_tests() {
    let cluster = Cluster::builder(common::docker())
        .build_artifact(common::sample_installer())
        .extra_config(extra("sample_startup_delay: 1"))
        .create()
        .unwrap();
    let (id, workspace) = (
        cluster.id().to_string(),
        cluster.workspace().unwrap().to_path_buf(),
    );
    cluster.wait_for_dcos(Duration::from_secs(120)).unwrap();
    let out = cluster
        .run_integration_tests(["pytest", "-x"], BTreeMap::new())
        .unwrap();
    assert!(
        out.stdout_text().contains("8 passed"),
        "{}",
        out.stdout_text()
    );
    // The installer's output is visible where a person would look for it.
    let served = cluster.masters()[0]
        .run(["readlink", "/opt/dcos_install_tmp"])
        .unwrap();
    assert_eq!(served.stdout_text(), "/var/lib/dcos-e2e/genconf/serve");
    let ro = cluster.masters()[0]
        .output(["touch", "/opt/dcos_install_tmp/x"])
        .unwrap();
    assert_ne!(ro.status, 0, "the served genconf is read-only on nodes");
    drop(cluster);
    assert_gone(&id, Some(&workspace));
}

#[test]
fn unknown_pytest_option_fails_with_pytest_status() {
    let cluster = Cluster::builder(common::docker())
        .build_artifact(common::sample_installer())
        .extra_config(extra("sample_startup_delay: 0"))
        .agents(0)
        .public_agents(0)
        .create()
        .unwrap();
    cluster.wait_for_dcos(Duration::from_secs(120)).unwrap();
    let err = cluster
        .run_integration_tests(["pytest", "--no-such-option"], BTreeMap::new())
        .unwrap_err();
    assert_eq!(err.exit_status(), Some(4), "{err}");
    let Error::CommandFailed(failed) = err else {
        unreachable!()
    };
    assert!(String::from_utf8_lossy(&failed.stderr).contains("--no-such-option"));
    assert!(
        failed
            .command
            .contains(". /opt/mesosphere/environment.export"),
        "{}",
        failed.command
    );
    // A login shell that is POSIX and no more (dash has no `source`) runs them too.
    let master = &cluster.masters()[0];
    let user = master.default_user().to_string();
    master.run(["chsh", "-s", "/bin/dash", &user]).unwrap();
    let out = cluster
        .run_integration_tests(["pytest", "--version"], BTreeMap::new())
        .unwrap();
    assert!(
        format!("{}{}", out.stdout_text(), out.stderr_text()).contains("pytest"),
        "{out:?}"
    );
}

#[test]
fn extra_config_and_genconf_files_reach_the_installer() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("license.txt");
    std::fs::write(&file, "licensed to test").unwrap();
    let cluster = Cluster::builder(common::docker())
        .build_artifact(common::sample_installer())
        .extra_config(extra(
            "sample_startup_delay: 0\ncluster_name: extra-wins\ncustom_key: [a, b]",
        ))
        .file_to_copy_to_installer(&file, "/genconf/files/license.txt")
        .masters(1)
        .agents(1)
        .public_agents(0)
        .create()
        .unwrap();
    for node in cluster.nodes() {
        let config = node
            .run(["cat", "/opt/mesosphere/etc/config.yaml"])
            .unwrap()
            .stdout_text();
        assert!(config.contains("cluster_name: extra-wins"), "{config}");
        assert!(config.contains("custom_key"), "{config}");
        let seen = node
            .run(["cat", "/opt/mesosphere/etc/genconf/files/license.txt"])
            .unwrap();
        assert_eq!(seen.stdout_text(), "licensed to test");
    }
}

#[test]
fn other_sizes_install_with_the_right_role_lists() {
    let cluster = Cluster::builder(common::docker())
        .build_artifact(common::sample_installer())
        .extra_config(extra("sample_startup_delay: 0"))
        .masters(3)
        .agents(2)
        .public_agents(0)
        .create()
        .unwrap();
    let ips = |nodes: &[dcos_e2e::blocking::Node]| {
        let mut v: Vec<String> = nodes.iter().map(|n| n.ip_address().to_string()).collect();
        v.sort();
        v
    };
    let config = cluster.masters()[0]
        .run(["cat", "/opt/mesosphere/etc/config.json"])
        .unwrap()
        .stdout_text();
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    let list = |key: &str| {
        let mut v: Vec<String> = config[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(list("master_list"), ips(cluster.masters()));
    assert_eq!(list("agent_list"), ips(cluster.agents()));
    assert!(list("public_agent_list").is_empty());
    for node in cluster.agents() {
        let role = node
            .run(["ls", "/etc/mesosphere/roles"])
            .unwrap()
            .stdout_text();
        assert_eq!(role, "slave");
    }
    cluster.wait_for_dcos(Duration::from_secs(120)).unwrap();
    cluster
        .run_integration_tests(["pytest", "-q"], BTreeMap::new())
        .unwrap();
}

#[test]
fn wait_gives_up_naming_node_and_check() {
    // Provision first, install later; units take longer than we wait.
    let cluster = common::one_master();
    let options = InstallOptions::new(common::sample_installer())
        .extra_config(extra("sample_startup_delay: 600"));
    cluster.install(&options).unwrap();
    let err = cluster.wait_for_dcos(Duration::from_secs(3)).unwrap_err();
    let master = cluster.masters()[0].to_string();
    match &err {
        Error::WaitTimeout { failing, .. } => {
            assert_eq!(failing.len(), 1, "{failing:?}");
            assert!(
                failing[0].starts_with(&master) && failing[0].contains("dcos-diagnostics"),
                "{failing:?}"
            );
        }
        other => panic!("expected WaitTimeout, got {other}"),
    }
}

#[test]
fn failing_installer_reports_its_output_and_destroys() {
    let id = Docker::new_cluster_id();
    let err = Cluster::builder(common::docker().cluster_id(&id))
        .build_artifact(common::sample_installer())
        .extra_config(extra("superuser_password_hash: not-a-hash"))
        .agents(0)
        .public_agents(0)
        .create()
        .unwrap_err();
    let text = dcos_e2e::chain(&err);
    assert!(
        matches!(
            &err,
            Error::CreateFailed(f) if f.aftermath == Aftermath::Removed
        ),
        "{text}"
    );
    assert!(
        text.contains("genconf") && text.contains("superuser_password_hash"),
        "{text}"
    );
    assert_gone(&id, None);
}

#[test]
fn failing_installer_keeps_cluster_when_not_destroy_on_error() {
    let id = Docker::new_cluster_id();
    let err = Cluster::builder(common::docker().cluster_id(&id))
        .build_artifact(common::sample_installer())
        .extra_config(extra("master_discovery: dynamic"))
        .agents(0)
        .public_agents(0)
        .destroy_on_error(false)
        .create()
        .unwrap_err();
    let (containers, _, _) = leftovers(&id);
    force_remove(&id);
    assert!(
        matches!(
            err,
            Error::CreateFailed(ref f) if f.aftermath == Aftermath::Kept("destroy_on_error is false")
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("kept for inspection because destroy_on_error is false"),
        "{err}"
    );
    assert_eq!(containers.len(), 1, "kept for inspection");
    assert_gone(&id, None);
}

#[test]
fn bad_genconf_files_are_refused_before_anything_is_made() {
    let id = Docker::new_cluster_id();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, "x").unwrap();
    let builder = || {
        Cluster::builder(common::docker().cluster_id(&id))
            .build_artifact(common::sample_installer())
    };
    let param = |err: Error| match err {
        Error::InvalidParameter {
            parameter, value, ..
        } => (parameter, value),
        other => panic!("expected InvalidParameter, got {other}"),
    };
    let err = builder()
        .file_to_copy_to_installer(&file, "/etc/f")
        .create()
        .unwrap_err();
    assert_eq!(
        param(err),
        (Parameter::FilesToCopyToInstaller, "/etc/f".to_string())
    );
    let missing = dir.path().join("missing");
    let err = builder()
        .file_to_copy_to_installer(&missing, "/genconf/f")
        .create()
        .unwrap_err();
    assert_eq!(
        param(err),
        (
            Parameter::FilesToCopyToInstaller,
            missing.display().to_string()
        )
    );
    let err = ExtraConfig::from_yaml("[1, 2]").unwrap_err();
    assert_eq!(param(err).0, Parameter::ExtraConfig);
    assert_gone(&id, None);
}

/// `install_nodes`: only the nodes given install, each as the role given with it (the
/// final Python API's `Node.install_dcos_from_path`); the others stay without DC/OS.
#[test]
fn nodes_install_one_at_a_time_as_the_roles_given() {
    let cluster = Cluster::builder(common::docker())
        .masters(1)
        .agents(1)
        .public_agents(0)
        .provision()
        .unwrap();
    let id = cluster.id().to_string();
    let options = InstallOptions::new(common::sample_installer())
        .extra_config(extra("sample_startup_delay: 0"));
    let (master, agent) = (&cluster.masters()[0], &cluster.agents()[0]);
    cluster
        .install_nodes(&options, &[(master, dcos_e2e::Role::Master)])
        .unwrap();
    assert_eq!(master.dcos_build_info().unwrap().version, "2.2.0");
    let err = agent.dcos_build_info().unwrap_err();
    assert!(matches!(err, Error::NotInstalled { .. }), "{err:?}");
    cluster
        .install_nodes(&options, &[(agent, dcos_e2e::Role::Agent)])
        .unwrap();
    cluster.wait_for_dcos(Duration::from_secs(120)).unwrap();
    // The role given is the one installed: the sample installer records it.
    let role = agent.run(["cat", "/etc/mesosphere/roles/slave"]);
    assert!(role.is_ok(), "{role:?}");
    drop(cluster);
    assert_gone(&id, None);
}
