//! Node operations over both transports. Every case is written once, as an async
//! function of the [`TransportKind`], and instantiated for SSH and for docker exec by
//! `both_transports!` (tests `transports::ssh::<case>` and
//! `transports::docker_exec::<case>`). Each case uses one single-master cluster.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command as Proc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dcos_e2e::{
    Cluster, ClusterBuilder, Command, CommandFailed, Docker, Error, Node, TransportKind,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::timeout;

use crate::common::{self, docker_cli};

macro_rules! both_transports {
    ($($case:ident),* $(,)?) => {
        mod ssh {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $case() {
                    super::$case(dcos_e2e::TransportKind::Ssh).await
                }
            )*
        }
        mod docker_exec {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $case() {
                    super::$case(dcos_e2e::TransportKind::DockerExec).await
                }
            )*
        }
    };
}

both_transports!(
    exit_codes_and_streams,
    arguments_env_and_shell_form,
    non_root_user_and_sudo,
    concurrent_runs,
    popen_streams_and_kill,
    large_file_round_trip,
    small_files_and_errors,
    stopped_node,
    frozen_node,
    dropped_connection,
    log_output_live,
);

/// Far above anything that should take a second; a hang fails instead of blocking CI.
const PATIENCE: Duration = Duration::from_secs(60);

/// The Docker backend on the shared node image (the image check blocks, so off the
/// runtime).
async fn docker(kind: TransportKind) -> Docker {
    tokio::task::spawn_blocking(common::docker)
        .await
        .expect("node image is available")
        .transport(kind)
}

/// One master and nothing else (enough for node operations; ~2 s to provision), with
/// its id and workspace kept to check that nothing is left.
struct Fixture {
    cluster: Option<Cluster>,
    id: String,
    workspace: Option<PathBuf>,
}

impl Fixture {
    async fn new(kind: TransportKind) -> Self {
        Self::build(docker(kind).await, |b| b).await
    }

    async fn with(docker: Docker) -> Self {
        Self::build(docker, |b| b).await
    }

    async fn build(docker: Docker, tweak: impl FnOnce(ClusterBuilder) -> ClusterBuilder) -> Self {
        let builder = Cluster::builder(docker)
            .masters(1)
            .agents(0)
            .public_agents(0);
        let cluster = tweak(builder)
            .provision()
            .await
            .expect("a one-master cluster provisions");
        Self {
            id: cluster.id().to_string(),
            workspace: cluster.workspace().map(Path::to_path_buf),
            cluster: Some(cluster),
        }
    }

    fn node(&self) -> &Node {
        &self.cluster.as_ref().expect("cluster is up").masters()[0]
    }

    /// Destroy the cluster and check nothing of it is left, and that its nodes say so.
    async fn finish(mut self) {
        let cluster = self.cluster.take().expect("cluster is up");
        let node = cluster.masters()[0].clone();
        cluster.destroy().await.expect("cluster destroys");
        drop(cluster);
        common::assert_gone(&self.id, self.workspace.as_deref());
        let err = node.run(["true"]).await.unwrap_err();
        assert!(
            matches!(&err, Error::Destroyed { cluster_id } if *cluster_id == self.id),
            "{err:?}"
        );
    }
}

