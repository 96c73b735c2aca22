//! The `minidcos` CLI end to end: the real binary on real Docker.
//!
//! Every cluster a test makes through the CLI outlives the CLI process, so each one is
//! held by a [`Destroy`] guard that runs `minidcos docker destroy ID` even when an
//! assertion fails. Nothing here runs `destroy --all` or `clean --all`: other tests'
//! clusters share the daemon.

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Proc, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dcos_e2e::labels;
use serde_json::Value;

use crate::common::{self, assert_gone, leftovers};

// ---------------------------------------------------------------------------------
// Helpers

/// Runs `minidcos docker destroy ID` when dropped.
struct Destroy(String);

impl Drop for Destroy {
    fn drop(&mut self) {
        let _ = Proc::new(common::minidcos())
            .args(["docker", "destroy", &self.0])
            .output();
    }
}

/// A cluster id no other test uses (at most 40 characters).
fn unique_id(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("cli-{tag}-{}-{nanos:x}", std::process::id())
}

/// What a finished `minidcos` said.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
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
    fn ok(self) -> Self {
        assert_eq!(self.code, Some(0), "{self:?}");
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

fn minidcos(args: &[&str]) -> Ran {
    Proc::new(common::minidcos())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("minidcos runs")
        .into()
}

/// An `--extra-config` file for the sample installer.
fn extra_config(dir: &Path, delay: u32) -> PathBuf {
    let path = dir.join("extra.yaml");
    std::fs::write(&path, format!("sample_startup_delay: {delay}\n")).unwrap();
    path
}

fn installer() -> String {
    common::sample_installer().display().to_string()
}

/// The `list --json` row of a cluster, if listed.
fn listed(id: &str) -> Option<Value> {
    let list = minidcos(&["docker", "list", "--json"]).ok().json();
    list.as_array()
        .expect("list --json is an array")
        .iter()
        .find(|c| c["cluster_id"] == id)
        .cloned()
}

/// Names of the cluster's running containers (`docker ps`, nodes and watchdog).
fn running(id: &str, role: Option<&str>) -> Vec<String> {
    let mut args = vec![
        "ps".to_string(),
        "--format".into(),
        "{{.Names}}".into(),
        "--filter".into(),
        format!("label={}={id}", labels::CLUSTER_ID),
    ];
    if let Some(role) = role {
        args.extend(["--filter".into(), format!("label={}={role}", labels::ROLE)]);
    }
    let out = Proc::new("docker").args(&args).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Poll until `done`, failing after `limit`.
fn poll(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait for a child with a limit; kill it and fail past the limit.
fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
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

fn send_signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) with the pid of our own child.
    let rc = unsafe { libc::kill(child.id() as i32, sig) };
    assert_eq!(rc, 0, "kill({sig})");
}

/// The workspace label of a running container of the cluster.
fn workspace_of(id: &str) -> PathBuf {
    let name = running(id, None).into_iter().next().expect("a container");
    PathBuf::from(common::docker_inspect(
        &format!("{{{{index .Config.Labels \"{}\"}}}}", labels::WORKSPACE),
        &name,
    ))
}

/// Stderr of a child, line by line, as it arrives.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
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

fn no_escape_codes(what: &str, text: &str) {
    assert!(!text.contains("\x1b["), "{what} has escape codes: {text:?}");
}

// ---------------------------------------------------------------------------------
// 1. The whole life of a cluster

#[test]
fn create_list_inspect_run_files_wait_destroy() {
    common::node_image();
    let dir = tempfile::tempdir().unwrap();
    let extra = extra_config(dir.path(), 0);
    let id = unique_id("e2e");
    let _guard = Destroy(id.clone());

    let created = minidcos(&[
        "docker",
        "create",
        &installer(),
        "--extra-config",
        extra.to_str().unwrap(),
        "--wait",
        "--timeout",
        "120s",
        "--cluster-id",
        &id,
    ])
    .ok();
    assert_eq!(created.stdout.trim(), id, "stdout is the cluster id alone");
    for step in ["creating", "installing DC/OS", "waiting for DC/OS"] {
        assert!(created.stderr.contains(step), "{created:?}");
    }
    no_escape_codes("piped create stderr", &created.stderr);

    // list: human and JSON.
    let human = minidcos(&["docker", "list"]).ok();
    let row = human
        .stdout
        .lines()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("{id} not in {human:?}"));
    assert!(row.contains("user"), "{row}");
    no_escape_codes("piped list", &human.stdout);
    let row = listed(&id).expect("listed");
    assert_eq!(row["masters"], 1);
    assert_eq!(row["agents"], 1);
    assert_eq!(row["public_agents"], 1);
    assert_eq!(row["running"], 3);
    assert_eq!(row["owner"], "user");

    // A used id is refused and the cluster holding it is untouched.
    let again = minidcos(&["docker", "create", "--cluster-id", &id]);
    assert_eq!(again.code, Some(1), "{again:?}");
    assert!(
        again.stderr.contains("--cluster-id") && again.stderr.contains("already exists"),
        "{again:?}"
    );
    assert_eq!(
        running(&id, Some("master")).len(),
        1,
        "the existing cluster survives"
    );

    // inspect: human and JSON.
    let human = minidcos(&["docker", "inspect", &id]).ok();
    let view = minidcos(&["docker", "inspect", &id, "--json"]).ok().json();
    assert_eq!(view["cluster_id"], id.as_str());
    let workspace = PathBuf::from(view["workspace"].as_str().expect("workspace"));
    let key = PathBuf::from(view["ssh_key_path"].as_str().expect("ssh_key_path"));
    assert!(workspace.is_dir(), "{}", workspace.display());
    assert!(key.is_file(), "{}", key.display());
    assert!(
        human.stdout.contains(workspace.to_str().unwrap()),
        "{human:?}"
    );
    assert!(human.stdout.contains(key.to_str().unwrap()), "{human:?}");
    let nodes = view["nodes"].as_array().expect("nodes");
    let roles: Vec<&str> = nodes.iter().map(|n| n["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["master", "agent", "public-agent"]);
    for (node, part) in nodes.iter().zip(["master", "agent", "pub-agent"]) {
        let container = format!("{id}-{part}-1");
        assert_eq!(node["container"], container.as_str());
        let ip: IpAddr = node["ip_address"].as_str().unwrap().parse().expect("an IP");
        let ssh = node["ssh_command"].as_str().unwrap();
        assert!(
            ssh.starts_with("ssh ") && ssh.ends_with(&format!("root@{ip}")),
            "{ssh}"
        );
        assert!(
            human.stdout.contains(&container) && human.stdout.contains(ssh),
            "{human:?}"
        );
        // The printed command works as printed (plus batch mode and a command).
        let pasted = format!(
            "{} hostname",
            ssh.replacen("ssh ", "ssh -o BatchMode=yes -o ConnectTimeout=20 ", 1)
        );
        let out = Proc::new("sh")
            .args(["-c", &pasted])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{pasted}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), container);
    }

    // run: the exit status is the command's; env values arrive literally.
    let failed = minidcos(&[
        "docker",
        "run",
        &id,
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 7",
    ]);
    assert_eq!(failed.code, Some(7), "{failed:?}");
    assert_eq!(failed.stdout, "out\n");
    assert!(failed.stderr.contains("err"), "{failed:?}");
    let literal = r#"x y 'q' "d" $HOME `id` ; *"#;
    let env = minidcos(&[
        "docker",
        "run",
        &id,
        "--env",
        "A=x y",
        "--env",
        &format!("B={literal}"),
        "--",
        "sh",
        "-c",
        r#"printf '%s|%s' "$A" "$B""#,
    ])
    .ok();
    assert_eq!(env.stdout, format!("x y|{literal}"));
    let agent = minidcos(&["docker", "run", &id, "--node", "agent:1", "--", "hostname"]).ok();
    assert_eq!(agent.stdout.trim(), format!("{id}-agent-1"));
    let by_ip = nodes[2]["ip_address"].as_str().unwrap();
    let public = minidcos(&["docker", "run", &id, "--node", by_ip, "--", "hostname"]).ok();
    assert_eq!(public.stdout.trim(), format!("{id}-pub-agent-1"));
    let all = minidcos(&["docker", "run", &id, "--node", "all", "--", "hostname"]).ok();
    assert_eq!(
        all.stdout.lines().collect::<Vec<_>>(),
        [
            format!("{id}-master-1"),
            format!("{id}-agent-1"),
            format!("{id}-pub-agent-1")
        ]
    );
    let tests = minidcos(&["docker", "run", &id, "--test-env", "--", "pytest", "-x"]).ok();
    assert!(tests.stdout.contains("passed"), "{tests:?}");
    let failing = minidcos(&[
        "docker",
        "run",
        &id,
        "--test-env",
        "--",
        "pytest",
        "--no-such-option",
    ]);
    assert_eq!(failing.code, Some(4), "pytest's usage status: {failing:?}");

    // send-file / download-file: content and mode.
    let local = dir.path().join("payload.bin");
    let content: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    std::fs::write(&local, &content).unwrap();
    std::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o751)).unwrap();
    minidcos(&[
        "docker",
        "send-file",
        &id,
        local.to_str().unwrap(),
        "/root/payload.bin",
        "--node",
        "all",
    ])
    .ok();
    let modes = minidcos(&[
        "docker",
        "run",
        &id,
        "--node",
        "all",
        "--",
        "stat",
        "-c",
        "%a %s",
        "/root/payload.bin",
    ])
    .ok();
    assert_eq!(modes.stdout, "751 70000\n".repeat(3));
    let back = dir.path().join("back.bin");
    minidcos(&[
        "docker",
        "download-file",
        &id,
        "/root/payload.bin",
        back.to_str().unwrap(),
        "--node",
        "public-agent:1",
    ])
    .ok();
    assert_eq!(std::fs::read(&back).unwrap(), content);
    assert_eq!(
        std::fs::metadata(&back).unwrap().permissions().mode() & 0o7777,
        0o751
    );

    // A reader that stops early (`| head`) ends the command on the node and the CLI.
    let mut endless = Proc::new(common::minidcos())
        .args(["docker", "run", &id, "--", "yes", "endless"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(endless.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first, "endless\n");
    let status = wait_exit(&mut endless, Duration::from_secs(60));
    assert!(!status.success(), "{status:?}");
    let left = minidcos(&["docker", "run", &id, "--", "pgrep", "-x", "yes"]);
    assert_eq!(left.code, Some(1), "`yes` still runs on the node: {left:?}");

    // wait, destroy, and nothing left.
    minidcos(&["docker", "wait", &id, "--timeout", "60s"]).ok();

    // Startup files that write to stderr (sshd's bash reads ~/.bashrc) do not stop
    // commands from running, nor mix into their stdout.
    minidcos(&[
        "docker",
        "run",
        &id,
        "--node",
        "all",
        "--",
        "sh",
        "-c",
        "sed -i '1i echo rc-noise >&2' /root/.bashrc",
    ])
    .ok();
    let noisy = minidcos(&["docker", "run", &id, "--", "echo", "quiet"]).ok();
    assert_eq!(noisy.stdout, "quiet\n");
    assert!(noisy.stderr.contains("rc-noise"), "{noisy:?}");
    let destroyed = minidcos(&["docker", "destroy", &id, "--json"]).ok().json();
    assert_eq!(destroyed["destroyed"], serde_json::json!([id]));
    assert!(listed(&id).is_none(), "{id} still listed");
    assert_gone(&id, Some(&workspace));
}

// ---------------------------------------------------------------------------------
// 2. clean

/// Start `minidcos docker create` for a 1-master cluster and SIGKILL it once its master
/// container runs.
fn killed_create(id: &str, keep: bool) {
    let mut cmd = Proc::new(common::minidcos());
    cmd.args([
        "docker",
        "create",
        "--agents",
        "0",
        "--public-agents",
        "0",
        "--cluster-id",
        id,
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    if keep {
        cmd.env(dcos_e2e::KEEP_ENV, "1");
    }
    let mut child = cmd.spawn().unwrap();
    poll("the master container", Duration::from_secs(120), || {
        assert!(
            child.try_wait().unwrap().is_none(),
            "create of {id} ended early"
        );
        !running(id, Some("master")).is_empty()
    });
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn clean_removes_what_killed_creates_left_and_nothing_live() {
    common::node_image();
    // A cluster a live process holds (this test process).
    let live = dcos_e2e::blocking::Cluster::builder(common::docker())
        .agents(0)
        .public_agents(0)
        .provision()
        .unwrap();
    // A cluster `create` completed: the user's.
    let persisted = unique_id("keep");
    let _guard_persisted = Destroy(persisted.clone());
    minidcos(&[
        "docker",
        "create",
        "--agents",
        "0",
        "--public-agents",
        "0",
        "--cluster-id",
        &persisted,
    ])
    .ok();
    // Two killed creates: one with its watchdog, one without (DCOS_E2E_KEEP=1), which
    // only `clean` can remove.
    let watched = unique_id("kill");
    let orphan = unique_id("orphan");
    let _guard_watched = Destroy(watched.clone());
    let _guard_orphan = Destroy(orphan.clone());
    killed_create(&watched, false);
    killed_create(&orphan, true);
    let orphan_row = listed(&orphan).expect("the unwatched killed create is left");
    assert_eq!(orphan_row["owner"], "none", "{orphan_row}");
    let orphan_ws = PathBuf::from(orphan_row["workspace"].as_str().unwrap());
    assert!(orphan_ws.is_dir());

    assert_eq!(listed(&persisted).unwrap()["owner"], "user");
    assert_eq!(listed(live.id()).unwrap()["owner"], "process");

    let cleaned = minidcos(&["docker", "clean", "--json"]).ok().json();
    let removed: Vec<&str> = cleaned["removed"]
        .as_array()
        .expect("removed")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(removed.contains(&orphan.as_str()), "{removed:?}");
    assert!(!removed.contains(&persisted.as_str()), "{removed:?}");
    assert!(!removed.contains(&live.id()), "{removed:?}");
    // The watched one went with its watchdog, or with clean: either way it is gone.
    poll(
        "the watched killed create to go",
        Duration::from_secs(30),
        || leftovers(&watched) == Default::default(),
    );
    assert_gone(&watched, None);
    assert_gone(&orphan, Some(&orphan_ws));

    // The live and the persisted clusters still run, and still work.
    assert_eq!(
        running(&persisted, Some("master")).len(),
        1,
        "persisted cluster survives clean"
    );
    minidcos(&["docker", "run", &persisted, "--", "true"]).ok();
    assert_eq!(
        running(live.id(), Some("master")).len(),
        1,
        "live cluster survives clean"
    );
    live.masters()[0].run(["true"]).unwrap();
    // A second clean has nothing of ours to do.
    let again = minidcos(&["docker", "clean", "--json"]).ok().json();
    for id in [&persisted, &orphan, &watched] {
        assert!(
            !again["removed"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v == id.as_str())
        );
    }
}

// ---------------------------------------------------------------------------------
// 3. Progress on a terminal, none of its escape codes in pipes

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
    let piped = minidcos(&[
        "-v",
        "docker",
        "create",
        "--agents",
        "0",
        "--public-agents",
        "0",
        "--cluster-id",
        &piped_id,
    ])
    .ok();
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

// ---------------------------------------------------------------------------------
// 4. Errors: usage errors exit 2 naming the flag; others exit 1 as `error:` + `hint:`

#[test]
fn usage_errors_exit_2_and_name_the_flag() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["docker", "create", "--bogus"], &["--bogus"]),
        (
            &["docker", "create", "--masters", "abc"],
            &["--masters", "abc"],
        ),
        (&["docker", "create", "--masters", "0"], &["--masters"]),
        (
            &["docker", "create", "--privileged", "maybe"],
            &["--privileged", "maybe", "auto, yes, no"],
        ),
        (
            &["docker", "create", "--transport", "telnet"],
            &["--transport", "telnet", "ssh, docker-exec"],
        ),
        (
            &["docker", "create", "--custom-master-volume", "justone"],
            &["--custom-master-volume", "justone"],
        ),
        (
            &["docker", "create", "--extra-config", "x.yaml"],
            &["--extra-config", "ARTIFACT"],
        ),
        (
            &["docker", "create", "--copy-to-genconf", "a:/genconf/a"],
            &["--copy-to-genconf", "ARTIFACT"],
        ),
        (
            &["docker", "create", "x.sh", "--timeout", "5m"],
            &["--timeout", "--wait"],
        ),
        (
            &["docker", "create", "x.sh", "--wait", "--timeout", "5x"],
            &["--timeout", "5x"],
        ),
        (
            &["docker", "wait", "some-id", "--timeout", "5x"],
            &["--timeout", "5x"],
        ),
        (&["docker", "run", "some-id"], &["<CMD>", "--"]),
        (
            &[
                "docker", "run", "some-id", "--env", "NOEQUALS", "--", "true",
            ],
            &["--env", "NOEQUALS"],
        ),
        (
            &["docker", "run", "some-id", "--node", "boss:1", "--", "true"],
            &["--node", "boss:1"],
        ),
        (
            &[
                "docker", "run", "some-id", "--node", "agent:0", "--", "true",
            ],
            &["--node", "agent:0"],
        ),
        (
            &[
                "docker",
                "run",
                "some-id",
                "--transport",
                "telnet",
                "--",
                "true",
            ],
            &["--transport"],
        ),
        (&["docker", "destroy"], &["<IDS|--all>"]),
        (&["docker", "destroy", "x", "--all"], &["--all"]),
        (&["docker", "nosuchcommand"], &["nosuchcommand"]),
        (&["existing", "run", "--", "true"], &["--cluster-file"]),
        (&["completions", "tcsh"], &["tcsh"]),
    ];
    for (args, needles) in cases {
        let out = minidcos(args);
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
        assert!(out.stderr.starts_with("error: "), "{args:?}: {out:?}");
        for needle in *needles {
            assert!(
                out.stderr.contains(needle),
                "{args:?} should name {needle}: {out:?}"
            );
        }
    }
}

/// Exit 1; exactly one `error:` line naming each needle, then a `hint:` line; besides
/// those only progress step lines.
fn one_line_error(args: &[&str], needles: &[&str]) -> Ran {
    let out = minidcos(args);
    assert_eq!(out.code, Some(1), "{args:?}: {out:?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    let errors: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{args:?}: {out:?}");
    let at = errors[0];
    for needle in needles {
        assert!(
            lines[at].contains(needle),
            "{args:?} should name {needle}: {out:?}"
        );
    }
    assert!(
        lines.get(at + 1).is_some_and(|l| l.starts_with("hint: ")),
        "{args:?} has a hint: {out:?}"
    );
    assert_eq!(lines.len(), at + 2, "nothing after the hint: {out:?}");
    assert!(lines[..at].iter().all(|l| l.starts_with("==> ")), "{out:?}");
    out
}

#[test]
fn other_errors_exit_1_with_one_line_and_a_hint() {
    common::node_image();
    let unknown = unique_id("none");
    one_line_error(&["docker", "destroy", &unknown], &[&unknown]);
    one_line_error(&["docker", "run", &unknown, "--", "true"], &[&unknown]);
    one_line_error(&["docker", "inspect", &unknown], &[&unknown]);
    one_line_error(
        &["docker", "send-file", &unknown, "/etc/hostname", "/tmp/x"],
        &[&unknown],
    );
    one_line_error(&["docker", "wait", &unknown], &[&unknown]);
    one_line_error(
        &[
            "existing",
            "--cluster-file",
            "/nonexistent/cluster.yaml",
            "inspect",
        ],
        &["/nonexistent/cluster.yaml"],
    );
    let dir = tempfile::tempdir().unwrap();
    let bad_file = dir.path().join("cluster.yaml");
    std::fs::write(&bad_file, "ssh_user: root\nbogus: 1\n").unwrap();
    one_line_error(
        &[
            "existing",
            "--cluster-file",
            bad_file.to_str().unwrap(),
            "inspect",
        ],
        &["cluster file", "bogus"],
    );

    // create refuses bad values before making anything.
    let id = unique_id("bad");
    let _guard = Destroy(id.clone());
    one_line_error(
        &[
            "docker",
            "create",
            "--cluster-id",
            &id,
            "--custom-master-volume",
            "/nonexistent:/x",
        ],
        &["--custom-master-volume", "/nonexistent"],
    );
    one_line_error(
        &[
            "docker",
            "create",
            "--cluster-id",
            &id,
            "--workspace-dir",
            "/nonexistent",
        ],
        &["--workspace-dir", "/nonexistent"],
    );
    one_line_error(
        &["docker", "create", "--cluster-id", "bad id"],
        &["--cluster-id", "bad id"],
    );
    one_line_error(
        &[
            "docker",
            "create",
            "/nonexistent/installer.sh",
            "--cluster-id",
            &id,
        ],
        &["ARTIFACT", "/nonexistent/installer.sh"],
    );
    one_line_error(
        &[
            "docker",
            "create",
            &installer(),
            "--extra-config",
            "/nonexistent.yaml",
            "--cluster-id",
            &id,
        ],
        &["--extra-config", "/nonexistent.yaml"],
    );
    let workspaces = tempfile::tempdir().unwrap();
    one_line_error(
        &[
            "docker",
            "create",
            "--cluster-id",
            &id,
            "--network",
            "no-such-network-of-dcos-e2e",
            "--workspace-dir",
            workspaces.path().to_str().unwrap(),
        ],
        &["--network", "no-such-network-of-dcos-e2e"],
    );
    assert_eq!(
        std::fs::read_dir(workspaces.path()).unwrap().count(),
        0,
        "no workspace for a refused create"
    );
    assert_gone(&id, None);

    // A create that fails part way removes what it made, and says so.
    let slow = extra_config(dir.path(), 30);
    let failed = unique_id("fail");
    let _guard_failed = Destroy(failed.clone());
    let out = one_line_error(
        &[
            "docker",
            "create",
            &installer(),
            "--extra-config",
            slow.to_str().unwrap(),
            "--wait",
            "--timeout",
            "2s",
            "--agents",
            "0",
            "--public-agents",
            "0",
            "--cluster-id",
            &failed,
        ],
        &["not healthy", &format!("{failed} was removed")],
    );
    assert!(out.stderr.contains(dcos_e2e::KEEP_ENV), "{out:?}");
    assert_gone(&failed, None);
    let stray: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(&format!("{id}-")) || name.starts_with(&format!("{failed}-"))
        })
        .collect();
    assert!(stray.is_empty(), "workspaces left: {stray:?}");
}

