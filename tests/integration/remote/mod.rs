//! A Docker daemon on another host, as the library meets one: `scripts/remote-daemon`
//! runs a daemon of the tests' own in its own network and mount namespaces (its own
//! /tmp, addresses not routable from here), reached through DOCKER_HOST. Nothing of the
//! workspace can be bound there: keys and genconf go through the API, nodes are reached
//! with docker exec, the node image is sent from this machine's daemon.
//!
//! One file per concern: how the daemon and its nodes are reached (`connection`: TCP
//! with TLS, `ssh://`, a jump host), a cluster on one remote daemon (`daemon`), a
//! cluster over two daemons of a swarm (`swarm`). The helpers they share are here.

use std::process::Command as Proc;
use std::sync::OnceLock;
use std::time::Duration;

use dcos_e2e::blocking::Cluster;
use dcos_e2e::{Docker, Error};

use crate::common;

mod connection;
mod daemon;
mod link;
mod swarm;

/// The remote daemon's address, started once for all test processes (the script is
/// idempotent, and serialises its callers).
fn remote() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| remote_daemon(&["start", "r1"]))
}

/// `scripts/remote-daemon ARGS`, which must succeed; what it prints.
fn remote_daemon(args: &[&str]) -> String {
    let script = common::repo_root().join("scripts/remote-daemon");
    let out = Proc::new(&script)
        .args(args)
        .output()
        .expect("scripts/remote-daemon runs");
    assert!(
        out.status.success(),
        "scripts/remote-daemon {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The state directory of the test daemon at `host` (see `scripts/remote-daemon`).
fn state_dir(host: &str) -> &str {
    host.strip_prefix("unix://")
        .and_then(|s| s.strip_suffix("/docker.sock"))
        .unwrap()
}

/// The test daemon at `host` over TCP with TLS: (address, client certificate directory).
fn remote_tls(host: &str) -> (String, String) {
    let dir = state_dir(host);
    let tcp = std::fs::read_to_string(format!("{dir}/tcp")).unwrap();
    (tcp.trim().to_string(), format!("{dir}/client"))
}

/// The address this machine reaches the test daemon's host at (its TCP listener's).
fn host_address(host: &str) -> String {
    let tcp = std::fs::read_to_string(format!("{}/tcp", state_dir(host))).unwrap();
    let ip = tcp.trim().trim_start_matches("tcp://").split(':').next();
    ip.unwrap().to_string()
}

/// `docker -H HOST ARGS`, which must succeed; its stdout lines.
fn docker_at(host: &str, args: &[&str]) -> Vec<String> {
    common::docker_lines(Some(host), args)
}

/// Containers, networks and volumes of the cluster on that daemon.
fn objects_on(host: &str, id: &str) -> Vec<String> {
    let (containers, networks, volumes) = common::leftovers_at(Some(host), id);
    [containers, networks, volumes].concat()
}

/// The names of the cluster's running containers on that daemon, sorted.
fn names_on(host: &str, id: &str) -> Vec<String> {
    let filter = format!("label=dcos-e2e.cluster-id={id}");
    let mut names = docker_at(host, &["ps", "--format", "{{.Names}}", "--filter", &filter]);
    names.sort();
    names
}

/// A master and an agent on `backend`, provisioned.
fn master_and_agent(backend: Docker) -> dcos_e2e::Result<Cluster> {
    Cluster::builder(backend)
        .masters(1)
        .agents(1)
        .public_agents(0)
        .provision()
}

/// `node` answers a command, as the container it is.
fn answers_as_itself(node: &dcos_e2e::blocking::Node) {
    let name = node.run(["hostname"]).unwrap().stdout_text();
    assert_eq!(Some(name.trim()), node.container_name(), "{node}");
}

/// A file sent to `node` comes back the same.
fn copies_both_ways(node: &dcos_e2e::blocking::Node, content: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let sent = dir.path().join("sent");
    std::fs::write(&sent, content).unwrap();
    node.send_file(&sent, "/root/sent").unwrap();
    let back = dir.path().join("back");
    node.download_file("/root/sent", &back).unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), content);
}

pub(super) use crate::common::healthy_and_tested;

/// Provision 1+1+0 on the backend, say its id and workspace, and hold it until killed.
fn hold(backend: Docker) {
    let cluster = Cluster::builder(backend)
        .masters(1)
        .agents(1)
        .public_agents(0)
        .provision()
        .unwrap();
    println!(
        "cluster-id {} {}",
        cluster.id(),
        cluster.workspace().unwrap().display()
    );
    std::thread::sleep(Duration::from_secs(600));
}

