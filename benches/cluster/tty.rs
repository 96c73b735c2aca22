//! 16. Interactive round trip over a terminal.
//!
//! One keystroke typed at a local terminal until its echo by the node's terminal is
//! back on it, through `minidcos docker run` (SSH and docker exec), beside OpenSSH's
//! `ssh -tt` and `docker exec -it` to the same node in the same run; and the library's
//! own part (`popen` on a tty, no local terminal).
//!
//! The local terminal is a pseudo-terminal this bench opens: the program under test is
//! its session leader, as under a terminal emulator, so each program sets raw mode and
//! relays keys as it would for a person. On the node, `stty -icanon; cat >/dev/null`:
//! each key is delivered at once and echoed by the node's line discipline, the same for
//! every row.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command as Proc, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use dcos_e2e::{Cluster, Command, Node, OutputStream, TransportKind, Tty};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::report::{Target, median, percentile};
use crate::state::Bench;

/// On the node: deliver each key at once, echo it, discard it; say when ready.
const REMOTE: &str = "stty -icanon; echo READY; exec cat >/dev/null";

/// A hang guard for one echo or the start of a session.
const PATIENCE: Duration = Duration::from_secs(60);

/// What `ssh` runs with here: no host key checks, no prompts, errors only.
const OPENSSH_OPTIONS: [&str; 8] = [
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "BatchMode=yes",
];

/// A program running on a local pseudo-terminal: the terminal's master side, and what
/// the program writes to it, as it comes.
struct OnTerminal {
    child: Child,
    master: File,
    output: mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl OnTerminal {
    fn spawn(program: &str, args: &[&str]) -> Result<Self> {
        let (mut master, mut slave) = (0, 0);
        let size = libc::winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: valid out-pointers; no name buffer; default settings; a valid size.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        if rc != 0 {
            bail!("openpty: {}", std::io::Error::last_os_error());
        }
        // SAFETY: openpty returned two new descriptors that nothing else owns.
        let (master, slave) = unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let mut cmd = Proc::new(program);
        cmd.args(args)
            .env("TERM", "xterm")
            .stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and ioctl are async-signal-safe; the child makes the terminal
        // on its stdin its controlling terminal, as a terminal emulator's child does.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().with_context(|| format!("starting {program}"))?;
        let mut reader = master.try_clone()?;
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with EIO once the program and its children have closed the terminal.
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            child,
            master,
            output,
            seen: Vec::new(),
        })
    }

    /// Wait until the output holds `want`; drop what came up to its end.
    fn wait_for(&mut self, want: &[u8]) -> Result<()> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(at) = self.seen.windows(want.len()).position(|w| w == want) {
                self.seen.drain(..at + want.len());
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(chunk) => self.seen.extend(chunk),
                Err(_) => bail!(
                    "no {:?} on the terminal; it shows {:?}",
                    String::from_utf8_lossy(want),
                    String::from_utf8_lossy(&self.seen)
                ),
            }
        }
    }

    /// Milliseconds from typing one key to its echo, `n` times.
    fn round_trips(&mut self, n: usize) -> Result<Vec<f64>> {
        let mut ms = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            self.master.write_all(b"a")?;
            self.wait_for(b"a")?;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        Ok(ms)
    }

    /// Ctrl-C ends the node's `cat`, so the session; killed past the guard.
    fn finish(mut self) -> Result<()> {
        self.master.write_all(b"\x03")?;
        let deadline = Instant::now() + PATIENCE;
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                bail!("the session did not end after Ctrl-C");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }
}

/// Round trips of a program on a local terminal, `n` after 20 for warm-up.
fn on_terminal(program: &str, args: &[&str], n: usize) -> Result<Vec<f64>> {
    let mut session = OnTerminal::spawn(program, args)?;
    let result = session
        .wait_for(b"READY")
        .and_then(|()| session.round_trips(20))
        .and_then(|_| session.round_trips(n));
    let finished = session.finish();
    let ms = result?;
    finished?;
    Ok(ms)
}

/// Read `out` into `seen` until it holds `want`; drop what came up to its end.
async fn read_until(out: &mut OutputStream, seen: &mut Vec<u8>, want: &[u8]) -> Result<()> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut buf = [0u8; 4096];
    loop {
        if let Some(at) = seen.windows(want.len()).position(|w| w == want) {
            seen.drain(..at + want.len());
            return Ok(());
        }
        match tokio::time::timeout_at(deadline, out.read(&mut buf)).await {
            Ok(Ok(got @ 1..)) => seen.extend_from_slice(&buf[..got]),
            _ => bail!("no {:?} from the node", String::from_utf8_lossy(want)),
        }
    }
}

