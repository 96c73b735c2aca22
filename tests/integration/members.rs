//! Nodes removed from and added to a running cluster: a lost master replaced at its
//! address, agents added, each made and reached as the others.

use std::time::Duration;

use dcos_e2e::blocking::Cluster;
use dcos_e2e::{Error, ExtraConfig, Role};

use crate::common;

fn volumes_of(container: &str) -> Vec<String> {
    common::docker_lines(
        None,
        &[
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("name={container}-"),
        ],
    )
}

#[test]
fn a_destroyed_master_is_named_until_a_new_one_takes_its_address() {
    let mut cluster = Cluster::builder(common::docker())
        .build_artifact(common::sample_installer())
        .extra_config(ExtraConfig::from_yaml("sample_startup_delay: 0").unwrap())
        .masters(3)
        .agents(1)
        .public_agents(0)
        .create()
        .unwrap();
    cluster.wait_for_dcos(Duration::from_secs(120)).unwrap();
    let lost = cluster.masters()[1].clone();
    let name = lost.container_name().unwrap().to_string();
    assert_eq!(volumes_of(&name).len(), 2, "{:?}", volumes_of(&name));

    cluster.destroy_node(&lost).unwrap();
    assert_eq!(cluster.masters().len(), 2);
    assert!(common::running(cluster.id(), Some("master")).len() == 2);
    assert!(volumes_of(&name).is_empty(), "its volumes go with it");
    // The others go on.
    cluster.masters()[0].run(["true"]).unwrap();
    assert_eq!(
        cluster
            .as_async()
            .test_environment(cluster.masters()[0].as_async())["DCOS_NUM_MASTERS"],
        "2"
    );
    let err = cluster.wait_for_dcos(Duration::from_secs(60)).unwrap_err();
    let Error::NodesMissing { missing } = &err else {
        panic!("not the missing master: {err}");
    };
    assert_eq!(missing, &vec![format!("master {}", lost.ip_address())]);

    let new = cluster.add_node(Role::Master).unwrap();
    assert_eq!((new.index(), new.ip_address()), (2, lost.ip_address()));
    assert_eq!(new.container_name(), Some(name.as_str()));
    assert_eq!(cluster.masters().len(), 3);
    assert_eq!(cluster.masters()[1].ip_address(), lost.ip_address());
    // Reached over SSH with a host key of its own, and installed from the genconf.
    assert_eq!(new.run(["hostname"]).unwrap().stdout_text(), name);
    assert_eq!(new.dcos_build_info().unwrap().version, "2.2.0");
    common::healthy_and_tested(&cluster);
    // Another handle (another process) sees the same nodes.
    let attached = Cluster::attach_docker(cluster.id(), None).unwrap();
    let ips = |c: &Cluster| c.nodes().map(|n| n.ip_address()).collect::<Vec<_>>();
    assert_eq!(ips(&attached), ips(&cluster));
    attached.masters()[1].run(["true"]).unwrap();
}

#[test]
fn nodes_are_added_to_a_cluster_of_nodes_only_through_the_cli_too() {
    let mut cluster = Cluster::builder(common::docker())
        .agents(1)
        .public_agents(0)
        .provision()
        .unwrap();
    let id = cluster.id().to_string();
    let highest = cluster.nodes().map(|n| n.ip_address()).max().unwrap();
    // A role the cluster has none of: made from another role's node, with its own
    // volumes.
    let public = cluster.add_node(Role::PublicAgent).unwrap();
    assert_eq!(public.index(), 1);
    let name = public.container_name().unwrap().to_string();
    assert_eq!(
        common::docker_inspect("{{index .Config.Labels \"dcos-e2e.role\"}}", &name),
        "public-agent"
    );
    let mounts = public
        .run(["findmnt", "-n", "-o", "TARGET", "/var/lib/mesos/slave"])
        .unwrap();
    assert_eq!(mounts.stdout_text(), "/var/lib/mesos/slave");
    assert!(
        public.ip_address() > highest,
        "{} after {highest}",
        public.ip_address()
    );
    // A gap in a role's indexes is filled first.
    let first = cluster.agents()[0].clone();
    cluster.destroy_node(&first).unwrap();
    assert!(cluster.agents().is_empty());
    let again = cluster.add_node(Role::Agent).unwrap();
    assert_eq!(again.index(), 1);
    again.run(["true"]).unwrap();
    // A handle of a destroyed node names it, though a new one took its place.
    let err = cluster.destroy_node(&first).unwrap_err();
    assert!(matches!(err, Error::NoSuchNode { .. }), "{err}");
    let err = first.run(["true"]).unwrap_err();
    assert!(matches!(err, Error::NoSuchNode { .. }), "{err}");

    let printed = common::minidcos_ok(&["docker", "add-node", &id, "agent"]);
    let printed = printed.trim();
    let added = format!("{id}-agent-2");
    assert!(printed.starts_with(&format!("{added} ")), "{printed}");
    let hostname =
        common::minidcos_ok(&["docker", "run", &id, "--node", "agent:2", "--", "hostname"]);
    assert_eq!(hostname.trim(), added);
    common::minidcos_ok(&["docker", "destroy-node", &id, "agent:2"]);
    assert!(common::running(&id, Some("agent")).len() == 1);
    let workspace = cluster.workspace().unwrap().to_path_buf();
    drop(cluster);
    common::assert_gone(&id, Some(&workspace));
}
