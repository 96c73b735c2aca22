//! Transport reliability and security (issue 15): an unread stream stalls nothing else;
//! `kill` after exit signals nobody; partial files are private and random; failure
//! messages hide environment values; a non-POSIX login shell runs every command; host
//! keys of existing hosts are checked against `known_hosts`. Each case runs for both
//! transports where both apply, on a one-master cluster, and removes it.

use std::path::{Path, PathBuf};
use std::process::Command as Proc;
use std::time::{Duration, Instant};

use dcos_e2e::{
    Cluster, Command, Error, ExistingCluster, Host, HostKeyChecking, Node, TransportKind,
};
use tokio::io::AsyncReadExt;
use tokio::time::timeout;

use super::Case;
use crate::common;

/// A hang guard only: far above anything that should take a second.
const PATIENCE: Duration = Duration::from_secs(60);

macro_rules! both_transports {
    ($($case:ident),* $(,)?) => {
        mod ssh {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $case() {
                    super::$case(dcos_e2e::TransportKind::Ssh).await
                }
            )*
        }
        mod docker_exec {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $case() {
                    super::$case(dcos_e2e::TransportKind::DockerExec).await
                }
            )*
        }
    };
}

both_transports!(
    unread_stream_stalls_nothing_else,
    kill_after_exit_signals_nobody,
    downloads_use_private_random_partial_files,
    uploads_use_a_private_random_remote_file,
    non_posix_login_shell,
);

/// One master over `kind`, and its id and workspace for the leftover check.
struct Fixture {
    cluster: Option<Cluster>,
    id: String,
    workspace: PathBuf,
}

impl Fixture {
    async fn new(kind: TransportKind) -> Self {
        let docker = tokio::task::spawn_blocking(common::docker)
            .await
            .expect("node image is available")
            .transport(kind);
        let cluster = Cluster::builder(docker)
            .masters(1)
            .agents(0)
            .public_agents(0)
            .provision()
            .await
            .expect("a one-master cluster provisions");
        Self {
            id: cluster.id().to_string(),
            workspace: cluster.workspace().expect("a workspace").to_path_buf(),
            cluster: Some(cluster),
        }
    }

    fn node(&self) -> &Node {
        &self.cluster.as_ref().expect("cluster is up").masters()[0]
    }

    /// The cluster's pinned host keys.
    fn known_hosts(&self) -> PathBuf {
        self.workspace.join("ssh/known_hosts")
    }

    async fn finish(mut self) {
        let cluster = self.cluster.take().expect("cluster is up");
        cluster.destroy().await.expect("cluster destroys");
        drop(cluster);
        common::assert_gone(&self.id, Some(&self.workspace));
    }
}

async fn run(node: &Node, cmd: impl Into<Command>) -> dcos_e2e::Output {
    timeout(PATIENCE, node.run(cmd))
        .await
        .expect("no hang")
        .unwrap_or_else(|e| panic!("{}", dcos_e2e::chain(&e)))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The peak resident memory of this process (`VmHWM`), in MiB.
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024
}

// ---------------------------------------------------------------------------------------

