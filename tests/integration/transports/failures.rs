//! Nodes that fail under a connection: stopped, frozen, connection dropped, host key
//! changed.

use std::process::Command as Proc;
use std::time::{Duration, Instant};

use dcos_e2e::{Cluster, Command, Error, NodeState, TransportKind};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::timeout;

use super::{Fixture, PATIENCE, docker};
use crate::common::{self, docker_cli};

both_transports!(stopped_node, frozen_node, dropped_connection);

async fn stopped_node(kind: TransportKind) {
    let connect_timeout = Duration::from_secs(3);
    let fx = Fixture::with(docker(kind).await.connect_timeout(connect_timeout)).await;
    let node = fx.node();
    let ip = node.ip_address().to_string();
    let container = node.container_name().unwrap().to_string();
    node.run(["true"]).await.unwrap(); // the connection is open

    // A command running when the node stops ends with an error, not a hang.
    let mut p = node
        .popen(Command::shell("echo up; sleep 3020"))
        .await
        .unwrap();
    let mut out = BufReader::new(p.stdout().unwrap()).lines();
    assert_eq!(
        timeout(PATIENCE, out.next_line())
            .await
            .unwrap()
            .unwrap()
            .as_deref(),
        Some("up")
    );
    let stopping =
        tokio::task::spawn_blocking(move || docker_cli(&["stop", "--time", "1", &container]));
    let started = Instant::now();
    let ended = timeout(PATIENCE, p.wait())
        .await
        .expect("wait returns when the node stops");
    let in_flight = started.elapsed();
    stopping.await.unwrap();
    eprintln!("{kind}: in-flight command on a stopped node ended after {in_flight:?}: {ended:?}");
    if let Err(e) = &ended {
        assert!(dcos_e2e::chain(e).contains(&ip), "{e}");
    }

    // New commands and transfers fail, naming the node, within the connect timeout.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, "x").unwrap();
    for attempt in ["run", "run again", "popen", "send_file", "download_file"] {
        let started = Instant::now();
        let result = timeout(PATIENCE, async {
            match attempt {
                "popen" => node.popen(["true"]).await.map(drop),
                "send_file" => node.send_file(&file, "/tmp/f").await,
                "download_file" => {
                    node.download_file("/etc/hostname", dir.path().join("h"))
                        .await
                }
                _ => node.run(["true"]).await.map(drop),
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{attempt} on a stopped node hangs"));
        let elapsed = started.elapsed();
        let err = result.expect_err("a stopped node cannot run anything");
        let message = dcos_e2e::chain(&err);
        eprintln!("{kind}: {attempt} on a stopped node: {elapsed:?}: {message}");
        assert!(message.contains(&ip), "{attempt}: {ip} not in {message:?}");
        match kind {
            TransportKind::Ssh => {
                assert!(matches!(err, Error::Timeout { .. }), "{attempt}: {err:?}")
            }
            TransportKind::DockerExec => {
                assert!(message.contains("not running"), "{attempt}: {message:?}")
            }
        }
        assert!(
            elapsed < connect_timeout + Duration::from_secs(2),
            "{attempt}: took {elapsed:?}"
        );
    }

    // A handle attached afterwards knows the node is stopped and says so at once (with
    // SSH, never by reaching some other machine).
    let attached = Cluster::attach_docker(&fx.id, Some(kind)).await.unwrap();
    let err = attached.masters()[0].run(["true"]).await.unwrap_err();
    assert!(
        matches!(&err, Error::NodeDown { state: NodeState::Stopped, node } if node.contains(&ip)),
        "{err:?}"
    );
    drop(attached);

    // A stopped cluster is still destroyed completely.
    fx.finish().await;
}

/// A node that stops answering without closing anything (`docker pause`: a frozen host
/// or a network partition) with a connection already open: every command, even many at
/// once, fails within the connect timeout; once it answers again, commands work.
async fn frozen_node(kind: TransportKind) {
    let connect_timeout = Duration::from_secs(3);
    let fx = Fixture::with(docker(kind).await.connect_timeout(connect_timeout)).await;
    let node = fx.node();
    let ip = node.ip_address().to_string();
    let container = node.container_name().unwrap().to_string();
    node.run(["true"]).await.unwrap(); // the connection is open

    common::pause(&container);
    let started = Instant::now();
    let attempts = (0..10).map(|_| timeout(PATIENCE, node.run(["true"])));
    let results = futures_util::future::join_all(attempts).await;
    let elapsed = started.elapsed();
    docker_cli(&["unpause", &container]);
    for result in results {
        let err = result
            .expect("no hang")
            .expect_err("a frozen node runs nothing");
        let message = dcos_e2e::chain(&err);
        assert!(message.contains(&ip), "{message}");
        match kind {
            TransportKind::Ssh => assert!(matches!(err, Error::Timeout { .. }), "{err:?}"),
            TransportKind::DockerExec => assert!(message.contains("paused"), "{message}"),
        }
    }
    eprintln!("{kind}: 10 concurrent runs on a frozen node failed after {elapsed:?}");
    assert!(
        elapsed < connect_timeout + Duration::from_secs(2),
        "took {elapsed:?}"
    );

    let out = timeout(PATIENCE, node.run(["echo", "back"]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.stdout_text(), "back");

    fx.finish().await;
}

/// sshd's processes for our connections are killed from outside (as when sshd is
/// restarted hard, or a firewall resets the connection): a running command ends with an
/// error, and the next command reconnects by itself. (Over docker exec no connection is
/// involved; the same steps must simply keep working.)
async fn dropped_connection(kind: TransportKind) {
    let fx = Fixture::new(kind).await;
    let node = fx.node();
    let container = node.container_name().unwrap().to_string();
    node.run(["true"]).await.unwrap();
    let mut p = node
        .popen(Command::shell("echo up; sleep 3022"))
        .await
        .unwrap();
    let mut out = BufReader::new(p.stdout().unwrap()).lines();
    assert_eq!(
        timeout(PATIENCE, out.next_line())
            .await
            .unwrap()
            .unwrap()
            .as_deref(),
        Some("up")
    );

    // Out of band, so that the kill does not depend on the connection it kills.
    let kill = ["exec", &container, "pkill", "-KILL", "-f", "^sshd: root"];
    let status = Proc::new("docker").args(kill).status().unwrap();
    match kind {
        TransportKind::Ssh => {
            assert!(status.success(), "sshd session processes were found");
            let err = timeout(PATIENCE, p.wait())
                .await
                .expect("wait returns")
                .expect_err("the command's connection is gone");
            assert!(
                dcos_e2e::chain(&err).contains("connection ended"),
                "{err:?}"
            );
            // The command itself may live on, orphaned: sshd is what was killed.
            node.output(["pkill", "-f", "slee[p] 3022"]).await.unwrap();
        }
        TransportKind::DockerExec => {
            assert!(!status.success(), "no sshd session should exist");
            p.kill().await.unwrap();
            let done = timeout(PATIENCE, p.wait()).await.unwrap().unwrap();
            assert_eq!(done.status, 137);
        }
    }

    for i in 0..3 {
        let out = timeout(PATIENCE, node.run(["echo", &i.to_string()]))
            .await
            .expect("no hang")
            .unwrap_or_else(|e| panic!("run {i} after the drop: {}", dcos_e2e::chain(&e)));
        assert_eq!(out.stdout_text(), i.to_string());
    }

    fx.finish().await;
}

/// SSH only: host keys are pinned for the cluster. A node whose host key changes (a
/// different machine answering at its address) is refused with an error saying so.
#[tokio::test(flavor = "multi_thread")]
async fn ssh_host_key_is_pinned() {
    let fx = Fixture::new(TransportKind::Ssh).await;
    let node = fx.node();
    let container = node.container_name().unwrap().to_string();
    node.run(["true"]).await.unwrap();

    // The pinned key is bound read-only into the node: point sshd at a new one.
    let swap = "ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/other_host_key \
                && sed -i 's#^HostKey .*#HostKey /etc/ssh/other_host_key#' /etc/ssh/sshd_config.d/dcos-e2e.conf \
                && systemctl restart ssh && pkill -KILL -f '^sshd: root'";
    docker_cli(&["exec", &container, "sh", "-c", swap]);
    let err = timeout(PATIENCE, node.run(["true"]))
        .await
        .expect("no hang")
        .expect_err("a changed host key is refused");
    let message = dcos_e2e::chain(&err);
    assert!(
        message.contains(&node.ip_address().to_string()),
        "{message}"
    );
    assert!(message.to_lowercase().contains("host key"), "{message}");

    fx.finish().await;
}
