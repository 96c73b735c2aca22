//! The integration-test environment, as the final harness set it, on any node.

use std::collections::BTreeMap;

use dcos_e2e::ExtraConfig;
use dcos_e2e::blocking::Cluster;

use crate::common;

fn env_of(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_test_environment_names_the_cluster_and_the_node() {
    let cluster = Cluster::builder(common::docker())
        .build_artifact(common::sample_installer())
        .extra_config(ExtraConfig::from_yaml("sample_startup_delay: 0").unwrap())
        .masters(1)
        .agents(2)
        .public_agents(1)
        .create()
        .unwrap();
    let ips = |nodes: &[dcos_e2e::blocking::Node]| {
        nodes
            .iter()
            .map(|n| n.ip_address().to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let agent = &cluster.agents()[1];
    let caller = BTreeMap::from([("DCOS_NUM_MASTERS".to_string(), "9".to_string())]);
    let cmd = cluster.test_command_on(agent, ["env"], caller).unwrap();
    let out = agent.run(cmd).unwrap();
    let env = env_of(&out.stdout_text());
    assert_eq!(env["MASTER_HOSTS"], ips(cluster.masters()));
    assert_eq!(env["PUBLIC_MASTER_HOSTS"], ips(cluster.masters()));
    assert_eq!(env["SLAVE_HOSTS"], ips(cluster.agents()));
    assert_eq!(env["PUBLIC_SLAVE_HOSTS"], ips(cluster.public_agents()));
    assert_eq!(
        env["DCOS_DNS_ADDRESS"],
        format!("http://{}", agent.ip_address())
    );
    assert_eq!(env["DCOS_NUM_AGENTS"], "3");
    // The caller's values win.
    assert_eq!(env["DCOS_NUM_MASTERS"], "9");
    // Run where the integration tests live, with DC/OS's environment.
    let pwd = agent
        .run(
            cluster
                .test_command_on(agent, ["pwd"], BTreeMap::new())
                .unwrap(),
        )
        .unwrap();
    assert_eq!(
        pwd.stdout_text(),
        "/opt/mesosphere/active/dcos-integration-test"
    );
    assert!(
        env.contains_key("DCOS_ROLE"),
        "environment.export was sourced: {env:?}"
    );

    // The CLI's --test-env, on the node chosen.
    let ran = crate::process::minidcos(&[
        "docker",
        "run",
        cluster.id(),
        "--test-env",
        "--node",
        "public-agent:1",
        "--",
        "env",
    ])
    .ok();
    let env = env_of(&ran.stdout);
    assert_eq!(
        env["DCOS_DNS_ADDRESS"],
        format!("http://{}", cluster.public_agents()[0].ip_address())
    );
    assert_eq!(env["DCOS_NUM_MASTERS"], "1");
}
