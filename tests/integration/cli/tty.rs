//! `run` on a real terminal: `minidcos` runs in a tmux pane (a private server,
//! `tmux -L`), the test types with `send-keys` and reads the screen with
//! `capture-pane`, over SSH, docker exec and an existing cluster's SSH. Every step waits
//! for what it expects on the screen (or on the node); the limits are hang guards.
//!
//! The pane runs one `sh` script: a `--no-tty` run (no terminal for the command even
//! here), then a shell forced onto a terminal with `--tty` (echo, `stty size` before and
//! after `tmux resize-window`, Ctrl-C stopping a `sleep`, `exit 3`), then a shell on a
//! terminal by default that Ctrl-D ends; after each shell it prints its exit status and
//! whether `stty -g` is what it was before (the terminal restored).

use std::path::Path;
use std::process::{Command as Proc, Stdio};
use std::time::{Duration, Instant};

use dcos_e2e::quote;

use super::{Destroy, create_one_master};
use crate::common::{self, assert_gone};
use crate::process::{minidcos, unique_id};

/// Far above anything a step should take; a hang fails instead of blocking CI.
const PATIENCE: Duration = Duration::from_secs(60);

const PROMPT: &str = "tty-prompt> ";

/// A tmux server of our own with one detached session running one command; killed,
/// with everything in it, when dropped.
struct Tmux {
    socket: String,
    /// Holds the server's socket too (`TMUX_TMPDIR`), so none is left behind.
    dir: tempfile::TempDir,
}

