//! Command output logged live through `tracing`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dcos_e2e::TransportKind;

use super::{Fixture, command_failed, docker, sh, text};

both_transports!(log_output_live);

/// Log lines captured by a test subscriber, with when they were written.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<(Instant, String)>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().push((Instant::now(), text(buf)));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<(Instant, String)> {
        self.0.lock().unwrap().clone()
    }

    fn take(&self) -> Vec<(Instant, String)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// The captured lines containing `needle`.
    fn find(&self, needle: &str) -> Vec<(Instant, String)> {
        self.lines()
            .into_iter()
            .filter(|(_, l)| l.contains(needle))
            .collect()
    }
}

async fn log_output_live(kind: TransportKind) {
    let captured = Captured::default();
    let writer = captured.clone();
    // Each nextest test is its own process, so a global subscriber is fine; the node
    // logs from whichever runtime thread polls it.
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init();

    let fx = Fixture::build(docker(kind).await, |b| b.log_output_live(true)).await;
    let node = fx.node();
    captured.take();

    // Each line is logged as it arrives, while the command still runs, and captured.
    let started = Instant::now();
    let out = node
        .run(sh(
            "echo live-early; echo live-err >&2; sleep 2; echo live-late; printf live-partial",
            &[],
        ))
        .await
        .unwrap();
    let ended = Instant::now();
    assert_eq!(out.stdout_text(), "live-early\nlive-late\nlive-partial");
    assert_eq!(out.stderr_text(), "live-err");
    let early = captured.find("live-early");
    assert_eq!(early.len(), 1, "{:?}", captured.lines());
    assert!(
        early[0].0 < ended - Duration::from_secs(1),
        "live-early was logged {:?} after the start, at the end ({:?})",
        early[0].0 - started,
        ended - started
    );
    assert!(early[0].1.contains("stdout"), "{}", early[0].1);
    assert!(
        early[0].1.contains(&node.ip_address().to_string()),
        "{}",
        early[0].1
    );
    let err = captured.find("live-err");
    assert_eq!(err.len(), 1);
    assert!(err[0].1.contains("stderr"), "{}", err[0].1);
    assert_eq!(captured.find("live-late").len(), 1);
    assert_eq!(
        captured.find("live-partial").len(),
        1,
        "a last line without newline"
    );

    // A failing command is logged too, and still carries its output.
    let err = node
        .run(sh("echo live-fail; exit 2", &[]))
        .await
        .unwrap_err();
    let failed = command_failed(err);
    assert_eq!(text(&failed.stdout), "live-fail\n");
    assert_eq!(captured.find("live-fail").len(), 1);

    // The cluster default is overridden per command.
    let out = node
        .run(sh("echo quiet-line", &[]).log_output_live(false))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "quiet-line");
    assert!(
        captured.find("quiet-line").is_empty(),
        "{:?}",
        captured.lines()
    );

    fx.finish().await;
}
