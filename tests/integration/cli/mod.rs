//! The `minidcos` CLI end to end: the real binary on real Docker, one file per area.
//!
//! Every cluster a test makes through the CLI outlives the CLI process, so each one is
//! held by a [`Destroy`] guard that runs `minidcos docker destroy ID` even when an
//! assertion fails. Nothing here runs `destroy --all` or `clean --all`: other tests'
//! clusters share the daemon.

mod artifact_url;
mod clean;
mod errors;
mod existing;
mod help;
mod lifecycle;
mod progress;
mod race;
mod signals;
mod tty;
mod user;

use std::path::{Path, PathBuf};
use std::process::Command as Proc;

use dcos_e2e::docker::labels;

use crate::common::{self, running};

/// Runs `minidcos docker destroy ID` when dropped.
struct Destroy(String);

impl Drop for Destroy {
    fn drop(&mut self) {
        let _ = Proc::new(common::minidcos())
            .args(["docker", "destroy", &self.0])
            .output();
    }
}

/// `minidcos docker create` of a cluster of one master with this id.
fn create_one_master(id: &str) -> [&str; 8] {
    [
        "docker",
        "create",
        "--agents",
        "0",
        "--public-agents",
        "0",
        "--cluster-id",
        id,
    ]
}

/// An `--extra-config` file for the sample installer.
fn extra_config(dir: &Path, delay: u32) -> PathBuf {
    let path = dir.join("extra.yaml");
    std::fs::write(&path, format!("sample_startup_delay: {delay}\n")).unwrap();
    path
}

fn installer() -> String {
    common::sample_installer().display().to_string()
}

/// The workspace label of a running container of the cluster.
fn workspace_of(id: &str) -> PathBuf {
    let name = running(id, None).into_iter().next().expect("a container");
    PathBuf::from(common::docker_inspect(
        &format!("{{{{index .Config.Labels \"{}\"}}}}", labels::WORKSPACE),
        &name,
    ))
}

fn no_escape_codes(what: &str, text: &str) {
    assert!(!text.contains("\x1b["), "{what} has escape codes: {text:?}");
}