/// The error and its causes, on one line.
pub(super) fn chain(err: &Error) -> String {
    let mut chain = err.to_string();
    let mut cause = std::error::Error::source(err);
    while let Some(e) = cause {
        chain = format!("{chain}: {e}");
        cause = e.source();
    }
    chain
}

/// `sh -c SCRIPT`, which must succeed.
pub(super) fn sh(script: &str) {
    let out = Proc::new("sh").args(["-c", script]).output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether an sshd greets a connection to `addr` from here.
pub(super) fn sshd_answers_at(addr: std::net::SocketAddr) -> bool {
    use std::io::Read;
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut banner = [0; 4];
    stream.read_exact(&mut banner).is_ok() && &banner == b"SSH-"
}

/// An sshd on the test daemon's host (a container on its host network, our image, the
/// daemon's socket bound in at its own path), and a home of this process's own with a
/// key for it in `~/.ssh`, as a user of `docker -H ssh://` has. HOME is set to it.
pub(super) struct Sshd {
    home: tempfile::TempDir,
    keys: tempfile::TempDir,
    host: &'static str,
    name: String,
    port: u16,
    /// The daemon over this sshd: `ssh://root@ADDR:PORT/SOCKET`.
    pub url: String,
}

impl Sshd {
    /// Start it on `port` with these extra `-o` options of sshd.
    pub(super) fn start(host: &'static str, port: u16, options: &[&str]) -> Self {
        let image = common::node_image();
        let socket = host.strip_prefix("unix://").unwrap();
        let addr = host_address(host);
        let home = tempfile::tempdir().unwrap();
        let keys = tempfile::Builder::new()
            .prefix("dcos-e2e-test-sshd-")
            .tempdir_in("/var/tmp")
            .unwrap();
        let (home_dir, key_dir) = (home.path().display(), keys.path().display());
        let name = format!("dcos-e2e-test-sshd-{port}");
        let options: String = options.iter().map(|o| format!(" -o {o}")).collect();
        sh(&format!(
            "docker -H {host} image inspect {image} >/dev/null 2>&1 || docker save {image} | docker -H {host} load -q
             mkdir -m 700 {home_dir}/.ssh
             ssh-keygen -q -t ed25519 -N '' -f {home_dir}/.ssh/id_ed25519
             ssh-keygen -q -t ed25519 -N '' -f {key_dir}/host_key
             cp {home_dir}/.ssh/id_ed25519.pub {key_dir}/authorized_keys
             docker -H {host} rm -f {name} >/dev/null 2>&1 || true
             docker -H {host} run -d --name {name} --network host -v {socket}:{socket} -v {key_dir}:/keys:ro --entrypoint /bin/sh {image} -c 'mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -p {port} -h /keys/host_key -o AuthorizedKeysFile=/keys/authorized_keys -o PermitRootLogin=prohibit-password{options}' >/dev/null"
        ));
        let at: std::net::SocketAddr = format!("{addr}:{port}").parse().unwrap();
        crate::process::poll("the daemon host's sshd", Duration::from_secs(30), || {
            sshd_answers_at(at)
        });
        // SAFETY: set before the test starts any thread of its own or any runtime; each
        // test runs in its own process.
        unsafe { std::env::set_var("HOME", home.path()) };
        let url = format!("ssh://root@{addr}:{port}{socket}");
        Self {
            home,
            keys,
            host,
            name,
            port,
            url,
        }
    }

    /// Put its host key in `~/.ssh/known_hosts`.
    pub(super) fn trust(&self) {
        let addr = host_address(self.host);
        sh(&format!(
            "printf '[{addr}]:{} %s\\n' \"$(cut -d' ' -f1,2 {}/host_key.pub)\" > {}/.ssh/known_hosts",
            self.port,
            self.keys.path().display(),
            self.home.path().display()
        ));
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = Proc::new("docker")
            .args(["-H", self.host, "rm", "-f", &self.name])
            .output();
    }
}

/// Incoming TCP packets to `port` on the test daemon's host dropped (as by a lost link)
/// for as long as this lives.
pub(super) struct Blocked {
    netns: String,
    port: u16,
}

impl Blocked {
    pub(super) fn port(host: &str, port: u16) -> Self {
        let netns = format!("dcos-e2e-{}", state_dir(host).rsplit('/').next().unwrap());
        let blocked = Self { netns, port };
        blocked.iptables("-I");
        blocked
    }

    fn iptables(&self, action: &str) {
        sh(&format!(
            "ip netns exec {} iptables {action} INPUT -p tcp --dport {} -j DROP",
            self.netns, self.port
        ));
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        self.iptables("-D");
    }
}
