//! Exit codes and output streams; arguments, environment values and the shell form,
//! which must arrive literally.

use dcos_e2e::{Command, Error, TransportKind};

use super::{
    Fixture, assert_arguments_literal, assert_env_literal, command_failed, env_values,
    hostile_arguments, sh, text,
};

both_transports!(exit_codes_and_streams, arguments_env_and_shell_form);

async fn exit_codes_and_streams(kind: TransportKind) {
    let fx = Fixture::new(kind).await;
    let node = fx.node();

    let ok = node.run(["true"]).await.expect("true succeeds");
    assert_eq!(ok.status, 0);
    assert!(ok.stdout.is_empty() && ok.stderr.is_empty(), "{ok:?}");

    // A failure carries the command, status and both streams.
    let script = "echo to-out; echo to-err >&2; exit 1";
    let err = node.run(["sh", "-c", script]).await.unwrap_err();
    assert_eq!(err.exit_status(), Some(1));
    let message = err.to_string();
    let failed = command_failed(err);
    assert_eq!(failed.status, 1);
    assert_eq!(text(&failed.stdout), "to-out\n");
    assert_eq!(text(&failed.stderr), "to-err\n");
    assert_eq!(failed.command, format!("'sh' '-c' '{script}'"));
    assert!(
        failed.node.contains(&node.ip_address().to_string()),
        "{}",
        failed.node
    );
    for part in ["status 1", failed.command.as_str(), "to-err"] {
        assert!(message.contains(part), "{part:?} not in {message:?}");
    }
    // The command can be pasted into a shell on the node and does the same.
    let again = node
        .output(Command::shell(failed.command.clone()))
        .await
        .unwrap();
    assert_eq!(
        (again.status, again.stdout, again.stderr),
        (1, failed.stdout.clone(), failed.stderr.clone())
    );

    // Killed by SIGKILL: 128 + 9.
    let killed = node.run(["sh", "-c", "kill -9 $$"]).await.unwrap_err();
    assert_eq!(command_failed(killed).status, 137);

    // `output` returns whatever the status is.
    let out = node.output(["sh", "-c", "exit 42"]).await.unwrap();
    assert_eq!(out.status, 42);
    assert!(!out.success());

    // stderr is captured apart from stdout, even when they interleave.
    let out = node
        .run(sh(
            "i=0; while [ $i -lt 2000 ]; do i=$((i+1)); echo out$i; echo err$i >&2; done",
            &[],
        ))
        .await
        .unwrap();
    let expect = |p: &str| (1..=2000).map(|i| format!("{p}{i}\n")).collect::<String>();
    assert_eq!(text(&out.stdout), expect("out"));
    assert_eq!(text(&out.stderr), expect("err"));

    // Large output on both streams at once (neither blocks the other), intact.
    let out = node
        .run(sh(
            "head -c 20000000 /dev/zero >&2 & head -c 50000000 /dev/zero | tr '\\0' x; wait",
            &[],
        ))
        .await
        .unwrap();
    assert_eq!(out.stdout.len(), 50_000_000);
    assert!(out.stdout.iter().all(|&b| b == b'x'));
    assert_eq!(out.stderr.len(), 20_000_000);

    // Binary output arrives unchanged.
    let out = node
        .run(sh("printf '\\000\\001\\377\\n\\r'", &[]))
        .await
        .unwrap();
    assert_eq!(out.stdout, b"\x00\x01\xff\n\r");

    fx.finish().await;
}

async fn arguments_env_and_shell_form(kind: TransportKind) {
    let fx = Fixture::new(kind).await;
    let node = fx.node();

    assert_arguments_literal(node, &hostile_arguments(), |c| c).await;
    // A single argument with a space is one argument, not a command and its arguments.
    let err = node.run(["echo hello"]).await.unwrap_err();
    assert_eq!(err.exit_status(), Some(127), "{err}");

    // The shell form runs the script as written.
    let out = node
        .run(Command::shell("cd /tmp && pwd | tr a-z A-Z"))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "/TMP");
    let out = node
        .run(Command::shell(
            "x=$((6 * 7)); echo \"$x\" > /tmp/shell-form; cat /tmp/shell-form; false || echo fallback",
        ))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "42\nfallback");
    let err = node
        .run(Command::shell("true && exit 3"))
        .await
        .unwrap_err();
    assert_eq!(err.exit_status(), Some(3));

    // Environment values arrive literally, with arguments and with the shell form.
    assert_env_literal(node, |c| c).await;
    let out = node
        .run(Command::shell("printf '%s|%s' \"$DOLLAR\" \"$QUOTES\"").envs(env_values()))
        .await
        .unwrap();
    let values = env_values();
    assert_eq!(
        out.stdout_text(),
        format!("{}|{}", values[2].1, values[1].1)
    );
    // A bad variable name is refused before anything runs.
    let err = node
        .run(Command::new(["true"]).env("NOT A NAME", "1"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidParameter { parameter: dcos_e2e::Parameter::Env, value, .. } if value == "NOT A NAME"),
        "{err:?}"
    );

    fx.finish().await;
}
