//! A Docker daemon on another host. Provisioning 1+1+1 there against this
//! machine's daemon, and `run(["true"])` on its nodes (docker exec through its API, and
//! SSH through the jump host) against docker exec and SSH to nodes here, in the same
//! run. The other host is a
//! daemon of the bench's own in its own network and mount namespaces
//! (`scripts/remote-daemon`), stopped at the end.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use dcos_e2e::{Docker, TransportKind};

use crate::report::{Target, median};
use crate::state::Bench;
use crate::util::{cmd, repo_file, secs};

/// The names of the bench's daemons (the tests use r1, r4 and r5): one alone, two in
/// a swarm.
const NAME: &str = "r3";
const SWARM: [&str; 2] = ["r6", "r7"];

pub async fn bench(b: &mut Bench) -> Result<()> {
    eprintln!("\n== remote: a Docker daemon on another host");
    let script = repo_file("scripts/remote-daemon");
    let script = script.to_str().context("repository path")?;
    let host = cmd(script, &["start", NAME])?.trim().to_string();
    let mut measured = measure(b, &host).await;
    if measured.is_ok() {
        measured = match cmd(script, &["swarm", SWARM[0], SWARM[1]]) {
            Ok(swarm) => spread(b, &swarm.lines().map(str::to_string).collect::<Vec<_>>()).await,
            Err(e) => Err(e),
        };
    }
    for name in [NAME, SWARM[0], SWARM[1]] {
        if let Err(e) = cmd(script, &["stop", name]) {
            b.report
                .note(format!("stopping the bench's daemon {name}: {e}"));
        }
    }
    measured
}

/// Seconds to provision 1+1+1 on each backend (then destroyed), `BENCH_REPS` rounds,
/// alternating which goes first so drift in the machine's load is shared.
async fn paired_provisions(
    b: &mut Bench,
    ours: impl Fn() -> Docker,
    base: impl Fn() -> Docker,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let mut times: [Vec<f64>; 2] = Default::default();
    for rep in 0..b.cfg.reps {
        for which in [rep % 2, 1 - rep % 2] {
            let backend = if which == 0 { ours() } else { base() };
            let t = Instant::now();
            let cluster = b.provision_with(backend, 1, 1, 1).await?;
            times[which].push(secs(t));
            cluster.destroy().await?;
        }
    }
    let [ours, base] = times;
    Ok((ours, base))
}

/// 1+1+1 over the swarm's two daemons against the same on the first alone.
async fn spread(b: &mut Bench, hosts: &[String]) -> Result<()> {
    let over_two = || Docker::new().docker_hosts(hosts);
    let on_one = || Docker::new().docker_host(&hosts[0]);
    // Both daemons are sent the node image by the first create over both.
    let warm = b.provision_with(over_two(), 1, 1, 1).await?;
    warm.destroy().await?;
    let (ours, base) = paired_provisions(b, over_two, on_one).await?;
    b.report.row(
        "provision 1+1+1 over two daemons of a swarm (s)",
        median(&ours),
        median(&base),
        "the same on one of them",
        "s",
        Target::None,
    );
    Ok(())
}

async fn measure(b: &mut Bench, host: &str) -> Result<()> {
    let here = || Docker::new().transport(TransportKind::DockerExec);
    let there = || Docker::new().docker_host(host);
    // The first create there is sent the node image: timed on its own.
    let t = Instant::now();
    let first = b.provision_with(there(), 1, 1, 1).await?;
    let first_s = secs(t);
    first.destroy().await?;
    let (ours, base) = paired_provisions(b, there, here).await?;
    b.report.row(
        "provision 1+1+1 on a daemon on another host (s)",
        median(&ours),
        median(&base),
        "the same on this machine's daemon (docker exec)",
        "s",
        Target::None,
    );
    b.report.note(format!(
        "the first create on the other daemon, which is sent the node image: {first_s:.1} s"
    ));

    let remote = b.provision_with(there(), 1, 0, 0).await?;
    let exec_here = b.provision_with(here(), 1, 0, 0).await?;
    let ssh_here = b.provision_with(Docker::new(), 1, 0, 0).await?;
    let jump = there()
        .transport(TransportKind::Ssh)
        .published_address(host_address(host)?);
    let jumped = b.provision_with(jump, 1, 0, 0).await?;
    let iters = b.cfg.iters;
    let mut times: [Vec<f64>; 4] = Default::default();
    let clusters = [&remote, &exec_here, &ssh_here, &jumped];
    for round in 0..2 {
        for (i, cluster) in clusters.into_iter().enumerate() {
            let node = &cluster.masters()[0];
            for _ in 0..10 {
                node.run(["true"]).await?;
            }
            for _ in 0..iters / 2 {
                let t = Instant::now();
                let out = node.output(["true"]).await?;
                times[i].push(secs(t) * 1000.0);
                if out.status != 0 {
                    bail!("`true` exited with {} (round {round})", out.status);
                }
            }
        }
    }
    let ours = [
        (0, "on the other daemon", "docker exec to nodes here", 1),
        (0, "on the other daemon", "SSH to nodes here", 2),
        (
            3,
            "SSH through the jump host there",
            "direct SSH to nodes here",
            2,
        ),
        (
            3,
            "SSH through the jump host there",
            "docker exec on the other daemon",
            0,
        ),
    ];
    for (i, what, label, base) in ours {
        b.report.row(
            format!("run([\"true\"]) median, {what} vs {label} (ms)"),
            median(&times[i]),
            median(&times[base]),
            label,
            "ms",
            Target::None,
        );
    }
    for cluster in [remote, exec_here, ssh_here, jumped] {
        cluster.destroy().await?;
    }
    Ok(())
}

/// Where this machine reaches the bench daemon's host: its TCP listener's address.
fn host_address(host: &str) -> Result<String> {
    let dir = host
        .strip_prefix("unix://")
        .and_then(|s| s.strip_suffix("/docker.sock"))
        .context("the bench daemon's address")?;
    let tcp = std::fs::read_to_string(format!("{dir}/tcp"))?;
    let ip = tcp.trim().trim_start_matches("tcp://").split(':').next();
    Ok(ip.unwrap_or_default().to_string())
}
