//! Benchmarks of issues 3, 4, 6, 7, 16, 17, 18, 25 and 26, each printed beside a baseline measured in the
//! same run (`cargo bench --bench cluster`; see `benches/README.md`).
//!
//! Baselines: `benches/baseline.sh` (plain `docker run` + OpenSSH), the same installer
//! steps done by hand with `bash` and `docker exec`, and plain process spawns. Nothing is
//! asserted: the bench prints a table (metric, ours, baseline, ratio, target) and what it
//! found about where the time goes. Every cluster it makes is destroyed, and at the end
//! it checks that nothing it made is left.

mod baseline;
mod capture;
mod cli;
mod config;
mod daily;
mod engine;
mod environment;
mod existing;
mod faults;
mod install;
mod ops;
mod provision;
mod remote;
mod report;
mod scale;
mod state;
mod timeline;
mod tty;
mod upgrade;
mod util;

use std::time::Instant;

use anyhow::{Context, Result};

use crate::baseline::baseline_or_note;
use crate::capture::Capture;
use crate::config::Config;
use crate::environment::load_and_neighbours;
use crate::state::{Bench, final_cleanup};
use crate::util::secs;

/// The sections `BENCH_ONLY` asks for, in order.
async fn run(b: &mut Bench) -> Result<()> {
    if b.cfg.wants("provision") {
        provision::bench(b).await?;
    } else if b.cfg.wants("ops") || b.cfg.wants("install") {
        // The rows still want the 1+1+1 baseline figures.
        let image = b.baseline_image.clone().context("no baseline image")?;
        let figures = baseline_or_note(&mut b.report, &image, 3, b.cfg.mib);
        for (k, v) in figures {
            b.base3.entry(k).or_default().push(v);
        }
    }
    if b.cfg.wants("scale") {
        scale::bench(b).await?;
    }
    if b.cfg.wants("ops") {
        ops::bench(b).await?;
    }
    if b.cfg.wants("install") {
        install::bench(b).await?;
    }
    if b.cfg.wants("upgrade") {
        upgrade::bench(b).await?;
    }
    if b.cfg.wants("existing") {
        existing::bench(b).await?;
    }
    if b.cfg.wants("cli") {
        cli::bench(b).await?;
    }
    if b.cfg.wants("daily") {
        daily::bench(b).await?;
    }
    if b.cfg.wants("engine") {
        engine::bench(b).await?;
    }
    if b.cfg.wants("tty") {
        tty::bench(b).await?;
    }
    if b.cfg.wants("remote") {
        remote::bench(b).await?;
    }
    if b.cfg.wants("faults") {
        faults::bench(b).await?;
    }
    Ok(())
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let cfg = Config::from_env();
    let log = Capture::install();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut b = Bench::prepare(cfg, log).await?;
        let started = Instant::now();
        let result = run(&mut b).await;
        if let Err(e) = &result {
            b.report.note(format!("the bench stopped early: {e:#}"));
        }
        final_cleanup(&mut b).await;
        println!("\n  after: {}", load_and_neighbours());
        println!("  bench took {:.0}s", secs(started));
        b.report.print();
        result
    })
}
