//! Many commands at once on one node.

use std::time::Instant;

use dcos_e2e::TransportKind;

use super::{Fixture, sh};

both_transports!(concurrent_runs);

async fn concurrent_runs(kind: TransportKind) {
    let fx = Fixture::new(kind).await;
    let node = fx.node();
    node.run(["true"]).await.unwrap(); // connected

    // Each run reports when it started and ended on the node (ns clock) and echoes its
    // index on both streams.
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100 {
        let node = node.clone();
        tasks.spawn(async move {
            let script = "a=$(date +%s%N); sleep 1; echo \"$1 $a $(date +%s%N)\"; echo \"e$1\" >&2";
            (i, node.run(sh(script, &[&i.to_string()])).await)
        });
    }
    let mut spans = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (i, out) = joined.expect("task completes");
        let out = out.unwrap_or_else(|e| panic!("run {i} failed: {}", dcos_e2e::chain(&e)));
        let fields: Vec<u128> = out
            .stdout_text()
            .split(' ')
            .map(|f| f.parse().unwrap())
            .collect();
        assert_eq!(fields[0], i, "{out:?}");
        assert_eq!(out.stderr_text(), format!("e{i}"));
        spans.push((fields[1], fields[2]));
    }
    let elapsed = started.elapsed();
    assert_eq!(spans.len(), 100);
    // The most runs in progress at one moment on the node.
    let mut edges: Vec<(u128, i32)> = spans.iter().flat_map(|&(a, b)| [(a, 1), (b, -1)]).collect();
    edges.sort();
    let most = edges
        .iter()
        .scan(0, |n, &(_, d)| {
            *n += d;
            Some(*n)
        })
        .max()
        .unwrap();
    eprintln!("{kind}: 100 concurrent runs of `sleep 1` took {elapsed:?}, at most {most} at once");
    // One connection (SSH) or the daemon (docker exec) must not serialize them. docker
    // exec is paced by the daemon's exec setup (~20/s here), so not all 100 overlap.
    let floor = match kind {
        TransportKind::Ssh => 50,
        TransportKind::DockerExec => 10,
    };
    assert!(most >= floor, "at most {most} runs overlapped");

    // And 100 quick ones, for the latency under concurrency.
    let started = Instant::now();
    let runs = (0..100).map(|_| node.run(["true"]));
    for r in futures_util::future::join_all(runs).await {
        r.unwrap();
    }
    eprintln!("{kind}: 100 concurrent `true` took {:?}", started.elapsed());

    fx.finish().await;
}
