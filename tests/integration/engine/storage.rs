//! The engine's storage driver: a chosen one is used and reported, and fuse-overlayfs
//! is given the device it needs.

use std::process::Command as Proc;

use dcos_e2e::Error;
use dcos_e2e::blocking::{self, Cluster};
use dcos_e2e::docker::{Distribution, EngineState, StorageDriver};

use super::{TinyImage, engine_backend, sh};
use crate::common;

/// The storage driver can be chosen; the choice is reported by the library and
/// `inspect`, and images load and run with it (here through the CLI, into one node).
#[test]
fn a_chosen_storage_driver_is_used_and_reported() {
    let image = TinyImage::new();
    let cluster = Cluster::builder(
        engine_backend(Distribution::Bookworm).engine_storage_driver(StorageDriver::Vfs),
    )
    .masters(1)
    .agents(0)
    .public_agents(0)
    .provision()
    .unwrap();
    let master = &cluster.masters()[0];
    assert_eq!(sh(master, "docker info --format '{{.Driver}}'"), "vfs");
    let status = blocking::docker::engine_status(master).unwrap();
    assert_eq!(status.storage_driver.as_deref(), Some("vfs"));
    assert!(status.detail.unwrap().contains("asked for"));

    let out = Proc::new(common::minidcos())
        .args([
            "docker",
            "load-image",
            cluster.id(),
            &image.0,
            "--node",
            "master:1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        sh(
            master,
            &format!("docker run --rm {} hostname | wc -l", image.0)
        ),
        "1"
    );
    let out = Proc::new(common::minidcos())
        .args(["docker", "inspect", cluster.id()])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("running (vfs)"), "{table}");
    let out = Proc::new(common::minidcos())
        .args(["--json", "docker", "inspect", cluster.id()])
        .output()
        .unwrap();
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(view["nodes"][0]["engine"]["state"], "running");
    assert_eq!(view["nodes"][0]["engine"]["storage_driver"], "vfs");

    // An engine that is there but stopped is told apart from none, and named.
    sh(master, "systemctl stop docker.socket docker.service");
    assert_eq!(
        blocking::docker::engine_status(master).unwrap().state,
        EngineState::Stopped
    );
    let err = cluster.load_image(&image.0).unwrap_err();
    assert!(
        matches!(&err, Error::EngineDown { node, .. } if *node == master.to_string()),
        "{err}"
    );
}

/// fuse-overlayfs needs /dev/fuse in the node: asking for it gives the node the
/// host's, and containers run on it.
#[test]
fn fuse_overlayfs_is_given_the_device_it_needs() {
    if !std::path::Path::new("/dev/fuse").exists() {
        panic!("this host has no /dev/fuse; the test needs it");
    }
    let image = TinyImage::new();
    let cluster = Cluster::builder(
        engine_backend(Distribution::Bookworm).engine_storage_driver(StorageDriver::FuseOverlayfs),
    )
    .masters(1)
    .agents(0)
    .public_agents(0)
    .provision()
    .unwrap();
    let master = &cluster.masters()[0];
    assert_eq!(
        sh(master, "docker info --format '{{.Driver}}'"),
        "fuse-overlayfs"
    );
    cluster.load_image(&image.0).unwrap();
    assert_eq!(
        sh(
            master,
            &format!("docker run --rm {} cat /etc/hostname | wc -l", image.0)
        ),
        "1"
    );
}