// ---------------------------------------------------------------------------------
// 5. Help, completions, doctor, build-image

#[test]
fn help_has_examples_and_completions_and_doctor_work() {
    let top = minidcos(&["--help"]).ok();
    assert!(
        top.stdout.contains("Examples:") && top.stdout.contains("minidcos docker create"),
        "{top:?}"
    );
    assert!(top.stdout.contains("Exit status"), "{top:?}");
    for sub in [
        "create",
        "install",
        "list",
        "inspect",
        "run",
        "send-file",
        "download-file",
        "wait",
        "destroy",
        "clean",
        "doctor",
        "build-image",
    ] {
        let help = minidcos(&["docker", sub, "--help"]).ok();
        assert!(
            help.stdout.contains("Example"),
            "docker {sub} --help: {help:?}"
        );
    }
    for sub in ["run", "send-file", "download-file", "wait", "inspect"] {
        let help = minidcos(&["existing", "--cluster-file", "f", sub, "--help"]).ok();
        assert!(
            help.stdout.contains("Example"),
            "existing {sub} --help: {help:?}"
        );
    }
    let version = minidcos(&["--version"]).ok();
    assert!(version.stdout.starts_with("minidcos "), "{version:?}");

    // Completions: a script bash accepts and that completes subcommands.
    let script = minidcos(&["completions", "bash"]).ok();
    assert!(script.stdout.contains("complete -F"), "{script:?}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("minidcos.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let check = Proc::new("bash")
        .args([
            "-c",
            &format!("source {} && complete -p minidcos", file.display()),
        ])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    for shell in ["zsh", "fish"] {
        assert!(!minidcos(&["completions", shell]).ok().stdout.is_empty());
    }

    // doctor: every check, human and JSON, with stable field names.
    common::node_image();
    let human = minidcos(&["docker", "doctor"]);
    let json = minidcos(&["docker", "doctor", "--json"]);
    let checks = json.json();
    let checks = checks.as_array().expect("an array");
    let names = [
        "docker daemon",
        "API version",
        "cgroup version",
        "privileged containers",
        "node image",
        "debootstrap",
        "Debian mirror",
        "inotify instances",
        "free disk in workspace",
    ];
    assert_eq!(checks.len(), names.len(), "{json:?}");
    for (check, name) in checks.iter().zip(names) {
        let mut keys: Vec<&String> = check.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["check", "detail", "hint", "ok"], "{check}");
        assert_eq!(check["check"], name);
        assert!(human.stdout.contains(name), "{human:?}");
        let ok = check["ok"].as_bool().unwrap();
        assert_eq!(
            check["hint"].is_null(),
            ok,
            "a hint exactly when not ok: {check}"
        );
    }
    let all_ok = checks.iter().all(|c| c["ok"] == true);
    assert_eq!(human.code, Some(if all_ok { 0 } else { 1 }), "{human:?}");
    assert_eq!(json.code, human.code);
    let node_image = checks.iter().find(|c| c["check"] == "node image").unwrap();
    assert_eq!(node_image["ok"], true, "the image was built: {node_image}");

    // build-image with the image present: quick, and the same tag.
    let built = minidcos(&["docker", "build-image", "--json"]).ok().json();
    assert_eq!(built["image"], common::node_image());
}

