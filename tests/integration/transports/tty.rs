//! Standard input for `popen` (a writer the caller feeds and closes) and commands on a
//! pseudo-terminal (`Command::tty`): one merged output stream, keys, resizing, the exit
//! status; bad input refused before anything reaches the node.

use dcos_e2e::{Command, Error, OutputStream, TransportKind, Tty};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

use super::{Fixture, PATIENCE, sh, text, wait_for_processes};

both_transports!(
    stdin_feeds_and_closes,
    shell_on_a_tty,
    run_on_a_tty_and_bad_input
);

async fn stdin_feeds_and_closes(kind: TransportKind) {
    let fx = Fixture::new(kind).await;
    let node = fx.node();

    // What is written arrives; shutting it down is the end of the input.
    let mut p = node
        .popen(sh("cat; echo \"done $?\"", &[]).stdin(true))
        .await
        .unwrap();
    assert!(!p.has_tty());
    let mut input = p.stdin().expect("asked for");
    assert!(p.stdin().is_none(), "taken once");
    input.write_all(b"hel").await.unwrap();
    input.write_all(b"lo\n").await.unwrap();
    input.shutdown().await.unwrap();
    let out = timeout(PATIENCE, p.wait()).await.unwrap().unwrap();
    assert_eq!(text(&out.stdout), "hello\ndone 0\n");
    assert!(input.write_all(b"late").await.is_err(), "closed");

    // A megabyte goes through whole; dropping the writer closes it too.
    let mut p = node
        .popen(Command::new(["wc", "-c"]).stdin(true))
        .await
        .unwrap();
    let mut input = p.stdin().unwrap();
    input.write_all(&vec![b'x'; 1 << 20]).await.unwrap();
    drop(input);
    let out = timeout(PATIENCE, p.wait()).await.unwrap().unwrap();
    assert_eq!(text(&out.stdout).trim(), "1048576");

    // Not taken: wait closes it, so a reader does not wait for input that cannot come.
    let mut p = node.popen(Command::new(["cat"]).stdin(true)).await.unwrap();
    let out = timeout(PATIENCE, p.wait()).await.unwrap().unwrap();
    assert_eq!(out.status, 0);

    // Without it, a command reads end of file at once, over both transports.
    let mut p = node.popen(Command::new(["cat"])).await.unwrap();
    assert!(p.stdin().is_none());
    let out = timeout(PATIENCE, p.wait()).await.unwrap().unwrap();
    assert_eq!((out.status, out.stdout.len()), (0, 0));
    let out = timeout(PATIENCE, node.run(sh("cat; echo read-eof", &[])))
        .await
        .expect("run closes the input")
        .unwrap();
    assert_eq!(out.stdout_text(), "read-eof");

    fx.finish().await;
}

