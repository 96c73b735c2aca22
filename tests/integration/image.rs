//! The node image: built offline with debootstrap, reused when the recipe is unchanged,
//! built once under concurrency, clear errors on bad input.

use std::process::Command as Proc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use dcos_e2e::Command;
use dcos_e2e::blocking;
use dcos_e2e::docker::{ImageOptions, labels};

use crate::common;

#[test]
fn built_image_boots_systemd_and_accepts_ssh() {
    let image = common::node_image();
    let recipe = common::docker_inspect(
        &format!("{{{{index .Config.Labels \"{}\"}}}}", labels::IMAGE_RECIPE),
        image,
    );
    assert_eq!(
        image.rsplit(':').next(),
        Some(recipe.as_str()),
        "image labelled with its recipe hash"
    );

    let cluster = common::one_master();
    let master = &cluster.masters()[0];
    let state = master
        .output(["systemctl", "is-system-running", "--wait"])
        .unwrap();
    assert!(
        matches!(state.stdout_text().as_str(), "running" | "degraded"),
        "systemd state {state:?}"
    );
    // Over SSH, with the cluster's generated key.
    assert_eq!(master.as_async().transport(), dcos_e2e::TransportKind::Ssh);
    let who = master.run(Command::new(["id", "-un"])).unwrap();
    assert_eq!(who.stdout_text(), "root");
}

#[test]
fn second_build_reuses_the_image() {
    common::node_image();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let options =
        ImageOptions::default().progress(move |l: &str| sink.lock().unwrap().push(l.to_string()));
    let started = Instant::now();
    let tag = blocking::docker::ensure_node_image(&options).unwrap();
    eprintln!("reusing the image took {:?}", started.elapsed());
    assert_eq!(tag, dcos_e2e::docker::default_image());
    assert!(
        lines.lock().unwrap().is_empty(),
        "nothing was built: {:?}",
        lines.lock().unwrap()
    );
}

/// Two processes ask at the same moment for an image whose recipe changed (an extra
/// package): one builds, the other waits and reuses it; one image results.
#[test]
fn changed_recipe_builds_a_new_tag_once_under_concurrency() {
    common::node_image();
    let spawn = || {
        Proc::new(common::minidcos())
            .args(["-v", "docker", "build-image", "--extra-package", "less"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let remove_image = |tag: &str| {
        let _ = Proc::new("docker").args(["rmi", "-f", tag]).output();
    };
    let tag_a = String::from_utf8_lossy(&a.stdout).trim().to_string();
    let tag_b = String::from_utf8_lossy(&b.stdout).trim().to_string();
    let result = std::panic::catch_unwind(|| {
        assert!(a.status.success() && b.status.success(), "{a:?}\n{b:?}");
        assert_eq!(tag_a, tag_b);
        assert_ne!(
            tag_a,
            dcos_e2e::docker::default_image(),
            "a changed recipe gets a new tag"
        );
        let logs = [
            String::from_utf8_lossy(&a.stderr).to_string(),
            String::from_utf8_lossy(&b.stderr).to_string(),
        ];
        let built = logs
            .iter()
            .filter(|l| l.contains("debootstrap bookworm"))
            .count();
        let reused = logs
            .iter()
            .filter(|l| l.contains("built by another process"))
            .count();
        assert_eq!(
            (built, reused),
            (1, 1),
            "one build, one reuse:\n{}\n---\n{}",
            logs[0],
            logs[1]
        );
        let hash = tag_a.rsplit(':').next().unwrap();
        let out = Proc::new("docker")
            .args([
                "images",
                "-a",
                "-q",
                "--filter",
                &format!("label={}={hash}", labels::IMAGE_RECIPE),
            ])
            .output()
            .unwrap();
        let ids: Vec<_> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(ids.len(), 1, "exactly one image for the recipe: {ids:?}");
        let has_less = Proc::new("docker")
            .args([
                "run",
                "--rm",
                "--entrypoint",
                "/usr/bin/less",
                &tag_a,
                "--version",
            ])
            .output()
            .unwrap();
        assert!(
            has_less.status.success(),
            "the extra package is in the image"
        );
    });
    remove_image(&tag_a);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

fn build_with_env(env: &[(&str, &str)], extra: &[&str]) -> std::process::Output {
    let mut cmd = Proc::new(common::minidcos());
    cmd.args([
        "docker",
        "build-image",
        "--extra-package",
        "dcos-e2e-never-built",
    ])
    .args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn unreachable_mirror_is_named_in_the_error() {
    common::node_image();
    let out = build_with_env(&[], &["--mirror", "http://127.0.0.1:9/debian"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("http://127.0.0.1:9/debian") && err.contains("debootstrap"),
        "{err}"
    );
}

#[test]
fn missing_debootstrap_says_how_to_install_it() {
    common::node_image();
    let out = build_with_env(&[("DCOS_E2E_DEBOOTSTRAP", "/nonexistent/debootstrap")], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("apt-get install debootstrap"), "{err}");
}

#[test]
fn unreachable_daemon_is_a_clear_error_not_a_hang() {
    let started = Instant::now();
    let out = build_with_env(&[("DOCKER_HOST", "unix:///nonexistent.sock")], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot reach the Docker daemon at unix:///nonexistent.sock"),
        "{err}"
    );
    eprintln!("failed after {:?}", started.elapsed());
}
