//! Commands: failure messages hide environment values, and a non-POSIX login shell runs
//! every kind of command.

use dcos_e2e::{Cluster, Command, Error, ExistingCluster, Host, Node, TransportKind};
use tokio::io::AsyncReadExt;
use tokio::time::timeout;

use super::{Fixture, PATIENCE, run};
use crate::reliability::Case;

both_transports!(non_posix_login_shell);

/// A failed command's error shows `export KEY=<redacted>`, not the value (often a
/// secret), in its message, its chain and its Debug form; the command still got it.
#[tokio::test(flavor = "multi_thread")]
async fn failed_command_messages_redact_env_values() {
    let _case = Case::new("env values redacted in errors");
    let fx = Fixture::new(TransportKind::Ssh).await;
    let node = fx.node();
    let secret = "hunter2-s3cret";
    // The script checks the value without naming it.
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(secret))
    };
    let check = format!(
        "test \"$(printf %s \"$API_TOKEN\" | sha256sum | cut -d' ' -f1)\" = {digest} && exit 3"
    );
    let cmd = Command::shell(check.clone()).env("API_TOKEN", secret);
    let err = timeout(PATIENCE, node.run(cmd.clone()))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.exit_status(), Some(3), "the value arrived: {err}");
    for shown in [err.to_string(), dcos_e2e::chain(&err), format!("{err:?}")] {
        assert!(!shown.contains(secret), "the secret is shown: {shown}");
        assert!(shown.contains("API_TOKEN=<redacted>"), "{shown}");
    }
    let Error::CommandFailed(failed) = err else {
        panic!("expected CommandFailed");
    };
    assert_eq!(
        failed.command,
        format!("export API_TOKEN=<redacted>; {check}")
    );
    // A started process does not show it either.
    let p = node.popen(cmd).await.unwrap();
    assert!(!format!("{p:?}").contains(secret), "{p:?}");

    fx.finish().await;
}

