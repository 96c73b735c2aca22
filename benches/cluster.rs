//! Benchmarks of issues 3, 4, 6 and 7, each printed beside a baseline measured in the
//! same run (`cargo bench --bench cluster`; see `benches/README.md`).
//!
//! Baselines: `../shared/bench/baseline.sh` (plain `docker run` + OpenSSH), the same
//! installer steps done by hand with `bash` and `docker exec`, and plain process spawns.
//! Nothing is asserted: the bench prints a table (metric, ours, baseline, ratio, target)
//! and what it found about where the time goes. Every cluster it makes is destroyed, and
//! at the end it checks that nothing it made is left.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command as Proc, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use dcos_e2e::{Cluster, Command, Docker, InstallOptions, Node, TransportKind};
use futures_util::future::{join_all, try_join_all};

/// The baseline script, relative to the package root.
const BASELINE_SCRIPT: &str = "../shared/bench/baseline.sh";
/// The sample installer (test fixture), relative to the package root.
const SAMPLE_INSTALLER: &str = "tests/fixtures/sample-installer/dcos_generate_config.sh";
/// The image the baseline runs (derived from our node image; see `baseline_image`).
const BASELINE_IMAGE_REPO: &str = "dcos-e2e-bench/baseline-node";

/// Knobs, from the environment (see README).
struct Config {
    reps: usize,
    iters: usize,
    mib: u64,
    xfer_reps: usize,
    scale: Vec<usize>,
    delays: Vec<u32>,
    help_runs: usize,
    install_reps: usize,
    only: Option<Vec<String>>,
}

impl Config {
    fn from_env() -> Self {
        let num = |k: &str, d: usize| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(d)
        };
        let list = |k: &str, d: &str| -> Vec<usize> {
            std::env::var(k)
                .unwrap_or_else(|_| d.to_string())
                .split(',')
                .filter_map(|s| s.trim().parse().ok())
                .collect()
        };
        Self {
            reps: num("BENCH_REPS", 3).max(1),
            iters: num("BENCH_ITERS", 200).max(1),
            mib: num("BENCH_MIB", 500).max(1) as u64,
            xfer_reps: num("BENCH_XFER_REPS", 3).max(1),
            scale: list("BENCH_SCALE", "6,15,30"),
            delays: list("BENCH_DELAYS", "0,3")
                .into_iter()
                .map(|d| d as u32)
                .collect(),
            help_runs: num("BENCH_HELP_RUNS", 50).max(1),
            install_reps: num("BENCH_INSTALL_REPS", 3).max(1),
            only: std::env::var("BENCH_ONLY")
                .ok()
                .map(|v| v.split(',').map(|s| s.trim().to_string()).collect()),
        }
    }

    fn wants(&self, section: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|s| s == section))
    }
}

// ---------------------------------------------------------------------------------------
// Results table
// ---------------------------------------------------------------------------------------

/// How a figure compares with its target.
#[derive(Clone, Copy)]
enum Target {
    /// No target: information only.
    None,
    /// ours <= k * baseline (times).
    AtMostTimesBase(f64),
    /// ours >= k * baseline (rates).
    AtLeastTimesBase(f64),
    /// ours <= an absolute value (in the row's unit).
    AtMost(f64),
}

struct Row {
    metric: String,
    ours: Option<f64>,
    base: Option<f64>,
    base_label: String,
    unit: &'static str,
    target: Target,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    fn row(
        &mut self,
        metric: impl Into<String>,
        ours: Option<f64>,
        base: Option<f64>,
        base_label: impl Into<String>,
        unit: &'static str,
        target: Target,
    ) {
        let row = Row {
            metric: metric.into(),
            ours,
            base,
            base_label: base_label.into(),
            unit,
            target,
        };
        eprintln!(
            "  = {}: ours {} | baseline {} ({})",
            row.metric,
            fmt_val(row.ours, row.unit),
            fmt_val(row.base, row.unit),
            row.base_label
        );
        self.rows.push(row);
    }

    fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        eprintln!("  note: {note}");
        self.notes.push(note);
    }

    fn print(&self) {
        let cells: Vec<[String; 7]> = self
            .rows
            .iter()
            .map(|r| {
                let ratio = match (r.ours, r.base) {
                    (Some(o), Some(b)) if b > 0.0 => format!("{:.2}x", o / b),
                    _ => "-".into(),
                };
                let (target, meets) = match r.target {
                    Target::None => ("(info)".to_string(), None),
                    Target::AtMostTimesBase(k) => (
                        format!("<= {k}x base"),
                        r.ours.zip(r.base).map(|(o, b)| o <= k * b),
                    ),
                    Target::AtLeastTimesBase(k) => (
                        format!(">= {k}x base"),
                        r.ours.zip(r.base).map(|(o, b)| o >= k * b),
                    ),
                    Target::AtMost(v) => (
                        format!("<= {}", fmt_val(Some(v), r.unit)),
                        r.ours.map(|o| o <= v),
                    ),
                };
                let meets = match meets {
                    Some(true) => "yes",
                    Some(false) => "NO",
                    None if matches!(r.target, Target::None) => "",
                    None => "?",
                };
                [
                    r.metric.clone(),
                    fmt_val(r.ours, r.unit),
                    fmt_val(r.base, r.unit),
                    ratio,
                    target,
                    meets.to_string(),
                    r.base_label.clone(),
                ]
            })
            .collect();
        let header = [
            "metric",
            "ours",
            "baseline",
            "ratio",
            "target",
            "met",
            "baseline is",
        ];
        let mut widths = header.map(str::len);
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
                let pad = w.saturating_sub(c.chars().count());
                if i == 0 || i >= 4 {
                    let _ = write!(s, "{c}{}", " ".repeat(pad));
                } else {
                    let _ = write!(s, "{}{c}", " ".repeat(pad));
                }
                if i + 1 < cells.len() {
                    s.push_str(" | ");
                }
            }
            println!("{}", s.trim_end());
        };
        println!();
        line(&header.map(String::from));
        println!(
            "{}",
            widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .join("-|-")
        );
        for row in &cells {
            line(row);
        }
        if !self.notes.is_empty() {
            println!("\nNotes:");
            for n in &self.notes {
                println!("- {n}");
            }
        }
    }
}

fn fmt_val(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "-".into(),
        Some(v) if unit == "MB/s" || unit == "MB" => format!("{v:.0} {unit}"),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0} {unit}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1} {unit}"),
        Some(v) => format!("{v:.2} {unit}"),
    }
}

fn median(v: &[f64]) -> Option<f64> {
    percentile(v, 0.5)
}

