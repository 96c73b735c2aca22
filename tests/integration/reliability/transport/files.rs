//! File transfers: a download's partial file is private and random, and an upload's
//! remote temporary file is random.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dcos_e2e::{Command, TransportKind};
use tokio::time::timeout;

use super::{Fixture, PATIENCE, run};
use crate::reliability::Case;

both_transports!(
    downloads_use_private_random_partial_files,
    uploads_use_a_private_random_remote_file,
);

/// The files of local directory `dir` whose names start with `prefix`.
fn files_starting(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect()
}

/// A download's partial file is private (0600 whatever the umask), has a random name
/// (two downloads to one target do not share it), and a symlink planted at the old
/// fixed name (`TARGET.dcos-e2e-partial`) is not followed.
async fn downloads_use_private_random_partial_files(kind: TransportKind) {
    use std::os::unix::fs::PermissionsExt;
    let _case = Case::new(match kind {
        TransportKind::Ssh => "partial downloads private and random (ssh)",
        _ => "partial downloads private and random (docker exec)",
    });
    let fx = Fixture::new(kind).await;
    let node = fx.node();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let target = dir.path().join("target");

    // A planted symlink at the fixed name pointed at a file of the victim's.
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join("target.dcos-e2e-partial")).unwrap();
    run(
        node,
        Command::shell("printf new > /root/source && chmod 0644 /root/source"),
    )
    .await;
    timeout(PATIENCE, node.download_file("/root/source", &target))
        .await
        .expect("no hang")
        .unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(!target.is_symlink(), "the target is a file of its own");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
    std::fs::remove_file(dir.path().join("target.dcos-e2e-partial")).unwrap();

    // Two downloads to one target held open (each reads a FIFO nobody writes yet):
    // their partial files exist, each its own, private.
    run(
        node,
        Command::shell("mkfifo /root/fifo1 /root/fifo2 && chmod 0644 /root/fifo1 /root/fifo2"),
    )
    .await;
    let download = |fifo: &'static str| {
        let (node, target) = (node.clone(), target.clone());
        tokio::spawn(async move { node.download_file(fifo, &target).await })
    };
    let first = download("/root/fifo1");
    let second = download("/root/fifo2");
    let deadline = Instant::now() + PATIENCE;
    let partials = loop {
        let found = files_starting(dir.path(), ".target.");
        if found.len() == 2 {
            break found;
        }
        assert!(Instant::now() < deadline, "partial files: {found:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for p in &partials {
        let mode = std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
        assert!(p.to_string_lossy().ends_with(".dcos-e2e-partial"));
    }
    assert_ne!(partials[0], partials[1]);
    run(node, Command::shell("echo one > /root/fifo1")).await;
    timeout(PATIENCE, first).await.unwrap().unwrap().unwrap();
    run(node, Command::shell("echo two > /root/fifo2")).await;
    timeout(PATIENCE, second).await.unwrap().unwrap().unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "two\n");
    assert!(
        files_starting(dir.path(), ".target.").is_empty(),
        "nothing left"
    );

    fx.finish().await;
}

/// An upload's remote temporary file has a random name (`mktemp`), so a symlink
/// planted at the old fixed name (`TARGET.dcos-e2e-partial`) is not written through,
/// and concurrent uploads to one target each land whole.
async fn uploads_use_a_private_random_remote_file(kind: TransportKind) {
    let _case = Case::new(match kind {
        TransportKind::Ssh => "upload temp file random (ssh)",
        _ => "upload temp file random (docker exec)",
    });
    let fx = Fixture::new(kind).await;
    let node = fx.node();
    let dir = tempfile::tempdir().unwrap();
    run(
        node,
        Command::shell(
            "mkdir -p /srv/up && echo precious > /root/victim \
             && ln -s /root/victim /srv/up/target.dcos-e2e-partial",
        ),
    )
    .await;
    let local = dir.path().join("a");
    std::fs::write(&local, "uploaded").unwrap();
    timeout(PATIENCE, node.send_file(&local, "/srv/up/target"))
        .await
        .expect("no hang")
        .unwrap();
    assert_eq!(
        run(node, ["cat", "/root/victim"]).await.stdout_text(),
        "precious"
    );
    assert_eq!(
        run(node, ["cat", "/srv/up/target"]).await.stdout_text(),
        "uploaded"
    );
    assert_eq!(
        run(node, ["stat", "-c", "%F", "/srv/up/target"])
            .await
            .stdout_text(),
        "regular file"
    );

    // Many uploads to one target at once: each lands whole, none collides.
    let sources: Vec<PathBuf> = (0..6)
        .map(|i| {
            let p = dir.path().join(format!("s{i}"));
            std::fs::write(&p, format!("{i}").repeat(1 << 20)).unwrap();
            p
        })
        .collect();
    let uploads = sources
        .iter()
        .map(|s| timeout(PATIENCE, node.send_file(s, "/srv/up/many")));
    for r in futures_util::future::join_all(uploads).await {
        r.expect("no hang").unwrap();
    }
    let out = run(
        node,
        Command::shell("sort -u /srv/up/many | wc -l; wc -c < /srv/up/many"),
    )
    .await;
    assert_eq!(
        out.stdout_text(),
        format!("1\n{}", 1 << 20),
        "one whole upload"
    );
    let listing = run(node, ["ls", "-A", "/srv/up"]).await.stdout_text();
    assert_eq!(
        listing, "many\ntarget\ntarget.dcos-e2e-partial",
        "no temporary file is left"
    );

    fx.finish().await;
}
