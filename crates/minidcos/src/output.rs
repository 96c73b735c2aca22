//! How results and progress reach the user: tables or JSON on stdout; progress on
//! stderr, as a spinner on a terminal and as plain step lines otherwise (no escape
//! codes unless stderr is a terminal).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use comfy_table::Table;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// Print a line on stdout. A closed stdout (`minidcos … | head`) ends the program
/// quietly, as it does for other command-line tools.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if writeln!(out, $($arg)*).and_then(|()| out.flush()).is_err() {
            std::process::exit(141);
        }
    }};
}

/// Print a value as JSON.
pub fn json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => crate::say!("{text}"),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}

/// Print rows as a table with a header.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut t = Table::new();
    // Plain aligned columns, as kubectl and kind print: easy to read and to grep.
    t.load_style(comfy_table::TableStyle::new());
    if !std::io::stdout().is_terminal() {
        t.force_no_tty();
    }
    t.set_header(header.to_vec());
    for row in rows {
        t.add_row(row);
    }
    crate::say!("{t}");
}

/// The spinner on screen, if any: log lines are written around it.
static SPINNER: Mutex<Option<(u64, ProgressBar)>> = Mutex::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Where log lines go: stderr, with the spinner (if any) cleared while a line is written
/// so the two never mix on a terminal.
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let spinner = SPINNER.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match spinner {
            Some((_, bar)) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Progress of a long step.
pub struct Progress {
    id: u64,
    bar: Option<ProgressBar>,
    step: String,
    started: Instant,
    finished: AtomicBool,
}

impl Progress {
    /// Start a step: a spinner on a terminal, a plain line otherwise.
    pub fn start(step: impl Into<String>) -> Self {
        let step = step.into();
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} ({elapsed}) {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(step.clone());
            bar.enable_steady_tick(Duration::from_millis(100));
            *SPINNER.lock().unwrap_or_else(|p| p.into_inner()) = Some((id, bar.clone()));
            Some(bar)
        } else {
            eprintln!("==> {step}");
            None
        };
        Self {
            id,
            bar,
            step,
            started: Instant::now(),
            finished: AtomicBool::new(false),
        }
    }

    /// Detail within the step (only shown on a terminal, to keep logs short).
    pub fn detail(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.to_string());
        }
    }

    /// A sub-step worth a line in logs too.
    pub fn note(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(message.to_string()),
            None => eprintln!("    {message}"),
        }
    }

    /// The step is done (once; later calls do nothing).
    pub fn done(&self) {
        if self.finished.swap(true, Ordering::SeqCst) {
            return;
        }
        self.clear();
        eprintln!(
            "==> {} done ({:.1}s)",
            self.step,
            self.started.elapsed().as_secs_f64()
        );
    }
}

impl Progress {
    fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            let mut spinner = SPINNER.lock().unwrap_or_else(|p| p.into_inner());
            if spinner.as_ref().is_some_and(|(id, _)| *id == self.id) {
                *spinner = None;
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}
