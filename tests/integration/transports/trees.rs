//! Directories both ways (modes and links kept), and copies as another user or through
//! sudo.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use dcos_e2e::{Command, CopyOptions, Error, TransportKind};

use super::users::add_user;
use super::{Fixture, text};

both_transports!(directories_round_trip, copies_as_a_user_or_through_sudo);

/// A small tree: nested directories, several modes, an empty directory, links inside
/// and outside it.
fn make_tree(root: &Path) {
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::write(root.join("run.sh"), "#!/bin/sh\necho run\n").unwrap();
    std::fs::set_permissions(root.join("run.sh"), PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(root.join("sub/secret"), "s3cret").unwrap();
    std::fs::set_permissions(root.join("sub/secret"), PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::write(root.join("sub/deeper/data.bin"), vec![7u8; 100_000]).unwrap();
    std::os::unix::fs::symlink("sub/secret", root.join("link-inside")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", root.join("link-outside")).unwrap();
}

/// `path type mode [link target]` for every entry, sorted: what a copy must keep.
fn listing(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.file_type().is_symlink() {
                out.push(format!(
                    "{rel} link {}",
                    std::fs::read_link(&path).unwrap().display()
                ));
            } else if meta.is_dir() {
                out.push(format!("{rel} dir {mode:o}"));
                stack.push(path);
            } else {
                let digest = std::fs::read(&path).unwrap().len();
                out.push(format!("{rel} file {mode:o} {digest}"));
            }
        }
    }
    out.sort();
    out
}

async fn directories_round_trip(kind: TransportKind) {
    let f = Fixture::new(kind).await;
    let node = f.node();
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    make_tree(&tree);
    node.send_file(&tree, "/root/copied/tree").await.unwrap();
    // On the node: the same entries, modes and links (links not followed).
    let remote = node
        .run(Command::shell(
            "cd /root/copied/tree && find . -mindepth 1 | sort | while read -r p; do \
             if [ -L \"$p\" ]; then echo \"${p#./} link $(readlink \"$p\")\"; \
             elif [ -d \"$p\" ]; then echo \"${p#./} dir $(stat -c %a \"$p\")\"; \
             else echo \"${p#./} file $(stat -c %a \"$p\") $(stat -c %s \"$p\")\"; fi; done",
        ))
        .await
        .unwrap();
    let mut on_node: Vec<String> = text(&remote.stdout).lines().map(str::to_string).collect();
    on_node.sort();
    assert_eq!(on_node, listing(&tree));
    // Back again: the same tree.
    let back = dir.path().join("back");
    node.download_file("/root/copied/tree", &back)
        .await
        .unwrap();
    assert_eq!(listing(&back), listing(&tree));
    assert_eq!(std::fs::read(back.join("sub/secret")).unwrap(), b"s3cret");

    // Sent again, into the existing directory: merged.
    std::fs::write(tree.join("new.txt"), "new").unwrap();
    node.send_file(&tree, "/root/copied/tree").await.unwrap();
    let new = node
        .run(["cat", "/root/copied/tree/new.txt"])
        .await
        .unwrap();
    assert_eq!(new.stdout_text(), "new");

    // A directory over a file is refused, and leaves the file.
    node.run(Command::shell("echo keep > /root/plain"))
        .await
        .unwrap();
    let err = node.send_file(&tree, "/root/plain").await.unwrap_err();
    assert!(err.to_string().contains("is not a directory"), "{err}");
    let kept = node.run(["cat", "/root/plain"]).await.unwrap();
    assert_eq!(kept.stdout_text(), "keep");
    // And downloading a directory over a local file.
    let local_file = dir.path().join("a-file");
    std::fs::write(&local_file, "mine").unwrap();
    let err = node
        .download_file("/root/copied/tree", &local_file)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&local_file).unwrap(), "mine");
    f.finish().await;
}

async fn copies_as_a_user_or_through_sudo(kind: TransportKind) {
    let f = Fixture::new(kind).await;
    let node = f.node();
    add_user(node, "alice", true).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("note.txt");
    std::fs::write(&file, "hello").unwrap();
    let owner = |path: &'static str| async move {
        node.run(["stat", "-c", "%U", path])
            .await
            .unwrap()
            .stdout_text()
    };

    let alice = CopyOptions::new().user("alice");
    node.send_file_with(&file, "/home/alice/note.txt", &alice)
        .await
        .unwrap();
    assert_eq!(owner("/home/alice/note.txt").await, "alice");
    // A place only root may write: refused as alice, done through sudo.
    let err = node
        .send_file_with(&file, "/etc/dcos-e2e-note.txt", &alice)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err}");
    node.send_file_with(&file, "/etc/dcos-e2e-note.txt", &alice.clone().sudo(true))
        .await
        .unwrap();
    assert_eq!(owner("/etc/dcos-e2e-note.txt").await, "root");
    // A directory, as alice.
    let tree = dir.path().join("tree");
    make_tree(&tree);
    node.send_file_with(&tree, "/home/alice/tree", &alice)
        .await
        .unwrap();
    assert_eq!(owner("/home/alice/tree/sub/secret").await, "alice");
    // Downloads as alice see what alice may read.
    node.run(Command::shell(
        "echo private > /root/private && chmod 600 /root/private",
    ))
    .await
    .unwrap();
    let err = node
        .download_file_with("/root/private", dir.path().join("p"), &alice)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err}");
    node.download_file_with(
        "/root/private",
        dir.path().join("p"),
        &alice.clone().sudo(true),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("p")).unwrap(),
        "private\n"
    );
    f.finish().await;
}
