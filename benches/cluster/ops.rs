//! 3. Warm command latency and file transfer, over SSH and docker exec.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command as Proc, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use dcos_e2e::{Cluster, Command, Node, TransportKind};
use futures_util::future::{join_all, try_join_all};

use crate::report::{Target, list, mb_s, median, percentile};
use crate::state::Bench;
use crate::util::{cmd, docker, secs};

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

/// What `ssh` and `scp` run with here: no host key checks, no prompts, errors only.
pub const OPENSSH_OPTIONS: [&str; 8] = [
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "BatchMode=yes",
];

/// [`send`] to every node at once; seconds until the last one arrived.
async fn send_all(nodes: &[&Node], file: &Path, remote: &str, size: u64) -> Result<f64> {
    let t = Instant::now();
    let r = join_all(nodes.iter().map(|n| send(n, file, remote, size))).await;
    let s = secs(t);
    r.into_iter().collect::<Result<Vec<_>>>()?;
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
                .args(OPENSSH_OPTIONS)
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
    let mut opts = vec!["-i", key.as_str()];
    opts.extend(OPENSSH_OPTIONS);
    opts.extend(["-S", sock_s.as_str()]);
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

pub async fn bench(b: &mut Bench) -> Result<()> {
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

    // 100 concurrent runs on one node (the concurrency tests check them; the time is informative).
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
    let three = send_all(&all, &blob, "/root/bench/blob3", size).await?;
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
    let xthree = send_all(&xall, &blob, "/root/bench/blob3", size).await?;
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
