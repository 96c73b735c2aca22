//! Running `minidcos` and other children from the tests: what a finished run said, a
//! running child's stderr line by line, signals, and waits with a limit.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command as Proc, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common;

/// What a finished `minidcos` said.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl From<Output> for Ran {
    fn from(o: Output) -> Self {
        Ran {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Ran {
    pub fn ok(self) -> Self {
        assert_eq!(self.code, Some(0), "{self:?}");
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

/// Run `minidcos ARGS` to the end.
pub fn minidcos(args: &[&str]) -> Ran {
    minidcos_env(args, &[])
}

/// [`minidcos`] with `DOCKER_HOST` set to `host`.
pub fn minidcos_at(host: &str, args: &[&str]) -> Ran {
    minidcos_env(args, &[("DOCKER_HOST", host)])
}

fn minidcos_env(args: &[&str], env: &[(&str, &str)]) -> Ran {
    Proc::new(common::minidcos())
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("minidcos runs")
        .into()
}

/// Start `minidcos ARGS` with piped output; the child and its stderr lines.
pub fn spawn_minidcos(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Proc::new(common::minidcos())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = stderr_lines(&mut child);
    (child, lines)
}

/// The `minidcos docker list --json` row of a cluster, if listed.
pub fn listed(id: &str) -> Option<Value> {
    let list = minidcos(&["docker", "list", "--json"]).ok().json();
    list.as_array()
        .expect("list --json is an array")
        .iter()
        .find(|c| c["cluster_id"] == id)
        .cloned()
}

/// A cluster id no other test uses (at most 40 characters).
pub fn unique_id(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("cli-{tag}-{}-{nanos:x}", std::process::id())
}

/// Stderr of a child, line by line, as it arrives.
pub fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().expect("stderr piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

pub fn send_signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) with the pid of our own child.
    let rc = unsafe { libc::kill(child.id() as i32, sig) };
    assert_eq!(rc, 0, "kill({sig})");
}

/// Wait for a child with a limit; kill it and fail past the limit.
pub fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("minidcos did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Poll until `done`, failing after `limit`.
pub fn poll(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Run the holder test `test` of this very test binary as a child, with `env` set (it
/// goes through /proc: the binary may have been rebuilt on disk meanwhile). The holder
/// prints `cluster-id ID WORKSPACE`; returns the child, the id and the workspace.
pub fn spawn_holder(test: &str, env: &[(&str, &str)]) -> (Child, String, std::path::PathBuf) {
    let mut child = Proc::new("/proc/self/exe")
        .args([test, "--exact", "--ignored", "--nocapture"])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines
        .find_map(|l| l.ok().filter(|l| l.starts_with("cluster-id ")))
        .expect("the holder reports its cluster");
    let mut words = line.split_whitespace().skip(1);
    let (id, ws) = (
        words.next().unwrap().to_string(),
        std::path::PathBuf::from(words.next().unwrap()),
    );
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, id, ws)
}