fn command_failed(err: Error) -> Box<CommandFailed> {
    match err {
        Error::CommandFailed(f) => f,
        other => panic!("expected Error::CommandFailed, got {other:?}"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `sh -c SCRIPT` with `$1`, `$2`… given as arguments.
fn sh(script: &str, args: &[&str]) -> Command {
    let mut all = vec!["sh", "-c", script, "sh"];
    all.extend_from_slice(args);
    Command::new(all)
}

/// The number of processes on the node whose command line matches `pattern` (an ERE;
/// anchor it or write one letter as `[x]` so that it does not match the pgrep itself
/// or the shell running it).
async fn count_processes(node: &Node, pattern: &str) -> usize {
    let out = node
        .output(["pgrep", "-f", pattern])
        .await
        .expect("pgrep runs");
    assert!(out.status <= 1, "pgrep failed: {out:?}");
    out.stdout_text().lines().count()
}

/// Wait until exactly `n` processes match: output can arrive before the commands after
/// it have started, and killed processes take a moment to be gone. A process that is
/// really left behind (these sleep for most of an hour) still fails.
async fn wait_for_processes(node: &Node, pattern: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let count = count_processes(node, pattern).await;
        if count == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{count} processes match {pattern:?}, expected {n}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------

async fn exit_codes_and_streams(kind: TransportKind) {
    let fx = Fixture::new(kind).await;
    let node = fx.node();

    let ok = node.run(["true"]).await.expect("true succeeds");
    assert_eq!(ok.status, 0);
    assert!(ok.stdout.is_empty() && ok.stderr.is_empty(), "{ok:?}");

    // A failure carries the command, status and both streams.
    let script = "echo to-out; echo to-err >&2; exit 1";
    let err = node.run(["sh", "-c", script]).await.unwrap_err();
    assert_eq!(err.exit_status(), Some(1));
    let message = err.to_string();
    let failed = command_failed(err);
    assert_eq!(failed.status, 1);
    assert_eq!(text(&failed.stdout), "to-out\n");
    assert_eq!(text(&failed.stderr), "to-err\n");
    assert_eq!(failed.command, format!("'sh' '-c' '{script}'"));
    assert!(
        failed.node.contains(&node.ip_address().to_string()),
        "{}",
        failed.node
    );
    for part in ["status 1", failed.command.as_str(), "to-err"] {
        assert!(message.contains(part), "{part:?} not in {message:?}");
    }
    // The command can be pasted into a shell on the node and does the same.
    let again = node
        .output(Command::shell(failed.command.clone()))
        .await
        .unwrap();
    assert_eq!(
        (again.status, again.stdout, again.stderr),
        (1, failed.stdout.clone(), failed.stderr.clone())
    );

    // Killed by SIGKILL: 128 + 9.
    let killed = node.run(["sh", "-c", "kill -9 $$"]).await.unwrap_err();
    assert_eq!(command_failed(killed).status, 137);

    // `output` returns whatever the status is.
    let out = node.output(["sh", "-c", "exit 42"]).await.unwrap();
    assert_eq!(out.status, 42);
    assert!(!out.success());

    // stderr is captured apart from stdout, even when they interleave.
    let out = node
        .run(sh(
            "i=0; while [ $i -lt 2000 ]; do i=$((i+1)); echo out$i; echo err$i >&2; done",
            &[],
        ))
        .await
        .unwrap();
    let expect = |p: &str| (1..=2000).map(|i| format!("{p}{i}\n")).collect::<String>();
    assert_eq!(text(&out.stdout), expect("out"));
    assert_eq!(text(&out.stderr), expect("err"));

    // Large output on both streams at once (neither blocks the other), intact.
    let out = node
        .run(sh(
            "head -c 20000000 /dev/zero >&2 & head -c 50000000 /dev/zero | tr '\\0' x; wait",
            &[],
        ))
        .await
        .unwrap();
    assert_eq!(out.stdout.len(), 50_000_000);
    assert!(out.stdout.iter().all(|&b| b == b'x'));
    assert_eq!(out.stderr.len(), 20_000_000);

    // Binary output arrives unchanged.
    let out = node
        .run(sh("printf '\\000\\001\\377\\n\\r'", &[]))
        .await
        .unwrap();
    assert_eq!(out.stdout, b"\x00\x01\xff\n\r");

    fx.finish().await;
}

const INJECTED: &str = "/tmp/dcos-e2e-injected";

/// Arguments a shell would interpret if they were not quoted.
fn hostile_arguments() -> Vec<String> {
    vec![
        format!("a; touch {INJECTED}"),
        format!("b && touch {INJECTED}"),
        format!("$(touch {INJECTED})"),
        format!("`touch {INJECTED}`"),
        format!("| touch {INJECTED}"),
        format!("> {INJECTED}"),
        r#"it's "double" 'single' \ back\slash"#.to_string(),
        "two  spaces\tand a tab".to_string(),
        "line1\nline2\n".to_string(),
        "*".to_string(),
        "$HOME ${PATH} $1 !! ~".to_string(),
        "--".to_string(),
        String::new(),
    ]
}

/// Run `printf '%s\0' ARGS...` and check each argument came back exactly.
async fn assert_arguments_literal(
    node: &Node,
    args: &[String],
    tweak: impl Fn(Command) -> Command,
) {
    let mut argv = vec!["printf".to_string(), "%s\\0".to_string()];
    argv.extend(args.iter().cloned());
    let out = node.run(tweak(Command::new(argv))).await.unwrap();
    let got: Vec<String> = out.stdout.split(|&b| b == 0).map(text).collect::<Vec<_>>();
    // printf ends every argument with NUL, so the split ends with an empty piece.
    assert_eq!(&got[..got.len() - 1], args);
    assert_eq!(got.last().map(String::as_str), Some(""));
    assert_not_injected(node).await;
}

async fn assert_not_injected(node: &Node) {
    node.run(["test", "!", "-e", INJECTED])
        .await
        .unwrap_or_else(|e| panic!("{INJECTED} was created: an argument was interpreted ({e})"));
}

/// Parse `env -0` output.
fn env_of(output: &[u8]) -> Vec<(String, String)> {
    output
        .split(|&b| b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let e = text(e);
            let (k, v) = e.split_once('=').expect("KEY=VALUE");
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn env_values() -> Vec<(&'static str, String)> {
    vec![
        ("SPACES", "a b  c ".to_string()),
        ("QUOTES", r#"it's "double" 'single'"#.to_string()),
        (
            "DOLLAR",
            format!("$HOME ${{PATH}} $(touch {INJECTED}) `touch {INJECTED}` $$ \\$"),
        ),
        ("NEWLINES", "one\ntwo\n".to_string()),
        ("SEMI", format!("x; touch {INJECTED} && echo")),
        ("EMPTY", String::new()),
    ]
}

async fn assert_env_literal(node: &Node, tweak: impl Fn(Command) -> Command) {
    let values = env_values();
    let out = node
        .run(tweak(Command::new(["env", "-0"]).envs(values.clone())))
        .await
        .unwrap();
    let env = env_of(&out.stdout);
    for (key, value) in &values {
        let got = env.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        assert_eq!(got, Some(value), "{key}");
    }
    assert_not_injected(node).await;
}

async fn arguments_env_and_shell_form(kind: TransportKind) {
    let fx = Fixture::new(kind).await;
    let node = fx.node();

    assert_arguments_literal(node, &hostile_arguments(), |c| c).await;
    // A single argument with a space is one argument, not a command and its arguments.
    let err = node.run(["echo hello"]).await.unwrap_err();
    assert_eq!(err.exit_status(), Some(127), "{err}");

    // The shell form runs the script as written.
    let out = node
        .run(Command::shell("cd /tmp && pwd | tr a-z A-Z"))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "/TMP");
    let out = node
        .run(Command::shell(
            "x=$((6 * 7)); echo \"$x\" > /tmp/shell-form; cat /tmp/shell-form; false || echo fallback",
        ))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "42\nfallback");
    let err = node
        .run(Command::shell("true && exit 3"))
        .await
        .unwrap_err();
    assert_eq!(err.exit_status(), Some(3));

    // Environment values arrive literally, with arguments and with the shell form.
    assert_env_literal(node, |c| c).await;
    let out = node
        .run(Command::shell("printf '%s|%s' \"$DOLLAR\" \"$QUOTES\"").envs(env_values()))
        .await
        .unwrap();
    let values = env_values();
    assert_eq!(
        out.stdout_text(),
        format!("{}|{}", values[2].1, values[1].1)
    );
    // A bad variable name is refused before anything runs.
    let err = node
        .run(Command::new(["true"]).env("NOT A NAME", "1"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidParameter { parameter: "env", value, .. } if value == "NOT A NAME"),
        "{err:?}"
    );

    fx.finish().await;
}

/// Make a user on the node that logs in with the cluster's key; with `sudo`, give it
/// passwordless sudo.
async fn add_user(node: &Node, name: &str, sudo: bool) {
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

async fn concurrent_runs(kind: TransportKind) {
    let fx = Fixture::new(kind).await;
    let node = fx.node();
    node.run(["true"]).await.unwrap(); // connected

    // Each run reports when it started and ended on the node (ns clock) and echoes its
    // index on both streams.
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100 {
        let node = node.clone();
        tasks.spawn(async move {
            let script = "a=$(date +%s%N); sleep 1; echo \"$1 $a $(date +%s%N)\"; echo \"e$1\" >&2";
            (i, node.run(sh(script, &[&i.to_string()])).await)
        });
    }
    let mut spans = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (i, out) = joined.expect("task completes");
        let out = out.unwrap_or_else(|e| panic!("run {i} failed: {}", dcos_e2e::chain(&e)));
        let fields: Vec<u128> = out
            .stdout_text()
            .split(' ')
            .map(|f| f.parse().unwrap())
            .collect();
        assert_eq!(fields[0], i, "{out:?}");
        assert_eq!(out.stderr_text(), format!("e{i}"));
        spans.push((fields[1], fields[2]));
    }
    let elapsed = started.elapsed();
    assert_eq!(spans.len(), 100);
    // The most runs in progress at one moment on the node.
    let mut edges: Vec<(u128, i32)> = spans.iter().flat_map(|&(a, b)| [(a, 1), (b, -1)]).collect();
    edges.sort();
    let most = edges
        .iter()
        .scan(0, |n, &(_, d)| {
            *n += d;
            Some(*n)
        })
        .max()
        .unwrap();
    eprintln!("{kind}: 100 concurrent runs of `sleep 1` took {elapsed:?}, at most {most} at once");
    // One connection (SSH) or the daemon (docker exec) must not serialize them. docker
    // exec is paced by the daemon's exec setup (~20/s here), so not all 100 overlap.
    let floor = match kind {
        TransportKind::Ssh => 50,
        TransportKind::DockerExec => 10,
    };
    assert!(most >= floor, "at most {most} runs overlapped");

    // And 100 quick ones, for the latency under concurrency.
    let started = Instant::now();
    let runs = (0..100).map(|_| node.run(["true"]));
    for r in futures_util::future::join_all(runs).await {
        r.unwrap();
    }
    eprintln!("{kind}: 100 concurrent `true` took {:?}", started.elapsed());

    fx.finish().await;
}

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
    // Killing a finished process is harmless.
    p.kill().await.unwrap();

    fx.finish().await;
}

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
    // A remote directory cannot be downloaded as a file.
    let err = node.download_file("/etc", &target).await.unwrap_err();
    assert!(dcos_e2e::chain(&err).contains("/etc"), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        4,
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

    // A handle attached afterwards knows the node has no address and says so at once
    // (with SSH, never by reaching some other machine).
    let attached = Cluster::attach_docker(&fx.id, Some(kind)).await.unwrap();
    let err = attached.masters()[0].run(["true"]).await.unwrap_err();
    let message = dcos_e2e::chain(&err);
    let expected = match kind {
        TransportKind::Ssh => "no address",
        TransportKind::DockerExec => "not running",
    };
    assert!(message.contains(expected), "{message}");
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

/// Log lines captured by a test subscriber, with when they were written.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<(Instant, String)>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().push((Instant::now(), text(buf)));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<(Instant, String)> {
        self.0.lock().unwrap().clone()
    }

    fn take(&self) -> Vec<(Instant, String)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// The captured lines containing `needle`.
    fn find(&self, needle: &str) -> Vec<(Instant, String)> {
        self.lines()
            .into_iter()
            .filter(|(_, l)| l.contains(needle))
            .collect()
    }
}

async fn log_output_live(kind: TransportKind) {
    let captured = Captured::default();
    let writer = captured.clone();
    // Each nextest test is its own process, so a global subscriber is fine; the node
    // logs from whichever runtime thread polls it.
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init();

    let fx = Fixture::build(docker(kind).await, |b| b.log_output_live(true)).await;
    let node = fx.node();
    captured.take();

    // Each line is logged as it arrives, while the command still runs, and captured.
    let started = Instant::now();
    let out = node
        .run(sh(
            "echo live-early; echo live-err >&2; sleep 2; echo live-late; printf live-partial",
            &[],
        ))
        .await
        .unwrap();
    let ended = Instant::now();
    assert_eq!(out.stdout_text(), "live-early\nlive-late\nlive-partial");
    assert_eq!(out.stderr_text(), "live-err");
    let early = captured.find("live-early");
    assert_eq!(early.len(), 1, "{:?}", captured.lines());
    assert!(
        early[0].0 < ended - Duration::from_secs(1),
        "live-early was logged {:?} after the start, at the end ({:?})",
        early[0].0 - started,
        ended - started
    );
    assert!(early[0].1.contains("stdout"), "{}", early[0].1);
    assert!(
        early[0].1.contains(&node.ip_address().to_string()),
        "{}",
        early[0].1
    );
    let err = captured.find("live-err");
    assert_eq!(err.len(), 1);
    assert!(err[0].1.contains("stderr"), "{}", err[0].1);
    assert_eq!(captured.find("live-late").len(), 1);
    assert_eq!(
        captured.find("live-partial").len(),
        1,
        "a last line without newline"
    );

    // A failing command is logged too, and still carries its output.
    let err = node
        .run(sh("echo live-fail; exit 2", &[]))
        .await
        .unwrap_err();
    let failed = command_failed(err);
    assert_eq!(text(&failed.stdout), "live-fail\n");
    assert_eq!(captured.find("live-fail").len(), 1);

    // The cluster default is overridden per command.
    let out = node
        .run(sh("echo quiet-line", &[]).log_output_live(false))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "quiet-line");
    assert!(
        captured.find("quiet-line").is_empty(),
        "{:?}",
        captured.lines()
    );

    fx.finish().await;
}
