//! Processes started with `popen`: live output, wait, and kill of the whole tree.

use dcos_e2e::{Command, TransportKind};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::timeout;

use super::{Fixture, PATIENCE, text, wait_for_processes};

both_transports!(popen_streams_and_kill);

async fn popen_streams_and_kill(kind: TransportKind) {
    let fx = Fixture::new(kind).await;
    let node = fx.node();

    // Output arrives while the process runs.
    let mut p = node
        .popen(Command::shell(
            "echo first; echo err-first >&2; sleep 3017 & sleep 3017; echo never",
        ))
        .await
        .unwrap();
    assert!(p.pid() > 1);
    let mut out = BufReader::new(p.stdout().unwrap()).lines();
    let mut err = BufReader::new(p.stderr().unwrap()).lines();
    let first = timeout(PATIENCE, out.next_line())
        .await
        .expect("the first line arrives while the process runs")
        .unwrap();
    assert_eq!(first.as_deref(), Some("first"));
    // The pid marker is not part of stderr.
    let first_err = timeout(PATIENCE, err.next_line()).await.unwrap().unwrap();
    assert_eq!(first_err.as_deref(), Some("err-first"));
    node.run(["kill", "-0", &p.pid().to_string()])
        .await
        .expect("the process is still running");
    wait_for_processes(node, "^sleep 3017$", 2).await;

    // kill stops it and what it started; wait returns.
    p.kill().await.unwrap();
    let waited = timeout(PATIENCE, p.wait())
        .await
        .expect("wait returns after kill")
        .unwrap();
    assert_eq!(waited.status, 137, "{waited:?}");
    assert_eq!(
        out.next_line().await.unwrap(),
        None,
        "nothing more on stdout"
    );
    wait_for_processes(node, "slee[p] 3017", 0).await;
    let gone = node
        .output(["kill", "-0", &p.pid().to_string()])
        .await
        .unwrap();
    assert_ne!(gone.status, 0, "the shell {} is still there", p.pid());

    // Descendants that left the process group are found too.
    let mut p = node
        .popen(Command::shell(
            "setsid sleep 3018 & (sleep 3018 &) ; sh -c 'sleep 3018' & echo started; wait",
        ))
        .await
        .unwrap();
    let mut out = BufReader::new(p.stdout().unwrap()).lines();
    let first = timeout(PATIENCE, out.next_line()).await.unwrap().unwrap();
    assert_eq!(first.as_deref(), Some("started"));
    wait_for_processes(node, "^sleep 3018$", 3).await;
    p.kill().await.unwrap();
    timeout(PATIENCE, p.wait()).await.unwrap().unwrap();
    // `setsid` left the process group but is a descendant; `(sleep &)` was reparented
    // to init but stayed in the group.
    wait_for_processes(node, "slee[p] 3018", 0).await;

    // A process that ends by itself: status and both streams, marker stripped.
    let mut p = node
        .popen(Command::shell("echo o1; echo e1 >&2; exit 3"))
        .await
        .unwrap();
    let done = timeout(PATIENCE, p.wait()).await.unwrap().unwrap();
    assert_eq!(done.status, 3);
    assert_eq!(text(&done.stdout), "o1\n");
    assert_eq!(text(&done.stderr), "e1\n");
    // Once the exit status is known, kill signals nothing (the pid may be another
    // process's by now): it does not even reach the node, so it succeeds on a frozen one.
    let container = node.container_name().unwrap().to_string();
    crate::common::pause(&container);
    let killed = timeout(PATIENCE, p.kill()).await.expect("no hang");
    crate::common::docker_cli(&["unpause", &container]);
    killed.expect("kill after wait is a no-op");

    fx.finish().await;
}
