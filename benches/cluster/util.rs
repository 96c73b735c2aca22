//! Small helpers shared by the sections: processes, clocks, Docker timestamps, where
//! the repository's files are, and what of a cluster is left.

use std::path::{Path, PathBuf};
use std::process::{Command as Proc, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// A file of the repository, by its path from the root. The bench is declared from a
/// package below the root, so the root is the first directory at or above the package's
/// where `rel` exists.
pub fn repo_file(rel: &str) -> PathBuf {
    let package = Path::new(env!("CARGO_MANIFEST_DIR"));
    package
        .ancestors()
        .find(|dir| dir.join(rel).exists())
        .unwrap_or(package)
        .join(rel)
}

/// Run a program; its stdout, or an error with its stderr.
pub fn cmd(program: &str, args: &[&str]) -> Result<String> {
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

pub fn docker(args: &[&str]) -> Result<String> {
    cmd("docker", args)
}

pub fn secs(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}

/// CLOCK_MONOTONIC in seconds: the clock systemd's `*TimestampMonotonic` use in the
/// containers too (containers share the host's monotonic clock).
pub fn mono_now() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

pub fn wall_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Seconds since the epoch of a Docker timestamp such as `2026-11-29T09:50:23.6448Z`
/// (or with a `+HH:MM` offset).
pub fn parse_rfc3339(s: &str) -> Option<f64> {
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
/// Nothing of the cluster is left: containers, volumes, networks with its label.
pub fn leftovers(id: &str) -> usize {
    let filter = format!("label=dcos-e2e.cluster-id={id}");
    let count = |args: &[&str]| docker(args).map_or(0, |s| s.lines().count());
    count(&["ps", "-aq", "--filter", &filter])
        + count(&["volume", "ls", "-q", "--filter", &filter])
        + count(&["network", "ls", "-q", "--filter", &filter])
}
