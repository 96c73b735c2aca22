//! Loop device sidecars (`dcos_e2e::docker::LoopbackVolume`).

use std::collections::HashMap;
use std::process::Command as Local;

use dcos_e2e::docker::LoopbackVolume;
use dcos_e2e::{Error, Parameter};

use crate::common::docker_inspect;

fn host(args: &[&str]) -> std::process::Output {
    Local::new(args[0]).args(&args[1..]).output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sidecar_holds_a_loop_device_of_the_size_asked_until_destroyed() {
    let labels = HashMap::from([("dcos-e2e-test".to_string(), "loop".to_string())]);
    let first = LoopbackVolume::create(2, labels).await.unwrap();
    let second = LoopbackVolume::create(1, HashMap::new()).await.unwrap();
    assert_ne!(first.path(), second.path());
    // The kernel's device, seen from this host, of the size asked for.
    let size = host(&["blockdev", "--getsize64", first.path()]);
    assert_eq!(String::from_utf8_lossy(&size.stdout).trim(), "2097152");
    let labels = docker_inspect("{{json .Config.Labels}}", first.container());
    assert!(labels.contains("\"dcos-e2e-test\":\"loop\""), "{labels}");
    assert!(
        labels.contains("\"dcos-e2e.role\":\"loopback\""),
        "{labels}"
    );
    let (path, container) = (first.path().to_string(), first.container().to_string());
    first.destroy().await.unwrap();
    second.destroy().await.unwrap();
    // Detached, and the sidecar gone.
    assert!(!host(&["losetup", &path]).status.success());
    assert!(!host(&["docker", "inspect", &container]).status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_loop_device_of_no_size_is_refused() {
    let err = LoopbackVolume::create(0, HashMap::new()).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::InvalidParameter {
                parameter: Parameter::SizeMib,
                ..
            }
        ),
        "{err:?}"
    );
}
