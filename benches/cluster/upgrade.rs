//! Upgrade 1+1+1 from the sample installer's version to a second one: ours vs the same
//! steps by hand, on clusters installed alike.

use std::process::{Command as Proc, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use dcos_e2e::{Cluster, ExtraConfig, InstallOptions, UpgradeOptions};

use crate::report::{Target, median};
use crate::state::Bench;
use crate::util::{repo_file, secs};

const SAMPLE_INSTALLER: &str = "tests/fixtures/sample-installer/dcos_generate_config.sh";

/// The sample installer at `version`, written into `dir`.
fn artifact_at(version: &str, dir: &std::path::Path) -> Result<std::path::PathBuf> {
    let text = std::fs::read_to_string(repo_file(SAMPLE_INSTALLER))?;
    let line = text
        .lines()
        .find(|l| l.starts_with("SAMPLE_DCOS_VERSION="))
        .context("the sample installer names no version")?;
    let path = dir.join(format!("dcos_generate_config-{version}.sh"));
    std::fs::write(
        &path,
        text.replacen(line, &format!("SAMPLE_DCOS_VERSION={version}"), 1),
    )?;
    Ok(path)
}

fn options(artifact: std::path::PathBuf) -> Result<InstallOptions> {
    Ok(InstallOptions::new(artifact)
        .extra_config(ExtraConfig::from_yaml("sample_startup_delay: 0")?))
}

/// A 1+1+1 cluster installed with the sample installer and healthy.
async fn installed(b: &mut Bench) -> Result<Cluster> {
    let cluster = b.provision(1, 1, 1).await?;
    cluster
        .install(&options(repo_file(SAMPLE_INSTALLER))?)
        .await?;
    cluster.wait_for_dcos(Duration::from_secs(300)).await?;
    Ok(cluster)
}

async fn ours(b: &mut Bench, to: &std::path::Path) -> Result<f64> {
    let cluster = installed(b).await?;
    let t = Instant::now();
    let done = cluster
        .upgrade(&options(to.to_path_buf())?, &UpgradeOptions::default())
        .await;
    let took = secs(t);
    cluster.destroy().await?;
    done?;
    Ok(took)
}

/// By hand: the host phase in the workspace (its genconf as the install left it), then
/// per node `docker exec` of the upgrade script and its health polled every 50 ms.
async fn by_hand(b: &mut Bench, to: &std::path::Path) -> Result<f64> {
    let cluster = installed(b).await?;
    let r = by_hand_steps(&cluster, to);
    cluster.destroy().await?;
    r
}

fn by_hand_steps(cluster: &Cluster, to: &std::path::Path) -> Result<f64> {
    let ws = cluster.workspace().context("no workspace")?.to_path_buf();
    let t = Instant::now();
    let out = Proc::new("bash")
        .arg(to)
        .args(["--offline", "-v", "--generate-node-upgrade-script", "2.2.0"])
        .current_dir(&ws)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        bail!(
            "the upgrade's host phase by hand failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let script = stdout
        .lines()
        .rev()
        .find_map(|l| l.split("file://").nth(1))
        .context("no upgrade script URL")?
        .trim()
        .to_string();
    for node in cluster.nodes() {
        let name = node.container_name().context("no container")?;
        let run = format!(
            "ln -sfn /var/lib/dcos-e2e/genconf/serve /opt/dcos_install_tmp && bash {script}"
        );
        let out = Proc::new("docker")
            .args(["exec", name, "bash", "-c", &run])
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            bail!(
                "the node upgrade by hand failed on {node}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        let check = if node.role() == dcos_e2e::Role::Master {
            format!(
                "/opt/mesosphere/bin/dcos-diagnostics --diag >/dev/null 2>&1 && curl -sf -o /dev/null --max-time 5 http://{}/ca/dcos-ca.crt",
                node.ip_address()
            )
        } else {
            "/opt/mesosphere/bin/dcos-diagnostics --diag >/dev/null 2>&1".to_string()
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while !Proc::new("docker")
            .args(["exec", name, "sh", "-c", &check])
            .stdin(Stdio::null())
            .status()?
            .success()
        {
            if Instant::now() > deadline {
                bail!("by hand: {node} was not healthy after its upgrade");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(secs(t))
}

pub async fn bench(b: &mut Bench) -> Result<()> {
    let reps = b.cfg.install_reps;
    eprintln!(
        "\n## upgrade 1+1+1 from 2.2.0 to 2.3.0, sample_startup_delay 0 ({reps} repetitions)"
    );
    let dir = tempfile::tempdir()?;
    let to = artifact_at("2.3.0", dir.path())?;
    let (mut o, mut h) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        // Alternate which goes first, so drift in the machine's load evens out.
        if rep % 2 == 0 {
            h.push(by_hand(b, &to).await?);
            o.push(ours(b, &to).await?);
        } else {
            o.push(ours(b, &to).await?);
            h.push(by_hand(b, &to).await?);
        }
        eprintln!("  ours {:.2}s, by hand {:.2}s", o[rep], h[rep]);
    }
    let d = format!("median of {reps}");
    b.report.row(
        format!("upgrade 1+1+1 ({d})"),
        median(&o),
        median(&h),
        "host phase + docker exec upgrade script + health polled every 50 ms, node by node",
        "s",
        Target::None,
    );
    b.report.row(
        format!("upgrade 1+1+1 ({d}): our overhead (ours - by hand)"),
        median(&o).zip(median(&h)).map(|(o, h)| o - h),
        None,
        "installer's own work, by hand",
        "s",
        Target::AtMost(1.0),
    );
    Ok(())
}
