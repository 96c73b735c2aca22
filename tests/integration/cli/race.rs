//! Two creates racing for one id.

use std::process::{Command as Proc, Stdio};

use super::{Destroy, create_one_master};
use crate::common::{self, assert_gone};
use crate::process::{Ran, minidcos, unique_id};

#[test]
fn two_creates_racing_for_one_id_leave_one_working_cluster() {
    common::node_image();
    let id = unique_id("race");
    let _guard = Destroy(id.clone());
    let spawn = || {
        Proc::new(common::minidcos())
            .args(create_one_master(&id))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let runs: Vec<Ran> = [a, b]
        .into_iter()
        .map(|c| c.wait_with_output().unwrap().into())
        .collect();
    let won = runs.iter().filter(|r| r.code == Some(0)).count();
    assert_eq!(won, 1, "exactly one create wins: {runs:?}");
    let lost = runs.iter().find(|r| r.code != Some(0)).unwrap();
    // The loser removed only what it made itself, and says the id is taken.
    assert!(lost.stderr.contains("already exists"), "{lost:?}");
    // The winner's cluster is whole and works.
    let ran = minidcos(&["docker", "run", &id, "--", "hostname"]).ok();
    assert_eq!(ran.stdout.trim(), format!("{id}-master-1"));
    minidcos(&["docker", "destroy", &id]).ok();
    assert_gone(&id, None);
}
