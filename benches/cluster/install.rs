//! 4. Install with the sample installer: ours vs the same steps by hand.

use std::path::{Path, PathBuf};
use std::process::{Command as Proc, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use dcos_e2e::{Cluster, ExtraConfig, InstallOptions, Node};

use crate::report::{Target, median};
use crate::state::Bench;
use crate::util::{docker, repo_file, secs};

/// The sample installer (test fixture), from the repository root.
const SAMPLE_INSTALLER: &str = "tests/fixtures/sample-installer/dcos_generate_config.sh";

struct InstallTimes {
    genconf: f64,
    nodes: f64,
    wait: f64,
}

impl InstallTimes {
    pub fn total(&self) -> f64 {
        self.genconf + self.nodes + self.wait
    }
}

/// One step's time out of an install's.
type StepTime = fn(&InstallTimes) -> f64;

fn installer() -> PathBuf {
    repo_file(SAMPLE_INSTALLER)
}

fn delay_config(delay: u32) -> Result<ExtraConfig> {
    Ok(ExtraConfig::from_yaml(&format!(
        "sample_startup_delay: {delay}"
    ))?)
}

async fn ours_install(b: &mut Bench, delay: u32) -> Result<(f64, InstallTimes)> {
    let t = Instant::now();
    let cluster = b.provision(1, 1, 1).await?;
    let provision = secs(t);
    let options = InstallOptions::new(installer()).extra_config(delay_config(delay)?);
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
    let ips = |nodes: &[Node]| -> Vec<std::net::IpAddr> {
        nodes.iter().map(|n| n.ip_address()).collect()
    };
    let config = dcos_e2e::install_config(
        &ips(cluster.masters()),
        &ips(cluster.agents()),
        &ips(cluster.public_agents()),
        cluster.default_user(),
        Some(&delay_config(delay)?),
    );
    std::fs::write(genconf.join("config.yaml"), config)?;
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

pub async fn bench(b: &mut Bench) -> Result<()> {
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
