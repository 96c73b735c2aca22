//! The user documentation pages, compiled here so their Rust examples are doc tests.

#[doc = include_str!("../../../docs/backends.md")]
pub mod backends {}

#[doc = include_str!("../../../docs/installer-contract.md")]
pub mod installer_contract {}

#[doc = include_str!("../../../docs/node-image.md")]
pub mod node_image {}

#[doc = include_str!("../../../docs/troubleshooting.md")]
pub mod troubleshooting {}

/// Claims of the pages that name what the code decides: they must say what it does.
#[cfg(test)]
mod claims {
    const TROUBLESHOOTING: &str = include_str!("../../../docs/troubleshooting.md");

    #[test]
    fn troubleshooting_names_the_paths_and_waits_the_code_uses() {
        let page = TROUBLESHOOTING
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let grace = crate::backend::docker::lifecycle::watchdog::LINK_GRACE.as_secs();
        let state = crate::backend::docker::image::STATE_DIR;
        for claim in [
            format!("it waits {grace} seconds for the owner"),
            format!("`{state}/build-<recipe>-<random>`"),
            "`<temp dir>/dcos-e2e-<uid>/daemon-<digest>.privileged`".to_string(),
        ] {
            assert!(page.contains(&claim), "the page no longer says {claim:?}");
        }
    }
}
