//! 5. The CLI: start time and peak memory.

use std::io::Read as _;
use std::path::Path;
use std::process::{Command as Proc, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::report::{Target, median};
use crate::state::Bench;
use crate::util::{leftovers, secs};

/// Run to the end; (wall seconds, peak RSS in MB, exit code, stdout, stderr).
///
/// The peak comes from GNU time when it is installed: a child's `ru_maxrss` also counts
/// the memory of the process that forked it (Linux keeps the pre-exec high-water mark),
/// so measured straight from this bench (about 30 MB itself) every command would read as
/// at least that. Without GNU time it falls back to `wait4`, an upper bound.
fn run_measured(program: &str, args: &[&str]) -> Result<(f64, f64, i32, String, String)> {
    const GNU_TIME: &str = "/usr/bin/time";
    let via_time = Path::new(GNU_TIME).exists();
    let t = Instant::now();
    let mut command = if via_time {
        let mut c = Proc::new(GNU_TIME);
        c.args(["-f", "dcos-e2e-bench-maxrss-kib=%M", program]);
        c
    } else {
        Proc::new(program)
    };
    let mut child = command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {program}"))?;
    let mut stdout = child.stdout.take().context("stdout")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let mut stderr = String::new();
    let _ = child
        .stderr
        .take()
        .context("stderr")?
        .read_to_string(&mut stderr);
    let out = reader.join().unwrap_or_default();
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; it is only written by wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, which std has not reaped (we never call wait on it).
    let r = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = secs(t);
    if r < 0 {
        bail!("wait4: {}", std::io::Error::last_os_error());
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    // ru_maxrss and GNU time's %M are in KiB on Linux.
    let mut kib = usage.ru_maxrss as f64;
    if via_time {
        let marker = "dcos-e2e-bench-maxrss-kib=";
        if let Some(line) = stderr.lines().rev().find(|l| l.starts_with(marker)) {
            kib = line[marker.len()..].trim().parse().unwrap_or(kib);
        }
        stderr = stderr
            .lines()
            .filter(|l| !l.starts_with(marker))
            .map(|l| format!("{l}\n"))
            .collect();
    }
    Ok((wall, kib / 1024.0, code, out, stderr))
}

fn spawn_times(program: &str, args: &[&str], runs: usize) -> Result<Vec<f64>> {
    let once = || -> Result<f64> {
        let t = Instant::now();
        let status = Proc::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if !status.success() {
            bail!("`{program} {}` failed: {status}", args.join(" "));
        }
        Ok(ms)
    };
    for _ in 0..5 {
        once()?;
    }
    (0..runs).map(|_| once()).collect()
}

pub async fn bench(b: &mut Bench) -> Result<()> {
    eprintln!("\n## minidcos CLI");
    // Cargo builds the package's binaries, with this bench's (release) profile, before
    // running a bench: this is target/release/minidcos.
    let bin = env!("CARGO_BIN_EXE_minidcos");
    let runs = b.cfg.help_runs;
    let help = spawn_times(bin, &["--help"], runs)?;
    let floor = spawn_times("/bin/true", &[], runs)?;
    b.report.row(
        format!("minidcos --help start time (median of {runs})"),
        median(&help),
        median(&floor),
        "spawn /bin/true (process floor)",
        "ms",
        Target::AtMost(10.0),
    );

    let (wall, rss, code, out, err) =
        run_measured(bin, &["docker", "create", "--node-image", &b.image])?;
    let id = out.lines().last().unwrap_or("").trim().to_string();
    if !id.is_empty() {
        b.made.push(id.clone());
    }
    if code != 0 || id.is_empty() {
        bail!("minidcos docker create failed ({code}): {err}");
    }
    let (_, docker_rss, ..) = run_measured("docker", &["ps", "-a"])?;
    b.report.row(
        "minidcos docker create 1+1+1 (no artifact): peak RSS",
        Some(rss),
        Some(docker_rss),
        "docker CLI `docker ps -a` peak RSS",
        "MB",
        Target::AtMost(30.0),
    );
    let (dwall, drss, dcode, _, derr) = run_measured(bin, &["docker", "destroy", &id])?;
    if dcode != 0 {
        bail!("minidcos docker destroy {id} failed ({dcode}): {derr}");
    }
    let left = leftovers(&id);
    b.report.row(
        "minidcos docker create 1+1+1 (no artifact): wall",
        Some(wall),
        b.base3("provision_s"),
        "baseline.sh provision_s (median)",
        "s",
        Target::None,
    );
    b.report.row(
        "minidcos docker destroy 1+1+1: wall",
        Some(dwall),
        b.base3("destroy_s"),
        "baseline.sh destroy_s (median)",
        "s",
        Target::None,
    );
    b.report.note(format!(
        "minidcos docker destroy peak RSS {drss:.1} MB; {left} objects of {id} left after it"
    ));
    Ok(())
}
