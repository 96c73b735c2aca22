//! The cluster file: written, read back by `ExistingCluster::from_file`, and refused
//! when it is not one.

use std::net::IpAddr;

use dcos_e2e::{ClusterFile, Command, Error, ExistingCluster, Parameter, Role};

use super::{CONNECT_TIMEOUT, docker_cluster, existing_builder, hostname, pinned_keys};

/// A cluster file written from a [`ClusterFile`] (key path relative to the file) is read
/// back by `ExistingCluster::from_file` into the same hosts, which answer.
#[test]
fn cluster_file_round_trip() {
    use std::os::unix::fs::PermissionsExt;
    let original = docker_cluster(1, 1, 1);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("keys/id");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::copy(original.masters()[0].ssh_key_path(), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    let ips = |nodes: &[dcos_e2e::blocking::Node]| -> Vec<IpAddr> {
        nodes.iter().map(|n| n.ip_address()).collect()
    };
    std::fs::copy(pinned_keys(&original), dir.path().join("keys/known_hosts")).unwrap();
    let file = ClusterFile::new(
        "root",
        "keys/id",
        ips(original.masters()),
        ips(original.agents()),
        ips(original.public_agents()),
    )
    .known_hosts("keys/known_hosts");
    let text = file.to_yaml();
    assert_eq!(ClusterFile::from_yaml(&text).unwrap(), file);
    let path = dir.path().join("cluster.yaml");
    std::fs::write(&path, &text).unwrap();

    let existing = ExistingCluster::from_file(&path)
        .unwrap()
        .connect_timeout(CONNECT_TIMEOUT);
    for (role, nodes) in [
        (Role::Master, original.masters()),
        (Role::Agent, original.agents()),
        (Role::PublicAgent, original.public_agents()),
    ] {
        let hosts = existing.hosts(role);
        assert_eq!(
            hosts.iter().map(|h| h.ip_address).collect::<Vec<_>>(),
            ips(nodes)
        );
        assert!(hosts.iter().all(|h| h.ssh_key_path == key), "{hosts:?}");
    }
    let wrapped = existing_builder(&existing).provision().unwrap();
    for (node, same) in wrapped.nodes().zip(original.nodes()) {
        assert_eq!(node.role(), same.role());
        assert_eq!(hostname(node), hostname(same));
    }
    let out = wrapped.masters()[0]
        .run(Command::shell("echo \"$USER\""))
        .unwrap();
    assert_eq!(out.stdout_text(), "root");
    drop(wrapped);

    // A file that is not a cluster file, and a file that is not there.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, format!("{text}bogus: 1\n")).unwrap();
    let err = ExistingCluster::from_file(&bad).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidParameter { parameter: Parameter::ClusterFile, value, .. }
            if *value == bad.display().to_string()),
        "{err:?}"
    );
    assert!(err.to_string().contains("bogus"), "{err}");
    let missing = dir.path().join("missing.yaml");
    let err = ExistingCluster::from_file(&missing).unwrap_err();
    assert!(
        matches!(&err, Error::Io { path, .. } if *path == missing),
        "{err:?}"
    );
}