/// Read `out` into `seen` until it holds `want`.
async fn read_until(out: &mut OutputStream, seen: &mut String, want: &str) {
    let mut buf = [0u8; 4096];
    let found = timeout(PATIENCE, async {
        while !seen.contains(want) {
            let n = out.read(&mut buf).await.unwrap();
            assert!(n > 0, "the output ended before {want:?}: {seen:?}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
    .await;
    assert!(found.is_ok(), "no {want:?} in {seen:?}");
}

async fn shell_on_a_tty(kind: TransportKind) {
    let fx = Fixture::new(kind).await;
    let node = fx.node();
    let cmd = Command::new(["bash", "--norc", "--noprofile"])
        .env("PS1", "P> ")
        .tty(Tty::new(100, 30).term("vt100"))
        .stdin(true);
    let mut p = node.popen(cmd).await.unwrap();
    assert!(p.has_tty());
    assert!(p.stderr().is_none(), "a terminal has one stream");
    let mut out = p.stdout().unwrap();
    let mut keys = p.stdin().unwrap();
    let mut seen = String::new();

    // The terminal's type and size; errors on the same stream; the terminal echoes.
    keys.write_all(b"echo $TERM $(stty size) $((6*7)) >&2; test -t 0 && echo on-a-tty\r")
        .await
        .unwrap();
    read_until(&mut out, &mut seen, "vt100 30 100 42\r\non-a-tty\r\n").await;
    assert!(seen.contains("P> echo $TERM"), "echoed: {seen:?}");
    assert!(!seen.contains("dcos-e2e-pid"), "{seen:?}");

    // Resized, the next command sees the new size.
    p.resize(120, 40).await.unwrap();
    keys.write_all(b"echo size=$(stty size)\r").await.unwrap();
    read_until(&mut out, &mut seen, "size=40 120\r\n").await;

    // Ctrl-C stops the program in the foreground, and the shell goes on.
    keys.write_all(b"sleep 4243\r").await.unwrap();
    wait_for_processes(node, "^sleep 4243$", 1).await;
    keys.write_all(b"\x03").await.unwrap();
    keys.write_all(b"echo rc=$?\r").await.unwrap();
    read_until(&mut out, &mut seen, "rc=130\r\n").await;
    wait_for_processes(node, "^sleep 4243$", 0).await;

    // Its exit status; resizing after the end does nothing.
    keys.write_all(b"exit 3\r").await.unwrap();
    let ended = timeout(PATIENCE, p.wait()).await.unwrap().unwrap();
    assert_eq!(ended.status, 3, "{ended:?}");
    p.resize(80, 24)
        .await
        .expect("after the end: nothing to do");
    drop(keys);

    // A program's own read of the terminal: what is typed, echoed.
    let mut p = node
        .popen(
            sh("read line; exit $line", &[])
                .tty(Tty::new(80, 24))
                .stdin(true),
        )
        .await
        .unwrap();
    let mut keys = p.stdin().unwrap();
    keys.write_all(b"3\r").await.unwrap();
    let ended = timeout(PATIENCE, p.wait()).await.unwrap().unwrap();
    assert_eq!(ended.status, 3);
    assert_eq!(text(&ended.stdout), "3\r\n", "the echo of the typed line");

    fx.finish().await;
}

async fn run_on_a_tty_and_bad_input(kind: TransportKind) {
    let fx = Fixture::new(kind).await;
    let node = fx.node();

    // `run` and `output` on a terminal: one stream, as a terminal shows it.
    let out = node
        .run(
            sh(
                "stty size; echo err >&2; test -t 0 && test -t 1 && test -t 2 && echo tty",
                &[],
            )
            .tty(Tty::new(90, 20)),
        )
        .await
        .unwrap();
    assert_eq!(text(&out.stdout), "20 90\r\nerr\r\ntty\r\n");
    assert!(out.stderr.is_empty());
    let out = node
        .output(sh("exit 7", &[]).tty(Tty::new(80, 24)))
        .await
        .unwrap();
    assert_eq!(out.status, 7);

    // Bad terminals are refused before anything runs.
    for bad in [
        Tty::new(0, 24),
        Tty::new(80, 0),
        Tty::new(80, 24).term("x y"),
    ] {
        let cmd = Command::new(["true"]).tty(bad.clone());
        for err in [
            node.popen(cmd.clone()).await.unwrap_err(),
            node.run(cmd).await.unwrap_err(),
        ] {
            assert!(
                matches!(
                    &err,
                    Error::InvalidParameter {
                        parameter: dcos_e2e::Parameter::Tty,
                        ..
                    }
                ),
                "{bad:?}: {err:?}"
            );
        }
    }
    // Resizing a process without a terminal, or to nothing.
    let mut plain = node.popen(Command::new(["sleep", "4244"])).await.unwrap();
    let err = plain.resize(80, 24).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::InvalidParameter {
                parameter: dcos_e2e::Parameter::Tty,
                ..
            }
        ),
        "{err:?}"
    );
    plain.kill().await.unwrap();
    timeout(PATIENCE, plain.wait()).await.unwrap().unwrap();
    let mut tty = node
        .popen(Command::new(["sleep", "4245"]).tty(Tty::new(80, 24)))
        .await
        .unwrap();
    let err = tty.resize(0, 24).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::InvalidParameter {
                parameter: dcos_e2e::Parameter::Tty,
                ..
            }
        ),
        "{err:?}"
    );
    tty.kill().await.unwrap();
    let killed = timeout(PATIENCE, tty.wait()).await.unwrap().unwrap();
    assert_eq!(killed.status, 137);

    fx.finish().await;
}

/// The blocking facade: a writer for stdin, resize on a terminal.
#[test]
fn blocking_stdin_and_tty() {
    use std::io::{Read, Write};
    let cluster = crate::common::one_master();
    let node = &cluster.masters()[0];
    let mut p = node.popen(Command::new(["wc", "-c"]).stdin(true)).unwrap();
    let mut input = p.stdin().unwrap();
    input.write_all(b"four").unwrap();
    drop(input);
    assert_eq!(p.wait().unwrap().stdout_text().trim(), "4");

    let mut p = node
        .popen(
            sh("read x; stty size", &[])
                .tty(Tty::new(80, 24))
                .stdin(true),
        )
        .unwrap();
    assert!(p.has_tty());
    p.resize(132, 43).unwrap();
    let mut keys = p.stdin().unwrap();
    keys.write_all(b"go\r").unwrap();
    keys.flush().unwrap();
    let mut all = String::new();
    p.stdout().unwrap().read_to_string(&mut all).unwrap();
    assert_eq!(all, "go\r\n43 132\r\n");
    assert_eq!(p.wait().unwrap().status, 0);
    drop(keys);
    let id = cluster.id().to_string();
    cluster.destroy().unwrap();
    crate::common::assert_gone(&id, None);
}
