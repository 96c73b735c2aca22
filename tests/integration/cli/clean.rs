//! `clean`: what killed creates left goes, nothing live does.

use std::path::PathBuf;
use std::process::{Command as Proc, Stdio};
use std::time::Duration;

use super::{Destroy, create_one_master};
use crate::common::{self, assert_gone, leftovers, running};
use crate::process::{listed, minidcos, poll, unique_id};

/// Start `minidcos docker create` for a 1-master cluster and SIGKILL it once its master
/// container runs.
fn killed_create(id: &str, keep: bool) {
    let mut cmd = Proc::new(common::minidcos());
    cmd.args(create_one_master(id))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if keep {
        cmd.env(dcos_e2e::KEEP_ENV, "1");
    }
    let mut child = cmd.spawn().unwrap();
    poll("the master container", Duration::from_secs(120), || {
        assert!(
            child.try_wait().unwrap().is_none(),
            "create of {id} ended early"
        );
        !running(id, Some("master")).is_empty()
    });
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn clean_removes_what_killed_creates_left_and_nothing_live() {
    common::node_image();
    // A cluster a live process holds (this test process).
    let live = dcos_e2e::blocking::Cluster::builder(common::docker())
        .agents(0)
        .public_agents(0)
        .provision()
        .unwrap();
    // A cluster `create` completed: the user's.
    let persisted = unique_id("keep");
    let _guard_persisted = Destroy(persisted.clone());
    minidcos(&create_one_master(&persisted)).ok();
    // Two killed creates: one with its watchdog, one without (DCOS_E2E_KEEP=1), which
    // only `clean` can remove.
    let watched = unique_id("kill");
    let orphan = unique_id("orphan");
    let _guard_watched = Destroy(watched.clone());
    let _guard_orphan = Destroy(orphan.clone());
    killed_create(&watched, false);
    killed_create(&orphan, true);
    let orphan_row = listed(&orphan).expect("the unwatched killed create is left");
    assert_eq!(orphan_row["owner"], "none", "{orphan_row}");
    let orphan_ws = PathBuf::from(orphan_row["workspace"].as_str().unwrap());
    assert!(orphan_ws.is_dir());

    assert_eq!(listed(&persisted).unwrap()["owner"], "user");
    assert_eq!(listed(live.id()).unwrap()["owner"], "process");

    let cleaned = minidcos(&["docker", "clean", "--json"]).ok().json();
    let removed: Vec<&str> = cleaned["removed"]
        .as_array()
        .expect("removed")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(removed.contains(&orphan.as_str()), "{removed:?}");
    assert!(!removed.contains(&persisted.as_str()), "{removed:?}");
    assert!(!removed.contains(&live.id()), "{removed:?}");
    // The watched one went with its watchdog, or with clean: either way it is gone.
    poll(
        "the watched killed create to go",
        Duration::from_secs(30),
        || leftovers(&watched) == Default::default(),
    );
    assert_gone(&watched, None);
    assert_gone(&orphan, Some(&orphan_ws));

    // The live and the persisted clusters still run, and still work.
    assert_eq!(
        running(&persisted, Some("master")).len(),
        1,
        "persisted cluster survives clean"
    );
    minidcos(&["docker", "run", &persisted, "--", "true"]).ok();
    assert_eq!(
        running(live.id(), Some("master")).len(),
        1,
        "live cluster survives clean"
    );
    live.masters()[0].run(["true"]).unwrap();
    // A second clean has nothing of ours to do.
    let again = minidcos(&["docker", "clean", "--json"]).ok().json();
    for id in [&persisted, &orphan, &watched] {
        assert!(
            !again["removed"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v == id.as_str())
        );
    }
}
