//! Install and upgrade on existing hosts over SSH, as a user would with real machines:
//! the nodes of a Docker cluster made without an artifact, with the genconf directory
//! Docker binds into them taken away, wrapped as an `ExistingCluster`.

use std::time::Duration;

use dcos_e2e::blocking::Cluster;
use dcos_e2e::{Command, ExistingCluster, ExtraConfig, InstallOptions, UpgradeOptions};

use super::{CONNECT_TIMEOUT, docker_cluster, existing_builder, pinned_keys};
use crate::common;

const SERVE: &str = "/var/lib/dcos-e2e/host-genconf/serve";

fn fast() -> ExtraConfig {
    ExtraConfig::from_yaml("sample_startup_delay: 0").unwrap()
}

/// The nodes of `cluster` as hosts that never saw this machine's workspace: the
/// read-only genconf bind is taken away, leaving an empty directory as on any host.
fn as_plain_hosts(cluster: &Cluster) {
    for node in cluster.nodes() {
        node.run(["umount", "/var/lib/dcos-e2e/genconf"]).unwrap();
    }
}

fn run_text(node: &dcos_e2e::blocking::Node, script: &str) -> String {
    node.run(Command::shell(script)).unwrap().stdout_text()
}

/// The relative paths of the files under `dir` on this host, sorted, one per line.
fn local_files(dir: &std::path::Path) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("cd \"$1\" && find . -type f | sort")
        .arg("sh")
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Install version A over SSH, then upgrade to B: each host gets `serve/` where the
/// Docker backend would bind it, the second time only what changed (a file the two
/// versions share keeps its time on the node, a file the new one lacks is removed).
#[test]
fn install_and_upgrade_over_ssh_send_only_what_changed() {
    let original = docker_cluster(1, 1, 0);
    as_plain_hosts(&original);
    let existing = ExistingCluster::new(
        original.masters(),
        original.agents(),
        Vec::<dcos_e2e::Host>::new(),
        "root",
    )
    .connect_timeout(CONNECT_TIMEOUT)
    .known_hosts(pinned_keys(&original));
    let wrapped = existing_builder(&existing).provision().unwrap();

    let a = InstallOptions::new(common::sample_installer()).extra_config(fast());
    wrapped.install(&a).unwrap();
    common::healthy_and_tested(&wrapped);
    for node in original.nodes() {
        assert_eq!(node.dcos_build_info().unwrap().version, "2.2.0");
    }

    // Marks only a resend would undo: an old time on a file both versions serve as
    // they are, and a file the new serve/ does not have.
    for node in wrapped.nodes() {
        run_text(
            node,
            &format!("touch -d 2001-01-01T00:00:00Z {SERVE}/ip-detect && echo x > {SERVE}/stray"),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let b =
        InstallOptions::new(common::sample_installer_at("2.3.0", dir.path())).extra_config(fast());
    let how = UpgradeOptions::default().node_timeout(Duration::from_secs(120));
    wrapped.upgrade(&b, &how).unwrap();
    common::healthy_and_tested(&wrapped);

    let genconf = wrapped.workspace().unwrap().join("genconf/serve");
    let served = local_files(&genconf);
    assert!(served.contains("./bootstrap/"), "{served}");
    for node in original.nodes() {
        assert_eq!(node.dcos_build_info().unwrap().version, "2.3.0");
        // The node's serve/ is the host's: the old bootstrap and the stray file gone.
        let files = run_text(node, &format!("cd {SERVE} && find . -type f | sort"));
        assert_eq!(files, served, "{node}");
        let kept = run_text(node, &format!("stat -c %Y {SERVE}/ip-detect"));
        assert_eq!(kept, "978307200", "{node}: ip-detect was sent again");
    }
}

/// `minidcos existing install` from a cluster file whose user is not root: the copy
/// and the install go through sudo, and the cluster is healthy. A missing artifact is
/// named.
#[test]
fn cli_install_from_a_cluster_file_as_a_sudo_user() {
    let original = docker_cluster(1, 1, 0);
    as_plain_hosts(&original);
    for node in original.nodes() {
        run_text(
            node,
            "useradd --create-home --shell /bin/bash dcos \
             && install -d -m 700 -o dcos -g dcos /home/dcos/.ssh \
             && install -m 600 -o dcos -g dcos /root/.ssh/authorized_keys /home/dcos/.ssh/ \
             && echo 'dcos ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/dcos \
             && chmod 0440 /etc/sudoers.d/dcos",
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let ips = |nodes: &[dcos_e2e::blocking::Node]| -> Vec<std::net::IpAddr> {
        nodes.iter().map(|n| n.ip_address()).collect()
    };
    let file = dcos_e2e::ClusterFile::new(
        "dcos",
        original.masters()[0].ssh_key_path(),
        ips(original.masters()),
        ips(original.agents()),
        Vec::new(),
    )
    .known_hosts(pinned_keys(&original));
    let cluster_file = dir.path().join("cluster.yaml");
    std::fs::write(&cluster_file, file.to_yaml()).unwrap();
    let extra = dir.path().join("fast.yaml");
    std::fs::write(&extra, "sample_startup_delay: 0\n").unwrap();
    let f = cluster_file.to_str().unwrap();

    // Refused before any host is contacted: the message names the artifact.
    let out = std::process::Command::new(common::minidcos())
        .args([
            "existing",
            "--cluster-file",
            f,
            "install",
            "/nonexistent/a.sh",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/a.sh"), "{err}");

    let artifact = common::sample_installer();
    common::minidcos_ok(&[
        "existing",
        "--cluster-file",
        f,
        "install",
        artifact.to_str().unwrap(),
        "--extra-config",
        extra.to_str().unwrap(),
    ]);
    common::minidcos_ok(&["existing", "--cluster-file", f, "wait", "--timeout", "2m"]);
    for node in original.nodes() {
        assert_eq!(node.dcos_build_info().unwrap().version, "2.2.0");
        let owner = run_text(node, &format!("stat -c %U {SERVE}/dcos_install.sh"));
        assert_eq!(owner, "root", "{node}: serve/ was not written through sudo");
    }
}
