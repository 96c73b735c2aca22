//! The engine and the host: `doctor` reports what the inner engine needs, and builds
//! and their locks are out of other users' reach.

use std::process::Command as Proc;

use crate::common;

/// `doctor` explains what the inner engine needs here, from a real probe.
#[test]
fn doctor_reports_what_the_engine_needs() {
    common::node_image();
    let out = Proc::new(common::minidcos())
        .args(["--json", "docker", "doctor"])
        .output()
        .unwrap();
    let checks: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let find = |name: &str| {
        checks
            .iter()
            .find(|c| c["check"] == name)
            .unwrap_or_else(|| panic!("no {name} check in {checks:?}"))
            .clone()
    };
    let caps = find("engine capabilities");
    assert_eq!(caps["ok"], true, "{caps}");
    assert!(caps["detail"].as_str().unwrap().contains("NET_ADMIN"));
    let storage = find("engine storage");
    assert!(
        storage["detail"].as_str().unwrap().contains("overlay"),
        "{storage}"
    );
    assert_eq!(find("engine iptables")["ok"], true);
    assert!(
        find("distributions")["detail"]
            .as_str()
            .unwrap()
            .contains("trixie")
    );
}

/// Builds and their locks live where only root can go, so another user can neither
/// swap a root filesystem nor hold a lock a build would wait on (before: predictable
/// names in the world-writable /tmp).
#[test]
fn another_user_cannot_reach_the_build_directory_or_its_locks() {
    use std::os::unix::fs::MetadataExt;
    common::node_image();
    let state = std::path::Path::new("/var/lib/dcos-e2e");
    let meta = std::fs::symlink_metadata(state).unwrap();
    assert!(meta.is_dir(), "a real directory, not a link");
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o700));
    let lock = std::fs::read_dir(state)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".lock"))
        .expect("a build left its lock file")
        .path();
    // As nobody: neither open the lock (to hold it) nor plant anything beside it.
    let attempt = |script: &str| {
        Proc::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--",
                "sh",
                "-c",
            ])
            .arg(script)
            .output()
            .expect("setpriv runs")
    };
    let hold = attempt(&format!("exec 9<{}", lock.display()));
    assert!(!hold.status.success(), "nobody opened {}", lock.display());
    assert!(String::from_utf8_lossy(&hold.stderr).contains("ermission denied"));
    let plant = attempt(&format!("mkdir {}/build-planted", state.display()));
    assert!(!plant.status.success(), "nobody made a directory there");
    // Root itself can (the check above is not vacuous).
    assert!(std::fs::File::open(&lock).is_ok());
}