/// The library's part: `popen` on a tty with stdin, a key written, its echo read.
async fn library(node: &Node, n: usize) -> Result<Vec<f64>> {
    let cmd = Command::shell(REMOTE).tty(Tty::new(80, 24)).stdin(true);
    let mut p = node.popen(cmd).await?;
    let mut out = p.stdout().context("stdout")?;
    let mut keys = p.stdin().context("stdin")?;
    let mut seen = Vec::new();
    read_until(&mut out, &mut seen, b"READY").await?;
    let mut ms = Vec::with_capacity(n);
    for i in 0..n + 20 {
        let t = Instant::now();
        keys.write_all(b"a").await?;
        read_until(&mut out, &mut seen, b"a").await?;
        if i >= 20 {
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    p.kill().await?;
    p.wait().await?;
    Ok(ms)
}

fn row(b: &mut Bench, metric: String, ours: &[f64], base: &[f64], label: &str, target: Target) {
    b.report
        .row(metric, median(ours), median(base), label, "ms", target);
    eprintln!(
        "    p90: ours {:.2} ms, baseline {:.2} ms",
        percentile(ours, 0.9).unwrap_or(f64::NAN),
        percentile(base, 0.9).unwrap_or(f64::NAN)
    );
}

pub async fn bench(b: &mut Bench) -> Result<()> {
    eprintln!("\n## interactive round trip");
    let cluster = b.provision(1, 0, 0).await?;
    let result = round_trips(b, &cluster).await;
    cluster.destroy().await?;
    result
}

async fn round_trips(b: &mut Bench, cluster: &Cluster) -> Result<()> {
    let n = b.cfg.iters;
    let master = &cluster.masters()[0];
    let id = cluster.id().to_string();
    let container = master
        .container_name()
        .context("not a container")?
        .to_string();
    let key = master.ssh_key_path().display().to_string();
    let target = format!("root@{}", master.ip_address());
    let minidcos = env!("CARGO_BIN_EXE_minidcos");

    // Ours and the baseline alternate in halves: the machine's load drifts.
    let mut ssh_ours = Vec::new();
    let mut ssh_base = Vec::new();
    let mut exec_ours = Vec::new();
    let mut exec_base = Vec::new();
    let mut ssh_args = vec!["-tt", "-i", key.as_str()];
    ssh_args.extend(OPENSSH_OPTIONS);
    ssh_args.extend([target.as_str(), REMOTE]);
    let ours = |transport: &'static str| {
        let args = [
            "docker",
            "run",
            &id,
            "--transport",
            transport,
            "--",
            "sh",
            "-c",
            REMOTE,
        ]
        .map(str::to_string);
        move |n| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            on_terminal(minidcos, &args, n)
        }
    };
    let (ours_ssh, ours_exec) = (ours("ssh"), ours("docker-exec"));
    let exec_args = ["exec", "-it", container.as_str(), "sh", "-c", REMOTE];
    for _ in 0..2 {
        ssh_base.extend(on_terminal("ssh", &ssh_args, n / 2)?);
        ssh_ours.extend(ours_ssh(n / 2)?);
        exec_base.extend(on_terminal("docker", &exec_args, n / 2)?);
        exec_ours.extend(ours_exec(n / 2)?);
    }
    row(
        b,
        format!(
            "keystroke echo, `minidcos docker run` on a terminal over SSH, median of {}",
            ssh_ours.len()
        ),
        &ssh_ours,
        &ssh_base,
        "`ssh -tt` (OpenSSH) on a terminal, same node, same run",
        Target::AtMost(10.0),
    );
    row(
        b,
        format!(
            "keystroke echo, `minidcos docker run --transport docker-exec` on a terminal, median of {}",
            exec_ours.len()
        ),
        &exec_ours,
        &exec_base,
        "`docker exec -it` on a terminal, same node, same run",
        Target::None,
    );

    // The library alone: no local terminal, no process start per key.
    let exec = Cluster::attach_docker(&id, Some(TransportKind::DockerExec)).await?;
    let lib_ssh = library(master, n).await?;
    let lib_exec = library(&exec.masters()[0], n).await?;
    drop(exec);
    row(
        b,
        format!("keystroke echo, Node::popen on a tty over SSH (library), median of {n}"),
        &lib_ssh,
        &ssh_base,
        "`ssh -tt` on a terminal (above)",
        Target::AtMost(10.0),
    );
    row(
        b,
        format!("keystroke echo, Node::popen on a tty over docker exec (library), median of {n}"),
        &lib_exec,
        &exec_base,
        "`docker exec -it` on a terminal (above)",
        Target::None,
    );
    Ok(())
}
