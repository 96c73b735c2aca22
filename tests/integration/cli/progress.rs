//! Progress on a terminal, none of its escape codes in pipes.

use std::process::Command as Proc;
use std::time::Duration;

use super::{Destroy, create_one_master, no_escape_codes};
use crate::common;
use crate::process::{minidcos, poll, unique_id};

/// A tmux server of its own, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(command: &str) -> Self {
        if Proc::new("tmux").arg("-V").output().is_err() {
            let ok = Proc::new("apt-get")
                .args(["install", "-y", "-qq", "tmux"])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "tmux is needed (apt-get install tmux)");
        }
        let socket = format!("minidcos-test-{}", std::process::id());
        let status = Proc::new("tmux")
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-x",
                "200",
                "-y",
                "50",
                command,
            ])
            .status()
            .unwrap();
        assert!(status.success(), "tmux starts");
        Tmux { socket }
    }

    fn screen(&self) -> String {
        let out = Proc::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Proc::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

#[test]
fn progress_shows_on_a_terminal_and_pipes_get_plain_lines() {
    common::node_image();
    let id = unique_id("tty");
    let _guard = Destroy(id.clone());
    let tmux = Tmux::start(&format!(
        "{} -v docker create --agents 0 --public-agents 0 --cluster-id {id}; echo EXIT=$?; sleep 600",
        common::minidcos().display()
    ));
    let step = format!("creating {id}");
    let mut spinner_seen = None;
    poll(
        "create to finish on the terminal",
        Duration::from_secs(180),
        || {
            let screen = tmux.screen();
            // While the step runs its line is a spinner (no `==>`), with the elapsed time.
            if spinner_seen.is_none()
                && let Some(line) = screen
                    .lines()
                    .find(|l| l.contains(&step) && !l.trim_start().starts_with("==>"))
            {
                spinner_seen = Some(line.trim().to_string());
            }
            screen.contains("EXIT=")
        },
    );
    let screen = tmux.screen();
    assert!(screen.contains("EXIT=0"), "{screen}");
    let line =
        spinner_seen.unwrap_or_else(|| panic!("no progress line seen; last screen:\n{screen}"));
    assert!(
        line.ends_with("s)") && !line.starts_with(&step),
        "a spinner, then the step and its elapsed time: {line}"
    );
    assert!(
        screen.contains(&format!("==> {step}")) && screen.contains("done"),
        "{screen}"
    );
    assert!(
        screen.lines().any(|l| l.trim() == id),
        "the id is printed: {screen}"
    );
    // Log lines (-v) were written around the spinner, which left no trace.
    assert!(screen.contains("INFO"), "{screen}");
    assert!(
        !screen
            .lines()
            .any(|l| l.contains(&step) && !l.trim_start().starts_with("==>")),
        "a spinner line was left behind: {screen}"
    );

    // The same through pipes: plain step lines, no escape codes, even with -v.
    let piped_id = unique_id("pipe");
    let _guard_piped = Destroy(piped_id.clone());
    let mut verbose = vec!["-v"];
    verbose.extend(create_one_master(&piped_id));
    let piped = minidcos(&verbose).ok();
    no_escape_codes("stdout", &piped.stdout);
    no_escape_codes("stderr", &piped.stderr);
    assert!(
        piped.stderr.contains(&format!("==> creating {piped_id}")),
        "{piped:?}"
    );
    assert!(piped.stderr.contains("INFO"), "-v logs steps: {piped:?}");
    assert_eq!(piped.stdout.trim(), piped_id);
    for args in [
        vec!["docker", "list"],
        vec!["docker", "inspect", &piped_id],
        vec!["-vv", "docker", "run", &piped_id, "--", "true"],
        vec!["docker", "doctor"],
    ] {
        let out = minidcos(&args).ok();
        no_escape_codes(&format!("{args:?} stdout"), &out.stdout);
        no_escape_codes(&format!("{args:?} stderr"), &out.stderr);
    }
}