// ---------------------------------------------------------------------------------
// 6. Interrupts during create

/// Start a create with piped stderr; returns the child and its stderr lines.
fn spawn_create(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Proc::new(common::minidcos())
        .args(["docker", "create"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = stderr_lines(&mut child);
    (child, lines)
}

#[test]
fn ctrl_c_while_provisioning_removes_everything() {
    common::node_image();
    let id = unique_id("int1");
    let _guard = Destroy(id.clone());
    let (mut child, lines) =
        spawn_create(&["--agents", "1", "--public-agents", "1", "--cluster-id", &id]);
    poll("the first container", Duration::from_secs(120), || {
        !running(&id, None).is_empty()
    });
    let workspace = workspace_of(&id);
    send_signal(&child, libc::SIGINT);
    let status = wait_exit(&mut child, Duration::from_secs(120));
    let said: Vec<String> = lines.try_iter().collect();
    assert_eq!(status.code(), Some(130), "{said:?}");
    assert!(said.iter().any(|l| l.contains("interrupted")), "{said:?}");
    let row = listed(&id);
    assert!(row.is_none(), "{row:?} {:?} {said:?}", leftovers(&id));
    assert_gone(&id, Some(&workspace));
}

#[test]
fn ctrl_c_while_waiting_for_dcos_removes_everything() {
    common::node_image();
    let dir = tempfile::tempdir().unwrap();
    let extra = extra_config(dir.path(), 30);
    let id = unique_id("int2");
    let _guard = Destroy(id.clone());
    let (mut child, lines) = spawn_create(&[
        &installer(),
        "--extra-config",
        extra.to_str().unwrap(),
        "--wait",
        "--agents",
        "1",
        "--public-agents",
        "0",
        "--cluster-id",
        &id,
    ]);
    let mut said = Vec::new();
    let start = Instant::now();
    while !said
        .iter()
        .any(|l: &String| l.contains("waiting for DC/OS"))
    {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "never waited: {said:?}"
        );
        if let Ok(line) = lines.recv_timeout(Duration::from_secs(1)) {
            said.push(line);
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "create ended early: {said:?}"
        );
    }
    let workspace = workspace_of(&id);
    std::thread::sleep(Duration::from_secs(1));
    send_signal(&child, libc::SIGINT);
    let status = wait_exit(&mut child, Duration::from_secs(120));
    said.extend(lines.try_iter());
    assert_eq!(status.code(), Some(130), "{said:?}");
    assert_gone(&id, Some(&workspace));
}

#[test]
fn sigterm_while_provisioning_removes_everything() {
    common::node_image();
    let id = unique_id("term");
    let _guard = Destroy(id.clone());
    let (mut child, lines) =
        spawn_create(&["--agents", "0", "--public-agents", "0", "--cluster-id", &id]);
    poll("the master container", Duration::from_secs(120), || {
        !running(&id, Some("master")).is_empty()
    });
    let workspace = workspace_of(&id);
    send_signal(&child, libc::SIGTERM);
    let status = wait_exit(&mut child, Duration::from_secs(120));
    assert_eq!(
        status.code(),
        Some(143),
        "{:?}",
        lines.try_iter().collect::<Vec<_>>()
    );
    assert_gone(&id, Some(&workspace));
}

// ---------------------------------------------------------------------------------
// Install on a provisioned cluster, and the same node operations on it as an
// existing cluster through a cluster file.

#[test]
fn install_then_existing_cluster_file_operations() {
    common::node_image();
    let dir = tempfile::tempdir().unwrap();
    let extra = extra_config(dir.path(), 0);
    let id = unique_id("ex");
    let _guard = Destroy(id.clone());
    let created = minidcos(&[
        "docker",
        "create",
        "--agents",
        "1",
        "--public-agents",
        "0",
        "--cluster-id",
        &id,
        "--json",
    ])
    .ok();
    assert_eq!(created.json()["cluster_id"], id.as_str());
    minidcos(&[
        "docker",
        "install",
        &id,
        &installer(),
        "--extra-config",
        extra.to_str().unwrap(),
    ])
    .ok();
    minidcos(&["docker", "wait", &id, "--timeout", "120s"]).ok();

    let view = minidcos(&["docker", "inspect", &id, "--json"]).ok().json();
    let ips = |role: &str| -> Vec<String> {
        view["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["role"] == role)
            .map(|n| n["ip_address"].as_str().unwrap().to_string())
            .collect()
    };
    let file = dir.path().join("cluster.yaml");
    std::fs::write(
        &file,
        format!(
            "ssh_user: root\nssh_key_path: {}\nmasters: [{}]\nagents: [{}]\npublic_agents: []\n",
            view["ssh_key_path"].as_str().unwrap(),
            ips("master").join(", "),
            ips("agent").join(", "),
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();

    let existing = minidcos(&["existing", "--cluster-file", f, "inspect", "--json"])
        .ok()
        .json();
    assert_eq!(existing["backend"], "ExistingCluster");
    let roles: Vec<&str> = existing["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["master", "agent"]);
    let all = minidcos(&[
        "existing",
        "--cluster-file",
        f,
        "run",
        "--node",
        "all",
        "--",
        "hostname",
    ])
    .ok();
    assert_eq!(all.stdout, format!("{id}-master-1\n{id}-agent-1\n"));
    let code = minidcos(&[
        "existing",
        "--cluster-file",
        f,
        "run",
        "--",
        "sh",
        "-c",
        "exit 3",
    ]);
    assert_eq!(code.code, Some(3), "{code:?}");
    let tests = minidcos(&[
        "existing",
        "--cluster-file",
        f,
        "run",
        "--test-env",
        "--",
        "pytest",
        "-x",
    ])
    .ok();
    assert!(tests.stdout.contains("passed"), "{tests:?}");
    let local = dir.path().join("note.txt");
    std::fs::write(&local, "from the host\n").unwrap();
    minidcos(&[
        "existing",
        "--cluster-file",
        f,
        "send-file",
        local.to_str().unwrap(),
        "/root/note.txt",
        "--node",
        "agent:1",
    ])
    .ok();
    let back = dir.path().join("back.txt");
    minidcos(&[
        "existing",
        "--cluster-file",
        f,
        "download-file",
        "/root/note.txt",
        back.to_str().unwrap(),
        "--node",
        "agent:1",
    ])
    .ok();
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "from the host\n");
    minidcos(&["existing", "--cluster-file", f, "wait", "--timeout", "60s"]).ok();

    let workspace = PathBuf::from(view["workspace"].as_str().unwrap());
    let destroyed = minidcos(&["docker", "destroy", &id]).ok();
    assert_eq!(destroyed.stdout.trim(), id);
    assert_gone(&id, Some(&workspace));
}

// ---------------------------------------------------------------------------------
// 7. A harness that does not run as root (a member of the daemon's socket group).

#[test]
fn a_user_other_than_root_creates_and_reaches_nodes() {
    use std::os::unix::fs::{MetadataExt, chown};
    common::node_image();
    const NOBODY: u32 = 65534;
    let socket_gid = std::fs::metadata("/var/run/docker.sock")
        .expect("the daemon's local socket")
        .gid();
    // The binary and the workspace where that user can reach them.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("minidcos");
    std::fs::copy(common::minidcos(), &bin).unwrap();
    let workspace = dir.path().join("workspace");
    std::fs::create_dir(&workspace).unwrap();
    chown(&workspace, Some(NOBODY), Some(socket_gid)).unwrap();
    let id = unique_id("user");
    let _guard = Destroy(id.clone());
    let as_nobody = |args: &[&str]| -> Ran {
        Proc::new("setpriv")
            .args(["--reuid", &NOBODY.to_string()])
            .args(["--regid", &socket_gid.to_string(), "--clear-groups"])
            .arg(&bin)
            .args(args)
            .env("HOME", &workspace)
            .stdin(Stdio::null())
            .output()
            .expect("setpriv runs")
            .into()
    };
    as_nobody(&[
        "docker",
        "create",
        "--public-agents",
        "0",
        "--cluster-id",
        &id,
        "--workspace-dir",
        workspace.to_str().unwrap(),
    ])
    .ok();
    let key = minidcos(&["docker", "inspect", &id, "--json"]).ok().json()["ssh_key_path"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(std::fs::metadata(&key).unwrap().uid(), NOBODY);
    // Over SSH (the default transport), so sshd took root's key from this user.
    let ran = as_nobody(&[
        "docker",
        "run",
        &id,
        "--node",
        "all",
        "--",
        "stat",
        "-c",
        "%U %a",
        "/root/.ssh/authorized_keys",
    ])
    .ok();
    assert_eq!(ran.stdout, "root 600\n".repeat(2));
    as_nobody(&["docker", "destroy", &id]).ok();
    assert_gone(&id, None);
    assert_eq!(
        std::fs::read_dir(&workspace).unwrap().count(),
        0,
        "workspace left"
    );
}

#[test]
fn two_creates_racing_for_one_id_leave_one_working_cluster() {
    common::node_image();
    let id = unique_id("race");
    let _guard = Destroy(id.clone());
    let spawn = || {
        Proc::new(common::minidcos())
            .args(["docker", "create", "--cluster-id", &id])
            .args(["--agents", "0", "--public-agents", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let runs: Vec<Ran> = [a, b]
        .into_iter()
        .map(|c| c.wait_with_output().unwrap().into())
        .collect();
    let won = runs.iter().filter(|r| r.code == Some(0)).count();
    assert_eq!(won, 1, "exactly one create wins: {runs:?}");
    let lost = runs.iter().find(|r| r.code != Some(0)).unwrap();
    assert!(
        lost.stderr.contains("already exists")
            && !lost.stderr.contains(&format!("({id} was removed)")),
        "{lost:?}"
    );
    // The winner's cluster is whole and works.
    let ran = minidcos(&["docker", "run", &id, "--", "hostname"]).ok();
    assert_eq!(ran.stdout.trim(), format!("{id}-master-1"));
    minidcos(&["docker", "destroy", &id]).ok();
    assert_gone(&id, None);
}