/// A process whose stderr nobody reads (`yes` to stderr: a chatty server) must not stall
/// the node's other commands: before, the SSH reader blocked on its full queue, russh's
/// loop behind it, and with it every channel of the connection (runs in flight hung,
/// new ones failed with a false `Timeout`). The unread process is paused instead, and
/// its output is still there when it is read.
async fn unread_stream_stalls_nothing_else(kind: TransportKind) {
    let _case = Case::new(match kind {
        TransportKind::Ssh => "unread popen stream, other commands (ssh)",
        _ => "unread popen stream, other commands (docker exec)",
    });
    let fx = Fixture::new(kind).await;
    let node = fx.node();
    run(node, ["true"]).await;

    // A command in flight when the flood starts, and the flood, read by nobody.
    let in_flight = {
        let node = node.clone();
        tokio::spawn(async move { node.run(Command::shell("sleep 1; echo in-flight")).await })
    };
    let mut chatty = node.popen(Command::shell("yes chatter >&2")).await.unwrap();
    let mut err = chatty.stderr().expect("stderr not taken yet");
    // Far more output than any buffer between it and us before going on.
    let mut first = vec![0u8; 8];
    timeout(PATIENCE, err.read_exact(&mut first))
        .await
        .expect("the flood starts")
        .unwrap();
    assert_eq!(&first, b"chatter\n");

    for i in 0..50 {
        let out = timeout(PATIENCE, node.run(["echo", &i.to_string()]))
            .await
            .unwrap_or_else(|_| panic!("run {i} hangs behind the unread stream"))
            .unwrap_or_else(|e| panic!("run {i}: {}", dcos_e2e::chain(&e)));
        assert_eq!(out.stdout_text(), i.to_string());
    }
    let many = (0..10).map(|_| timeout(PATIENCE, node.run(["true"])));
    for r in futures_util::future::join_all(many).await {
        r.expect("no hang").unwrap();
    }
    let done = timeout(PATIENCE, in_flight)
        .await
        .expect("the run in flight ends")
        .unwrap()
        .unwrap();
    assert_eq!(done.stdout_text(), "in-flight");
    // A file transfer on the same node, too.
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("f");
    std::fs::write(&local, "payload").unwrap();
    timeout(PATIENCE, node.send_file(&local, "/root/f"))
        .await
        .expect("no hang")
        .unwrap();
    timeout(
        PATIENCE,
        node.download_file("/root/f", dir.path().join("g")),
    )
    .await
    .expect("no hang")
    .unwrap();
    assert_eq!(std::fs::read(dir.path().join("g")).unwrap(), b"payload");

    // Paused, not buffered without end: memory stayed small while it flooded.
    let peak = peak_rss_mib();
    eprintln!("{kind}: peak RSS {peak} MiB with an unread flood");
    assert!(
        peak < 300,
        "peak RSS {peak} MiB: the unread output was buffered"
    );
    // And nothing was lost: the stream goes on where it was left.
    let mut more = vec![0u8; 8 * 1000];
    timeout(PATIENCE, err.read_exact(&mut more))
        .await
        .expect("the stream still flows")
        .unwrap();
    assert!(
        more.chunks(8).all(|c| c == b"chatter\n"),
        "the stream is intact"
    );
    drop(err);
    timeout(PATIENCE, chatty.kill()).await.unwrap().unwrap();
    let ended = timeout(PATIENCE, chatty.wait()).await.unwrap().unwrap();
    assert_eq!(ended.status, 137);

    fx.finish().await;
}

/// `kill` once the exit status is known signals nothing. Before, it stopped and killed
/// whatever process had the pid by then; here a process is made to get that pid
/// (`ns_last_pid`, through a proc mount of our own: the container's `/proc/sys` is
/// read-only) and must survive the `kill`.
async fn kill_after_exit_signals_nobody(kind: TransportKind) {
    let _case = Case::new(match kind {
        TransportKind::Ssh => "kill after exit, pid reused (ssh)",
        _ => "kill after exit, pid reused (docker exec)",
    });
    let fx = Fixture::new(kind).await;
    let node = fx.node();
    run(
        node,
        Command::shell("mkdir -p /run/p && mount -t proc proc /run/p"),
    )
    .await;

    let mut ended = node.popen(["true"]).await.unwrap();
    let pid = ended.pid();
    let out = timeout(PATIENCE, ended.wait()).await.unwrap().unwrap();
    assert_eq!(out.status, 0);

    // Another process takes the pid (other processes may fork in between: try again).
    let take = format!(
        "echo {} > /run/p/sys/kernel/ns_last_pid; setsid sleep 3040 </dev/null >/dev/null 2>&1 & echo $!",
        pid - 1
    );
    let mut taken = false;
    for _ in 0..50 {
        let got = run(node, Command::shell(take.clone())).await.stdout_text();
        if got == pid.to_string() {
            taken = true;
            break;
        }
        run(node, ["kill", "-KILL", &got]).await;
    }
    assert!(taken, "no process could be given pid {pid}");
    let alive = |pid: u32| {
        let node = node.clone();
        async move {
            node.output([
                "sh",
                "-c",
                &format!("cat /proc/{pid}/cmdline | tr '\\0' ' '"),
            ])
            .await
            .unwrap()
            .stdout_text()
        }
    };
    assert_eq!(alive(pid).await, "sleep 3040 ");

    timeout(PATIENCE, ended.kill())
        .await
        .expect("no hang")
        .expect("kill after exit is not an error");
    assert_eq!(
        alive(pid).await,
        "sleep 3040 ",
        "kill after exit signalled the process that now has pid {pid}"
    );
    run(node, ["kill", "-KILL", &pid.to_string()]).await;
    run(node, ["umount", "/run/p"]).await;

    fx.finish().await;
}

/// The files of local directory `dir` whose names start with `prefix`.
fn files_starting(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect()
}

