//! A cluster leaves the machine it runs on as it found it: the host's mount table (mount
//! points, options, file systems) is the same while the nodes run and after they are
//! gone, and the nodes still have the cgroups systemd needs. (The engine image's case is
//! in `engine::containers`.)

use crate::common;

#[test]
fn a_default_cluster_leaves_the_host_s_mounts_as_they_were() {
    common::node_image();
    let before = common::host_mounts();
    let cluster = common::one_master();
    let id = cluster.id().to_string();
    let master = &cluster.masters()[0];
    // systemd sets up its cgroup mounts first thing at boot: once it has finished
    // booting, a change that reached the host is there to see.
    let state = master
        .output(["systemctl", "is-system-running", "--wait"])
        .unwrap()
        .stdout_text();
    assert!(matches!(state.as_str(), "running" | "degraded"), "{state}");
    common::assert_host_mounts_as(&before, "while a node runs");
    // The node's systemd made its own cgroup for a unit started now.
    let scope = master
        .output([
            "systemd-run",
            "--scope",
            "--unit",
            "mounts-probe",
            "cat",
            "/proc/self/cgroup",
        ])
        .unwrap()
        .stdout_text();
    assert!(scope.contains("mounts-probe.scope"), "{scope}");
    cluster.destroy().unwrap();
    common::assert_host_mounts_as(&before, "after destroy");
    common::assert_gone(&id, None);
}
