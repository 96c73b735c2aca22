//! The distributions of the node image: each builds and boots with our tweaks (trixie
//! with its engine, the default bookworm, forky where cgroup v2 allows it), and an
//! unknown one names the supported ones.

use std::process::Command as Proc;
use std::sync::{Arc, Mutex, OnceLock};

use dcos_e2e::blocking::{self, Cluster};
use dcos_e2e::docker::{Distribution, ImageOptions};
use dcos_e2e::{Docker, Error};

use super::{TinyImage, assert_containers_network, assert_node_is_ours, engine_backend};
use crate::common;

/// Trixie (the current stable) with its engine: builds, boots with our tweaks, and
/// runs networked containers (its Docker needs the IPv6 setting in our drop-in).
#[test]
fn trixie_builds_boots_and_runs_containers() {
    let image = TinyImage::new();
    let cluster = Cluster::builder(engine_backend(Distribution::Trixie))
        .masters(1)
        .agents(0)
        .public_agents(0)
        .provision()
        .unwrap();
    let master = &cluster.masters()[0];
    assert_node_is_ours(master, Distribution::Trixie);
    cluster.load_image(&image.0).unwrap();
    assert_containers_network(master, &image.0);
}

/// The default image (bookworm, no engine) boots with our tweaks and has DC/OS's
/// prerequisites.
#[test]
fn the_default_image_boots_with_our_tweaks_and_dcos_prerequisites() {
    let cluster = common::one_master();
    assert_node_is_ours(&cluster.masters()[0], Distribution::Bookworm);
}

/// Forky's systemd refuses cgroup v1: on such a host it is refused before anything is
/// built, naming what works; elsewhere it builds and boots.
#[test]
fn forky_is_refused_on_cgroup_v1_and_boots_elsewhere() {
    let info = Proc::new("docker")
        .args(["info", "--format", "{{.CgroupVersion}}"])
        .output()
        .unwrap();
    let v1 = String::from_utf8_lossy(&info.stdout).trim() == "1";
    let options = ImageOptions::default().distribution(Distribution::Forky);
    if v1 {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = lines.clone();
        let err = blocking::docker::ensure_node_image(
            &options
                .clone()
                .progress(move |l: &str| sink.lock().unwrap().push(l.into())),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(
                err,
                Error::InvalidParameter {
                    parameter: dcos_e2e::Parameter::Distribution,
                    ..
                }
            ) && text.contains("cgroup v1")
                && text.contains("bookworm, trixie"),
            "{text}"
        );
        assert!(lines.lock().unwrap().is_empty(), "nothing was built");
        return;
    }
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| blocking::docker::ensure_node_image(&options).unwrap());
    let cluster = common::one_master_on(Docker::new().image_options(options));
    assert_node_is_ours(&cluster.masters()[0], Distribution::Forky);
}

#[test]
fn an_unknown_distribution_names_the_supported_ones() {
    let out = Proc::new(common::minidcos())
        .args(["docker", "build-image", "--distribution", "jessie"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "a usage error: {err}");
    assert!(
        err.contains("jessie")
            && err.contains("bookworm")
            && err.contains("trixie")
            && err.contains("forky"),
        "{err}"
    );
    let err = ImageOptions::default()
        .suite("jessie")
        .checked_distribution()
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidParameter {
            parameter: dcos_e2e::Parameter::Distribution,
            ..
        }
    ));
}
