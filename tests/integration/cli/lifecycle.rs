//! The whole life of a cluster: create, list, inspect, run, files, wait, destroy.

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command as Proc, Stdio};
use std::time::Duration;

use super::{Destroy, extra_config, installer, no_escape_codes};
use crate::common::{self, assert_gone, running};
use crate::process::{listed, minidcos, unique_id, wait_exit};

#[test]
fn create_list_inspect_run_files_wait_destroy() {
    common::node_image();
    let dir = tempfile::tempdir().unwrap();
    let extra = extra_config(dir.path(), 0);
    let id = unique_id("e2e");
    let _guard = Destroy(id.clone());

    let created = minidcos(&[
        "docker",
        "create",
        &installer(),
        "--extra-config",
        extra.to_str().unwrap(),
        "--wait",
        "--timeout",
        "120s",
        "--cluster-id",
        &id,
    ])
    .ok();
    assert_eq!(created.stdout.trim(), id, "stdout is the cluster id alone");
    for step in ["creating", "installing DC/OS", "waiting for DC/OS"] {
        assert!(created.stderr.contains(step), "{created:?}");
    }
    no_escape_codes("piped create stderr", &created.stderr);

    // list: human and JSON.
    let human = minidcos(&["docker", "list"]).ok();
    let row = human
        .stdout
        .lines()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("{id} not in {human:?}"));
    assert!(row.contains("user"), "{row}");
    no_escape_codes("piped list", &human.stdout);
    let row = listed(&id).expect("listed");
    assert_eq!(row["masters"], 1);
    assert_eq!(row["agents"], 1);
    assert_eq!(row["public_agents"], 1);
    assert_eq!(row["running"], 3);
    assert_eq!(row["owner"], "user");

    // A used id is refused and the cluster holding it is untouched.
    let again = minidcos(&["docker", "create", "--cluster-id", &id]);
    assert_eq!(again.code, Some(1), "{again:?}");
    assert!(
        again.stderr.contains("--cluster-id") && again.stderr.contains("already exists"),
        "{again:?}"
    );
    assert_eq!(
        running(&id, Some("master")).len(),
        1,
        "the existing cluster survives"
    );

    // inspect: human and JSON.
    let human = minidcos(&["docker", "inspect", &id]).ok();
    let view = minidcos(&["docker", "inspect", &id, "--json"]).ok().json();
    assert_eq!(view["cluster_id"], id.as_str());
    let workspace = PathBuf::from(view["workspace"].as_str().expect("workspace"));
    let key = PathBuf::from(view["ssh_key_path"].as_str().expect("ssh_key_path"));
    assert!(workspace.is_dir(), "{}", workspace.display());
    assert!(key.is_file(), "{}", key.display());
    assert!(
        human.stdout.contains(workspace.to_str().unwrap()),
        "{human:?}"
    );
    assert!(human.stdout.contains(key.to_str().unwrap()), "{human:?}");
    let nodes = view["nodes"].as_array().expect("nodes");
    let roles: Vec<&str> = nodes.iter().map(|n| n["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["master", "agent", "public-agent"]);
    for (node, part) in nodes.iter().zip(["master", "agent", "pub-agent"]) {
        let container = format!("{id}-{part}-1");
        assert_eq!(node["container"], container.as_str());
        let ip: IpAddr = node["ip_address"].as_str().unwrap().parse().expect("an IP");
        let ssh = node["ssh_command"].as_str().unwrap();
        assert!(
            ssh.starts_with("ssh ") && ssh.ends_with(&format!("root@{ip}")),
            "{ssh}"
        );
        assert!(
            human.stdout.contains(&container) && human.stdout.contains(ssh),
            "{human:?}"
        );
        // The printed command works as printed (plus batch mode and a command).
        let pasted = format!(
            "{} hostname",
            ssh.replacen("ssh ", "ssh -o BatchMode=yes -o ConnectTimeout=20 ", 1)
        );
        let out = Proc::new("sh")
            .args(["-c", &pasted])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{pasted}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), container);
    }

    // run: the exit status is the command's; env values arrive literally.
    let failed = minidcos(&[
        "docker",
        "run",
        &id,
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 7",
    ]);
    assert_eq!(failed.code, Some(7), "{failed:?}");
    assert_eq!(failed.stdout, "out\n");
    assert!(failed.stderr.contains("err"), "{failed:?}");
    let literal = r#"x y 'q' "d" $HOME `id` ; *"#;
    let env = minidcos(&[
        "docker",
        "run",
        &id,
        "--env",
        "A=x y",
        "--env",
        &format!("B={literal}"),
        "--",
        "sh",
        "-c",
        r#"printf '%s|%s' "$A" "$B""#,
    ])
    .ok();
    assert_eq!(env.stdout, format!("x y|{literal}"));
    let agent = minidcos(&["docker", "run", &id, "--node", "agent:1", "--", "hostname"]).ok();
    assert_eq!(agent.stdout.trim(), format!("{id}-agent-1"));
    let by_ip = nodes[2]["ip_address"].as_str().unwrap();
    let public = minidcos(&["docker", "run", &id, "--node", by_ip, "--", "hostname"]).ok();
    assert_eq!(public.stdout.trim(), format!("{id}-pub-agent-1"));
    let all = minidcos(&["docker", "run", &id, "--node", "all", "--", "hostname"]).ok();
    assert_eq!(
        all.stdout.lines().collect::<Vec<_>>(),
        [
            format!("{id}-master-1"),
            format!("{id}-agent-1"),
            format!("{id}-pub-agent-1")
        ]
    );
    let tests = minidcos(&["docker", "run", &id, "--test-env", "--", "pytest", "-x"]).ok();
    assert!(tests.stdout.contains("passed"), "{tests:?}");
    let failing = minidcos(&[
        "docker",
        "run",
        &id,
        "--test-env",
        "--",
        "pytest",
        "--no-such-option",
    ]);
    assert_eq!(failing.code, Some(4), "pytest's usage status: {failing:?}");

    // send-file / download-file: content and mode.
    let local = dir.path().join("payload.bin");
    let content: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    std::fs::write(&local, &content).unwrap();
    std::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o751)).unwrap();
    minidcos(&[
        "docker",
        "send-file",
        &id,
        local.to_str().unwrap(),
        "/root/payload.bin",
        "--node",
        "all",
    ])
    .ok();
    let modes = minidcos(&[
        "docker",
        "run",
        &id,
        "--node",
        "all",
        "--",
        "stat",
        "-c",
        "%a %s",
        "/root/payload.bin",
    ])
    .ok();
    assert_eq!(modes.stdout, "751 70000\n".repeat(3));
    let back = dir.path().join("back.bin");
    minidcos(&[
        "docker",
        "download-file",
        &id,
        "/root/payload.bin",
        back.to_str().unwrap(),
        "--node",
        "public-agent:1",
    ])
    .ok();
    assert_eq!(std::fs::read(&back).unwrap(), content);
    assert_eq!(
        std::fs::metadata(&back).unwrap().permissions().mode() & 0o7777,
        0o751
    );

    // A reader that stops early (`| head`) ends the command on the node and the CLI.
    let mut endless = Proc::new(common::minidcos())
        .args(["docker", "run", &id, "--", "yes", "endless"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(endless.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first, "endless\n");
    let status = wait_exit(&mut endless, Duration::from_secs(60));
    assert!(!status.success(), "{status:?}");
    let left = minidcos(&["docker", "run", &id, "--", "pgrep", "-x", "yes"]);
    assert_eq!(left.code, Some(1), "`yes` still runs on the node: {left:?}");

    // wait, destroy, and nothing left.
    minidcos(&["docker", "wait", &id, "--timeout", "60s"]).ok();

    // Startup files that write to stderr (sshd's bash reads ~/.bashrc) do not stop
    // commands from running, nor mix into their stdout.
    minidcos(&[
        "docker",
        "run",
        &id,
        "--node",
        "all",
        "--",
        "sh",
        "-c",
        "sed -i '1i echo rc-noise >&2' /root/.bashrc",
    ])
    .ok();
    let noisy = minidcos(&["docker", "run", &id, "--", "echo", "quiet"]).ok();
    assert_eq!(noisy.stdout, "quiet\n");
    assert!(noisy.stderr.contains("rc-noise"), "{noisy:?}");
    let destroyed = minidcos(&["docker", "destroy", &id, "--json"]).ok().json();
    assert_eq!(destroyed["destroyed"], serde_json::json!([id]));
    assert!(listed(&id).is_none(), "{id} still listed");
    assert_gone(&id, Some(&workspace));
}
