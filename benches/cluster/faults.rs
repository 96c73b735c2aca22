//! Faults (issue 26), each beside the same done by hand in the same run: how soon a
//! cut takes effect after `partition()` returns and is gone after `heal()` returns
//! (read by a prober on the master, in the node's own clock, which is the host's), what
//! the calls cost against `docker exec … iptables` by hand, and a node's stop and start
//! round trip until it accepts an SSH login again against `docker stop` + `docker start`
//! + `ssh` polled by hand.

use std::process::{Command as Proc, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use dcos_e2e::{Cluster, Node};

use crate::report::{Target, median};
use crate::state::Bench;
use crate::util::{docker, secs};

/// The prober's attempts: each a connection to the agent's sshd bounded at 50 ms,
/// logged as `<start ns> <0 | status>`, for `seconds`.
fn prober(target: &Node, seconds: u32) -> String {
    format!(
        "end=$(( $(date +%s) + {seconds} )); : > /tmp/probe; \
         while [ $(date +%s) -lt $end ]; do t=$(date +%s%N); \
         timeout 0.05 bash -c '</dev/tcp/{}/22' 2>/dev/null; echo \"$t $?\" >> /tmp/probe; done",
        target.ip_address()
    )
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// (ns, connected) of each attempt the prober logged.
async fn attempts(node: &Node) -> Result<Vec<(u128, bool)>> {
    let text = node.run(["cat", "/tmp/probe"]).await?.stdout_text();
    Ok(text
        .lines()
        .filter_map(|l| {
            let (t, s) = l.split_once(' ')?;
            Some((t.parse().ok()?, s == "0"))
        })
        .collect())
}

/// Milliseconds from `since` to the start of the first attempt begun after it whose
/// outcome is `connected`.
fn first_after(log: &[(u128, bool)], since: u128, connected: bool) -> Option<f64> {
    log.iter()
        .find(|(t, c)| *t >= since && *c == connected)
        .map(|(t, _)| (t - since) as f64 / 1e6)
}

pub async fn bench(b: &mut Bench) -> Result<()> {
    eprintln!("\n== faults: partitions and node stop/start");
    let reps = b.cfg.reps.max(3);
    let cluster = b.provision(1, 1, 0).await?;
    let (m, a) = (&cluster.masters()[0], &cluster.agents()[0]);
    cut_latency(b, &cluster, m, a, reps).await?;
    by_hand_rules(b, &cluster, m, a, reps).await?;
    stop_start(b, a, reps).await?;
    cluster.destroy().await?;
    Ok(())
}

async fn cut_latency(b: &mut Bench, c: &Cluster, m: &Node, a: &Node, reps: usize) -> Result<()> {
    let (mut to_refused, mut to_accepted, mut call_cut, mut call_heal) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        let mut probe = m.popen(["bash", "-c", &prober(a, 3)]).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let t = Instant::now();
        let cut = c.partition(&[m], &[a]).await?;
        call_cut.push(secs(t) * 1e3);
        let cut_at = now_ns();
        tokio::time::sleep(Duration::from_millis(800)).await;
        let t = Instant::now();
        cut.heal().await?;
        call_heal.push(secs(t) * 1e3);
        let healed_at = now_ns();
        probe.wait().await?;
        let log = attempts(m).await?;
        match (
            first_after(&log, cut_at, false),
            first_after(&log, healed_at, true),
        ) {
            (Some(r), Some(h)) => {
                to_refused.push(r);
                to_accepted.push(h);
            }
            _ => bail!("the prober did not see the cut and the heal: {log:?}"),
        }
    }
    b.report.row(
        "partition() returned -> first failed connection (ms)",
        median(&to_refused),
        None,
        "a prober on the master, an attempt every ~3 ms",
        "ms",
        Target::AtMost(100.0),
    );
    b.report.row(
        "heal() returned -> first accepted connection (ms)",
        median(&to_accepted),
        None,
        "the same prober",
        "ms",
        Target::AtMost(100.0),
    );
    b.report.note(format!(
        "partition() itself took {:.1} ms and heal() {:.1} ms (medians of {reps}): one shell script per node, all nodes at once",
        median(&call_cut).unwrap_or(f64::NAN),
        median(&call_heal).unwrap_or(f64::NAN)
    ));
    Ok(())
}

/// The same cut by hand: `docker exec NODE iptables …` per rule, one node after the
/// other, as a test shelling out would.
async fn by_hand_rules(b: &mut Bench, c: &Cluster, m: &Node, a: &Node, reps: usize) -> Result<()> {
    let (mut ours, mut hand) = (Vec::new(), Vec::new());
    let (mc, ac) = (
        m.container_name().context("a Docker node")?.to_string(),
        a.container_name().context("a Docker node")?.to_string(),
    );
    let (mip, aip) = (m.ip_address().to_string(), a.ip_address().to_string());
    for _ in 0..reps {
        let t = Instant::now();
        let cut = c.partition(&[m], &[a]).await?;
        cut.heal().await?;
        ours.push(secs(t) * 1e3);
        let t = Instant::now();
        for (node, peer) in [(&mc, &aip), (&ac, &mip)] {
            for (op, flag) in [("-I", "-s"), ("-I", "-d"), ("-D", "-s"), ("-D", "-d")] {
                let chain = if flag == "-s" { "INPUT" } else { "OUTPUT" };
                docker(&[
                    "exec", node, "iptables", "-w", op, chain, flag, peer, "-j", "DROP",
                ])?;
            }
        }
        hand.push(secs(t) * 1e3);
    }
    b.report.row(
        "cut and heal master | agent (ms)",
        median(&ours),
        median(&hand),
        "`docker exec NODE iptables -I/-D …` by hand, rule by rule",
        "ms",
        Target::AtMostTimesBase(1.0),
    );
    Ok(())
}

async fn stop_start(b: &mut Bench, a: &Node, reps: usize) -> Result<()> {
    let name = a.container_name().context("a Docker node")?.to_string();
    let key = a.ssh_key_path().display().to_string();
    let ip = a.ip_address().to_string();
    let (mut ours, mut hand) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        // Alternate who goes first, so drift in the machine's load is shared.
        if rep % 2 == 1 {
            hand.push(by_hand_stop_start(&name, &key, &ip)?);
        }
        let t = Instant::now();
        a.stop().await?;
        a.start().await?;
        ours.push(secs(t));
        if rep % 2 == 0 {
            hand.push(by_hand_stop_start(&name, &key, &ip)?);
        }
    }
    a.run(["true"]).await?;
    b.report.row(
        "node stop + start until an SSH login works (s)",
        median(&ours),
        median(&hand),
        "`docker stop` + `docker start` + `ssh` polled every 20 ms, by hand",
        "s",
        Target::AtMostTimesBase(1.0),
    );
    Ok(())
}

fn by_hand_stop_start(name: &str, key: &str, ip: &str) -> Result<f64> {
    let t = Instant::now();
    docker(&["stop", name])?;
    docker(&["start", name])?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let ok = Proc::new("ssh")
            .args(["-i", key, "-o", "StrictHostKeyChecking=no", "-o"])
            .args(["UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o"])
            .args(["ConnectTimeout=2", "-o", "LogLevel=ERROR"])
            .arg(format!("root@{ip}"))
            .arg("true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Ok(secs(t));
        }
        if Instant::now() > deadline {
            bail!("{name} did not take an SSH login after `docker start`");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
