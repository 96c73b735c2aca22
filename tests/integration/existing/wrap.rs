//! The test of DC/OS E2E's 2017 API: a cluster that wraps the nodes of a Docker cluster.

use std::path::Path;

use dcos_e2e::blocking::Cluster;
use dcos_e2e::{Error, ExistingCluster, TransportKind};

use super::{CONNECT_TIMEOUT, docker_cluster, hostname, pinned_keys};
use crate::common;

/// The test of DC/OS E2E's 2017 API: wrap the nodes of a Docker cluster, use them
/// through the wrapping cluster, have `destroy` refused, and find the original intact.
#[test]
fn wraps_the_nodes_of_a_docker_cluster() {
    let original = docker_cluster(1, 1, 1);
    let id = original.id().to_string();
    let workspace = original.workspace().map(Path::to_path_buf);

    let existing = ExistingCluster::new(
        original.masters(),
        original.agents(),
        original.public_agents(),
        "root",
    )
    .connect_timeout(CONNECT_TIMEOUT)
    .known_hosts(pinned_keys(&original));
    let wrapped = Cluster::builder(existing)
        .masters(1)
        .agents(1)
        .public_agents(1)
        .destroy_on_error(false)
        .destroy_on_success(false)
        .provision()
        .expect("the wrapping cluster is created");
    assert_eq!(wrapped.as_async().backend_name(), "ExistingCluster");
    assert_eq!(wrapped.default_user(), "root");
    // Its own temporary directory on this host (for an install's genconf), gone with it.
    let own = wrapped.workspace().unwrap().to_path_buf();
    assert!(own.is_dir() && Some(&own) != workspace.as_ref(), "{own:?}");
    assert_eq!(wrapped.nodes().count(), 3);

    // Every node, reached through the wrapping cluster, is the same machine.
    let dir = tempfile::tempdir().unwrap();
    for (node, same) in wrapped.nodes().zip(original.nodes()) {
        assert_eq!(node.ip_address(), same.ip_address());
        assert_eq!(node.role(), same.role());
        assert_eq!(node.ssh_key_path(), same.ssh_key_path());
        assert_eq!(node.container_name(), None);
        assert_eq!(node.as_async().transport(), TransportKind::Ssh);
        assert_eq!(hostname(node), hostname(same));
        let out = node.run(["id", "-un"]).unwrap();
        assert_eq!(out.stdout_text(), "root");
        let err = node.run(["sh", "-c", "exit 7"]).unwrap_err();
        assert_eq!(err.exit_status(), Some(7));

        // A file sent through one is there through the other, and back.
        let local = dir.path().join(format!("{}", node.role()));
        std::fs::write(&local, node.role().as_str()).unwrap();
        node.send_file(&local, "/root/from-existing/role").unwrap();
        let seen = same.run(["cat", "/root/from-existing/role"]).unwrap();
        assert_eq!(seen.stdout_text(), node.role().as_str());
        let back = dir.path().join(format!("{}-back", node.role()));
        node.download_file("/etc/hostname", &back).unwrap();
        assert_eq!(
            std::fs::read_to_string(&back).unwrap().trim(),
            hostname(same)
        );

        let mut p = node.popen(["sh", "-c", "echo up; sleep 3031"]).unwrap();
        p.kill().unwrap();
        p.wait().unwrap();
    }

    // destroy is refused, and refusing it breaks nothing.
    let err = wrapped.destroy().unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotSupported {
                backend: "ExistingCluster",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("not supported"), "{err}");
    wrapped.masters()[0].run(["true"]).unwrap();
    // Dropping the wrapping cluster touches no node.
    drop(wrapped);
    assert!(!own.exists(), "{own:?}");

    // The original is intact: every container running, every node answering.
    for node in original.nodes() {
        let container = node.container_name().unwrap();
        assert_eq!(
            common::docker_inspect("{{.State.Running}}", container),
            "true"
        );
        node.run(["test", "-f", "/root/from-existing/role"])
            .unwrap();
    }
    let (_, networks, volumes) = common::leftovers(&id);
    assert_eq!(networks.len(), 1);
    assert!(!volumes.is_empty());

    original.destroy().unwrap();
    drop(original);
    common::assert_gone(&id, workspace.as_deref());
}
