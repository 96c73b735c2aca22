//! Errors: usage errors exit 2 naming the flag; others exit 1 as `error:` + `hint:`.

use super::{Destroy, extra_config, installer};
use crate::common::{self, assert_gone, temp_workspaces};
use crate::process::{Ran, minidcos, unique_id};

#[test]
fn usage_errors_exit_2_and_name_the_flag() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["docker", "create", "--bogus"], &["--bogus"]),
        (
            &["docker", "create", "--masters", "abc"],
            &["--masters", "abc"],
        ),
        (&["docker", "create", "--masters", "0"], &["--masters"]),
        (
            &["docker", "create", "--privileged", "maybe"],
            &["--privileged", "maybe", "auto, yes, no"],
        ),
        (
            &["docker", "create", "--transport", "telnet"],
            &["--transport", "telnet", "ssh, docker-exec"],
        ),
        (
            &["docker", "create", "--custom-master-volume", "justone"],
            &["--custom-master-volume", "justone"],
        ),
        (
            &["docker", "create", "--extra-config", "x.yaml"],
            &["--extra-config", "ARTIFACT"],
        ),
        (
            &["docker", "create", "--copy-to-genconf", "a:/genconf/a"],
            &["--copy-to-genconf", "ARTIFACT"],
        ),
        (
            &["docker", "create", "x.sh", "--timeout", "5m"],
            &["--timeout", "--wait"],
        ),
        (
            &["docker", "create", "x.sh", "--wait", "--timeout", "5x"],
            &["--timeout", "5x"],
        ),
        (
            &["docker", "wait", "some-id", "--timeout", "5x"],
            &["--timeout", "5x"],
        ),
        (&["docker", "run", "some-id"], &["<CMD>", "--"]),
        (
            &[
                "docker", "run", "some-id", "--env", "NOEQUALS", "--", "true",
            ],
            &["--env", "NOEQUALS"],
        ),
        (
            &["docker", "run", "some-id", "--node", "boss:1", "--", "true"],
            &["--node", "boss:1"],
        ),
        (
            &[
                "docker", "run", "some-id", "--node", "agent:0", "--", "true",
            ],
            &["--node", "agent:0"],
        ),
        (
            &[
                "docker",
                "run",
                "some-id",
                "--transport",
                "telnet",
                "--",
                "true",
            ],
            &["--transport"],
        ),
        (&["docker", "destroy"], &["<IDS|--all>"]),
        (&["docker", "destroy", "x", "--all"], &["--all"]),
        (&["docker", "nosuchcommand"], &["nosuchcommand"]),
        (&["existing", "run", "--", "true"], &["--cluster-file"]),
        (&["completions", "tcsh"], &["tcsh"]),
    ];
    for (args, needles) in cases {
        let out = minidcos(args);
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
        assert!(out.stderr.starts_with("error: "), "{args:?}: {out:?}");
        for needle in *needles {
            assert!(
                out.stderr.contains(needle),
                "{args:?} should name {needle}: {out:?}"
            );
        }
    }
}

/// Exit 1; exactly one `error:` line naming each needle, then a `hint:` line; besides
/// those only progress step lines.
fn one_line_error(args: &[&str], needles: &[&str]) -> Ran {
    let out = minidcos(args);
    assert_eq!(out.code, Some(1), "{args:?}: {out:?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    let errors: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{args:?}: {out:?}");
    let at = errors[0];
    for needle in needles {
        assert!(
            lines[at].contains(needle),
            "{args:?} should name {needle}: {out:?}"
        );
    }
    assert!(
        lines.get(at + 1).is_some_and(|l| l.starts_with("hint: ")),
        "{args:?} has a hint: {out:?}"
    );
    assert_eq!(lines.len(), at + 2, "nothing after the hint: {out:?}");
    assert!(lines[..at].iter().all(|l| l.starts_with("==> ")), "{out:?}");
    out
}

