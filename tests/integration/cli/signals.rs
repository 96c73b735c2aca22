//! Interrupts during create: Ctrl-C while waiting for DC/OS, SIGTERM while
//! provisioning. (Ctrl-C while provisioning is in the reliability suite.)

use std::process::Child;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Destroy, create_one_master, extra_config, installer, workspace_of};
use crate::common::{self, assert_gone, running};
use crate::process::{poll, send_signal, spawn_minidcos, unique_id, wait_exit};

/// Start a create with piped stderr; returns the child and its stderr lines.
fn spawn_create(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut all = vec!["docker", "create"];
    all.extend(args);
    spawn_minidcos(&all)
}

#[test]
fn ctrl_c_while_waiting_for_dcos_removes_everything() {
    common::node_image();
    let dir = tempfile::tempdir().unwrap();
    let extra = extra_config(dir.path(), 30);
    let id = unique_id("int2");
    let _guard = Destroy(id.clone());
    let (mut child, lines) = spawn_create(&[
        &installer(),
        "--extra-config",
        extra.to_str().unwrap(),
        "--wait",
        "--agents",
        "1",
        "--public-agents",
        "0",
        "--cluster-id",
        &id,
    ]);
    let mut said = Vec::new();
    let start = Instant::now();
    while !said
        .iter()
        .any(|l: &String| l.contains("waiting for DC/OS"))
    {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "never waited: {said:?}"
        );
        if let Ok(line) = lines.recv_timeout(Duration::from_secs(1)) {
            said.push(line);
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "create ended early: {said:?}"
        );
    }
    let workspace = workspace_of(&id);
    send_signal(&child, libc::SIGINT);
    let status = wait_exit(&mut child, Duration::from_secs(120));
    said.extend(lines.try_iter());
    assert_eq!(status.code(), Some(130), "{said:?}");
    assert_gone(&id, Some(&workspace));
}

#[test]
fn sigterm_while_provisioning_removes_everything() {
    common::node_image();
    let id = unique_id("term");
    let _guard = Destroy(id.clone());
    let (mut child, lines) = spawn_minidcos(&create_one_master(&id));
    poll("the master container", Duration::from_secs(120), || {
        !running(&id, Some("master")).is_empty()
    });
    let workspace = workspace_of(&id);
    send_signal(&child, libc::SIGTERM);
    let status = wait_exit(&mut child, Duration::from_secs(120));
    assert_eq!(
        status.code(),
        Some(143),
        "{:?}",
        lines.try_iter().collect::<Vec<_>>()
    );
    assert_gone(&id, Some(&workspace));
}
