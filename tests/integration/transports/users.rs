//! Commands as another user, and through sudo.

use dcos_e2e::{Command, Node, TransportKind};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::timeout;

use super::{
    Fixture, PATIENCE, assert_arguments_literal, assert_env_literal, command_failed,
    hostile_arguments, sh, text, wait_for_processes,
};

both_transports!(non_root_user_and_sudo);

/// Make a user on the node that logs in with the cluster's key; with `sudo`, give it
/// passwordless sudo.
pub(super) async fn add_user(node: &Node, name: &str, sudo: bool) {
    node.run(["useradd", "--create-home", "--shell", "/bin/bash", name])
        .await
        .unwrap();
    let public_key = format!("{}.pub", node.ssh_key_path().display());
    let ssh_dir = format!("/home/{name}/.ssh");
    node.send_file(&public_key, &format!("{ssh_dir}/authorized_keys"))
        .await
        .unwrap();
    node.run(sh(
        "chown -R \"$1:$1\" \"$2\" && chmod 700 \"$2\" && chmod 600 \"$2/authorized_keys\"",
        &[name, &ssh_dir],
    ))
    .await
    .unwrap();
    if sudo {
        node.run(sh(
            "echo \"$1 ALL=(ALL) NOPASSWD:ALL\" > \"/etc/sudoers.d/$1\" && chmod 0440 \"/etc/sudoers.d/$1\"",
            &[name],
        ))
        .await
        .unwrap();
    }
}

async fn non_root_user_and_sudo(kind: TransportKind) {
    let fx = Fixture::new(kind).await;
    let node = fx.node();
    assert_eq!(node.default_user(), "root");
    add_user(node, "alice", true).await;
    add_user(node, "bob", false).await;

    let alice = |c: Command| c.user("alice");
    let out = node.run(alice(Command::new(["id", "-un"]))).await.unwrap();
    assert_eq!(out.stdout_text(), "alice");
    // A login shell in the user's home, as over SSH.
    let out = node
        .run(alice(Command::shell("echo \"$HOME\"; pwd; echo \"$USER\"")))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "/home/alice\n/home/alice\nalice");

    // Without sudo, the user is not root.
    let err = node
        .run(alice(Command::new(["touch", "/root/not-alice"])))
        .await
        .unwrap_err();
    let failed = command_failed(err);
    assert_eq!(failed.status, 1);
    assert!(
        text(&failed.stderr).contains("Permission denied"),
        "{failed:?}"
    );

    // With sudo, it is.
    let sudo = |c: Command| c.user("alice").sudo(true);
    let out = node.run(sudo(Command::new(["id", "-u"]))).await.unwrap();
    assert_eq!(out.stdout_text(), "0");
    node.run(sudo(Command::new(["touch", "/root/by-alice"])))
        .await
        .unwrap();
    let owner = node
        .run(["stat", "-c", "%U", "/root/by-alice"])
        .await
        .unwrap();
    assert_eq!(owner.stdout_text(), "root");
    // Quoting survives the extra shell that sudo adds.
    assert_arguments_literal(node, &hostile_arguments(), sudo).await;
    assert_env_literal(node, sudo).await;
    assert_arguments_literal(node, &hostile_arguments(), alice).await;
    assert_env_literal(node, alice).await;
    // sudo for root is a no-op.
    let out = node
        .run(Command::new(["id", "-un"]).sudo(true))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "root");

    // A user without sudo rights gets sudo's refusal, not a hang on a password prompt.
    let err = timeout(
        PATIENCE,
        node.run(Command::new(["id", "-u"]).user("bob").sudo(true)),
    )
    .await
    .expect("sudo without rights does not wait for a password")
    .unwrap_err();
    let failed = command_failed(err);
    assert_ne!(failed.status, 0);
    assert!(text(&failed.stderr).contains("sudo"), "{failed:?}");

    // A process started through sudo is killed entirely, by the user who started it.
    let mut p = node
        .popen(sudo(Command::shell("echo up; sleep 3021")))
        .await
        .unwrap();
    let mut out = BufReader::new(p.stdout().unwrap()).lines();
    let first = timeout(PATIENCE, out.next_line()).await.unwrap().unwrap();
    assert_eq!(first.as_deref(), Some("up"));
    wait_for_processes(node, "^sleep 3021$", 1).await;
    p.kill().await.unwrap();
    timeout(PATIENCE, p.wait()).await.unwrap().unwrap();
    wait_for_processes(node, "slee[p] 3021", 0).await;

    fx.finish().await;
}
