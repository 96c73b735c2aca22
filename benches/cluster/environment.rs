//! The machine the figures come from: cores, memory, kernel, Docker, load.

use crate::util::{cmd, docker};

pub fn print_environment(image: &str) {
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
pub fn load_and_neighbours() -> String {
    let load = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    let running = docker(&["ps", "-q"]).map_or(0, |s| s.lines().count());
    format!("loadavg {load}; {running} containers running")
}
