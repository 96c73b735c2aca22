//! File transfers: a large file streamed both ways, small files, modes and errors.

use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use dcos_e2e::{Error, Node, TransportKind};
use sha2::{Digest, Sha256};
use tokio::time::timeout;

use super::{Fixture, PATIENCE};

both_transports!(large_file_round_trip, small_files_and_errors);

/// Write `size` random bytes to `path` with `mode`; returns the SHA-256.
fn write_random(path: &Path, size: usize, mode: u32) -> String {
    use rand::RngCore;
    use std::os::unix::fs::PermissionsExt;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut rng = rand::rng();
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len());
        rng.fill_bytes(&mut buf[..n]);
        hash.update(&buf[..n]);
        file.write_all(&buf[..n]).unwrap();
        left -= n;
    }
    file.flush().unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    hex::encode(hash.finalize())
}

fn sha256_file(path: &Path) -> String {
    let mut file = std::fs::File::open(path).unwrap();
    let mut hash = Sha256::new();
    std::io::copy(&mut file, &mut hash).unwrap();
    hex::encode(hash.finalize())
}

fn local_mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

async fn remote_mode(node: &Node, path: &str) -> String {
    node.run(["stat", "-c", "%a", path])
        .await
        .unwrap()
        .stdout_text()
}

/// The peak resident memory of this process (`VmHWM`), in MiB.
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024
}

async fn large_file_round_trip(kind: TransportKind) {
    const SIZE: usize = 500 * 1024 * 1024;
    let fx = Fixture::new(kind).await;
    let node = fx.node();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("big.bin");
    let sha = {
        let local = local.clone();
        tokio::task::spawn_blocking(move || write_random(&local, SIZE, 0o640))
            .await
            .unwrap()
    };

    // /opt is on the node's disk (a volume), not tmpfs; the parents do not exist yet.
    let remote = "/opt/dcos-e2e-test/big/file.bin";
    let started = Instant::now();
    node.send_file(&local, remote).await.unwrap();
    let sent = started.elapsed();
    let out = node.run(["sha256sum", remote]).await.unwrap();
    assert_eq!(
        out.stdout_text().split_whitespace().next(),
        Some(sha.as_str())
    );
    assert_eq!(remote_mode(node, remote).await, "640");
    let listing = node
        .run(["ls", "-A", "/opt/dcos-e2e-test/big"])
        .await
        .unwrap();
    assert_eq!(listing.stdout_text(), "file.bin", "no partial file is left");

    let back = dir.path().join("back.bin");
    let started = Instant::now();
    node.download_file(remote, &back).await.unwrap();
    let fetched = started.elapsed();
    assert_eq!(local_mode(&back), 0o640);
    let back_sha = tokio::task::spawn_blocking(move || sha256_file(&back))
        .await
        .unwrap();
    assert_eq!(back_sha, sha, "the file came back changed");

    let mb = (SIZE / (1024 * 1024)) as f64;
    eprintln!(
        "{kind}: 500 MiB send_file {sent:.2?} ({:.0} MiB/s), download_file {fetched:.2?} ({:.0} MiB/s), peak RSS {} MiB",
        mb / sent.as_secs_f64(),
        mb / fetched.as_secs_f64(),
        peak_rss_mib()
    );
    // Streamed, not loaded: the process never held the file.
    assert!(
        peak_rss_mib() < 300,
        "peak RSS {} MiB: a transfer was buffered in memory",
        peak_rss_mib()
    );

    fx.finish().await;
}

async fn small_files_and_errors(kind: TransportKind) {
    let fx = Fixture::new(kind).await;
    let node = fx.node();
    let dir = tempfile::tempdir().unwrap();
    let ip = node.ip_address().to_string();

    // Parents are made, the mode is kept (executable here), and an existing file is
    // replaced with the new content and mode.
    let script = dir.path().join("hello.sh");
    std::fs::write(&script, "#!/bin/sh\necho \"hello $1\"\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let remote = "/usr/local/dcos-e2e/deeply/nested/dir/hello.sh";
    node.send_file(&script, remote).await.unwrap();
    assert_eq!(remote_mode(node, remote).await, "755");
    let out = node.run([remote, "world"]).await.unwrap();
    assert_eq!(out.stdout_text(), "hello world");
    let data = dir.path().join("data");
    std::fs::write(&data, "replaced").unwrap();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    node.send_file(&data, remote).await.unwrap();
    assert_eq!(remote_mode(node, remote).await, "600");
    assert_eq!(
        node.run(["cat", remote]).await.unwrap().stdout_text(),
        "replaced"
    );
    // An empty file, and a name with spaces and quotes.
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "").unwrap();
    let odd = "/tmp/dir with space/it's \"odd\".txt";
    node.send_file(&empty, odd).await.unwrap();
    let size = node.run(["stat", "-c", "%s", odd]).await.unwrap();
    assert_eq!(size.stdout_text(), "0");
    let back = dir.path().join("odd-back");
    node.download_file(odd, &back).await.unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), b"");
    // download keeps the remote mode.
    node.run(["chmod", "0751", odd]).await.unwrap();
    node.download_file(odd, &back).await.unwrap();
    assert_eq!(local_mode(&back), 0o751);

    // A missing local file: an I/O error naming it, before anything is sent.
    let missing = dir.path().join("no-such-file");
    let err = node.send_file(&missing, "/tmp/never").await.unwrap_err();
    match &err {
        Error::Io { path, .. } => assert_eq!(path, &missing),
        other => panic!("expected Error::Io, got {other:?}"),
    }
    assert!(err.to_string().contains("no-such-file"), "{err}");
    assert!(
        node.output(["test", "-e", "/tmp/never"])
            .await
            .unwrap()
            .status
            != 0,
        "nothing was created on the node"
    );

    // A remote path that cannot be written: an error naming the node and the path.
    for remote in ["/proc/dcos-e2e/file", "/proc/file", "/etc/hostname/file"] {
        let err = timeout(PATIENCE, node.send_file(&data, remote))
            .await
            .expect("no hang")
            .unwrap_err();
        let message = dcos_e2e::chain(&err);
        assert!(
            matches!(err, Error::Transport { .. }),
            "{remote}: expected Error::Transport, got {err:?}"
        );
        assert!(message.contains(remote), "{remote} not in {message:?}");
        assert!(message.contains(&ip), "{ip} not in {message:?}");
    }

    // A remote path that is a directory: refused, and the directory left alone.
    let err = node
        .send_file(&data, "/tmp/dir with space")
        .await
        .unwrap_err();
    let message = dcos_e2e::chain(&err);
    assert!(message.contains("/tmp/dir with space"), "{message}");
    let listing = node.run(["ls", "-A", "/tmp/dir with space"]).await.unwrap();
    assert_eq!(listing.stdout_text(), "it's \"odd\".txt");

    // A missing remote file: an error naming it, and no local file made.
    let target = dir.path().join("fetched");
    let err = node
        .download_file("/no/such/remote", &target)
        .await
        .unwrap_err();
    let message = dcos_e2e::chain(&err);
    assert!(message.contains("/no/such/remote"), "{message}");
    assert!(message.contains(&ip), "{message}");
    assert!(!target.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        4,
        "no partial file"
    );
    // A remote directory comes as a directory (transports::trees has the details),
    // and nothing else is left beside it.
    node.download_file("/etc/ssh", &target).await.unwrap();
    assert!(target.join("sshd_config").is_file());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        5,
        "no partial file"
    );

    // Remote paths must be absolute.
    let err = node.send_file(&data, "relative/x").await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidParameter { value, .. } if value == "relative/x"),
        "{err:?}"
    );

    fx.finish().await;
}