/// A login shell that is not POSIX: one simple command of words, single quotes read as
/// fish reads them (`\\` and `\'` are escapes), no newline inside them (csh), and
/// every other shell syntax refused, as fish or csh misread or refuse POSIX scripts.
/// fish and csh are not in the node image (and cannot be installed without a package
/// registry), so this is their common ground, written in Perl (Debian's essential set).
const STRICT_SH: &str = r##"#!/usr/bin/perl
use strict;
use warnings;
if (@ARGV != 2 || $ARGV[0] ne '-c') { print STDERR "strictsh: only -c COMMAND\n"; exit 2; }
my @c = split //, $ARGV[1];
my (@words, $word, $quoted);
for (my $i = 0; $i < @c; $i++) {
    my $ch = $c[$i];
    if ($quoted) {
        if ($ch eq "'") { $quoted = 0; next; }
        if ($ch eq "\\" && $i + 1 < @c && ($c[$i + 1] eq "\\" || $c[$i + 1] eq "'")) {
            $word .= $c[++$i];
            next;
        }
        if ($ch eq "\n") { print STDERR "strictsh: newline in quotes\n"; exit 2; }
        $word .= $ch;
        next;
    }
    if ($ch eq "'") { $quoted = 1; $word //= ''; next; }
    if ($ch =~ /[ \t]/) { push @words, $word if defined $word; undef $word; next; }
    if ($ch =~ /[\$;&|<>()`"\\\n!*?~{}#]/) { print STDERR "strictsh: unsupported syntax '$ch'\n"; exit 2; }
    $word = ($word // '') . $ch;
}
if ($quoted) { print STDERR "strictsh: unmatched quote\n"; exit 2; }
push @words, $word if defined $word;
exit 0 unless @words;
shift @words if $words[0] eq 'exec';
exec { $words[0] } @words or do { print STDERR "strictsh: $words[0]: $!\n"; exit 127; };
"##;

/// Make user `name` with `shell` as login shell, logging in with the cluster's key.
async fn add_user(node: &Node, name: &str, shell: &str) {
    run(node, ["useradd", "--create-home", "--shell", shell, name]).await;
    let ssh_dir = format!("/home/{name}/.ssh");
    let public_key = format!("{}.pub", node.ssh_key_path().display());
    timeout(
        PATIENCE,
        node.send_file(&public_key, &format!("{ssh_dir}/authorized_keys")),
    )
    .await
    .unwrap()
    .unwrap();
    run(
        node,
        Command::new([
            "sh",
            "-c",
            "chown -R \"$1:$1\" \"$2\" && chmod 700 \"$2\" && chmod 600 \"$2/authorized_keys\"",
            "sh",
            name,
            &ssh_dir,
        ]),
    )
    .await;
}

/// Every kind of command for a user whose login shell is not POSIX: before, each one
/// was handed to that shell as POSIX text and refused.
async fn non_posix_login_shell(kind: TransportKind) {
    let _case = Case::new(match kind {
        TransportKind::Ssh => "non-POSIX login shell (ssh)",
        _ => "non-POSIX login shell (docker exec)",
    });
    let fx = Fixture::new(kind).await;
    let node = fx.node();
    let dir = tempfile::tempdir().unwrap();
    let shell = dir.path().join("strictsh");
    std::fs::write(&shell, STRICT_SH).unwrap();
    std::fs::set_permissions(&shell, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let strictsh = "/usr/local/bin/strictsh";
    timeout(PATIENCE, node.send_file(&shell, strictsh))
        .await
        .unwrap()
        .unwrap();
    // The shell is what it claims: POSIX text is refused, a simple command runs, with
    // fish's escapes in single quotes.
    let refused = node
        .output([strictsh, "-c", "echo dcos-e2e-pid:$$ >&2; 'true'"])
        .await
        .unwrap();
    assert_eq!(refused.status, 2, "{refused:?}");
    let simple = run(node, [strictsh, "-c", r"exec /bin/echo 'a\\b' 'it\'s'"]).await;
    assert_eq!(simple.stdout_text(), r"a\b it's");
    add_user(node, "carol", strictsh).await;

    let carol = |c: Command| c.user("carol");
    let out = run(node, carol(Command::new(["id", "-un"]))).await;
    assert_eq!(out.stdout_text(), "carol");
    // The login environment is as before: user, home, working directory, and SHELL is
    // still the user's own.
    let out = run(
        node,
        carol(Command::shell("echo \"$USER|$HOME|$(pwd)|$SHELL\"")),
    )
    .await;
    assert_eq!(
        out.stdout_text(),
        format!("carol|/home/carol|/home/carol|{strictsh}")
    );
    // Arguments and environment values arrive literally.
    let hostile = [
        "a b",
        "it's",
        "$HOME",
        "`id`",
        "\\",
        "line\nbreak",
        "!x",
        "%d",
        "é",
    ];
    let mut args = vec!["printf", "%s|"];
    args.extend(hostile);
    let out = run(node, carol(Command::new(args).env("V", "it's $HOME\n\\"))).await;
    assert_eq!(out.stdout_text(), format!("{}|", hostile.join("|")));
    let out = run(
        node,
        carol(Command::new(["printenv", "V"]).env("V", "it's $HOME\n\\")),
    )
    .await;
    assert_eq!(out.stdout_text(), "it's $HOME\n\\");
    let err = node
        .run(carol(Command::shell("echo to-err >&2; exit 4")))
        .await
        .unwrap_err();
    assert_eq!(err.exit_status(), Some(4), "{err}");

    // A process: its pid is the one kill stops, with what it started.
    let mut p = node
        .popen(carol(Command::shell("sleep 3041 & echo up; wait")))
        .await
        .unwrap();
    let mut up = [0u8; 3];
    timeout(PATIENCE, p.stdout().unwrap().read_exact(&mut up))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&up, b"up\n");
    timeout(PATIENCE, p.kill()).await.unwrap().unwrap();
    let done = timeout(PATIENCE, p.wait()).await.unwrap().unwrap();
    assert_eq!(done.status, 137);
    let left = node.output(["pgrep", "-f", "^sleep 3041$"]).await.unwrap();
    assert_eq!(left.status, 1, "left running: {}", left.stdout_text());

    // Files, with the user as an existing cluster's default user (SSH only).
    if kind == TransportKind::Ssh {
        let existing = ExistingCluster::new(
            [Host::from(node)],
            Vec::<Host>::new(),
            Vec::<Host>::new(),
            "carol",
        )
        .known_hosts(fx.known_hosts());
        let wrapped = Cluster::builder(existing)
            .masters(1)
            .agents(0)
            .public_agents(0)
            .destroy_on_error(false)
            .destroy_on_success(false)
            .provision()
            .await
            .unwrap();
        let host = &wrapped.masters()[0];
        let local = dir.path().join("note");
        std::fs::write(&local, "from carol's host").unwrap();
        timeout(PATIENCE, host.send_file(&local, "/home/carol/in/note"))
            .await
            .unwrap()
            .unwrap();
        let back = dir.path().join("back");
        timeout(PATIENCE, host.download_file("/home/carol/in/note", &back))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(std::fs::read_to_string(&back).unwrap(), "from carol's host");
        let owner = run(node, ["stat", "-c", "%U", "/home/carol/in/note"]).await;
        assert_eq!(owner.stdout_text(), "carol");
    }

    fx.finish().await;
}
