//! The keep policy: whether clusters outlive their scope for debugging. A leaf, read by
//! the backends and the cluster lifecycle.

/// Set to keep library clusters after the test (for debugging): no destroy on drop, no
/// cleanup watchdog. `minidcos docker destroy ID` or `minidcos docker clean` removes them.
pub const KEEP_ENV: &str = "DCOS_E2E_KEEP";

/// Whether [`KEEP_ENV`] asks to keep clusters.
pub fn keep_requested() -> bool {
    std::env::var(KEEP_ENV).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Why a cluster whose creation failed is kept: `DCOS_E2E_KEEP`, or the caller's
/// `destroy_on_error = false`.
pub(crate) fn keep_reason() -> &'static str {
    if keep_requested() {
        "DCOS_E2E_KEEP is set"
    } else {
        "destroy_on_error is false"
    }
}
