//! Log capture: the library logs the genconf / node-install split at info.

use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
    echo: bool,
}

impl std::io::Write for Capture {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(data);
        if self.echo {
            std::io::stderr().write_all(data)?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

impl Capture {
    /// Log to a buffer; also to stderr when `RUST_LOG` is set (then its filter is used).
    pub fn install() -> Self {
        let rust_log = std::env::var("RUST_LOG").ok().filter(|v| !v.is_empty());
        let cap = Capture {
            buf: Arc::default(),
            echo: rust_log.is_some(),
        };
        let filter =
            tracing_subscriber::EnvFilter::new(rust_log.as_deref().unwrap_or("dcos_e2e=info"));
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(cap.clone())
            .with_ansi(false)
            .init();
        cap
    }

    pub fn clear(&self) {
        self.buf.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The duration in the last captured line containing `marker` (e.g. "genconf done
    /// in"), written as Rust's `{:?}` of a `Duration` ("1.2s", "845.3ms").
    pub fn duration_after(&self, marker: &str) -> Option<f64> {
        let buf = self.buf.lock().unwrap_or_else(|p| p.into_inner());
        let text = String::from_utf8_lossy(&buf);
        let line = text.lines().rev().find(|l| l.contains(marker))?;
        let rest = &line[line.find(marker)? + marker.len()..];
        let token = rest.split_whitespace().next()?;
        for (suffix, scale) in [("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9), ("s", 1.0)] {
            if let Some(n) = token.strip_suffix(suffix) {
                return n.parse::<f64>().ok().map(|n| n * scale);
            }
        }
        None
    }
}
