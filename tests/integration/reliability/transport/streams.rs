//! Streams and processes: an unread stream stalls nothing else on the node, and `kill`
//! after exit signals nobody.

use dcos_e2e::{Command, TransportKind};
use tokio::io::AsyncReadExt;
use tokio::time::timeout;

use super::{Fixture, PATIENCE, run};
use crate::reliability::Case;

both_transports!(
    unread_stream_stalls_nothing_else,
    kill_after_exit_signals_nobody,
);

/// The peak resident memory of this process (`VmHWM`), in MiB.
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024
}

/// A process whose stderr nobody reads (`yes` to stderr: a chatty server) must not stall
/// the node's other commands: before, the SSH reader blocked on its full queue, russh's
/// loop behind it, and with it every channel of the connection (runs in flight hung,
/// new ones failed with a false `Timeout`). The unread process is paused instead, and
/// its output is still there when it is read.
async fn unread_stream_stalls_nothing_else(kind: TransportKind) {
    let _case = Case::new(match kind {
        TransportKind::Ssh => "unread popen stream, other commands (ssh)",
        _ => "unread popen stream, other commands (docker exec)",
    });
    let fx = Fixture::new(kind).await;
    let node = fx.node();
    run(node, ["true"]).await;

    // A command in flight when the flood starts, and the flood, read by nobody.
    let in_flight = {
        let node = node.clone();
        tokio::spawn(async move { node.run(Command::shell("sleep 1; echo in-flight")).await })
    };
    let mut chatty = node.popen(Command::shell("yes chatter >&2")).await.unwrap();
    let mut err = chatty.stderr().expect("stderr not taken yet");
    // Far more output than any buffer between it and us before going on.
    let mut first = vec![0u8; 8];
    timeout(PATIENCE, err.read_exact(&mut first))
        .await
        .expect("the flood starts")
        .unwrap();
    assert_eq!(&first, b"chatter\n");

    for i in 0..50 {
        let out = timeout(PATIENCE, node.run(["echo", &i.to_string()]))
            .await
            .unwrap_or_else(|_| panic!("run {i} hangs behind the unread stream"))
            .unwrap_or_else(|e| panic!("run {i}: {}", dcos_e2e::chain(&e)));
        assert_eq!(out.stdout_text(), i.to_string());
    }
    let many = (0..10).map(|_| timeout(PATIENCE, node.run(["true"])));
    for r in futures_util::future::join_all(many).await {
        r.expect("no hang").unwrap();
    }
    let done = timeout(PATIENCE, in_flight)
        .await
        .expect("the run in flight ends")
        .unwrap()
        .unwrap();
    assert_eq!(done.stdout_text(), "in-flight");
    // A file transfer on the same node, too.
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("f");
    std::fs::write(&local, "payload").unwrap();
    timeout(PATIENCE, node.send_file(&local, "/root/f"))
        .await
        .expect("no hang")
        .unwrap();
    timeout(
        PATIENCE,
        node.download_file("/root/f", dir.path().join("g")),
    )
    .await
    .expect("no hang")
    .unwrap();
    assert_eq!(std::fs::read(dir.path().join("g")).unwrap(), b"payload");

    // Paused, not buffered without end: memory stayed small while it flooded.
    let peak = peak_rss_mib();
    eprintln!("{kind}: peak RSS {peak} MiB with an unread flood");
    assert!(
        peak < 300,
        "peak RSS {peak} MiB: the unread output was buffered"
    );
    // And nothing was lost: the stream goes on where it was left.
    let mut more = vec![0u8; 8 * 1000];
    timeout(PATIENCE, err.read_exact(&mut more))
        .await
        .expect("the stream still flows")
        .unwrap();
    assert!(
        more.chunks(8).all(|c| c == b"chatter\n"),
        "the stream is intact"
    );
    drop(err);
    timeout(PATIENCE, chatty.kill()).await.unwrap().unwrap();
    let ended = timeout(PATIENCE, chatty.wait()).await.unwrap().unwrap();
    assert_eq!(ended.status, 137);

    fx.finish().await;
}

/// `kill` once the exit status is known signals nothing. Before, it stopped and killed
/// whatever process had the pid by then; here a process is made to get that pid
/// (`ns_last_pid`, through a proc mount of our own: the container's `/proc/sys` is
/// read-only) and must survive the `kill`.
async fn kill_after_exit_signals_nobody(kind: TransportKind) {
    let _case = Case::new(match kind {
        TransportKind::Ssh => "kill after exit, pid reused (ssh)",
        _ => "kill after exit, pid reused (docker exec)",
    });
    let fx = Fixture::new(kind).await;
    let node = fx.node();
    run(
        node,
        Command::shell("mkdir -p /run/p && mount -t proc proc /run/p"),
    )
    .await;

    let mut ended = node.popen(["true"]).await.unwrap();
    let pid = ended.pid();
    let out = timeout(PATIENCE, ended.wait()).await.unwrap().unwrap();
    assert_eq!(out.status, 0);

    // Another process takes the pid (other processes may fork in between: try again).
    let take = format!(
        "echo {} > /run/p/sys/kernel/ns_last_pid; setsid sleep 3040 </dev/null >/dev/null 2>&1 & echo $!",
        pid - 1
    );
    let mut taken = false;
    for _ in 0..50 {
        let got = run(node, Command::shell(take.clone())).await.stdout_text();
        if got == pid.to_string() {
            taken = true;
            break;
        }
        run(node, ["kill", "-KILL", &got]).await;
    }
    assert!(taken, "no process could be given pid {pid}");
    let alive = |pid: u32| {
        let node = node.clone();
        async move {
            node.output([
                "sh",
                "-c",
                &format!("cat /proc/{pid}/cmdline | tr '\\0' ' '"),
            ])
            .await
            .unwrap()
            .stdout_text()
        }
    };
    assert_eq!(alive(pid).await, "sleep 3040 ");

    timeout(PATIENCE, ended.kill())
        .await
        .expect("no hang")
        .expect("kill after exit is not an error");
    assert_eq!(
        alive(pid).await,
        "sleep 3040 ",
        "kill after exit signalled the process that now has pid {pid}"
    );
    run(node, ["kill", "-KILL", &pid.to_string()]).await;
    run(node, ["umount", "/run/p"]).await;

    fx.finish().await;
}
