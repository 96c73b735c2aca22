//! The Rust side of `bench.py`: the same operations from Rust (the blocking API), so
//! that the Python figures have a Rust figure from the same run beside them.
//!
//! ```text
//! rust_counterpart run CLUSTER_ID ITERATIONS     # warm run("true") on the first master
//! rust_counterpart create ARTIFACT REPETITIONS   # create + destroy of 1+1+1
//! ```
//! Prints one JSON object on stdout: seconds per sample.

use std::time::Instant;

use dcos_e2e::blocking::Cluster;
use dcos_e2e::{Command, Docker};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| -> Result<usize, Box<dyn std::error::Error>> {
        Ok(args.get(i).ok_or("missing a count")?.parse()?)
    };
    match args.first().map(String::as_str) {
        Some("run") => {
            let id = args.get(1).ok_or("missing the cluster id")?;
            let iterations = number(2)?;
            // A second handle on the Python side's cluster, with its own connection.
            let cluster = Cluster::attach_docker(id, None)?;
            let master = cluster
                .masters()
                .first()
                .ok_or("the cluster has no master")?;
            for _ in 0..20 {
                master.run(Command::shell("true"))?;
            }
            let samples: Vec<f64> = (0..iterations)
                .map(|_| {
                    let t = Instant::now();
                    master
                        .run(Command::shell("true"))
                        .map(|_| t.elapsed().as_secs_f64())
                })
                .collect::<Result<_, _>>()?;
            println!("{}", serde_json_like(&[("run", &samples)]));
        }
        Some("create") => {
            let artifact = args.get(1).ok_or("missing the artifact")?;
            let repetitions = number(2)?;
            let (mut create, mut destroy) = (Vec::new(), Vec::new());
            for _ in 0..repetitions {
                let t = Instant::now();
                let cluster = Cluster::builder(Docker::new())
                    .build_artifact(artifact)
                    .masters(1)
                    .agents(1)
                    .public_agents(1)
                    .create()?;
                create.push(t.elapsed().as_secs_f64());
                let t = Instant::now();
                cluster.destroy()?;
                destroy.push(t.elapsed().as_secs_f64());
            }
            println!(
                "{}",
                serde_json_like(&[("create", &create), ("destroy", &destroy)])
            );
        }
        _ => return Err("usage: rust_counterpart run ID N | create ARTIFACT N".into()),
    }
    Ok(())
}

/// `{"name": [1.0, 2.0], ...}` without a JSON dependency.
fn serde_json_like(series: &[(&str, &Vec<f64>)]) -> String {
    let fields: Vec<String> = series
        .iter()
        .map(|(name, values)| {
            let values: Vec<String> = values.iter().map(|v| format!("{v:.6}")).collect();
            format!("\"{name}\": [{}]", values.join(", "))
        })
        .collect();
    format!("{{{}}}", fields.join(", "))
}
