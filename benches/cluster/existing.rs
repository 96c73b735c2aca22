//! Install on existing hosts: a 50 MiB `serve/` to 3 hosts over SSH (the nodes of a
//! Docker cluster with the genconf bind taken away, wrapped as an `ExistingCluster`),
//! ours vs `scp -r` by hand to each, then ours again when nothing changed.

use std::path::Path;
use std::process::{Command as Proc, Stdio};
use std::time::Instant;

use anyhow::{Result, bail};
use dcos_e2e::{Cluster, ExistingCluster, InstallOptions};

use crate::ops::OPENSSH_OPTIONS;
use crate::report::{Target, median};
use crate::state::Bench;
use crate::util::{docker, secs};

const SERVE: &str = "/var/lib/dcos-e2e/host-genconf/serve";
const PACKAGES: usize = 50;

/// A stand-in installer whose genconf puts the tree at `source` into `genconf/serve`
/// (what a real artifact unpacks), and whose node installer does nothing.
fn artifact(dir: &Path) -> Result<std::path::PathBuf> {
    let source = dir.join("tree");
    std::fs::create_dir_all(source.join("packages"))?;
    for i in 0..PACKAGES {
        let bytes: Vec<u8> = (0..1 << 20).map(|_| rand::random::<u8>()).collect();
        std::fs::write(source.join(format!("packages/pkg-{i}.tar.xz")), bytes)?;
    }
    std::fs::write(source.join("dcos_install.sh"), "#!/bin/bash\nexit 0\n")?;
    let path = dir.join("installer.sh");
    std::fs::write(
        &path,
        format!(
            "set -eu\ncase \" $* \" in *' --genconf '*) ;; *) exit 2 ;; esac\n\
             rm -rf genconf/serve && mkdir -p genconf/serve && cp -a '{}'/. genconf/serve/\n",
            source.display()
        ),
    )?;
    Ok(path)
}

/// One step by hand on a node: the process doing it.
type Step<'a> = dyn Fn(&dcos_e2e::Node) -> std::io::Result<std::process::Child> + 'a;

fn clear(cluster: &Cluster) -> Result<()> {
    for node in cluster.nodes() {
        let name = node.container_name().unwrap_or_default();
        docker(&["exec", name, "rm", "-rf", SERVE])?;
    }
    Ok(())
}

/// By hand: genconf in a directory of its own, then `scp -r serve/` to each node and
/// the node installer over `ssh`, one node after another (`at_once`: all nodes at once).
fn by_hand(cluster: &Cluster, installer: &Path, at_once: bool) -> Result<f64> {
    let dir = tempfile::tempdir()?;
    let t = Instant::now();
    let status = Proc::new("bash")
        .arg(installer)
        .args(["--offline", "-v", "--genconf"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("genconf by hand failed: {status}");
    }
    let serve = dir.path().join("genconf/serve");
    let ssh = |program: &str, node: &dcos_e2e::Node| {
        let mut c = Proc::new(program);
        c.arg("-i")
            .arg(node.ssh_key_path())
            .args(OPENSSH_OPTIONS)
            .stdin(Stdio::null());
        c
    };
    let copy = |node: &dcos_e2e::Node| -> std::io::Result<std::process::Child> {
        let to = format!("root@{}:{}", node.ip_address(), SERVE);
        ssh("scp", node)
            .arg("-q")
            .arg("-r")
            .arg(&serve)
            .arg(to)
            .spawn()
    };
    let install = |node: &dcos_e2e::Node| -> std::io::Result<std::process::Child> {
        let script = format!("bash {SERVE}/dcos_install.sh {}", node.role().as_str());
        ssh("ssh", node)
            .arg(format!("root@{}", node.ip_address()))
            .arg(script)
            .spawn()
    };
    let nodes: Vec<&dcos_e2e::Node> = cluster.nodes().collect();
    let steps: [&Step; 2] = [&copy, &install];
    for step in steps {
        let mut waiting = Vec::new();
        for node in &nodes {
            waiting.push(step(node)?);
            if !at_once {
                finish(waiting.drain(..))?;
            }
        }
        finish(waiting.drain(..))?;
    }
    Ok(secs(t))
}

fn finish(children: impl Iterator<Item = std::process::Child>) -> Result<()> {
    for mut c in children {
        let status = c.wait()?;
        if !status.success() {
            bail!("scp or ssh by hand failed: {status}");
        }
    }
    Ok(())
}

pub async fn bench(b: &mut Bench) -> Result<()> {
    let reps = b.cfg.install_reps;
    eprintln!(
        "\n## install on existing hosts: {PACKAGES} MiB serve/ to 3 nodes ({reps} repetitions)"
    );
    let dir = tempfile::tempdir()?;
    let installer = artifact(dir.path())?;
    let nodes = b.provision(1, 1, 1).await?;
    for node in nodes.nodes() {
        let name = node.container_name().unwrap_or_default();
        docker(&["exec", name, "umount", "/var/lib/dcos-e2e/genconf"])?;
    }
    let known_hosts = nodes
        .workspace()
        .map(|w| w.join("ssh/known_hosts"))
        .unwrap_or_default();
    let hosts = ExistingCluster::new(
        nodes.masters(),
        nodes.agents(),
        nodes.public_agents(),
        "root",
    )
    .known_hosts(known_hosts);
    let wrapped = Cluster::builder(hosts)
        .destroy_on_error(false)
        .destroy_on_success(false)
        .provision()
        .await?;
    let options = InstallOptions::new(&installer);
    let (mut fresh, mut again, mut hand, mut hand_parallel) = (vec![], vec![], vec![], vec![]);
    let result: Result<()> = async {
        for rep in 0..reps {
            // Alternate which goes first, so drift in the machine's load evens out.
            let mut ours = async || -> Result<()> {
                clear(&nodes)?;
                let t = Instant::now();
                wrapped.install(&options).await?;
                fresh.push(secs(t));
                let t = Instant::now();
                wrapped.install(&options).await?;
                again.push(secs(t));
                Ok(())
            };
            if rep % 2 == 0 {
                ours().await?;
            }
            clear(&nodes)?;
            hand.push(by_hand(&nodes, &installer, false)?);
            clear(&nodes)?;
            hand_parallel.push(by_hand(&nodes, &installer, true)?);
            if rep % 2 == 1 {
                ours().await?;
            }
            eprintln!(
                "  ours {:.2}s, again {:.2}s; scp -r by hand {:.2}s, all nodes at once {:.2}s",
                fresh[rep], again[rep], hand[rep], hand_parallel[rep]
            );
        }
        Ok(())
    }
    .await;
    drop(wrapped);
    nodes.destroy().await?;
    result?;
    let d = format!("median of {reps}");
    b.report.row(
        format!("install on existing hosts, {PACKAGES} MiB serve/ to 3 nodes ({d})"),
        median(&fresh),
        median(&hand),
        "genconf + scp -r + ssh install, node after node, by hand",
        "s",
        Target::AtMostTimesBase(1.0),
    );
    b.report.row(
        format!("the same, by hand to all nodes at once ({d})"),
        median(&fresh),
        median(&hand_parallel),
        "genconf + scp -r to 3 nodes at once + ssh install at once",
        "s",
        Target::None,
    );
    b.report.row(
        format!("install on existing hosts again, serve/ unchanged ({d})"),
        median(&again),
        median(&hand),
        "the same by hand (scp -r copies it all again)",
        "s",
        Target::AtMostTimesBase(1.0),
    );
    Ok(())
}
