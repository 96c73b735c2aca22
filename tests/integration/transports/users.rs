//! Commands as another user, and through sudo.

use dcos_e2e::{Command, Error, Node, Parameter, TransportKind};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::timeout;

use super::{
    Fixture, PATIENCE, assert_arguments_literal, assert_env_literal, command_failed,
    hostile_arguments, sh, text, wait_for_processes,
};

both_transports!(
    non_root_user_and_sudo,
    a_plain_useradd_and_a_copy_of_roots_keys_log_in,
    the_other_transport_for_one_call
);

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

/// As on the hosts DC/OS ran on: `useradd` makes the home directory, and a copy of
/// root's `~/.ssh` lets the new user log in with the cluster's key (over SSH too).
async fn a_plain_useradd_and_a_copy_of_roots_keys_log_in(kind: TransportKind) {
    let fx = Fixture::new(kind).await;
    let node = fx.node();
    node.run(["useradd", "carol"]).await.unwrap();
    node.run(Command::shell("cp -R \"$HOME/.ssh\" /home/carol/"))
        .await
        .unwrap();
    let ssh = node.via(TransportKind::Ssh).unwrap();
    let out = ssh
        .run(Command::shell("echo \"$(id -un) $HOME\"").user("carol"))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "carol /home/carol");
    // And `userdel -r` finds the home it removes.
    node.run(["userdel", "-r", "carol"]).await.unwrap();
    fx.finish().await;
}

/// `Node::via`: a Docker node is reached by the other transport for one call, sharing
/// the node's state; the node itself keeps its own.
async fn the_other_transport_for_one_call(kind: TransportKind) {
    let fx = Fixture::new(kind).await;
    let node = fx.node();
    let other = match kind {
        TransportKind::Ssh => TransportKind::DockerExec,
        TransportKind::DockerExec => TransportKind::Ssh,
    };
    let over = |n: &Node| {
        let n = n.clone();
        async move {
            n.run(Command::shell(
                "[ -n \"$SSH_CONNECTION\" ] && echo ssh || echo exec",
            ))
            .await
            .unwrap()
            .stdout_text()
        }
    };
    let name = |k: TransportKind| match k {
        TransportKind::Ssh => "ssh",
        TransportKind::DockerExec => "exec",
    };
    let via = node.via(other).unwrap();
    assert_eq!(via.transport(), other);
    assert_eq!(node.transport(), kind);
    assert_eq!(over(&via).await, name(other));
    assert_eq!(over(node).await, name(kind));
    assert_eq!(over(&node.via(kind).unwrap()).await, name(kind));
    // Files too.
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("f");
    std::fs::write(&local, "via").unwrap();
    via.send_file(&local, "/tmp/via").await.unwrap();
    assert_eq!(
        node.run(["cat", "/tmp/via"]).await.unwrap().stdout_text(),
        "via"
    );
    // One node, one state: the other way in sees a fault made through the first.
    node.pause().await.unwrap();
    let err = via.run(["true"]).await.unwrap_err();
    assert!(matches!(err, Error::NodeDown { .. }), "{err:?}");
    node.resume().await.unwrap();
    // A host of an existing cluster (this very node) has SSH only.
    let host = dcos_e2e::ExistingCluster::new(
        [dcos_e2e::Host::new(node.ip_address(), node.ssh_key_path())],
        Vec::<dcos_e2e::Host>::new(),
        Vec::<dcos_e2e::Host>::new(),
        "root",
    );
    let wrapped = dcos_e2e::Cluster::builder(host)
        .masters(1)
        .agents(0)
        .public_agents(0)
        .destroy_on_error(false)
        .destroy_on_success(false)
        .provision()
        .await
        .unwrap();
    let err = wrapped.masters()[0]
        .via(TransportKind::DockerExec)
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::InvalidParameter {
                parameter: Parameter::Transport,
                ..
            }
        ),
        "{err:?}"
    );
    drop(wrapped);
    fx.finish().await;
}
