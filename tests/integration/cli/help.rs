//! Help, completions, doctor, build-image.

use std::process::Command as Proc;

use crate::common;
use crate::process::minidcos;

#[test]
fn help_has_examples_and_completions_and_doctor_work() {
    let top = minidcos(&["--help"]).ok();
    assert!(
        top.stdout.contains("Examples:") && top.stdout.contains("minidcos docker create"),
        "{top:?}"
    );
    assert!(top.stdout.contains("Exit status"), "{top:?}");
    for sub in [
        "create",
        "install",
        "list",
        "inspect",
        "run",
        "send-file",
        "download-file",
        "wait",
        "destroy",
        "clean",
        "doctor",
        "build-image",
    ] {
        let help = minidcos(&["docker", sub, "--help"]).ok();
        assert!(
            help.stdout.contains("Example"),
            "docker {sub} --help: {help:?}"
        );
    }
    for sub in ["run", "send-file", "download-file", "wait", "inspect"] {
        let help = minidcos(&["existing", "--cluster-file", "f", sub, "--help"]).ok();
        assert!(
            help.stdout.contains("Example"),
            "existing {sub} --help: {help:?}"
        );
    }
    let version = minidcos(&["--version"]).ok();
    assert!(version.stdout.starts_with("minidcos "), "{version:?}");

    // Completions: a script bash accepts and that completes subcommands.
    let script = minidcos(&["completions", "bash"]).ok();
    assert!(script.stdout.contains("complete -F"), "{script:?}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("minidcos.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let check = Proc::new("bash")
        .args([
            "-c",
            &format!("source {} && complete -p minidcos", file.display()),
        ])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    for shell in ["zsh", "fish"] {
        assert!(!minidcos(&["completions", shell]).ok().stdout.is_empty());
    }

    // doctor: every check, human and JSON, with stable field names.
    common::node_image();
    let human = minidcos(&["docker", "doctor"]);
    let json = minidcos(&["docker", "doctor", "--json"]);
    let checks = json.json();
    let checks = checks.as_array().expect("an array");
    let names = [
        "docker daemon",
        "API version",
        "cgroup version",
        "privileged containers",
        "node image",
        "debootstrap",
        "Debian mirror",
        "address pools",
        "network isolation",
        "distributions",
        "engine image",
        "engine cgroups",
        "engine capabilities",
        "engine iptables",
        "link shaping",
        "engine storage",
        "inotify instances",
        "free disk in workspace",
    ];
    assert_eq!(checks.len(), names.len(), "{json:?}");
    for (check, name) in checks.iter().zip(names) {
        let mut keys: Vec<&String> = check.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["check", "detail", "hint", "ok"], "{check}");
        assert_eq!(check["check"], name);
        assert!(human.stdout.contains(name), "{human:?}");
        let ok = check["ok"].as_bool().unwrap();
        assert_eq!(
            check["hint"].is_null(),
            ok,
            "a hint exactly when not ok: {check}"
        );
    }
    let all_ok = checks.iter().all(|c| c["ok"] == true);
    assert_eq!(human.code, Some(if all_ok { 0 } else { 1 }), "{human:?}");
    assert_eq!(json.code, human.code);
    let pools = checks
        .iter()
        .find(|c| c["check"] == "address pools")
        .unwrap();
    assert!(
        pools["detail"]
            .as_str()
            .unwrap()
            .contains("more clusters fit"),
        "{pools}"
    );
    let node_image = checks.iter().find(|c| c["check"] == "node image").unwrap();
    assert_eq!(node_image["ok"], true, "the image was built: {node_image}");

    // build-image with the image present: quick, and the same tag.
    let built = minidcos(&["docker", "build-image", "--json"]).ok().json();
    assert_eq!(built["image"], common::node_image());
}
