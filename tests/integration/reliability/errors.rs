//! Failures keep what they know: every failing node of an install is reported, not
//! only the first.

use dcos_e2e::{Error, ExtraConfig, InstallOptions};

use super::Case;
use crate::common;

#[test]
fn an_install_failing_on_several_nodes_reports_each() {
    let _case = Case::new("install fails on three nodes: all three reported");
    let cluster = dcos_e2e::blocking::Cluster::builder(common::docker())
        .masters(1)
        .agents(2)
        .public_agents(0)
        .provision()
        .unwrap();
    let options = InstallOptions::new(common::sample_installer())
        .extra_config(ExtraConfig::from_yaml("sample_startup_delay: 0").unwrap());
    cluster.install(&options).unwrap();
    // The installer refuses to run twice on a node: every node fails now.
    let err = cluster.install(&options).unwrap_err();
    let Error::Several { errors } = &err else {
        panic!("expected every node's failure, got {err}");
    };
    let mut nodes: Vec<String> = errors
        .iter()
        .map(|e| match e {
            Error::Install { node: Some(n), .. } => n.clone(),
            other => panic!("expected a node's install failure, got {other}"),
        })
        .collect();
    nodes.sort();
    let mut expected: Vec<String> = cluster.nodes().map(|n| n.to_string()).collect();
    expected.sort();
    assert_eq!(nodes, expected);
}
