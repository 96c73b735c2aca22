//! How results and progress reach the user: tables or JSON on stdout; progress on
//! stderr, as a spinner on a terminal and as plain step lines otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use comfy_table::Table;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// Print a value as JSON.
pub fn json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}

/// Print rows as a table with a header.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut t = Table::new();
    if !std::io::stdout().is_terminal() {
        t.force_no_tty();
    }
    t.set_header(header.to_vec());
    for row in rows {
        t.add_row(row);
    }
    println!("{t}");
}

/// Progress of a long step.
pub struct Progress {
    bar: Option<ProgressBar>,
    step: String,
    started: Instant,
}

impl Progress {
    /// Start a step: a spinner on a terminal, a plain line otherwise.
    pub fn start(step: impl Into<String>) -> Self {
        let step = step.into();
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} {wide_msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(step.clone());
            bar.enable_steady_tick(Duration::from_millis(100));
            Some(bar)
        } else {
            eprintln!("==> {step}");
            None
        };
        Self {
            bar,
            step,
            started: Instant::now(),
        }
    }

    /// Detail within the step (only shown on a terminal, to keep logs short).
    pub fn detail(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.to_string());
        }
    }

    /// The step is done.
    pub fn done(self) {
        let elapsed = self.started.elapsed();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        eprintln!("==> {} done ({:.1}s)", self.step, elapsed.as_secs_f64());
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