/// A download's partial file is private (0600 whatever the umask), has a random name
/// (two downloads to one target do not share it), and a symlink planted at the old
/// fixed name (`TARGET.dcos-e2e-partial`) is not followed.
async fn downloads_use_private_random_partial_files(kind: TransportKind) {
    use std::os::unix::fs::PermissionsExt;
    let _case = Case::new(match kind {
        TransportKind::Ssh => "partial downloads private and random (ssh)",
        _ => "partial downloads private and random (docker exec)",
    });
    let fx = Fixture::new(kind).await;
    let node = fx.node();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let target = dir.path().join("target");

    // A planted symlink at the fixed name pointed at a file of the victim's.
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join("target.dcos-e2e-partial")).unwrap();
    run(
        node,
        Command::shell("printf new > /root/source && chmod 0644 /root/source"),
    )
    .await;
    timeout(PATIENCE, node.download_file("/root/source", &target))
        .await
        .expect("no hang")
        .unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(!target.is_symlink(), "the target is a file of its own");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
    std::fs::remove_file(dir.path().join("target.dcos-e2e-partial")).unwrap();

    // Two downloads to one target held open (each reads a FIFO nobody writes yet):
    // their partial files exist, each its own, private.
    run(
        node,
        Command::shell("mkfifo /root/fifo1 /root/fifo2 && chmod 0644 /root/fifo1 /root/fifo2"),
    )
    .await;
    let download = |fifo: &'static str| {
        let (node, target) = (node.clone(), target.clone());
        tokio::spawn(async move { node.download_file(fifo, &target).await })
    };
    let first = download("/root/fifo1");
    let second = download("/root/fifo2");
    let deadline = Instant::now() + PATIENCE;
    let partials = loop {
        let found = files_starting(dir.path(), ".target.");
        if found.len() == 2 {
            break found;
        }
        assert!(Instant::now() < deadline, "partial files: {found:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for p in &partials {
        let mode = std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
        assert!(p.to_string_lossy().ends_with(".dcos-e2e-partial"));
    }
    assert_ne!(partials[0], partials[1]);
    run(node, Command::shell("echo one > /root/fifo1")).await;
    timeout(PATIENCE, first).await.unwrap().unwrap().unwrap();
    run(node, Command::shell("echo two > /root/fifo2")).await;
    timeout(PATIENCE, second).await.unwrap().unwrap().unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "two\n");
    assert!(
        files_starting(dir.path(), ".target.").is_empty(),
        "nothing left"
    );

    fx.finish().await;
}

/// An upload's remote temporary file has a random name (`mktemp`), so a symlink
/// planted at the old fixed name (`TARGET.dcos-e2e-partial`) is not written through,
/// and concurrent uploads to one target each land whole.
async fn uploads_use_a_private_random_remote_file(kind: TransportKind) {
    let _case = Case::new(match kind {
        TransportKind::Ssh => "upload temp file random (ssh)",
        _ => "upload temp file random (docker exec)",
    });
    let fx = Fixture::new(kind).await;
    let node = fx.node();
    let dir = tempfile::tempdir().unwrap();
    run(
        node,
        Command::shell(
            "mkdir -p /srv/up && echo precious > /root/victim \
             && ln -s /root/victim /srv/up/target.dcos-e2e-partial",
        ),
    )
    .await;
    let local = dir.path().join("a");
    std::fs::write(&local, "uploaded").unwrap();
    timeout(PATIENCE, node.send_file(&local, "/srv/up/target"))
        .await
        .expect("no hang")
        .unwrap();
    assert_eq!(
        run(node, ["cat", "/root/victim"]).await.stdout_text(),
        "precious"
    );
    assert_eq!(
        run(node, ["cat", "/srv/up/target"]).await.stdout_text(),
        "uploaded"
    );
    assert_eq!(
        run(node, ["stat", "-c", "%F", "/srv/up/target"])
            .await
            .stdout_text(),
        "regular file"
    );

    // Many uploads to one target at once: each lands whole, none collides.
    let sources: Vec<PathBuf> = (0..6)
        .map(|i| {
            let p = dir.path().join(format!("s{i}"));
            std::fs::write(&p, format!("{i}").repeat(1 << 20)).unwrap();
            p
        })
        .collect();
    let uploads = sources
        .iter()
        .map(|s| timeout(PATIENCE, node.send_file(s, "/srv/up/many")));
    for r in futures_util::future::join_all(uploads).await {
        r.expect("no hang").unwrap();
    }
    let out = run(
        node,
        Command::shell("sort -u /srv/up/many | wc -l; wc -c < /srv/up/many"),
    )
    .await;
    assert_eq!(
        out.stdout_text(),
        format!("1\n{}", 1 << 20),
        "one whole upload"
    );
    let listing = run(node, ["ls", "-A", "/srv/up"]).await.stdout_text();
    assert_eq!(
        listing, "many\ntarget\ntarget.dcos-e2e-partial",
        "no temporary file is left"
    );

    fx.finish().await;
}

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

