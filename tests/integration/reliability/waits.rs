//! Waits that must end: a check that hangs on a node is bounded by what is left of the
//! wait, and does not keep running there.

use std::sync::mpsc;
use std::time::Duration;

use dcos_e2e::{Command, Error};

use super::Case;
use crate::common;

#[test]
fn a_hung_health_check_ends_with_the_wait() {
    let _case = Case::new("wait_for_dcos: a diagnostics check that hangs");
    let cluster = common::one_master();
    let master = cluster.masters()[0].clone();
    master
        .run(Command::shell(
            "mkdir -p /opt/mesosphere/bin && printf '#!/bin/sh\\nexec sleep 600\\n' \
             > /opt/mesosphere/bin/dcos-diagnostics && chmod +x /opt/mesosphere/bin/dcos-diagnostics",
        ))
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let waiting = master.clone();
    std::thread::scope(|s| {
        s.spawn(|| {
            let _ = tx.send(cluster.wait_for_dcos(Duration::from_secs(3)));
        });
        // A guard against the defect (a wait that never returns), not a measurement.
        let result = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("wait_for_dcos returned");
        match result {
            Err(Error::WaitTimeout { failing, .. }) => {
                assert_eq!(failing.len(), 1, "{failing:?}");
                assert!(failing[0].contains("did not finish"), "{failing:?}");
            }
            other => panic!("expected WaitTimeout, got {other:?}"),
        }
    });
    // The node's own timeout stops it as the wait ends.
    let stopped = (0..300).any(|_| {
        let left = waiting.output(["pgrep", "-x", "sleep"]).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        left.status != 0
    });
    assert!(stopped, "the hung check still runs on the node");
}