impl Tmux {
    fn start(command: &str, cols: u16, rows: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("tmux.conf");
        // The pane stays readable after its command ends; nothing from the user's own
        // configuration applies.
        std::fs::write(
            &config,
            "set -g remain-on-exit on\nset -g default-shell /bin/sh\nset -g history-limit 10000\n",
        )
        .unwrap();
        let tmux = Tmux {
            socket: "dcos-e2e-tty".into(),
            dir,
        };
        tmux.ok(&[
            "-f",
            config.to_str().unwrap(),
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
            command,
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Proc::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env("TMUX_TMPDIR", self.dir.path())
            .env_remove("TMUX")
            .stdin(Stdio::null())
            .output()
            .expect("tmux runs (scripts/prerequisites --tests installs it)")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Everything the pane showed, scrollback included, wrapped lines joined.
    fn screen(&self) -> String {
        self.ok(&["capture-pane", "-p", "-J", "-S", "-", "-t", "t"])
    }

    /// Type `text` literally.
    fn type_text(&self, text: &str) {
        self.ok(&["send-keys", "-t", "t", "-l", text]);
    }

    /// Press keys by tmux name (`Enter`, `C-c`, `C-d`).
    fn press(&self, key: &str) {
        self.ok(&["send-keys", "-t", "t", key]);
    }

    /// Type a line and press Enter.
    fn line(&self, text: &str) {
        self.type_text(text);
        self.press("Enter");
    }

    /// Wait until the screen satisfies `done`; the screen then.
    fn wait_for(&self, what: &str, mut done: impl FnMut(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait for a line that is exactly `line`.
    fn wait_line(&self, line: &str) -> String {
        self.wait_for(&format!("the line {line:?}"), |s| {
            lines(s).any(|l| l == line)
        })
    }

    /// Wait for the `n`th prompt.
    fn wait_prompt(&self, n: usize) -> String {
        self.wait_for(&format!("prompt number {n}"), |s| prompts(s) >= n)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn lines(screen: &str) -> impl Iterator<Item = &str> {
    screen.lines().map(str::trim_end)
}

fn prompts(screen: &str) -> usize {
    lines(screen)
        .filter(|l| l.starts_with(PROMPT.trim_end()))
        .count()
}

/// The output line that starts with `tag`, once there.
fn tagged<'a>(screen: &'a str, tag: &str) -> Option<&'a str> {
    lines(screen).find(|l| l.starts_with(tag))
}

/// Processes on the node whose command line matches `pattern`.
fn on_node(container: &str, pattern: &str) -> usize {
    let out = Proc::new("docker")
        .args(["exec", container, "pgrep", "-f", pattern])
        .output()
        .expect("docker CLI runs");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn poll_node(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The pane's script: `run` as `launcher` (the words before the run flags) three times,
/// as described at the top.
fn pane_script(launcher: &[String]) -> String {
    let minidcos = quote(&common::minidcos().display().to_string());
    let run = |flags: &str, cmd: &str| {
        let words: Vec<String> = launcher.iter().map(|w| quote(w)).collect();
        format!("{minidcos} {} {flags} -- {cmd}", words.join(" "))
    };
    let shell = "bash --norc --noprofile";
    let env = format!("--env PS1={}", quote(PROMPT));
    let restored = |tag: &str| {
        format!(
            "s=$?; if [ \"$(stty -g)\" = \"$before\" ]; then echo {tag}-RESTORED; fi; echo {tag}-STATUS=$s"
        )
    };
    let script = [
        run(
            "--no-tty",
            "sh -c 'test -t 0 || test -t 1 || echo NO-TTY-$((1+1))'",
        ),
        "before=$(stty -g)".to_string(),
        run(&format!("--tty {env}"), shell),
        restored("FIRST"),
        run(&env, shell),
        restored("SECOND"),
    ]
    .join("; ");
    format!("sh -c {}", quote(&script))
}

/// Everything a shell on a terminal does, over the transport `launcher` uses, on the
/// node in `container`.
fn interactive_shell(launcher: &[String], container: &str) {
    let tmux = Tmux::start(&pane_script(launcher), 100, 30);

    // Without a terminal even in a terminal.
    tmux.wait_line("NO-TTY-2");

    // Keys reach the shell and the terminal echoes them back: the typed line, then what
    // it printed.
    tmux.wait_prompt(1);
    tmux.line("echo $((6*7))");
    let screen = tmux.wait_line("42");
    // Once: by the node's terminal, not also by ours (raw mode).
    let echoed: Vec<&str> = lines(&screen)
        .filter(|l| l.ends_with("echo $((6*7))"))
        .collect();
    assert_eq!(
        echoed,
        [format!("{PROMPT}echo $((6*7))")],
        "the typed command is echoed once:\n{screen}"
    );
    assert!(!screen.contains("dcos-e2e-pid"), "{screen}");

    // The size is the pane's, and follows it.
    tmux.line("echo size-0:$(stty size)");
    let screen = tmux.wait_for("size-0", |s| tagged(s, "size-0:").is_some());
    assert_eq!(
        tagged(&screen, "size-0:"),
        Some("size-0:30 100"),
        "{screen}"
    );
    tmux.ok(&["resize-window", "-t", "t", "-x", "120", "-y", "40"]);
    // The change reaches the node through SIGWINCH here and a message there, not with
    // the keys: ask again until it shows (each answer waited for).
    let mut seen = Vec::new();
    for n in 1.. {
        assert!(n < 200, "the size never changed: {:?}", seen.last());
        let tag = format!("size-{n}:");
        tmux.line(&format!("echo {tag}$(stty size)"));
        let screen = tmux.wait_for(&tag, |s| tagged(s, &tag).is_some());
        let answer = tagged(&screen, &tag).unwrap_or_default().to_string();
        if answer == format!("{tag}40 120") {
            break;
        }
        seen.push(answer);
    }

    // Ctrl-C goes to the program in the foreground on the node, not to us.
    let prompts_before = prompts(&tmux.screen());
    tmux.line("sleep 4242");
    poll_node("the sleep on the node", || {
        on_node(container, "^sleep 4242$") == 1
    });
    tmux.press("C-c");
    tmux.wait_prompt(prompts_before + 1);
    tmux.line("echo interrupted-$?");
    tmux.wait_line("interrupted-130");
    assert_eq!(on_node(container, "^sleep 4242$"), 0, "the sleep is gone");

    // Its exit status is ours; the terminal is as it was.
    tmux.line("exit 3");
    let screen = tmux.wait_for("the first shell's end", |s| {
        tagged(s, "FIRST-STATUS=").is_some()
    });
    assert_eq!(
        tagged(&screen, "FIRST-STATUS="),
        Some("FIRST-STATUS=3"),
        "{screen}"
    );
    assert!(
        lines(&screen).any(|l| l == "FIRST-RESTORED"),
        "the terminal settings changed:\n{screen}"
    );

    // A terminal by default; Ctrl-D ends the shell, which exits with its last status.
    let prompts_before = prompts(&screen);
    tmux.wait_prompt(prompts_before + 1);
    tmux.line("(exit 5)");
    tmux.wait_prompt(prompts_before + 2);
    tmux.press("C-d");
    let screen = tmux.wait_for("the second shell's end", |s| {
        tagged(s, "SECOND-STATUS=").is_some()
    });
    assert_eq!(
        tagged(&screen, "SECOND-STATUS="),
        Some("SECOND-STATUS=5"),
        "{screen}"
    );
    assert!(
        lines(&screen).any(|l| l == "SECOND-RESTORED"),
        "the terminal settings changed:\n{screen}"
    );
}

/// A one-master cluster made with the CLI; its id and the guard that destroys it.
fn cluster(tag: &str) -> (String, Destroy) {
    common::node_image();
    let id = unique_id(tag);
    let guard = Destroy(id.clone());
    minidcos(&create_one_master(&id)).ok();
    (id, guard)
}

fn docker_run(id: &str, transport: &str) -> Vec<String> {
    ["docker", "run", id, "--transport", transport]
        .map(String::from)
        .to_vec()
}

#[test]
fn shell_on_a_terminal_over_ssh() {
    let (id, guard) = cluster("ttys");
    interactive_shell(&docker_run(&id, "ssh"), &format!("{id}-master-1"));
    drop(guard);
    assert_gone(&id, None);
}

#[test]
fn shell_on_a_terminal_over_docker_exec() {
    let (id, guard) = cluster("ttyx");
    interactive_shell(&docker_run(&id, "docker-exec"), &format!("{id}-master-1"));
    drop(guard);
    assert_gone(&id, None);
}

#[test]
fn shell_on_a_terminal_of_an_existing_cluster() {
    let (id, guard) = cluster("ttye");
    let view = minidcos(&["docker", "inspect", &id, "--json"]).ok().json();
    let dir = tempfile::tempdir().unwrap();
    let file = cluster_file(dir.path(), &view);
    let launcher = ["existing", "--cluster-file", file.as_str(), "run"].map(String::from);
    interactive_shell(&launcher, &format!("{id}-master-1"));
    drop(guard);
    assert_gone(&id, None);
}

fn cluster_file(dir: &Path, view: &serde_json::Value) -> String {
    let file = dir.join("cluster.yaml");
    let master = &view["nodes"][0];
    assert_eq!(master["role"], "master");
    std::fs::write(
        &file,
        format!(
            "ssh_user: root\nssh_key_path: {}\nmasters: [{}]\nagents: []\npublic_agents: []\nknown_hosts: {}/ssh/known_hosts\n",
            view["ssh_key_path"].as_str().unwrap(),
            master["ip_address"].as_str().unwrap(),
            view["workspace"].as_str().unwrap(),
        ),
    )
    .unwrap();
    file.display().to_string()
}

/// Without a terminal: `--tty` is refused naming the flag, with the two flags together
/// a usage error, and by default the streams stay apart as before.
#[test]
fn without_a_terminal() {
    let (id, guard) = cluster("ttyn");
    let refused = minidcos(&["docker", "run", &id, "--tty", "--", "true"]);
    assert_eq!(refused.code, Some(1), "{refused:?}");
    let first = refused.stderr.lines().next().unwrap_or_default();
    assert_eq!(
        first, "error: --tty needs a terminal on standard input",
        "{refused:?}"
    );
    assert!(refused.stderr.contains("hint: "), "{refused:?}");
    let both = minidcos(&["docker", "run", &id, "--tty", "--no-tty", "--", "true"]);
    assert_eq!(both.code, Some(2), "{both:?}");
    assert!(both.stderr.contains("--no-tty"), "{both:?}");
    let plain = minidcos(&[
        "docker",
        "run",
        &id,
        "--",
        "sh",
        "-c",
        "test -t 0 || test -t 1 || echo plain; echo apart >&2; cat; exit 4",
    ]);
    assert_eq!(plain.code, Some(4), "{plain:?}");
    assert_eq!(plain.stdout, "plain\n", "{plain:?}");
    assert_eq!(plain.stderr, "apart\n", "{plain:?}");
    drop(guard);
    assert_gone(&id, None);
}

/// SIGTERM from outside during a session: the terminal is restored, the command on the
/// node stopped (over docker exec, where closing our connection alone would leave it
/// running), and the status is 128 + 15.
#[test]
fn a_signal_restores_the_terminal_and_stops_the_command() {
    let (id, guard) = cluster("ttyk");
    let container = format!("{id}-master-1");
    let minidcos = quote(&common::minidcos().display().to_string());
    let script = format!(
        "before=$(stty -g); {minidcos} docker run {} --transport docker-exec -- sleep 4246; {}",
        quote(&id),
        "s=$?; if [ \"$(stty -g)\" = \"$before\" ]; then echo KILLED-RESTORED; fi; echo KILLED-STATUS=$s"
    );
    let tmux = Tmux::start(&format!("sh -c {}", quote(&script)), 100, 30);
    poll_node("the sleep on the node", || {
        on_node(&container, "^sleep 4246$") == 1
    });
    // The minidcos process whose arguments name this cluster.
    let ours = Proc::new("pgrep")
        .args(["-x", "minidcos"])
        .output()
        .expect("pgrep runs");
    let pids: Vec<i32> = String::from_utf8_lossy(&ours.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|&b| b == 0).any(|arg| arg == id.as_bytes()))
        })
        .collect();
    let [pid] = pids[..] else {
        panic!("expected one minidcos for {id}: {pids:?}")
    };
    // SAFETY: kill(2) of the minidcos this test started in its pane.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let screen = tmux.wait_for("the end of the session", |s| {
        tagged(s, "KILLED-STATUS=").is_some()
    });
    assert_eq!(
        tagged(&screen, "KILLED-STATUS="),
        Some("KILLED-STATUS=143"),
        "{screen}"
    );
    assert!(
        lines(&screen).any(|l| l == "KILLED-RESTORED"),
        "the terminal settings changed:\n{screen}"
    );
    poll_node("the sleep to be stopped", || {
        on_node(&container, "^sleep 4246$") == 0
    });
    drop(guard);
    assert_gone(&id, None);
}