fn percentile(v: &[f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if p == 0.5 && s.len().is_multiple_of(2) {
        return Some((s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0);
    }
    let i = ((s.len() - 1) as f64 * p).round() as usize;
    Some(s[i])
}

fn list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// MB/s as the baseline script computes it (decimal megabytes).
fn mb_s(mib: u64, secs: f64) -> f64 {
    mib as f64 * 1.048576 / secs
}

// ---------------------------------------------------------------------------------------
// Small process helpers
// ---------------------------------------------------------------------------------------

/// Run a program; its stdout, or an error with its stderr.
fn cmd(program: &str, args: &[&str]) -> Result<String> {
    let out = Proc::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {program}"))?;
    if !out.status.success() {
        bail!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn docker(args: &[&str]) -> Result<String> {
    cmd("docker", args)
}

fn secs(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}

/// CLOCK_MONOTONIC in seconds: the clock systemd's `*TimestampMonotonic` use in the
/// containers too (containers share the host's monotonic clock).
fn mono_now() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn wall_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Seconds since the epoch of a Docker timestamp such as `2026-11-29T09:50:23.6448Z`
/// (or with a `+HH:MM` offset).
fn parse_rfc3339(s: &str) -> Option<f64> {
    let s = s.trim();
    // Go's default format, as `docker network inspect` prints `Created`:
    // `2026-11-29 09:25:05.12900407 +0000 UTC`.
    let parts: Vec<&str> = s.split_whitespace().collect();
    if let [date, time, offset, ..] = parts.as_slice()
        && offset.len() == 5
    {
        let (h, m) = offset.split_at(3);
        return parse_rfc3339(&format!("{date}T{time}{h}:{m}"));
    }
    let (body, offset) = if let Some(b) = s.strip_suffix('Z') {
        (b, 0.0)
    } else {
        let at = s.len().checked_sub(6)?;
        let (b, off) = s.split_at(at);
        let sign = match off.as_bytes().first()? {
            b'+' => 1.0,
            b'-' => -1.0,
            _ => return None,
        };
        let (h, m) = off[1..].split_once(':')?;
        (
            b,
            sign * (h.parse::<f64>().ok()? * 3600.0 + m.parse::<f64>().ok()? * 60.0),
        )
    };
    let (date, time) = body.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>().ok());
    let (h, mi, se) = (t.next()??, t.next()??, t.next()??);
    let frac: f64 = format!("0.{frac}").parse().ok()?;
    // Days from civil (H. Hinnant).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * ((mo + 9) % 12) + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some((days * 86400 + h * 3600 + mi * 60 + se) as f64 + frac - offset)
}

// ---------------------------------------------------------------------------------------
// Log capture: the library logs the genconf / node-install split at info.
// ---------------------------------------------------------------------------------------

#[derive(Clone)]
struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
    echo: bool,
}

impl std::io::Write for Capture {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(data);
        if self.echo {
            std::io::stderr().write_all(data)?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

impl Capture {
    /// Log to a buffer; also to stderr when `RUST_LOG` is set (then its filter is used).
    fn install() -> Self {
        let rust_log = std::env::var("RUST_LOG").ok().filter(|v| !v.is_empty());
        let cap = Capture {
            buf: Arc::default(),
            echo: rust_log.is_some(),
        };
        let filter =
            tracing_subscriber::EnvFilter::new(rust_log.as_deref().unwrap_or("dcos_e2e=info"));
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(cap.clone())
            .with_ansi(false)
            .init();
        cap
    }

    fn clear(&self) {
        self.buf.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The duration in the last captured line containing `marker` (e.g. "genconf done
    /// in"), written as Rust's `{:?}` of a `Duration` ("1.2s", "845.3ms").
    fn duration_after(&self, marker: &str) -> Option<f64> {
        let buf = self.buf.lock().unwrap_or_else(|p| p.into_inner());
        let text = String::from_utf8_lossy(&buf);
        let line = text.lines().rev().find(|l| l.contains(marker))?;
        let rest = &line[line.find(marker)? + marker.len()..];
        let token = rest.split_whitespace().next()?;
        for (suffix, scale) in [("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9), ("s", 1.0)] {
            if let Some(n) = token.strip_suffix(suffix) {
                return n.parse::<f64>().ok().map(|n| n * scale);
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------
// Bench state: what was made, so all of it is removed
// ---------------------------------------------------------------------------------------

struct Bench {
    cfg: Config,
    report: Report,
    log: Capture,
    image: String,
    baseline_image: Option<String>,
    /// Every cluster id this bench made (library or CLI).
    made: Vec<String>,
    /// The workspaces of the library clusters it made.
    workspaces: Vec<PathBuf>,
    tmp: tempfile::TempDir,
    /// 1+1+1 baseline samples (key -> values), from the paired runs.
    base3: BTreeMap<String, Vec<f64>>,
}

impl Bench {
    fn base3(&self, key: &str) -> Option<f64> {
        self.base3.get(key).and_then(|v| median(v))
    }

    async fn provision(&mut self, masters: usize, agents: usize, public: usize) -> Result<Cluster> {
        self.provision_with(Docker::new(), masters, agents, public)
            .await
    }

    async fn provision_with(
        &mut self,
        backend: Docker,
        masters: usize,
        agents: usize,
        public: usize,
    ) -> Result<Cluster> {
        let cluster = Cluster::builder(backend.node_image(self.image.clone()))
            .masters(masters)
            .agents(agents)
            .public_agents(public)
            .provision()
            .await?;
        self.made.push(cluster.id().to_string());
        self.workspaces
            .extend(cluster.workspace().map(Path::to_path_buf));
        Ok(cluster)
    }
}

// ---------------------------------------------------------------------------------------
// Environment and preparation
// ---------------------------------------------------------------------------------------

fn print_environment(image: &str) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "?".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok())
        .map_or("?".into(), |kb| format!("{:.1} GiB", kb / 1048576.0));
    let kernel = cmd("uname", &["-r"]).unwrap_or_else(|_| "?".into());
    let server = docker(&[
        "version",
        "--format",
        "{{.Server.Version}} (API {{.Server.APIVersion}})",
    ])
    .unwrap_or_else(|e| format!("? ({e})"));
    let info = docker(&[
        "info",
        "--format",
        "storage driver {{.Driver}}, cgroup v{{.CgroupVersion}} ({{.CgroupDriver}}), {{.ContainersRunning}} containers running",
    ])
    .unwrap_or_else(|e| format!("? ({e})"));
    println!("dcos-e2e cluster benchmarks");
    println!("  cores:   {cores} x {model}, memory {mem}, kernel {kernel}");
    println!("  docker:  {server}; {info}");
    println!("  image:   {image}");
    println!("  load:    {}", load_and_neighbours());
}

/// Load average and containers not made by this bench (other work on the machine makes
/// the figures noisier).
fn load_and_neighbours() -> String {
    let load = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    let running = docker(&["ps", "-q"]).map_or(0, |s| s.lines().count());
    format!("loadavg {load}; {running} containers running")
}

/// `ssh` and `scp` for the baseline (openssh-client), installed with apt-get if missing.
fn ensure_openssh() -> Result<()> {
    let have = |p: &str| {
        Proc::new("sh")
            .args(["-c", &format!("command -v {p}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if have("ssh") && have("scp") {
        return Ok(());
    }
    eprintln!("installing openssh-client for the baseline (apt-get)");
    let _ = Proc::new("apt-get").args(["update", "-q"]).status();
    let status = Proc::new("apt-get")
        .args(["install", "-y", "-q", "openssh-client"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()?;
    if !status.success() || !have("ssh") {
        bail!("the baseline needs ssh and scp (openssh-client); install them");
    }
    Ok(())
}

/// The baseline script starts containers of an image with a plain `docker run`, where
/// our image would generate a host key at first boot; our nodes get theirs from the
/// harness and generate none. So the baseline runs a derived image with a host key baked
/// in: both boot the same way.
fn baseline_image(image: &str) -> Result<String> {
    let recipe = image.rsplit(':').next().unwrap_or("latest");
    let tag = format!("{BASELINE_IMAGE_REPO}:{recipe}");
    if docker(&["image", "inspect", "--format", "x", &tag]).is_ok() {
        return Ok(tag);
    }
    let dockerfile = format!(
        "FROM {image}\n\
         RUN test -s /etc/ssh/ssh_host_ed25519_key || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key\n\
         LABEL dcos-e2e.role=bench-baseline dcos-e2e.image-recipe=\n"
    );
    let mut child = Proc::new("docker")
        .args(["build", "-q", "-t", &tag, "-"])
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .context("docker build stdin")?
        .write_all(dockerfile.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "building the baseline image failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(tag)
}

/// Run the baseline script; its key=value figures.
fn run_baseline(image: &str, nodes: usize, mib: u64) -> Result<BTreeMap<String, f64>> {
    use std::os::unix::process::CommandExt;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(BASELINE_SCRIPT);
    let timeout = Duration::from_secs(
        std::env::var("BENCH_BASELINE_TIMEOUT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(240),
    );
    let mut child = Proc::new("bash")
        .arg(&script)
        .args([image, &nodes.to_string(), &mib.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .with_context(|| format!("running {}", script.display()))?;
    let pid = child.id();
    let pipe = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        })
    };
    let stdout = pipe(child.stdout.take().map(|r| Box::new(r) as _));
    let stderr = pipe(child.stderr.take().map(|r| Box::new(r) as _));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            // Stop the script and everything it started; its EXIT trap removes its
            // containers, and so does this, by the script's own label.
            let group = -(pid as libc::pid_t);
            // SAFETY: signals the process group we made for the script.
            unsafe { libc::kill(group, libc::SIGTERM) };
            std::thread::sleep(Duration::from_secs(3));
            // SAFETY: as above.
            unsafe { libc::kill(group, libc::SIGKILL) };
            let _ = child.wait();
            let label = format!("label=dcos-e2e-baseline=baseline-{pid}");
            if let Ok(ids) = docker(&["ps", "-aq", "--filter", &label])
                && !ids.is_empty()
            {
                let mut args = vec!["rm", "-f", "-v"];
                args.extend(ids.lines());
                let _ = docker(&args);
            }
            bail!(
                "baseline.sh with {nodes} nodes did not finish in {}s (stopped)",
                timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = stdout.join().unwrap_or_default();
    let err = stderr.join().unwrap_or_default();
    if !status.success() {
        bail!("{} failed ({status}): {}", script.display(), err.trim());
    }
    let mut figures = BTreeMap::new();
    for line in out.lines() {
        if let Some((k, v)) = line.split_once('=')
            && let Ok(v) = v.trim().parse::<f64>()
        {
            figures.insert(k.trim().to_string(), v);
        }
    }
    if !figures.contains_key("provision_s") {
        bail!("the baseline printed no provision_s");
    }
    Ok(figures)
}

/// [`run_baseline`]; a failure becomes a note and no figures.
fn baseline_or_note(
    report: &mut Report,
    image: &str,
    nodes: usize,
    mib: u64,
) -> BTreeMap<String, f64> {
    run_baseline(image, nodes, mib).unwrap_or_else(|e| {
        report.note(format!("baseline run failed: {e:#}"));
        BTreeMap::new()
    })
}

// ---------------------------------------------------------------------------------------
// Where provisioning time goes
// ---------------------------------------------------------------------------------------

/// Per-step times of one provisioning, from Docker's and systemd's own timestamps,
/// relative to the call.
struct Timeline {
    network: Option<f64>,
    reaper_started: Option<f64>,
    created: Vec<f64>,
    started: Vec<f64>,
    systemd: Vec<f64>,
    sshd: Vec<f64>,
    booted: Vec<f64>,
    returned: f64,
}

impl Timeline {
    /// `t0` is `mono_now()` just before `provision()`; `returned` seconds later it returned.
    async fn of(cluster: &Cluster, t0: f64, returned: f64) -> Result<Timeline> {
        let offset = wall_now() - mono_now(); // wall = mono + offset
        let rel = |wall: f64| wall - offset - t0;
        let id = cluster.id();
        let network = docker(&["network", "inspect", "--format", "{{.Created}}", id])
            .ok()
            .and_then(|s| parse_rfc3339(&s))
            .map(rel);
        let reaper_started = docker(&[
            "inspect",
            "--format",
            "{{.State.StartedAt}}",
            &format!("{id}-reaper"),
        ])
        .ok()
        .and_then(|s| parse_rfc3339(&s))
        .map(rel);
        let names: Vec<String> = cluster
            .nodes()
            .filter_map(|n| n.container_name().map(str::to_string))
            .collect();
        let mut args = vec!["inspect", "--format", "{{.Created}} {{.State.StartedAt}}"];
        args.extend(names.iter().map(String::as_str));
        let mut created = Vec::new();
        let mut started = Vec::new();
        for line in docker(&args)?.lines() {
            let mut it = line.split_whitespace();
            if let (Some(c), Some(s)) = (
                it.next().and_then(parse_rfc3339),
                it.next().and_then(parse_rfc3339),
            ) {
                created.push(rel(c));
                started.push(rel(s));
            }
        }
        let probe = "systemctl show -p UserspaceTimestampMonotonic -p FinishTimestampMonotonic; \
                     systemctl show ssh -p ActiveEnterTimestampMonotonic";
        let outs = try_join_all(cluster.nodes().map(|n| n.run(Command::shell(probe)))).await?;
        let (mut systemd, mut sshd, mut booted) = (Vec::new(), Vec::new(), Vec::new());
        for out in outs {
            for line in out.stdout_text().lines() {
                let Some((k, v)) = line.split_once('=') else {
                    continue;
                };
                let Ok(us) = v.trim().parse::<f64>() else {
                    continue;
                };
                if us <= 0.0 {
                    continue;
                }
                let t = us / 1e6 - t0;
                match k {
                    "UserspaceTimestampMonotonic" => systemd.push(t),
                    "FinishTimestampMonotonic" => booted.push(t),
                    "ActiveEnterTimestampMonotonic" => sshd.push(t),
                    _ => {}
                }
            }
        }
        Ok(Timeline {
            network,
            reaper_started,
            created,
            started,
            systemd,
            sshd,
            booted,
            returned,
        })
    }

    fn describe(&self) -> String {
        let span = |v: &[f64]| -> String {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if v.is_empty() {
                "?".into()
            } else if v.len() == 1 {
                format!("+{lo:.2}")
            } else {
                format!("+{lo:.2}..{hi:.2}")
            }
        };
        let one = |v: Option<f64>| v.map_or("?".into(), |v| format!("+{v:.2}"));
        format!(
            "network created {}, watchdog started {}, containers created {}, started {}, \
             systemd running {}, sshd active {}, boot finished {}, provision() returned +{:.2} (seconds after the call)",
            one(self.network),
            one(self.reaper_started),
            span(&self.created),
            span(&self.started),
            span(&self.systemd),
            span(&self.sshd),
            span(&self.booted),
            self.returned
        )
    }
}

/// Nothing of the cluster is left: containers, volumes, networks with its label.
fn leftovers(id: &str) -> usize {
    let filter = format!("label=dcos-e2e.cluster-id={id}");
    let count = |args: &[&str]| docker(args).map_or(0, |s| s.lines().count());
    count(&["ps", "-aq", "--filter", &filter])
        + count(&["volume", "ls", "-q", "--filter", &filter])
        + count(&["network", "ls", "-q", "--filter", &filter])
}

// ---------------------------------------------------------------------------------------
// 1. Provision and destroy 1+1+1, paired with baseline runs
// ---------------------------------------------------------------------------------------

async fn bench_provision(b: &mut Bench) -> Result<()> {
    eprintln!(
        "\n## provision / destroy 1+1+1 ({} paired repetitions)",
        b.cfg.reps
    );
    let base_image = b.baseline_image.clone().context("no baseline image")?;
    let (mut ours_p, mut ours_d) = (Vec::new(), Vec::new());
    for rep in 0..b.cfg.reps {
        // The first baseline run also measures transfers, with the bench's file size.
        let mib = if rep == 0 { b.cfg.mib } else { 1 };
        let figures = baseline_or_note(&mut b.report, &base_image, 3, mib);
        eprintln!("  baseline run {}: {figures:?}", rep + 1);
        for (k, v) in figures {
            if rep > 0 && (k.ends_with("mb_s")) {
                continue;
            }
            b.base3.entry(k).or_default().push(v);
        }

        let t0 = mono_now();
        let started = Instant::now();
        let cluster = b.provision(1, 1, 1).await?;
        let p = secs(started);
        let timeline = Timeline::of(&cluster, t0, p).await?;
        let id = cluster.id().to_string();
        let started = Instant::now();
        cluster.destroy().await?;
        let d = secs(started);
        let left = leftovers(&id);
        let ws_left = cluster.workspace().is_some_and(Path::exists);
        eprintln!(
            "  ours run {}{}: provision {p:.2}s, destroy {d:.2}s, left after destroy: {left} objects{}",
            rep + 1,
            if rep == 0 {
                " (cold: first cluster of the process)"
            } else {
                ""
            },
            if ws_left { " + workspace" } else { "" }
        );
        eprintln!("    timeline: {}", timeline.describe());
        if rep == 0 || rep + 1 == b.cfg.reps {
            b.report.note(format!(
                "1+1+1 provision run {}{}: {}",
                rep + 1,
                if rep == 0 { " (cold)" } else { "" },
                timeline.describe()
            ));
        }
        if left > 0 || ws_left {
            b.report.note(format!(
                "destroy of {id} left {left} Docker objects{}",
                if ws_left { " and its workspace" } else { "" }
            ));
        }
        ours_p.push(p);
        ours_d.push(d);
    }
    let reps = b.cfg.reps;
    b.report.row(
        format!("provision 1+1+1 to SSH-ready (median of {reps})"),
        median(&ours_p),
        b.base3("provision_s"),
        "baseline.sh provision_s (median)",
        "s",
        Target::AtMostTimesBase(1.2),
    );
    b.report.row(
        format!("destroy 1+1+1, nothing left (median of {reps})"),
        median(&ours_d),
        b.base3("destroy_s"),
        "baseline.sh destroy_s (median)",
        "s",
        Target::AtMostTimesBase(1.2),
    );
    b.report.note(format!(
        "provision samples ours [{}] s, baseline [{}] s; destroy samples ours [{}] s, baseline [{}] s",
        list(&ours_p),
        list(b.base3.get("provision_s").map_or(&[][..], |v| v)),
        list(&ours_d),
        list(b.base3.get("destroy_s").map_or(&[][..], |v| v)),
    ));
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 2. Scaling to 30 nodes
// ---------------------------------------------------------------------------------------

async fn bench_scale(b: &mut Bench) -> Result<()> {
    eprintln!("\n## scaling");
    let base_image = b.baseline_image.clone().context("no baseline image")?;
    let mut growth = Vec::new();
    let ours3 = b
        .report
        .rows
        .iter()
        .find(|r| r.metric.starts_with("provision 1+1+1"))
        .and_then(|r| r.ours);
    if let (Some(o), Some(bp)) = (ours3, b.base3("provision_s")) {
        growth.push(format!("3 nodes {o:.2}s (baseline {bp:.2}s)"));
    }
    for nodes in b.cfg.scale.clone() {
        let per = nodes.div_ceil(3);
        let (m, a, pa) = (per, per, nodes - 2 * per);
        let figures = baseline_or_note(&mut b.report, &base_image, nodes, 1);
        let t0 = mono_now();
        let started = Instant::now();
        let cluster = b.provision(m, a, pa).await?;
        let p = secs(started);
        let timeline = Timeline::of(&cluster, t0, p).await?;
        let id = cluster.id().to_string();
        let started = Instant::now();
        cluster.destroy().await?;
        let d = secs(started);
        let left = leftovers(&id);
        eprintln!(
            "  {nodes} nodes ({m}+{a}+{pa}): provision {p:.2}s, destroy {d:.2}s, left {left}"
        );
        eprintln!("    timeline: {}", timeline.describe());
        let bp = figures.get("provision_s").copied();
        let bd = figures.get("destroy_s").copied();
        growth.push(format!(
            "{nodes} nodes {p:.2}s (baseline {})",
            bp.map_or("?".into(), |v| format!("{v:.2}s"))
        ));
        let target = if nodes >= 30 {
            Target::AtMost(10.0)
        } else {
            Target::None
        };
        b.report.row(
            format!("provision {nodes} nodes ({m}+{a}+{pa})"),
            Some(p),
            bp,
            format!("baseline.sh {nodes} nodes provision_s"),
            "s",
            target,
        );
        b.report.row(
            format!("destroy {nodes} nodes"),
            Some(d),
            bd,
            format!("baseline.sh {nodes} nodes destroy_s"),
            "s",
            Target::None,
        );
        if nodes >= 30 {
            b.report
                .note(format!("{nodes}-node provision: {}", timeline.describe()));
        }
        if left > 0 {
            b.report.note(format!(
                "destroy of {id} ({nodes} nodes) left {left} Docker objects"
            ));
        }
    }
    b.report
        .note(format!("provision time by size: {}", growth.join("; ")));
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 3. Warm command latency and file transfer
// ---------------------------------------------------------------------------------------

async fn run_latencies(node: &Node, iters: usize) -> Result<Vec<f64>> {
    for _ in 0..20 {
        node.run(["true"]).await?;
    }
    let mut ms = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        node.run(["true"]).await?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(ms)
}

/// Send `file` to `remote` on `node`; seconds. Checks the size arrived.
async fn send(node: &Node, file: &Path, remote: &str, size: u64) -> Result<f64> {
    let t = Instant::now();
    node.send_file(file, remote).await?;
    let s = secs(t);
    let got = node.run(["stat", "-c", "%s", remote]).await?.stdout_text();
    if got.trim() != size.to_string() {
        bail!("{remote} on {node} has {got} bytes, expected {size}");
    }
    Ok(s)
}

/// `scp` of `file` to `remote` on each node at once; seconds. Removes it after.
fn scp(nodes: &[&Node], file: &Path, remote: &str) -> Result<f64> {
    let t = Instant::now();
    let children: Vec<_> = nodes
        .iter()
        .map(|n| {
            Proc::new("scp")
                .arg("-q")
                .arg("-i")
                .arg(n.ssh_key_path())
                .args([
                    "-o",
                    "StrictHostKeyChecking=no",
                    "-o",
                    "UserKnownHostsFile=/dev/null",
                    "-o",
                    "LogLevel=ERROR",
                    "-o",
                    "BatchMode=yes",
                ])
                .arg(file)
                .arg(format!("root@{}:{remote}", n.ip_address()))
                .stdin(Stdio::null())
                .spawn()
        })
        .collect::<std::io::Result<_>>()?;
    for mut c in children {
        let status = c.wait()?;
        if !status.success() {
            bail!("scp failed: {status}");
        }
    }
    let s = secs(t);
    for n in nodes {
        let c = n.container_name().unwrap_or_default();
        docker(&["exec", c, "rm", "-f", remote])?;
    }
    Ok(s)
}

/// User + system CPU time of this process so far.
fn cpu_seconds() -> f64 {
    // SAFETY: an all-zero rusage is valid; getrusage fills it in.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// OpenSSH's best for one command: `ssh true` through a ControlMaster connection to
/// `node`, as `baseline.sh` measures `ssh_mux_ms`; milliseconds.
fn ssh_mux_latencies(node: &Node, dir: &Path, n: usize) -> Result<Vec<f64>> {
    let sock = dir.join("mux");
    let key = node.ssh_key_path().to_string_lossy().to_string();
    let sock_s = sock.to_string_lossy().to_string();
    let target = format!("root@{}", node.ip_address());
    let opts = [
        "-i",
        key.as_str(),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "BatchMode=yes",
        "-S",
        sock_s.as_str(),
    ];
    let mut master = opts.to_vec();
    master.extend([
        "-o",
        "ControlMaster=yes",
        "-o",
        "ControlPersist=60",
        "-fN",
        &target,
    ]);
    // Not `cmd`: the backgrounded master keeps any captured pipe open.
    let status = Proc::new("ssh")
        .args(&master)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("ssh ControlMaster to {target} failed: {status}");
    }
    let mut one = opts.to_vec();
    one.extend([target.as_str(), "true"]);
    let result = (0..n)
        .map(|_| {
            let t = Instant::now();
            cmd("ssh", &one)?;
            Ok(t.elapsed().as_secs_f64() * 1e3)
        })
        .collect();
    let _ = cmd("ssh", &["-S", &sock_s, "-O", "exit", "x"]);
    result
}

/// `docker exec <node> true` with the CLI, as `baseline.sh` measures `docker_exec_ms`.
fn docker_exec_latencies(node: &Node, n: usize) -> Result<Vec<f64>> {
    let c = node.container_name().context("not a container")?;
    (0..n)
        .map(|_| {
            let t = Instant::now();
            docker(&["exec", c, "true"])?;
            Ok(t.elapsed().as_secs_f64() * 1e3)
        })
        .collect()
}

fn make_blob(dir: &Path, mib: u64) -> Result<PathBuf> {
    use rand::RngCore;
    let path = dir.join("blob");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
    let mut buf = vec![0u8; 1 << 20];
    let mut rng = rand::rng();
    for _ in 0..mib {
        rng.fill_bytes(&mut buf);
        f.write_all(&buf)?;
    }
    f.into_inner()?.sync_all()?;
    Ok(path)
}

async fn bench_node_ops(b: &mut Bench) -> Result<()> {
    eprintln!("\n## node operations");
    let cluster = b.provision(1, 1, 1).await?;
    // A second handle on the same cluster whose nodes use docker exec.
    let exec = Cluster::attach_docker(cluster.id(), Some(TransportKind::DockerExec)).await?;
    let result = node_ops(b, &cluster, &exec).await;
    drop(exec);
    cluster.destroy().await?;
    result
}

async fn node_ops(b: &mut Bench, cluster: &Cluster, exec: &Cluster) -> Result<()> {
    let iters = b.cfg.iters;
    let master = &cluster.masters()[0];
    let xmaster = &exec.masters()[0];
    if xmaster.transport() != TransportKind::DockerExec {
        bail!("the attached handle does not use docker exec");
    }

    // Paired references on the same node in the same minute (the machine's load drifts
    // between the baseline script's run and these).
    let mux = ssh_mux_latencies(master, b.tmp.path(), 50)?;
    let ssh = run_latencies(master, iters).await?;
    let cli = docker_exec_latencies(master, 20)?;
    let dx = run_latencies(xmaster, iters).await?;
    b.report.row(
        format!("warm run([\"true\"]) over SSH, median of {iters}"),
        median(&ssh),
        b.base3("ssh_mux_ms"),
        "ssh with ControlMaster (ssh_mux_ms)",
        "ms",
        Target::AtMost(5.0),
    );
    b.report.row(
        format!("warm run([\"true\"]) over SSH, p90 of {iters}"),
        percentile(&ssh, 0.9),
        b.base3("ssh_new_ms"),
        "new ssh per command (ssh_new_ms)",
        "ms",
        Target::None,
    );
    b.report.row(
        format!("warm run([\"true\"]) over docker exec, median of {iters}"),
        median(&dx),
        b.base3("docker_exec_ms"),
        "docker exec CLI (docker_exec_ms)",
        "ms",
        Target::AtMostTimesBase(1.0),
    );

    b.report.row(
        format!("warm run([\"true\"]) over SSH, median of {iters}, paired"),
        median(&ssh),
        median(&mux),
        "ssh ControlMaster to the same node, just before",
        "ms",
        Target::None,
    );
    b.report.row(
        format!("warm run([\"true\"]) over docker exec, median of {iters}, paired"),
        median(&dx),
        median(&cli),
        "docker exec CLI on the same node, just before",
        "ms",
        Target::None,
    );

    // 100 concurrent runs on one node (issue 4 tests this; the time is informative).
    let t = Instant::now();
    try_join_all((0..100).map(|_| master.run(["true"]))).await?;
    let conc = secs(t) * 1e3;
    b.report.row(
        "100 concurrent run([\"true\"]) on one node over SSH (wall)",
        Some(conc),
        median(&ssh).map(|m| m * 100.0),
        "100 x our sequential median",
        "ms",
        Target::None,
    );

    let mib = b.cfg.mib;
    let size = mib << 20;
    let t = Instant::now();
    let blob = make_blob(b.tmp.path(), mib)?;
    eprintln!("  made a {mib} MiB file in {:.1}s", secs(t));
    let reps = b.cfg.xfer_reps;

    let mut times = Vec::new();
    let cpu = cpu_seconds();
    for _ in 0..reps {
        times.push(send(master, &blob, "/root/bench/blob", size).await?);
    }
    let client_cpu = (cpu_seconds() - cpu) / reps as f64;
    let one_ssh = median(&times).unwrap_or(f64::NAN);
    let scp_root = scp(&[master], &blob, "/root/scp-blob")?;
    b.report.note(format!(
        "one {mib} MiB send_file over SSH costs this process {client_cpu:.2} CPU-seconds \
         (encryption; mean of {reps}, wall median {one_ssh:.2}s) on a {}-core machine",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    ));
    // What the node's root filesystem takes without any transport: the ceiling for
    // every transfer to /root (the storage driver is in the header).
    let t = Instant::now();
    master
        .run(Command::shell(format!(
            "dd if=/dev/zero of=/root/dd-blob bs=128k count={} 2>/dev/null; rm -f /root/dd-blob",
            mib * 8
        )))
        .await?;
    b.report.row(
        format!("write {mib} MiB on the node to /root, no transport (dd)"),
        Some(mb_s(mib, secs(t))),
        None,
        "ceiling for any transfer to /root",
        "MB/s",
        Target::None,
    );
    b.report.row(
        format!("send_file {mib} MiB over SSH to /root (median of {reps})"),
        Some(mb_s(mib, one_ssh)),
        b.base3("scp_mb_s"),
        "scp (scp_mb_s)",
        "MB/s",
        Target::AtLeastTimesBase(1.5),
    );
    eprintln!("    ssh send_file samples: [{}] s", list(&times));
    b.report.row(
        format!("send_file {mib} MiB over SSH to /root, paired"),
        Some(mb_s(mib, one_ssh)),
        Some(mb_s(mib, scp_root)),
        "scp to /root on the same node, just after",
        "MB/s",
        Target::None,
    );
    master.run(["rm", "-f", "/root/bench/blob"]).await?;

    let mut times = Vec::new();
    for _ in 0..reps {
        times.push(send(xmaster, &blob, "/root/bench/blob-x", size).await?);
    }
    let one_exec = median(&times).unwrap_or(f64::NAN);
    b.report.row(
        format!("send_file {mib} MiB over docker exec to /root (median of {reps})"),
        Some(mb_s(mib, one_exec)),
        b.base3("docker_cp_mb_s"),
        "docker cp (docker_cp_mb_s)",
        "MB/s",
        Target::None,
    );
    eprintln!("    docker-exec send_file samples: [{}] s", list(&times));
    xmaster.run(["rm", "-f", "/root/bench/blob-x"]).await?;

    // Into tmpfs: the transports without the container's overlay filesystem, beside scp
    // to the same place.
    let t = send(master, &blob, "/tmp/blob", size).await?;
    master.run(["rm", "-f", "/tmp/blob"]).await?;
    let tx = send(xmaster, &blob, "/tmp/blob", size).await?;
    xmaster.run(["rm", "-f", "/tmp/blob"]).await?;
    let scp_tmp = scp(&[master], &blob, "/tmp/scp-blob")?;
    b.report.row(
        format!("send_file {mib} MiB over SSH to tmpfs /tmp"),
        Some(mb_s(mib, t)),
        Some(mb_s(mib, scp_tmp)),
        "scp to tmpfs /tmp on the same node",
        "MB/s",
        Target::None,
    );
    b.report.row(
        format!("send_file {mib} MiB over docker exec to tmpfs /tmp"),
        Some(mb_s(mib, tx)),
        Some(mb_s(mib, scp_tmp)),
        "scp to tmpfs /tmp on the same node",
        "MB/s",
        Target::None,
    );

    // Three nodes at once; the baseline is scp to the same nodes, one, then three at once.
    let all: Vec<&Node> = cluster.nodes().collect();
    let scp_one = scp(&all[..1], &blob, "/root/scp-blob")?;
    let scp_three = scp(&all, &blob, "/root/scp-blob")?;
    let t = Instant::now();
    let r = join_all(
        all.iter()
            .map(|n| send(n, &blob, "/root/bench/blob3", size)),
    )
    .await;
    let three = secs(t);
    r.into_iter().collect::<Result<Vec<_>>>()?;
    b.report.row(
        format!("send_file {mib} MiB to 3 nodes at once over SSH (time)"),
        Some(three),
        Some(one_ssh),
        "ours, one node over SSH",
        "s",
        Target::AtMostTimesBase(1.5),
    );
    b.report.row(
        format!("scp {mib} MiB to the same 3 nodes at once (time)"),
        Some(scp_three),
        Some(scp_one),
        "scp to one of them (what the machine allows)",
        "s",
        Target::None,
    );
    try_join_all(all.iter().map(|n| n.run(["rm", "-f", "/root/bench/blob3"]))).await?;
    let xall: Vec<&Node> = exec.nodes().collect();
    let t = Instant::now();
    let r = join_all(
        xall.iter()
            .map(|n| send(n, &blob, "/root/bench/blob3", size)),
    )
    .await;
    let xthree = secs(t);
    r.into_iter().collect::<Result<Vec<_>>>()?;
    b.report.row(
        format!("send_file {mib} MiB to 3 nodes at once over docker exec (time)"),
        Some(xthree),
        Some(one_exec),
        "ours, one node over docker exec",
        "s",
        Target::None,
    );
    std::fs::remove_file(&blob)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 4. Install with the sample installer: ours vs the same steps by hand
// ---------------------------------------------------------------------------------------

struct InstallTimes {
    genconf: f64,
    nodes: f64,
    wait: f64,
}

impl InstallTimes {
    fn total(&self) -> f64 {
        self.genconf + self.nodes + self.wait
    }
}

/// One step's time out of an install's.
type StepTime = fn(&InstallTimes) -> f64;

fn installer() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(SAMPLE_INSTALLER)
}

fn delay_config(delay: u32) -> yaml_serde::Value {
    let mut m = yaml_serde::Mapping::new();
    m.insert(
        yaml_serde::Value::from("sample_startup_delay"),
        yaml_serde::Value::from(delay),
    );
    yaml_serde::Value::Mapping(m)
}

async fn ours_install(b: &mut Bench, delay: u32) -> Result<(f64, InstallTimes)> {
    let t = Instant::now();
    let cluster = b.provision(1, 1, 1).await?;
    let provision = secs(t);
    let options = InstallOptions {
        build_artifact: installer(),
        extra_config: Some(delay_config(delay)),
        files_to_copy_to_installer: Vec::new(),
    };
    b.log.clear();
    let t = Instant::now();
    cluster.install(&options).await?;
    let install = secs(t);
    let t = Instant::now();
    cluster.wait_for_dcos(Duration::from_secs(300)).await?;
    let wait = secs(t);
    cluster.destroy().await?;
    let genconf = b.log.duration_after("genconf done in");
    let nodes = b.log.duration_after("node installs done in");
    let (genconf, nodes) = match (genconf, nodes) {
        (Some(g), Some(_)) => (g, install - g),
        _ => {
            b.report.note(format!(
                "the library's genconf/node-install log lines were not found (captured: genconf {genconf:?}, nodes {nodes:?}); \
                 the install is counted as node install"
            ));
            (0.0, install)
        }
    };
    Ok((
        provision,
        InstallTimes {
            genconf,
            nodes,
            wait,
        },
    ))
}

/// The same installer steps by hand on a cluster the library provisioned: `bash
/// installer --genconf` in its workspace, `docker exec` of `dcos_install.sh` on every
/// node at once, and polling the master's checks with `docker exec` every 50 ms.
async fn by_hand_install(b: &mut Bench, delay: u32) -> Result<InstallTimes> {
    let cluster = b.provision(1, 1, 1).await?;
    let r = by_hand_steps(&cluster, delay);
    cluster.destroy().await?;
    r
}

fn by_hand_steps(cluster: &Cluster, delay: u32) -> Result<InstallTimes> {
    let ws = cluster.workspace().context("no workspace")?.to_path_buf();
    let genconf = ws.join("genconf");
    let ips = |nodes: &[Node]| -> Vec<String> {
        nodes.iter().map(|n| n.ip_address().to_string()).collect()
    };
    let mut config = dcos_e2e::base_config(
        &ips(cluster.masters()),
        &ips(cluster.agents()),
        &ips(cluster.public_agents()),
        cluster.default_ssh_user(),
    );
    if let yaml_serde::Value::Mapping(m) = &mut config {
        m.insert(
            yaml_serde::Value::from("sample_startup_delay"),
            yaml_serde::Value::from(delay),
        );
    }
    std::fs::write(genconf.join("config.yaml"), yaml_serde::to_string(&config)?)?;
    let master_ip = cluster.masters()[0].ip_address();
    let ip_detect = genconf.join("ip-detect");
    std::fs::write(
        &ip_detect,
        format!(
            "#!/usr/bin/env bash\nip -4 -o route get {master_ip} | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p'\n"
        ),
    )?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ip_detect, std::fs::Permissions::from_mode(0o755))?;

    let t = Instant::now();
    let out = Proc::new("bash")
        .arg(installer())
        .args(["--offline", "-v", "--genconf"])
        .current_dir(&ws)
        .stdin(Stdio::null())
        .output()?;
    let genconf_s = secs(t);
    if !out.status.success() {
        bail!(
            "genconf by hand failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Where the workspace's genconf is mounted on the nodes.
    let first = cluster
        .nodes()
        .next()
        .and_then(|n| n.container_name())
        .context("no container")?;
    let mounts = docker(&[
        "inspect",
        "--format",
        "{{range .Mounts}}{{.Source}}={{.Destination}}\n{{end}}",
        first,
    ])?;
    let node_dir = mounts
        .lines()
        .find_map(|l| {
            let (s, d) = l.split_once('=')?;
            (Path::new(s) == genconf).then(|| d.to_string())
        })
        .context("the workspace genconf is not mounted on the nodes")?;

    let t = Instant::now();
    let children: Vec<_> = cluster
        .nodes()
        .map(|n| {
            let role = match n.role() {
                dcos_e2e::Role::Master => "master",
                dcos_e2e::Role::Agent => "slave",
                dcos_e2e::Role::PublicAgent => "slave_public",
            };
            let script = format!(
                "ln -sfn {node_dir}/serve /opt/dcos_install_tmp && bash /opt/dcos_install_tmp/dcos_install.sh --no-block-dcos-setup {role}"
            );
            Proc::new("docker")
                .args(["exec", n.container_name().unwrap_or_default(), "bash", "-c", &script])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
        })
        .collect::<std::io::Result<_>>()?;
    for child in children {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "dcos_install.sh by hand failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let nodes_s = secs(t);

    let t = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(300);
    let master = cluster.masters()[0]
        .container_name()
        .context("no container")?
        .to_string();
    let check = format!(
        "/opt/mesosphere/bin/dcos-diagnostics --diag >/dev/null 2>&1 && curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 http://{master_ip}/ca/dcos-ca.crt"
    );
    loop {
        let out = Proc::new("docker")
            .args(["exec", &master, "sh", "-c", &check])
            .stdin(Stdio::null())
            .output()?;
        let code = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && matches!(code.trim(), "200" | "404") {
            break;
        }
        if Instant::now() > deadline {
            bail!("by hand: the master did not become healthy");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let wait_s = secs(t);
    Ok(InstallTimes {
        genconf: genconf_s,
        nodes: nodes_s,
        wait: wait_s,
    })
}

async fn bench_install(b: &mut Bench) -> Result<()> {
    let reps = b.cfg.install_reps;
    for delay in b.cfg.delays.clone() {
        eprintln!("\n## install 1+1+1, sample_startup_delay {delay} ({reps} repetitions)");
        let (mut ours, mut hand, mut provisions) = (Vec::new(), Vec::new(), Vec::new());
        for rep in 0..reps {
            // Alternate which goes first, so drift in the machine's load evens out.
            let (h, (p, o)) = if rep % 2 == 0 {
                let h = by_hand_install(b, delay).await?;
                (h, ours_install(b, delay).await?)
            } else {
                let o = ours_install(b, delay).await?;
                (by_hand_install(b, delay).await?, o)
            };
            eprintln!(
                "  ours: provision {p:.2}s genconf {:.2}s node installs {:.2}s wait {:.2}s",
                o.genconf, o.nodes, o.wait
            );
            eprintln!(
                "  by hand: genconf {:.2}s node installs {:.2}s wait {:.2}s",
                h.genconf, h.nodes, h.wait
            );
            ours.push(o);
            hand.push(h);
            provisions.push(p);
        }
        let med = |v: &[InstallTimes], f: fn(&InstallTimes) -> f64| {
            median(&v.iter().map(f).collect::<Vec<_>>())
        };
        let d = format!("delay {delay}s, median of {reps}");
        let steps: [(&str, StepTime, &str); 4] = [
            ("genconf", |t| t.genconf, "bash installer --genconf by hand"),
            (
                "node installs (3 at once)",
                |t| t.nodes,
                "docker exec dcos_install.sh x3 by hand",
            ),
            (
                "wait_for_dcos",
                |t| t.wait,
                "docker exec checks every 50 ms",
            ),
            (
                "genconf+install+wait",
                InstallTimes::total,
                "the same by hand",
            ),
        ];
        for (step, time, baseline) in steps {
            b.report.row(
                format!("install ({d}): {step}"),
                med(&ours, time),
                med(&hand, time),
                baseline,
                "s",
                Target::None,
            );
        }
        let ours_total = med(&ours, InstallTimes::total);
        let hand_total = med(&hand, InstallTimes::total);
        b.report.row(
            format!("install ({d}): our overhead (ours - by hand)"),
            ours_total.zip(hand_total).map(|(o, h)| o - h),
            None,
            "installer's own work + delay, by hand",
            "s",
            Target::AtMost(1.0),
        );
        b.report.row(
            format!("create+install+wait 1+1+1 ({d}), total"),
            median(&provisions).zip(ours_total).map(|(p, o)| p + o),
            b.base3("provision_s").zip(hand_total).map(|(p, h)| p + h),
            "baseline provision_s + by hand",
            "s",
            Target::None,
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 5. The CLI: start time and peak memory
// ---------------------------------------------------------------------------------------

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

async fn bench_cli(b: &mut Bench) -> Result<()> {
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

// ---------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------

/// Remove whatever of this bench is still there, then list what carries our labels.
async fn final_cleanup(b: &mut Bench) {
    for id in &b.made {
        if leftovers(id) > 0 {
            eprintln!("removing leftover cluster {id}");
            if let Err(e) = dcos_e2e::destroy_cluster(id).await {
                eprintln!("  failed: {e}");
            }
        }
    }
    let ours_left: usize = b.made.iter().map(|id| leftovers(id)).sum();
    let baseline_left = docker(&["ps", "-aq", "--filter", "label=dcos-e2e-baseline"])
        .map_or(0, |s| s.lines().count());
    let others = docker(&[
        "ps",
        "-a",
        "--filter",
        "label=dcos-e2e",
        "--format",
        "{{.Names}} {{.Label \"dcos-e2e.cluster-id\"}}",
    ])
    .unwrap_or_default();
    let foreign: Vec<&str> = others
        .lines()
        .filter(|l| {
            let id = l.split_whitespace().nth(1).unwrap_or("");
            !b.made.iter().any(|m| m == id)
        })
        .collect();
    let workspaces_left = b.workspaces.iter().filter(|w| w.exists()).count();
    b.report.note(format!(
        "cleanup: {} clusters made by this bench; {ours_left} of their containers/volumes/networks left, \
         {workspaces_left} of their workspaces; {baseline_left} baseline containers left{}",
        b.made.len(),
        if foreign.is_empty() {
            String::new()
        } else {
            format!(
                "; {} other containers with the dcos-e2e label exist, not made by this bench: {}",
                foreign.len(),
                foreign.join(", ")
            )
        }
    ));
    if let Some(img) = &b.baseline_image {
        let _ = docker(&["rmi", img]);
    }
}

async fn run(b: &mut Bench) -> Result<()> {
    if b.cfg.wants("provision") {
        bench_provision(b).await?;
    } else if b.cfg.wants("ops") || b.cfg.wants("install") {
        // The rows still want the 1+1+1 baseline figures.
        let image = b.baseline_image.clone().context("no baseline image")?;
        let figures = baseline_or_note(&mut b.report, &image, 3, b.cfg.mib);
        for (k, v) in figures {
            b.base3.entry(k).or_default().push(v);
        }
    }
    if b.cfg.wants("scale") {
        bench_scale(b).await?;
    }
    if b.cfg.wants("ops") {
        bench_node_ops(b).await?;
    }
    if b.cfg.wants("install") {
        bench_install(b).await?;
    }
    if b.cfg.wants("cli") {
        bench_cli(b).await?;
    }
    Ok(())
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let cfg = Config::from_env();
    let log = Capture::install();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let image = dcos_e2e::ensure_node_image(&Default::default()).await?;
        print_environment(&image);
        ensure_openssh()?;
        let baseline_image = Some(baseline_image(&image)?);
        let mut b = Bench {
            cfg,
            report: Report::default(),
            log,
            image,
            baseline_image,
            made: Vec::new(),
            workspaces: Vec::new(),
            tmp: tempfile::Builder::new()
                .prefix("dcos-e2e-bench-")
                .tempdir_in("/var/tmp")?,
            base3: BTreeMap::new(),
        };
        let started = Instant::now();
        let result = run(&mut b).await;
        if let Err(e) = &result {
            b.report.note(format!("the bench stopped early: {e:#}"));
        }
        final_cleanup(&mut b).await;
        println!("\n  after: {}", load_and_neighbours());
        println!("  bench took {:.0}s", secs(started));
        b.report.print();
        result
    })
}
