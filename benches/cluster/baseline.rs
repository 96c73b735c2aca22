//! The baseline: `benches/baseline.sh` (plain `docker run` + OpenSSH) on an image derived
//! from ours, run with a time limit.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::process::{Command as Proc, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::report::Report;
use crate::util::{docker, repo_file};

/// The baseline script, from the repository root.
const BASELINE_SCRIPT: &str = "benches/baseline.sh";
/// The image the baseline runs (derived from our node image; see `baseline_image`).
const BASELINE_IMAGE_REPO: &str = "dcos-e2e-bench/baseline-node";

pub fn ensure_openssh() -> Result<()> {
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
pub fn baseline_image(image: &str) -> Result<String> {
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
    let script = repo_file(BASELINE_SCRIPT);
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
pub fn baseline_or_note(
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
