//! The container engine inside nodes: what the inner daemon costs at boot
//! (engine image vs the default image, the daemon started at boot vs on first use
//! through its socket), and `load_image` of a ~100 MB image into 3 nodes at once vs
//! `docker save | docker exec -i NODE docker load` by hand, one node after another.

use std::process::{Command as Proc, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use dcos_e2e::docker::{ImageOptions, ensure_node_image};
use dcos_e2e::{Cluster, Command, Docker};
use futures_util::future::try_join_all;

use crate::report::{Target, list, median};
use crate::state::Bench;
use crate::util::{docker, secs};

/// The engine image's units, as the recipe leaves them at boot.
const WANTS: &str = "/etc/systemd/system/multi-user.target.wants";

/// How the engine image starts its daemon, and an image derived from it that starts it
/// the other way (the bench's own, removed at the end).
struct StartModes {
    at_boot: String,
    on_demand: String,
    derived: String,
}

/// Build the derived image: the recipe's engine image with the daemon (and
/// containerd) enabled at boot, or left to socket activation, whichever it is not.
fn start_modes(engine: &str) -> Result<StartModes> {
    let boots = Proc::new("docker")
        .args(["run", "--rm", "--entrypoint", "/bin/sh", engine, "-c"])
        .arg(format!("test -e {WANTS}/docker.service"))
        .status()?
        .success();
    let recipe = engine.rsplit(':').next().unwrap_or("x");
    let derived = format!("dcos-e2e-bench/engine-other-start:{recipe}");
    let run = if boots {
        format!("RUN rm -f {WANTS}/docker.service {WANTS}/containerd.service")
    } else {
        format!(
            "RUN ln -sf /lib/systemd/system/docker.service {WANTS}/docker.service && \
             ln -sf /lib/systemd/system/containerd.service {WANTS}/containerd.service"
        )
    };
    let dockerfile =
        format!("FROM {engine}\n{run}\nLABEL dcos-e2e.role=bench-engine dcos-e2e.image-recipe=\n");
    build_from(&dockerfile, &derived)?;
    Ok(if boots {
        StartModes {
            at_boot: engine.to_string(),
            on_demand: derived.clone(),
            derived,
        }
    } else {
        StartModes {
            at_boot: derived.clone(),
            on_demand: engine.to_string(),
            derived,
        }
    })
}

fn build_from(dockerfile: &str, tag: &str) -> Result<()> {
    use std::io::Write as _;
    let mut child = Proc::new("docker")
        .args(["build", "-q", "-t", tag, "-"])
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
            "building {tag} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// An image of about `mb` megabytes on the host: python's library and the node's
/// binaries plus random filler, imported from a tar stream.
fn load_test_image(node_image: &str, filler_mb: u64) -> Result<(String, f64)> {
    let tag = format!(
        "dcos-e2e-bench/load-test:{}",
        hex::encode(rand::random::<[u8; 4]>())
    );
    let script = format!(
        "head -c {filler_mb}000000 /dev/urandom > /filler && \
         tar -c -f - /filler /usr/bin /usr/lib/python3* 2>/dev/null"
    );
    let mut export = Proc::new("docker")
        .args([
            "run",
            "--rm",
            "--entrypoint",
            "/bin/sh",
            node_image,
            "-c",
            &script,
        ])
        .stdout(Stdio::piped())
        .spawn()?;
    let tar = export.stdout.take().context("piped")?;
    let import = Proc::new("docker")
        .args(["import", "-", &tag])
        .stdin(tar)
        .stdout(Stdio::null())
        .status()?;
    if !export.wait()?.success() || !import.success() {
        bail!("making the load test image failed");
    }
    let size: f64 = docker(&["image", "inspect", "--format", "{{.Size}}", &tag])?
        .parse()
        .unwrap_or(0.0);
    Ok((tag, size / 1e6))
}

/// Repetitions of each engine measurement (`BENCH_ENGINE_REPS`, default 5): the figures
/// are a few seconds each and the machine's load drifts.
fn engine_reps() -> usize {
    std::env::var("BENCH_ENGINE_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5usize)
        .max(1)
}

async fn provision(b: &mut Bench, image: &str) -> Result<(Cluster, f64)> {
    let t = Instant::now();
    let cluster = Cluster::builder(Docker::new().node_image(image))
        .masters(1)
        .agents(1)
        .public_agents(1)
        .provision()
        .await?;
    let took = secs(t);
    b.made.push(cluster.id().to_string());
    b.workspaces
        .extend(cluster.workspace().map(std::path::Path::to_path_buf));
    Ok((cluster, took))
}

/// CPU seconds the cluster's node containers used so far (their cgroup's accounting on
/// the host), summed; `None` where the host does not show it.
fn nodes_cpu(cluster: &Cluster) -> Option<f64> {
    let mut total = 0.0;
    for name in cluster.nodes().filter_map(|n| n.container_name()) {
        let id = docker(&["inspect", "--format", "{{.Id}}", name]).ok()?;
        let v1 = format!("/sys/fs/cgroup/cpuacct/docker/{id}/cpuacct.usage");
        let v2 = format!("/sys/fs/cgroup/system.slice/docker-{id}.scope/cpu.stat");
        if let Ok(ns) = std::fs::read_to_string(&v1) {
            total += ns.trim().parse::<f64>().ok()? / 1e9;
        } else {
            let stat = std::fs::read_to_string(&v2).ok()?;
            let us = stat
                .lines()
                .find_map(|l| l.strip_prefix("usage_usec "))?
                .trim()
                .parse::<f64>()
                .ok()?;
            total += us / 1e6;
        }
    }
    Some(total)
}

/// Seconds until `docker info` answers on every node, asked at once.
async fn engine_answers(cluster: &Cluster) -> Result<f64> {
    let t = Instant::now();
    try_join_all(cluster.nodes().map(|n| {
        n.run(Command::shell(
            "docker info --format '{{.ServerVersion}}' >/dev/null",
        ))
    }))
    .await?;
    Ok(secs(t))
}

pub async fn bench(b: &mut Bench) -> Result<()> {
    eprintln!("\n## engine: boot cost and load-image");
    let engine = ensure_node_image(&ImageOptions::default().engine(true)).await?;
    let modes = start_modes(&engine)?;
    let images = [
        ("without", b.image.clone()),
        ("at boot", modes.at_boot.clone()),
        ("on demand", modes.on_demand.clone()),
    ];
    let size = |tag: &str| {
        docker(&["image", "inspect", "--format", "{{.Size}}", tag])
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .map_or(0.0, |s| s / 1e6)
    };
    b.report.note(format!(
        "engine images: {} ({:.0} MB) vs the default {} ({:.0} MB); docker {} at boot in {}",
        engine,
        size(&engine),
        b.image,
        size(&b.image),
        if modes.at_boot == engine {
            "starts"
        } else {
            "does not start"
        },
        engine
    ));
    let mut provision_s: [Vec<f64>; 3] = Default::default();
    // CPU of the 3 nodes when SSH-ready, and (engine images) once docker answers.
    let mut cpu_ready: [Vec<f64>; 3] = Default::default();
    let mut cpu_engine: [Vec<f64>; 3] = Default::default();
    let (mut answering_boot, mut answering_demand) = (Vec::new(), Vec::new());
    let reps = engine_reps();
    for rep in 0..reps {
        // The order turns each repetition, so drift in the machine's load is shared.
        for k in 0..3 {
            let which = (k + rep) % 3;
            let (label, image) = &images[which];
            let (cluster, took) = provision(b, image).await?;
            if let Some(cpu) = nodes_cpu(&cluster) {
                cpu_ready[which].push(cpu);
            }
            let answers = if which > 0 {
                let answers = engine_answers(&cluster).await?;
                if let Some(cpu) = nodes_cpu(&cluster) {
                    cpu_engine[which].push(cpu);
                }
                Some(answers)
            } else {
                None
            };
            cluster.destroy().await?;
            eprintln!(
                "  {label}: provision {took:.2}s{}",
                answers.map_or(String::new(), |a| format!(
                    ", then docker info on all nodes {a:.2}s"
                ))
            );
            provision_s[which].push(took);
            match (which, answers) {
                (1, Some(a)) => answering_boot.push(a),
                (2, Some(a)) => answering_demand.push(a),
                _ => {}
            }
        }
    }
    let base = median(&provision_s[0]);
    b.report.row(
        format!("provision 1+1+1 to SSH-ready, engine image, dockerd at boot (median of {reps})"),
        median(&provision_s[1]),
        base,
        "the default image (no engine), same run",
        "s",
        Target::AtMostTimesBase(1.5),
    );
    b.report.row(
        format!(
            "provision 1+1+1 to SSH-ready, engine image, dockerd on first use (median of {reps})"
        ),
        median(&provision_s[2]),
        base,
        "the default image (no engine), same run",
        "s",
        Target::AtMostTimesBase(1.5),
    );
    b.report.row(
        "docker info answers on 3 nodes, right after provision (dockerd at boot)",
        median(&answering_boot),
        None,
        "-",
        "s",
        Target::None,
    );
    b.report.row(
        "docker info answers on 3 nodes, right after provision (on first use: starts dockerd)",
        median(&answering_demand),
        None,
        "-",
        "s",
        Target::None,
    );
    let base_cpu = median(&cpu_ready[0]);
    b.report.row(
        "CPU of 3 nodes to SSH-ready, dockerd at boot",
        median(&cpu_ready[1]),
        base_cpu,
        "the default image, same run",
        "s",
        Target::None,
    );
    b.report.row(
        "CPU of 3 nodes to SSH-ready, dockerd on first use",
        median(&cpu_ready[2]),
        base_cpu,
        "the default image, same run",
        "s",
        Target::None,
    );
    b.report.row(
        "CPU of 3 nodes once docker answers, dockerd at boot",
        median(&cpu_engine[1]),
        base_cpu,
        "the default image at SSH-ready, same run",
        "s",
        Target::None,
    );
    b.report.row(
        "CPU of 3 nodes once docker answers, dockerd on first use",
        median(&cpu_engine[2]),
        base_cpu,
        "the default image at SSH-ready, same run",
        "s",
        Target::None,
    );
    b.report.note(format!(
        "engine provision samples: without [{}] s, at boot [{}] s, on demand [{}] s",
        list(&provision_s[0]),
        list(&provision_s[1]),
        list(&provision_s[2])
    ));

    // /usr/bin and python's library (about 70 MB in 2,300 files) and 30 MB of filler.
    let (image, mb) = load_test_image(&b.image, 30)?;
    let result = load(b, &engine, &image, mb).await;
    let _ = docker(&["rmi", "-f", &image]);
    let _ = docker(&["rmi", "-f", &modes.derived]);
    result
}

/// `docker save | docker exec -i NODE docker load`, one node after another; seconds
/// per node.
fn by_hand(image: &str, containers: &[String]) -> Result<Vec<f64>> {
    containers
        .iter()
        .map(|c| {
            let t = Instant::now();
            let status = Proc::new("sh")
                .args([
                    "-c",
                    &format!("docker save {image} | docker exec -i {c} docker load -q >/dev/null"),
                ])
                .status()?;
            if !status.success() {
                bail!("docker save | docker exec -i {c} docker load failed");
            }
            Ok(secs(t))
        })
        .collect()
}

async fn forget(cluster: &Cluster, image: &str) -> Result<()> {
    try_join_all(cluster.nodes().map(|n| {
        n.run(Command::shell(format!(
            "docker rmi -f {image} >/dev/null; docker image prune -f >/dev/null"
        )))
    }))
    .await?;
    Ok(())
}

async fn load(b: &mut Bench, engine: &str, image: &str, mb: f64) -> Result<()> {
    let (cluster, _) = provision(b, engine).await?;
    engine_answers(&cluster).await?;
    let containers: Vec<String> = cluster
        .nodes()
        .filter_map(|n| n.container_name().map(str::to_string))
        .collect();
    let (mut ours, mut hand, mut ours_one, mut hand_one) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let reps = engine_reps();
    for rep in 0..reps {
        for turn in 0..2 {
            if (turn + rep) % 2 == 0 {
                let per_node = by_hand(image, &containers)?;
                eprintln!("  by hand: {} s per node", list(&per_node));
                hand_one.push(per_node[0]);
                hand.push(per_node.iter().sum());
            } else {
                let t = Instant::now();
                cluster.load_image(image).await?;
                let s = secs(t);
                eprintln!("  load_image to 3 nodes: {s:.2}s");
                ours.push(s);
            }
            forget(&cluster, image).await?;
        }
        let first = cluster.masters()[0].clone();
        let t = Instant::now();
        cluster.load_images(&[image], &[&first], None).await?;
        ours_one.push(secs(t));
        forget(&cluster, image).await?;
    }
    cluster.destroy().await?;
    b.report.row(
        format!("load-image of a {mb:.0} MB image into 3 nodes (median of {reps})"),
        median(&ours),
        median(&hand),
        "docker save | docker exec -i NODE docker load, 3 nodes one after another",
        "s",
        Target::AtMostTimesBase(0.5),
    );
    b.report.row(
        format!("load-image of a {mb:.0} MB image into 1 node (median of {reps})"),
        median(&ours_one),
        median(&hand_one),
        "docker save | docker exec -i NODE docker load, 1 node",
        "s",
        Target::None,
    );
    b.report.note(format!(
        "load-image samples: ours 3 nodes [{}] s, by hand 3 nodes [{}] s, ours 1 node [{}] s, by hand 1 node [{}] s",
        list(&ours),
        list(&hand),
        list(&ours_one),
        list(&hand_one)
    ));
    Ok(())
}
