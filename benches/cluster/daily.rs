//! Everyday operations, each beside what a person would do by hand in the
//! same run: a directory of 10,000 small files sent to a node (vs `tar | ssh tar`), and
//! the log bundle of an installed 1+1+1 cluster (its wall time and size).

use std::path::Path;
use std::process::{Command as Proc, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use dcos_e2e::{ExtraConfig, InstallOptions};

use crate::report::{Target, median};
use crate::state::Bench;
use crate::util::{repo_file, secs};

const SAMPLE_INSTALLER: &str = "tests/fixtures/sample-installer/dcos_generate_config.sh";
const FILES: usize = 10_000;

pub async fn bench(b: &mut Bench) -> Result<()> {
    eprintln!("\n== daily: directories and log bundles");
    let reps = b.cfg.reps.max(1);
    let tree = b.tmp.path().join("many-files");
    for i in 0..FILES {
        let dir = tree.join(format!("d{:02}", i % 100));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("f{i:05}.txt")), format!("file {i}\n"))?;
    }
    let cluster = b.provision(1, 0, 0).await?;
    let node = &cluster.masters()[0];
    let (mut ours, mut by_hand) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        // Alternate who goes first, so drift in the machine's load is shared.
        let hand = |rep: usize| by_hand_tar(node, &tree, &format!("/root/hand-{rep}"));
        if rep % 2 == 1 {
            by_hand.push(hand(rep)?);
        }
        let t = Instant::now();
        node.send_file(&tree, &format!("/root/ours-{rep}")).await?;
        ours.push(secs(t));
        if rep % 2 == 0 {
            by_hand.push(hand(rep)?);
        }
    }
    let count = node
        .run(["sh", "-c", "find /root/ours-0 -type f | wc -l"])
        .await?;
    if count.stdout_text().trim() != FILES.to_string() {
        bail!("the directory arrived with {} files", count.stdout_text());
    }
    b.report.row(
        format!("send a directory of {FILES} small files (s)"),
        median(&ours),
        median(&by_hand),
        "`tar -c | ssh node tar -x` by hand, same node",
        "s",
        Target::AtMostTimesBase(1.0),
    );
    cluster.destroy().await?;

    // The log bundle of an installed cluster.
    let cluster = b.provision(1, 1, 1).await?;
    let options = InstallOptions::new(repo_file(SAMPLE_INSTALLER))
        .extra_config(ExtraConfig::from_yaml("sample_startup_delay: 0")?);
    cluster.install(&options).await?;
    cluster.wait_for_dcos(Duration::from_secs(300)).await?;
    let mut times = Vec::new();
    let mut size = 0;
    for rep in 0..reps {
        let dir = b.tmp.path().join(format!("bundle-{rep}"));
        let t = Instant::now();
        cluster.export_logs(&dir).await?;
        times.push(secs(t));
        size = dir_size(&dir);
    }
    b.report.row(
        "export-logs of an installed 1+1+1 cluster (s)",
        median(&times),
        None,
        "target: under 2 s",
        "s",
        Target::AtMost(2.0),
    );
    b.report
        .note(format!("a 1+1+1 log bundle holds {} KiB", size / 1024));
    cluster.destroy().await?;
    Ok(())
}

/// Seconds for `tar -c -C tree . | ssh root@node 'mkdir -p R && tar -x -C R'`.
fn by_hand_tar(node: &dcos_e2e::Node, tree: &Path, remote: &str) -> Result<f64> {
    let t = Instant::now();
    let mut tar = Proc::new("tar")
        .args(["-c", "-C"])
        .arg(tree)
        .arg(".")
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = tar
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no tar output"))?;
    let status = Proc::new("ssh")
        .arg("-i")
        .arg(node.ssh_key_path())
        .args(crate::ops::OPENSSH_OPTIONS)
        .arg(format!("root@{}", node.ip_address()))
        .arg(format!("mkdir -p {remote} && tar -x -C {remote}"))
        .stdin(stdout)
        .status()?;
    let tar_status = tar.wait()?;
    if !status.success() || !tar_status.success() {
        bail!("tar | ssh tar failed: {status} {tar_status}");
    }
    Ok(secs(t))
}

fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}
