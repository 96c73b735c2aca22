//! Signals to the CLI beyond `create`'s first Ctrl-C: an interrupted `install` stops the
//! installers it started on the nodes, and a second Ctrl-C during a cleanup ends the
//! program at once (the watchdog removes the rest).

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use dcos_e2e::{Command, Docker};

use super::Case;
use crate::common::{self, assert_gone, containers_of};
use crate::process::{poll, send_signal, spawn_minidcos, wait_exit};

/// An installer whose node step never ends: the interrupt comes while it runs.
fn slow_installer(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("slow_installer.sh");
    std::fs::write(
        &path,
        "#!/bin/bash\nmkdir -p genconf/serve\n\
         printf '#!/bin/bash\\nsleep 600\\n' > genconf/serve/dcos_install.sh\n",
    )
    .unwrap();
    path
}

#[test]
fn an_interrupted_install_stops_the_node_installers() {
    let _case = Case::new("SIGINT to install: node installers stopped");
    let cluster = dcos_e2e::blocking::Cluster::builder(common::docker())
        .masters(1)
        .agents(1)
        .public_agents(0)
        .destroy_on_success(true)
        .provision()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let installer = slow_installer(dir.path());
    let (mut child, _lines) = spawn_minidcos(&[
        "docker",
        "install",
        cluster.id(),
        installer.to_str().unwrap(),
    ]);
    let installing = |node: &dcos_e2e::blocking::Node| {
        // `[d]`: not matching this command's own shell.
        node.output(Command::shell("pgrep -f '[d]cos_install.sh'"))
            .unwrap()
            .status
            == 0
    };
    poll("the installers to run", Duration::from_secs(60), || {
        cluster.nodes().all(installing)
    });
    send_signal(&child, libc::SIGINT);
    let status = wait_exit(&mut child, Duration::from_secs(60));
    assert_eq!(status.code(), Some(130), "{status:?}");
    for node in cluster.nodes() {
        assert!(!installing(node), "an installer still runs on {node}");
    }
}

#[test]
fn a_second_ctrl_c_ends_the_cleanup_at_once() {
    let _case = Case::new("second SIGINT during create's cleanup");
    let id = Docker::new_cluster_id();
    // The master's sshd cannot start: the create waits for it, so the interrupt comes
    // while provisioning, and the cleanup that follows sweeps for a few seconds.
    let (mut child, lines) = spawn_minidcos(&[
        "docker",
        "create",
        "--cluster-id",
        &id,
        "--agents",
        "1",
        "--public-agents",
        "0",
        "--custom-master-volume",
        "/dev/null:/usr/sbin/sshd:ro",
    ]);
    poll("the nodes", Duration::from_secs(120), || {
        containers_of(&id) >= 2
    });
    send_signal(&child, libc::SIGINT);
    // The cleanup has begun (and the signals have their default effect again).
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the create said it is cleaning up");
        if line.contains("cleaning up") {
            break;
        }
    }
    send_signal(&child, libc::SIGINT);
    let status = wait_exit(&mut child, Duration::from_secs(60));
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    // Whatever the cleanup had not removed yet, the watchdog does.
    poll("the cluster to go", Duration::from_secs(60), || {
        containers_of(&id) == 0
    });
    assert_gone(&id, None);
}
