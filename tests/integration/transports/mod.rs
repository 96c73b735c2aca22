//! Node operations over both transports, one file per area. Every case is written once,
//! as an async function of the [`TransportKind`], and instantiated for SSH and for
//! docker exec by `both_transports!` (tests `transports::<area>::ssh::<case>` and
//! `transports::<area>::docker_exec::<case>`). Each case uses one single-master cluster.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dcos_e2e::{
    Cluster, ClusterBuilder, Command, CommandFailed, Docker, Error, Node, TransportKind,
};

use crate::common;

mod commands;
mod concurrency;
mod failures;
mod files;
mod logging;
mod popen;
mod trees;
mod tty;
mod users;

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
