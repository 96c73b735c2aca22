//! Host keys of existing hosts: checked against `known_hosts` by the library and by
//! `minidcos existing`, and a Docker cluster's pinned keys are needed to attach to it.

use std::path::Path;
use std::process::Command as Proc;
use std::time::Duration;

use dcos_e2e::{Cluster, Error, ExistingCluster, Host, HostKeyChecking, Node, TransportKind};
use tokio::time::timeout;

use super::{Fixture, PATIENCE, run};
use crate::common;
use crate::reliability::Case;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `ssh-keygen -lf FILE`'s fingerprint of the first key in `file`.
fn fingerprint(file: &Path) -> String {
    let out = Proc::new("ssh-keygen")
        .arg("-lf")
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    text(&out.stdout)
        .split_whitespace()
        .nth(1)
        .expect("a fingerprint")
        .to_string()
}

/// A new ed25519 public key line (`ssh-ed25519 AAAA...`).
fn other_key(dir: &Path) -> String {
    let key = dir.join("other");
    let made = Proc::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(made.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The node wrapped as an existing cluster with these host key settings.
async fn wrapped(
    node: &Node,
    known_hosts: &Path,
    checking: HostKeyChecking,
) -> dcos_e2e::Result<Cluster> {
    let existing = ExistingCluster::new(
        [Host::from(node)],
        Vec::<Host>::new(),
        Vec::<Host>::new(),
        "root",
    )
    .connect_timeout(Duration::from_secs(5))
    .known_hosts(known_hosts)
    .host_key_checking(checking);
    Cluster::builder(existing)
        .masters(1)
        .agents(0)
        .public_agents(0)
        .destroy_on_error(false)
        .destroy_on_success(false)
        .provision()
        .await
}

/// What the first command on the node wrapped so says.
async fn first_command(
    node: &Node,
    known_hosts: &Path,
    checking: HostKeyChecking,
) -> dcos_e2e::Result<String> {
    let cluster = wrapped(node, known_hosts, checking).await?;
    let out = timeout(PATIENCE, cluster.masters()[0].run(["hostname"]))
        .await
        .expect("no hang")?;
    Ok(out.stdout_text())
}

/// Existing hosts are checked against a known_hosts file; before, any key was trusted
/// on first use, in memory only, so every run accepted an impostor.
#[tokio::test(flavor = "multi_thread")]
async fn existing_host_keys_are_checked_against_known_hosts() {
    let _case = Case::new("existing hosts: known_hosts checked");
    let fx = Fixture::new(TransportKind::Ssh).await;
    let node = fx.node();
    let ip = node.ip_address().to_string();
    let hostname = run(node, ["hostname"]).await.stdout_text();
    let dir = tempfile::tempdir().unwrap();
    let pinned = std::fs::read_to_string(fx.known_hosts()).unwrap();
    let real = fingerprint(&fx.known_hosts());
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    use HostKeyChecking::{AcceptNew, Strict};

    // Listed: plain, and hashed by OpenSSH's own `ssh-keygen -H`.
    let plain = file("plain", &pinned);
    assert_eq!(first_command(node, &plain, Strict).await.unwrap(), hostname);
    let hashed = file("hashed", &pinned);
    let status = Proc::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&hashed)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let hashed_text = std::fs::read_to_string(&hashed).unwrap();
    assert!(
        hashed_text.starts_with("|1|") && !hashed_text.contains(&ip),
        "{hashed_text}"
    );
    assert_eq!(
        first_command(node, &hashed, Strict).await.unwrap(),
        hostname
    );

    // Not listed: refused under strict checking, with the key's fingerprint and the file.
    let empty = file("empty", "# nothing here\n");
    match first_command(node, &empty, Strict).await {
        Err(Error::HostKeyUnknown {
            node: n,
            fingerprint,
            known_hosts,
        }) => {
            assert!(n.contains(&ip), "{n}");
            assert_eq!(fingerprint, real);
            assert_eq!(known_hosts, empty);
        }
        other => panic!("expected HostKeyUnknown, got {other:?}"),
    }
    // ... and trusted on first use with accept-new.
    assert_eq!(
        first_command(node, &empty, AcceptNew).await.unwrap(),
        hostname
    );

    // Listed with another key: refused, accept-new or not.
    let impostor = file("impostor", &format!("{ip} {}\n", other_key(dir.path())));
    for checking in [Strict, AcceptNew] {
        match first_command(node, &impostor, checking).await {
            Err(Error::HostKeyMismatch { node: n }) => assert!(n.contains(&ip), "{n}"),
            other => panic!("{checking:?}: expected HostKeyMismatch, got {other:?}"),
        }
    }
    // Revoked: refused even though listed too.
    let key = pinned
        .split_whitespace()
        .skip(1)
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let revoked = file("revoked", &format!("{pinned}@revoked * {key}\n"));
    match first_command(node, &revoked, AcceptNew).await {
        Err(Error::HostKeyRevoked { fingerprint, .. }) => assert_eq!(fingerprint, real),
        other => panic!("expected HostKeyRevoked, got {other:?}"),
    }
    // A file given but missing: an error when the cluster is made, not "trust all".
    let missing = dir.path().join("missing");
    match wrapped(node, &missing, Strict).await {
        Err(Error::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected Error::Io, got {other:?}"),
    }

    fx.finish().await;
}

/// `minidcos existing` checks host keys too: by default against `~/.ssh/known_hosts`,
/// `known_hosts:` in the cluster file names another file, and
/// `strict_host_key_checking: false` trusts an unlisted host for the run.
#[tokio::test(flavor = "multi_thread")]
async fn cli_existing_checks_host_keys() {
    let _case = Case::new("minidcos existing: known_hosts checked");
    let fx = Fixture::new(TransportKind::Ssh).await;
    let node = fx.node();
    let home = tempfile::tempdir().unwrap();
    let hostname = run(node, ["hostname"]).await.stdout_text();
    let cluster_file = |extra: &str| {
        let path = home.path().join("cluster.yaml");
        std::fs::write(
            &path,
            format!(
                "ssh_user: root\nssh_key_path: {}\nmasters: [{}]\n{extra}",
                node.ssh_key_path().display(),
                node.ip_address()
            ),
        )
        .unwrap();
        path
    };
    let home_dir = home.path().to_path_buf();
    let run_cli = |extra: &str| {
        let file = cluster_file(extra);
        let home = home_dir.clone();
        async move {
            let out = tokio::process::Command::new(common::minidcos())
                .args(["existing", "--cluster-file"])
                .arg(&file)
                .args(["run", "--", "hostname"])
                .env("HOME", &home)
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .unwrap();
            Ok::<_, ()>((out.status.code(), text(&out.stdout), text(&out.stderr)))
        }
    };
    // HOME has no known_hosts: the host is unknown.
    let (code, _, stderr) = run_cli("").await.unwrap();
    assert_eq!(code, Some(1), "{stderr}");
    let default = home.path().join(".ssh/known_hosts");
    assert!(
        stderr.contains("is not listed") && stderr.contains(&default.display().to_string()),
        "{stderr}"
    );
    assert!(stderr.contains("ssh-keyscan"), "a hint: {stderr}");
    let (code, stdout, stderr) = run_cli(&format!("known_hosts: {}\n", fx.known_hosts().display()))
        .await
        .unwrap();
    assert_eq!(
        (code, stdout.trim()),
        (Some(0), hostname.as_str()),
        "{stderr}"
    );
    let (code, stdout, stderr) = run_cli("strict_host_key_checking: false\n").await.unwrap();
    assert_eq!(
        (code, stdout.trim()),
        (Some(0), hostname.as_str()),
        "{stderr}"
    );

    fx.finish().await;
}

/// Attaching to a Docker cluster whose pinned host keys cannot be read is an error;
/// before, an empty set was used and every node's key was then trusted on first use.
#[tokio::test(flavor = "multi_thread")]
async fn docker_attach_needs_the_pinned_host_keys() {
    let _case = Case::new("attach: pinned host keys required");
    let fx = Fixture::new(TransportKind::Ssh).await;
    let pinned = fx.known_hosts();
    let aside = fx.workspace.join("ssh/known_hosts.aside");
    std::fs::rename(&pinned, &aside).unwrap();
    let attached = Cluster::attach_docker(&fx.id, Some(TransportKind::Ssh)).await;
    std::fs::rename(&aside, &pinned).unwrap();
    match attached {
        Err(Error::Io { path, .. }) => assert_eq!(path, pinned),
        Err(other) => panic!("expected Error::Io, got {other:?}"),
        Ok(_) => panic!("attached without the pinned host keys"),
    }
    // With the file back, it attaches and the node answers.
    let attached = Cluster::attach_docker(&fx.id, Some(TransportKind::Ssh))
        .await
        .unwrap();
    let out = timeout(PATIENCE, attached.masters()[0].run(["true"]))
        .await
        .unwrap();
    out.unwrap();
    drop(attached);

    fx.finish().await;
}