// --- host keys of existing hosts --------------------------------------------------------

/// `ssh-keygen -lf FILE`'s fingerprint of the first key in `file`.
fn fingerprint(file: &Path) -> String {
    let out = Proc::new("ssh-keygen")
        .arg("-lf")
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    text(&out.stdout)
        .split_whitespace()
        .nth(1)
        .expect("a fingerprint")
        .to_string()
}

/// A new ed25519 public key line (`ssh-ed25519 AAAA...`).
fn other_key(dir: &Path) -> String {
    let key = dir.join("other");
    let made = Proc::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(made.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The node wrapped as an existing cluster with these host key settings.
async fn wrapped(
    node: &Node,
    known_hosts: &Path,
    checking: HostKeyChecking,
) -> dcos_e2e::Result<Cluster> {
    let existing = ExistingCluster::new(
        [Host::from(node)],
        Vec::<Host>::new(),
        Vec::<Host>::new(),
        "root",
    )
    .connect_timeout(Duration::from_secs(5))
    .known_hosts(known_hosts)
    .host_key_checking(checking);
    Cluster::builder(existing)
        .masters(1)
        .agents(0)
        .public_agents(0)
        .destroy_on_error(false)
        .destroy_on_success(false)
        .provision()
        .await
}

/// What the first command on the node wrapped so says.
async fn first_command(
    node: &Node,
    known_hosts: &Path,
    checking: HostKeyChecking,
) -> dcos_e2e::Result<String> {
    let cluster = wrapped(node, known_hosts, checking).await?;
    let out = timeout(PATIENCE, cluster.masters()[0].run(["hostname"]))
        .await
        .expect("no hang")?;
    Ok(out.stdout_text())
}

/// Existing hosts are checked against a known_hosts file; before, any key was trusted
/// on first use, in memory only, so every run accepted an impostor.
#[tokio::test(flavor = "multi_thread")]
async fn existing_host_keys_are_checked_against_known_hosts() {
    let _case = Case::new("existing hosts: known_hosts checked");
    let fx = Fixture::new(TransportKind::Ssh).await;
    let node = fx.node();
    let ip = node.ip_address().to_string();
    let hostname = run(node, ["hostname"]).await.stdout_text();
    let dir = tempfile::tempdir().unwrap();
    let pinned = std::fs::read_to_string(fx.known_hosts()).unwrap();
    let real = fingerprint(&fx.known_hosts());
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    use HostKeyChecking::{AcceptNew, Strict};

    // Listed: plain, and hashed by OpenSSH's own `ssh-keygen -H`.
    let plain = file("plain", &pinned);
    assert_eq!(first_command(node, &plain, Strict).await.unwrap(), hostname);
    let hashed = file("hashed", &pinned);
    let status = Proc::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&hashed)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let hashed_text = std::fs::read_to_string(&hashed).unwrap();
    assert!(
        hashed_text.starts_with("|1|") && !hashed_text.contains(&ip),
        "{hashed_text}"
    );
    assert_eq!(
        first_command(node, &hashed, Strict).await.unwrap(),
        hostname
    );

    // Not listed: refused under strict checking, with the key's fingerprint and the file.
    let empty = file("empty", "# nothing here\n");
    match first_command(node, &empty, Strict).await {
        Err(Error::HostKeyUnknown {
            node: n,
            fingerprint,
            known_hosts,
        }) => {
            assert!(n.contains(&ip), "{n}");
            assert_eq!(fingerprint, real);
            assert_eq!(known_hosts, empty);
        }
        other => panic!("expected HostKeyUnknown, got {other:?}"),
    }
    // ... and trusted on first use with accept-new.
    assert_eq!(
        first_command(node, &empty, AcceptNew).await.unwrap(),
        hostname
    );

    // Listed with another key: refused, accept-new or not.
    let impostor = file("impostor", &format!("{ip} {}\n", other_key(dir.path())));
    for checking in [Strict, AcceptNew] {
        match first_command(node, &impostor, checking).await {
            Err(Error::HostKeyMismatch { node: n }) => assert!(n.contains(&ip), "{n}"),
            other => panic!("{checking:?}: expected HostKeyMismatch, got {other:?}"),
        }
    }
    // Revoked: refused even though listed too.
    let key = pinned
        .split_whitespace()
        .skip(1)
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let revoked = file("revoked", &format!("{pinned}@revoked * {key}\n"));
    match first_command(node, &revoked, AcceptNew).await {
        Err(Error::HostKeyRevoked { fingerprint, .. }) => assert_eq!(fingerprint, real),
        other => panic!("expected HostKeyRevoked, got {other:?}"),
    }
    // A file given but missing: an error when the cluster is made, not "trust all".
    let missing = dir.path().join("missing");
    match wrapped(node, &missing, Strict).await {
        Err(Error::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected Error::Io, got {other:?}"),
    }

    fx.finish().await;
}

/// `minidcos existing` checks host keys too: by default against `~/.ssh/known_hosts`,
/// `known_hosts:` in the cluster file names another file, and
/// `strict_host_key_checking: false` trusts an unlisted host for the run.
#[tokio::test(flavor = "multi_thread")]
async fn cli_existing_checks_host_keys() {
    let _case = Case::new("minidcos existing: known_hosts checked");
    let fx = Fixture::new(TransportKind::Ssh).await;
    let node = fx.node();
    let home = tempfile::tempdir().unwrap();
    let hostname = run(node, ["hostname"]).await.stdout_text();
    let cluster_file = |extra: &str| {
        let path = home.path().join("cluster.yaml");
        std::fs::write(
            &path,
            format!(
                "ssh_user: root\nssh_key_path: {}\nmasters: [{}]\n{extra}",
                node.ssh_key_path().display(),
                node.ip_address()
            ),
        )
        .unwrap();
        path
    };
    let home_dir = home.path().to_path_buf();
    let run_cli = |extra: &str| {
        let file = cluster_file(extra);
        let home = home_dir.clone();
        async move {
            let out = tokio::process::Command::new(common::minidcos())
                .args(["existing", "--cluster-file"])
                .arg(&file)
                .args(["run", "--", "hostname"])
                .env("HOME", &home)
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .unwrap();
            Ok::<_, ()>((out.status.code(), text(&out.stdout), text(&out.stderr)))
        }
    };
    // HOME has no known_hosts: the host is unknown.
    let (code, _, stderr) = run_cli("").await.unwrap();
    assert_eq!(code, Some(1), "{stderr}");
    let default = home.path().join(".ssh/known_hosts");
    assert!(
        stderr.contains("is not listed") && stderr.contains(&default.display().to_string()),
        "{stderr}"
    );
    assert!(stderr.contains("ssh-keyscan"), "a hint: {stderr}");
    let (code, stdout, stderr) = run_cli(&format!("known_hosts: {}\n", fx.known_hosts().display()))
        .await
        .unwrap();
    assert_eq!(
        (code, stdout.trim()),
        (Some(0), hostname.as_str()),
        "{stderr}"
    );
    let (code, stdout, stderr) = run_cli("strict_host_key_checking: false\n").await.unwrap();
    assert_eq!(
        (code, stdout.trim()),
        (Some(0), hostname.as_str()),
        "{stderr}"
    );

    fx.finish().await;
}

/// Attaching to a Docker cluster whose pinned host keys cannot be read is an error;
/// before, an empty set was used and every node's key was then trusted on first use.
#[tokio::test(flavor = "multi_thread")]
async fn docker_attach_needs_the_pinned_host_keys() {
    let _case = Case::new("attach: pinned host keys required");
    let fx = Fixture::new(TransportKind::Ssh).await;
    let pinned = fx.known_hosts();
    let aside = fx.workspace.join("ssh/known_hosts.aside");
    std::fs::rename(&pinned, &aside).unwrap();
    let attached = Cluster::attach_docker(&fx.id, Some(TransportKind::Ssh)).await;
    std::fs::rename(&aside, &pinned).unwrap();
    match attached {
        Err(Error::Io { path, .. }) => assert_eq!(path, pinned),
        Err(other) => panic!("expected Error::Io, got {other:?}"),
        Ok(_) => panic!("attached without the pinned host keys"),
    }
    // With the file back, it attaches and the node answers.
    let attached = Cluster::attach_docker(&fx.id, Some(TransportKind::Ssh))
        .await
        .unwrap();
    let out = timeout(PATIENCE, attached.masters()[0].run(["true"]))
        .await
        .unwrap();
    out.unwrap();
    drop(attached);

    fx.finish().await;
}
