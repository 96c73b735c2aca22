//! The library's `tracing` events as Python `logging` records, at the original
//! package's levels rather than level for level: live output lines of node commands and
//! of the installer become DEBUG records (the original logged each line at DEBUG), the
//! installer's output without `log_output_live` is not forwarded at all, and the other
//! events keep their level.
//!
//! Events are queued, not logged where they happen: logging needs the GIL, and an event
//! on a runtime thread could wait for a GIL that the thread waiting on it holds. The
//! thread that waits on library work forwards them every tick (see `wait`), from where
//! the call was made.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Python `logging` levels.
const DEBUG: u8 = 10;
const INFO: u8 = 20;
const WARNING: u8 = 30;
const ERROR: u8 = 40;

/// Records kept while nobody forwards them (say, events of a destroy run by the garbage
/// collector); past this the oldest go.
const MAX_PENDING: usize = 100_000;

/// Fields that become attributes of the `LogRecord` (`record.node`, ...); others are
/// appended to the message.
const RECORD_ATTRIBUTES: [&str; 3] = ["node", "stream", "cluster"];

struct Record {
    logger: String,
    level: u8,
    message: String,
    attributes: Vec<(&'static str, String)>,
}

static PENDING: Mutex<VecDeque<Record>> = Mutex::new(VecDeque::new());

/// The Python level of an event, or `None` if it is not forwarded.
fn python_level(meta: &Metadata<'_>) -> Option<u8> {
    let target = meta.target();
    if target != "dcos_e2e" && !target.starts_with("dcos_e2e::") {
        return None;
    }
    let level = *meta.level();
    match target {
        // The library logs output lines at INFO when live (at DEBUG otherwise): the
        // original logged live lines at DEBUG and nothing when not live. An install
        // asked to log live (the final API's `Output.LOG_AND_CAPTURE`) logs its
        // installer's stderr at WARN, which the final logged as WARNING.
        "dcos_e2e::node" | "dcos_e2e::installer" => match level {
            Level::INFO => Some(DEBUG),
            Level::WARN => Some(WARNING),
            _ => None,
        },
        _ => match level {
            Level::ERROR => Some(ERROR),
            Level::WARN => Some(WARNING),
            Level::INFO => Some(INFO),
            Level::DEBUG => Some(DEBUG),
            Level::TRACE => None,
        },
    }
}

struct ToPython;

impl<S: Subscriber> Layer<S> for ToPython {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        // Decided once per call site: the dependencies' events cost nothing.
        if python_level(meta).is_some() {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        python_level(meta).is_some()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::DEBUG)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let Some(level) = python_level(event.metadata()) else {
            return;
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut message = fields.message;
        for (name, value) in &fields.others {
            let _ = write!(message, " {name}={value}");
        }
        let record = Record {
            logger: event.metadata().target().replace("::", "."),
            level,
            message,
            attributes: fields.attributes,
        };
        let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
        if pending.len() >= MAX_PENDING {
            pending.pop_front();
        }
        pending.push_back(record);
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    attributes: Vec<(&'static str, String)>,
    others: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
}

impl Fields {
    fn put(&mut self, field: &Field, value: String) {
        let name = field.name();
        if name == "message" {
            self.message = value;
        } else if let Some(attr) = RECORD_ATTRIBUTES.iter().find(|a| **a == name) {
            self.attributes.push((attr, value));
        } else {
            self.others.push((name, value));
        }
    }
}

/// Route the library's events to the queue. Called once, at import.
pub(crate) fn install() {
    let subscriber = tracing_subscriber::registry().with(ToPython);
    // Already set only if this module was initialised before in this process.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Log the queued records through Python `logging`, from the calling thread.
pub(crate) fn flush(py: Python<'_>) {
    let records: Vec<Record> = {
        let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
        if pending.is_empty() {
            return;
        }
        pending.drain(..).collect()
    };
    static GET_LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let Ok(get_logger) = GET_LOGGER.get_or_try_init(py, || {
        py.import("logging")?
            .getattr("getLogger")
            .map(Bound::unbind)
    }) else {
        return;
    };
    for record in records {
        let logged = (|| -> PyResult<()> {
            let logger = get_logger.bind(py).call1((record.logger.as_str(),))?;
            let kwargs = PyDict::new(py);
            if !record.attributes.is_empty() {
                let extra = PyDict::new(py);
                for (name, value) in &record.attributes {
                    extra.set_item(*name, value)?;
                }
                kwargs.set_item("extra", extra)?;
            }
            // `msg` is the line itself: users look for their output in `record.msg`.
            logger.call_method("log", (record.level, record.message), Some(&kwargs))?;
            Ok(())
        })();
        // A handler that raises must not turn into an error of the call that logged.
        if let Err(e) = logged {
            e.print(py);
        }
    }
}

/// Forward the library's queued log records to Python `logging` now (they are
/// forwarded during every call anyway; this is for records of work done outside a
/// call, such as a destroy run by the garbage collector).
#[pyfunction]
pub(crate) fn flush_logs(py: Python<'_>) {
    flush(py);
}
