//! The results table: each figure beside its baseline and target, and the notes.

use std::fmt::Write as _;

/// How a figure compares with its target.
#[derive(Clone, Copy)]
pub enum Target {
    /// No target: information only.
    None,
    /// ours <= k * baseline (times).
    AtMostTimesBase(f64),
    /// ours >= k * baseline (rates).
    AtLeastTimesBase(f64),
    /// ours <= an absolute value (in the row's unit).
    AtMost(f64),
}

pub struct Row {
    pub metric: String,
    pub ours: Option<f64>,
    pub base: Option<f64>,
    pub base_label: String,
    pub unit: &'static str,
    pub target: Target,
}

#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn row(
        &mut self,
        metric: impl Into<String>,
        ours: Option<f64>,
        base: Option<f64>,
        base_label: impl Into<String>,
        unit: &'static str,
        target: Target,
    ) {
        let row = Row {
            metric: metric.into(),
            ours,
            base,
            base_label: base_label.into(),
            unit,
            target,
        };
        eprintln!(
            "  = {}: ours {} | baseline {} ({})",
            row.metric,
            fmt_val(row.ours, row.unit),
            fmt_val(row.base, row.unit),
            row.base_label
        );
        self.rows.push(row);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        eprintln!("  note: {note}");
        self.notes.push(note);
    }

    pub fn print(&self) {
        let cells: Vec<[String; 7]> = self
            .rows
            .iter()
            .map(|r| {
                let ratio = match (r.ours, r.base) {
                    (Some(o), Some(b)) if b > 0.0 => format!("{:.2}x", o / b),
                    _ => "-".into(),
                };
                let (target, meets) = match r.target {
                    Target::None => ("(info)".to_string(), None),
                    Target::AtMostTimesBase(k) => (
                        format!("<= {k}x base"),
                        r.ours.zip(r.base).map(|(o, b)| o <= k * b),
                    ),
                    Target::AtLeastTimesBase(k) => (
                        format!(">= {k}x base"),
                        r.ours.zip(r.base).map(|(o, b)| o >= k * b),
                    ),
                    Target::AtMost(v) => (
                        format!("<= {}", fmt_val(Some(v), r.unit)),
                        r.ours.map(|o| o <= v),
                    ),
                };
                let meets = match meets {
                    Some(true) => "yes",
                    Some(false) => "NO",
                    None if matches!(r.target, Target::None) => "",
                    None => "?",
                };
                [
                    r.metric.clone(),
                    fmt_val(r.ours, r.unit),
                    fmt_val(r.base, r.unit),
                    ratio,
                    target,
                    meets.to_string(),
                    r.base_label.clone(),
                ]
            })
            .collect();
        let header = [
            "metric",
            "ours",
            "baseline",
            "ratio",
            "target",
            "met",
            "baseline is",
        ];
        let mut widths = header.map(str::len);
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
                let pad = w.saturating_sub(c.chars().count());
                if i == 0 || i >= 4 {
                    let _ = write!(s, "{c}{}", " ".repeat(pad));
                } else {
                    let _ = write!(s, "{}{c}", " ".repeat(pad));
                }
                if i + 1 < cells.len() {
                    s.push_str(" | ");
                }
            }
            println!("{}", s.trim_end());
        };
        println!();
        line(&header.map(String::from));
        println!(
            "{}",
            widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .join("-|-")
        );
        for row in &cells {
            line(row);
        }
        if !self.notes.is_empty() {
            println!("\nNotes:");
            for n in &self.notes {
                println!("- {n}");
            }
        }
    }
}

fn fmt_val(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "-".into(),
        Some(v) if unit == "MB/s" || unit == "MB" => format!("{v:.0} {unit}"),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0} {unit}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1} {unit}"),
        Some(v) => format!("{v:.2} {unit}"),
    }
}

pub fn median(v: &[f64]) -> Option<f64> {
    percentile(v, 0.5)
}

pub fn percentile(v: &[f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if p == 0.5 && s.len().is_multiple_of(2) {
        return Some((s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0);
    }
    let i = ((s.len() - 1) as f64 * p).round() as usize;
    Some(s[i])
}

pub fn list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// MB/s as the baseline script computes it (decimal megabytes).
pub fn mb_s(mib: u64, secs: f64) -> f64 {
    mib as f64 * 1.048576 / secs
}
