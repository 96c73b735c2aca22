//! The bench's knobs, from the environment (see `benches/README.md`).

/// Knobs, from the environment (see README).
pub struct Config {
    pub reps: usize,
    pub iters: usize,
    pub mib: u64,
    pub xfer_reps: usize,
    pub scale: Vec<usize>,
    pub delays: Vec<u32>,
    pub help_runs: usize,
    pub install_reps: usize,
    pub only: Option<Vec<String>>,
}

impl Config {
    pub fn from_env() -> Self {
        let num = |k: &str, d: usize| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(d)
        };
        let list = |k: &str, d: &str| -> Vec<usize> {
            std::env::var(k)
                .unwrap_or_else(|_| d.to_string())
                .split(',')
                .filter_map(|s| s.trim().parse().ok())
                .collect()
        };
        Self {
            reps: num("BENCH_REPS", 3).max(1),
            iters: num("BENCH_ITERS", 200).max(1),
            mib: num("BENCH_MIB", 500).max(1) as u64,
            xfer_reps: num("BENCH_XFER_REPS", 3).max(1),
            scale: list("BENCH_SCALE", "6,15,30"),
            delays: list("BENCH_DELAYS", "0,3")
                .into_iter()
                .map(|d| d as u32)
                .collect(),
            help_runs: num("BENCH_HELP_RUNS", 50).max(1),
            install_reps: num("BENCH_INSTALL_REPS", 3).max(1),
            only: std::env::var("BENCH_ONLY")
                .ok()
                .map(|v| v.split(',').map(|s| s.trim().to_string()).collect()),
        }
    }

    pub fn wants(&self, section: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|s| s == section))
    }
}