#[test]
fn other_errors_exit_1_with_one_line_and_a_hint() {
    common::node_image();
    let unknown = unique_id("none");
    one_line_error(&["docker", "destroy", &unknown], &[&unknown]);
    one_line_error(&["docker", "run", &unknown, "--", "true"], &[&unknown]);
    one_line_error(&["docker", "inspect", &unknown], &[&unknown]);
    one_line_error(
        &["docker", "send-file", &unknown, "/etc/hostname", "/tmp/x"],
        &[&unknown],
    );
    one_line_error(&["docker", "wait", &unknown], &[&unknown]);
    one_line_error(
        &[
            "existing",
            "--cluster-file",
            "/nonexistent/cluster.yaml",
            "inspect",
        ],
        &["/nonexistent/cluster.yaml"],
    );
    let dir = tempfile::tempdir().unwrap();
    let bad_file = dir.path().join("cluster.yaml");
    std::fs::write(&bad_file, "ssh_user: root\nbogus: 1\n").unwrap();
    one_line_error(
        &[
            "existing",
            "--cluster-file",
            bad_file.to_str().unwrap(),
            "inspect",
        ],
        &["cluster file", "bogus"],
    );

    // create refuses bad values before making anything.
    let id = unique_id("bad");
    let _guard = Destroy(id.clone());
    one_line_error(
        &[
            "docker",
            "create",
            "--cluster-id",
            &id,
            "--custom-master-volume",
            "/nonexistent:/x",
        ],
        &["--custom-master-volume", "/nonexistent"],
    );
    one_line_error(
        &[
            "docker",
            "create",
            "--cluster-id",
            &id,
            "--workspace-dir",
            "/nonexistent",
        ],
        &["--workspace-dir", "/nonexistent"],
    );
    one_line_error(
        &["docker", "create", "--cluster-id", "bad id"],
        &["--cluster-id", "bad id"],
    );
    one_line_error(
        &[
            "docker",
            "create",
            "/nonexistent/installer.sh",
            "--cluster-id",
            &id,
        ],
        &["ARTIFACT", "/nonexistent/installer.sh"],
    );
    one_line_error(
        &[
            "docker",
            "create",
            &installer(),
            "--extra-config",
            "/nonexistent.yaml",
            "--cluster-id",
            &id,
        ],
        &["--extra-config", "/nonexistent.yaml"],
    );
    let workspaces = tempfile::tempdir().unwrap();
    one_line_error(
        &[
            "docker",
            "create",
            "--cluster-id",
            &id,
            "--network",
            "no-such-network-of-dcos-e2e",
            "--workspace-dir",
            workspaces.path().to_str().unwrap(),
        ],
        &["--network", "no-such-network-of-dcos-e2e"],
    );
    assert_eq!(
        std::fs::read_dir(workspaces.path()).unwrap().count(),
        0,
        "no workspace for a refused create"
    );
    assert_gone(&id, None);

    // A create that fails part way removes what it made, and says so.
    let slow = extra_config(dir.path(), 30);
    let failed = unique_id("fail");
    let _guard_failed = Destroy(failed.clone());
    let out = one_line_error(
        &[
            "docker",
            "create",
            &installer(),
            "--extra-config",
            slow.to_str().unwrap(),
            "--wait",
            "--timeout",
            "2s",
            "--agents",
            "0",
            "--public-agents",
            "0",
            "--cluster-id",
            &failed,
        ],
        &[
            "not healthy",
            &format!("creating cluster {failed} failed (everything created was removed)"),
        ],
    );
    assert!(out.stderr.contains(dcos_e2e::KEEP_ENV), "{out:?}");
    assert_gone(&failed, None);
    let stray: Vec<_> = temp_workspaces(&id)
        .into_iter()
        .chain(temp_workspaces(&failed))
        .collect();
    assert!(stray.is_empty(), "workspaces left: {stray:?}");
}
