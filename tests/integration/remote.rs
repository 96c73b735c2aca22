//! A Docker daemon on another host, as the library meets one: `scripts/remote-daemon`
//! runs a daemon of the tests' own in its own network and mount namespaces (its own
//! /tmp, addresses not routable from here), reached through DOCKER_HOST. Nothing of the
//! workspace can be bound there: keys and genconf go through the API, nodes are reached
//! with docker exec, the node image is sent from this machine's daemon.

use std::collections::BTreeMap;
use std::process::Command as Proc;
use std::sync::OnceLock;
use std::time::Duration;

use dcos_e2e::blocking::Cluster;
use dcos_e2e::{Docker, Error, ExtraConfig, Mount, TransportKind};

use crate::common;
use crate::process::{minidcos_at, poll, send_signal, spawn_holder};

const LOCAL: &str = "unix:///var/run/docker.sock";

/// The remote daemon's address, started once for all test processes (the script is
/// idempotent, and serialises its callers).
fn remote() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let script = common::repo_root().join("scripts/remote-daemon");
        let out = Proc::new(&script)
            .args(["start", "r1"])
            .output()
            .expect("scripts/remote-daemon runs");
        assert!(
            out.status.success(),
            "scripts/remote-daemon start r1: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
}

/// From here on this test process's library calls go to the remote daemon (the node
/// image is made sure of on this machine's daemon first: it is sent from there).
fn use_remote() -> &'static str {
    common::node_image();
    let host = remote();
    // SAFETY: set before this test starts any thread of its own or any runtime; each
    // test runs in its own process.
    unsafe { std::env::set_var("DOCKER_HOST", host) };
    host
}

/// The state directory of the test daemon at `host` (see `scripts/remote-daemon`).
fn state_dir(host: &str) -> &str {
    host.strip_prefix("unix://")
        .and_then(|s| s.strip_suffix("/docker.sock"))
        .unwrap()
}

/// The daemon of `remote()` over TCP with TLS: (address, client certificate directory).
fn remote_tls() -> (String, String) {
    let dir = state_dir(remote());
    let tcp = std::fs::read_to_string(format!("{dir}/tcp")).unwrap();
    (tcp.trim().to_string(), format!("{dir}/client"))
}

#[test]
fn a_daemon_over_tcp_with_tls_runs_a_cluster() {
    common::node_image();
    let unix = remote();
    let (tcp, certs) = remote_tls();
    // SAFETY: set before this test starts any thread of its own or any runtime; each
    // test runs in its own process.
    unsafe {
        std::env::set_var("DOCKER_HOST", &tcp);
        std::env::set_var("DOCKER_TLS_VERIFY", "1");
        std::env::set_var("DOCKER_CERT_PATH", &certs);
    }
    let cluster = Cluster::builder(Docker::new())
        .masters(1)
        .agents(0)
        .public_agents(0)
        .provision()
        .unwrap();
    let id = cluster.id().to_string();
    let master = &cluster.masters()[0];
    assert_eq!(master.transport(), TransportKind::DockerExec);
    assert_eq!(
        master.run(["echo", "over tls"]).unwrap().stdout_text(),
        "over tls"
    );
    // Made there, seen through its unix socket too; its watchdog there found that
    // socket at the usual place on that host, and knew it for the same daemon's.
    assert_eq!(
        names_on(unix, &id),
        [format!("{id}-master-1"), format!("{id}-watchdog")],
        "the node and its watchdog"
    );
    drop(cluster);
    assert!(objects_on(unix, &id).is_empty());
    // Without the client certificate the daemon refuses us, and the error says where.
    unsafe { std::env::set_var("DOCKER_CERT_PATH", "/nonexistent") };
    let err = Cluster::builder(Docker::new())
        .masters(1)
        .agents(0)
        .public_agents(0)
        .provision()
        .unwrap_err();
    assert!(
        matches!(&err, Error::DockerUnreachable { host, .. } if *host == tcp),
        "{err:?}"
    );
}

/// The address this machine reaches the test daemon's host at (its TCP listener's).
fn host_address(host: &str) -> String {
    let tcp = std::fs::read_to_string(format!("{}/tcp", state_dir(host))).unwrap();
    let ip = tcp.trim().trim_start_matches("tcp://").split(':').next();
    ip.unwrap().to_string()
}

/// Whether an sshd greets a connection to `ip` from here. (Where a default route leads
/// to a gateway that accepts any connection, a connect alone proves nothing.)
fn sshd_answers(ip: std::net::IpAddr) -> bool {
    sshd_answers_at(std::net::SocketAddr::new(ip, 22))
}

fn sshd_answers_at(addr: std::net::SocketAddr) -> bool {
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

/// A backend on the daemon at `host` whose nodes are reached over SSH (through a jump
/// host there).
fn over_ssh(host: &str) -> Docker {
    Docker::new()
        .docker_host(host)
        .transport(TransportKind::Ssh)
}

#[test]
fn ssh_reaches_the_nodes_there_through_a_jump_host() {
    common::node_image();
    let host = remote();
    let cluster = master_and_agent(over_ssh(host).published_address(host_address(host))).unwrap();
    let id = cluster.id().to_string();
    assert!(
        names_on(host, &id).contains(&format!("{id}-jump")),
        "{:?}",
        names_on(host, &id)
    );
    let dir = tempfile::tempdir().unwrap();
    for node in cluster.nodes() {
        assert_eq!(node.transport(), TransportKind::Ssh, "{node}");
        // Not routable from here: only the jump host reaches its sshd.
        assert!(
            !sshd_answers(node.ip_address()),
            "{node} is reachable from here"
        );
        answers_as_itself(node);
    }
    // Many commands at once share the jump connection; a download (paced) has one of
    // its own, so a slow reader stalls nothing else.
    let agent = &cluster.agents()[0];
    agent
        .run(dcos_e2e::Command::shell(
            "head -c 3000000 /dev/urandom > /root/blob",
        ))
        .unwrap();
    let copy = dir.path().join("blob");
    std::thread::scope(|s| {
        let download = s.spawn(|| agent.download_file("/root/blob", &copy));
        let runs: Vec<_> = (0..16)
            .map(|i| s.spawn(move || agent.run(["echo", &i.to_string()]).map(|o| o.stdout_text())))
            .collect();
        for (i, run) in runs.into_iter().enumerate() {
            assert_eq!(run.join().unwrap().unwrap().trim(), i.to_string());
        }
        download.join().unwrap().unwrap();
    });
    let sum = agent.run(["md5sum", "/root/blob"]).unwrap().stdout_text();
    let here = Proc::new("md5sum").arg(&copy).output().unwrap();
    assert_eq!(
        sum.split_whitespace().next(),
        String::from_utf8_lossy(&here.stdout)
            .split_whitespace()
            .next()
    );
    // Attached by id later, the nodes are found through the same jump host.
    let ran = minidcos_at(host, &["docker", "run", &id, "--", "hostname"]).ok();
    assert_eq!(ran.stdout.trim(), format!("{id}-master-1"));
    // The ssh command `inspect` prints goes through it too (OpenSSH's client).
    let inspected = minidcos_at(host, &["docker", "inspect", &id, "--json"])
        .ok()
        .json();
    let command = inspected["nodes"][1]["ssh_command"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(command.contains("ProxyCommand"), "{command}");
    let out = Proc::new("sh")
        .args(["-c", &format!("{command} -o BatchMode=yes hostname")])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{id}-agent-1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(cluster);
    assert!(objects_on(host, &id).is_empty(), "left there");
}

/// The error and its causes, on one line.
fn chain(err: &Error) -> String {
    let mut chain = err.to_string();
    let mut cause = std::error::Error::source(err);
    while let Some(e) = cause {
        chain = format!("{chain}: {e}");
        cause = e.source();
    }
    chain
}

/// `sh -c SCRIPT`, which must succeed.
fn sh(script: &str) {
    let out = Proc::new("sh").args(["-c", script]).output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_daemon_reached_over_ssh_runs_a_cluster() {
    // The daemon's host runs an sshd (a container on its host network, our image, the
    // daemon's socket bound in at its own path); this process has a home of its own,
    // with a key and known_hosts in ~/.ssh as a user of `docker -H ssh://` has.
    let image = common::node_image();
    let host = remote();
    let socket = host.strip_prefix("unix://").unwrap();
    let addr = host_address(host);
    let home = tempfile::tempdir().unwrap();
    let keys = tempfile::Builder::new()
        .prefix("dcos-e2e-test-sshd-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let (home_dir, key_dir) = (home.path().display(), keys.path().display());
    sh(&format!(
        "docker -H {host} image inspect {image} >/dev/null 2>&1 || docker save {image} | docker -H {host} load -q
         mkdir -m 700 {home_dir}/.ssh
         ssh-keygen -q -t ed25519 -N '' -f {home_dir}/.ssh/id_ed25519
         ssh-keygen -q -t ed25519 -N '' -f {key_dir}/host_key
         cp {home_dir}/.ssh/id_ed25519.pub {key_dir}/authorized_keys
         docker -H {host} rm -f dcos-e2e-test-sshd >/dev/null 2>&1 || true
         docker -H {host} run -d --name dcos-e2e-test-sshd --network host            -v {socket}:{socket} -v {key_dir}:/keys:ro --entrypoint /bin/sh {image} -c            'mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -p 2222 -h /keys/host_key             -o AuthorizedKeysFile=/keys/authorized_keys -o PermitRootLogin=prohibit-password' >/dev/null"
    ));
    let sshd: std::net::SocketAddr = format!("{addr}:2222").parse().unwrap();
    poll("the daemon host's sshd", Duration::from_secs(30), || {
        sshd_answers_at(sshd)
    });
    // SAFETY: set before this test starts any thread of its own or any runtime; each
    // test runs in its own process.
    unsafe { std::env::set_var("HOME", home.path()) };
    let url = format!("ssh://root@{addr}:2222{socket}");
    let provision = || master_and_agent(Docker::new().docker_host(&url));
    // Its host key is not known yet: refused, naming the key.
    let err = provision().unwrap_err();
    let chain = chain(&err);
    assert!(matches!(&err, Error::DockerUnreachable { .. }), "{err:?}");
    assert!(
        chain.contains("SHA256:") && chain.contains("known_hosts"),
        "{chain}"
    );
    sh(&format!(
        "printf '[{addr}]:2222 %s\n' \"$(cut -d' ' -f1,2 {key_dir}/host_key.pub)\" > {home_dir}/.ssh/known_hosts"
    ));
    let cluster = provision().unwrap();
    let id = cluster.id().to_string();
    assert_eq!(
        names_on(host, &id).len(),
        3,
        "two nodes and the watchdog there"
    );
    // docker exec through the API over SSH (a hijacked connection).
    cluster.nodes().for_each(answers_as_itself);
    copies_both_ways(&cluster.agents()[0], b"over ssh\n");
    let listed = minidcos_at(&url, &["docker", "list"]).ok();
    assert!(listed.stdout.contains(&id), "{listed:?}");
    drop(cluster);
    assert!(objects_on(host, &id).is_empty(), "left there");
    docker_at(host, &["rm", "-f", "dcos-e2e-test-sshd"]);
}

#[test]
fn a_jump_host_not_reachable_at_the_address_given_is_named() {
    common::node_image();
    let host = remote();
    let err = Cluster::builder(
        over_ssh(host)
            // Not where that daemon's host is: its published ports are not here.
            .published_address("127.0.0.1")
            .ready_timeout(Duration::from_secs(3)),
    )
    .masters(1)
    .agents(0)
    .public_agents(0)
    .provision()
    .unwrap_err();
    let chain = chain(&err);
    assert!(chain.contains("the jump host at 127.0.0.1:"), "{chain}");
    assert!(chain.contains("not ready after 3s"), "{chain}");
}

/// `docker -H HOST ARGS`, which must succeed; its stdout lines.
fn docker_at(host: &str, args: &[&str]) -> Vec<String> {
    let out = Proc::new("docker")
        .arg("-H")
        .arg(host)
        .args(args)
        .output()
        .expect("docker CLI runs");
    assert!(
        out.status.success(),
        "docker -H {host} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Containers, networks and volumes of the cluster on that daemon.
fn objects_on(host: &str, id: &str) -> Vec<String> {
    let (containers, networks, volumes) = common::leftovers_at(Some(host), id);
    [containers, networks, volumes].concat()
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

/// The sample installer's cluster becomes healthy and its integration tests pass.
fn healthy_and_tested(cluster: &Cluster) {
    cluster.wait_for_dcos(Duration::from_secs(120)).unwrap();
    let out = cluster
        .run_integration_tests(["pytest", "-x"], BTreeMap::new())
        .unwrap();
    assert!(
        out.stdout_text().contains("8 passed"),
        "{}",
        out.stdout_text()
    );
}

#[test]
fn a_cluster_on_a_remote_daemon_installs_runs_copies_and_goes() {
    let host = use_remote();
    let cluster = Cluster::builder(Docker::new())
        .masters(1)
        .agents(1)
        .public_agents(1)
        .build_artifact(common::sample_installer())
        .extra_config(ExtraConfig::from_yaml("sample_startup_delay: 0").unwrap())
        .create()
        .unwrap();
    let (id, workspace) = (
        cluster.id().to_string(),
        cluster.workspace().unwrap().to_path_buf(),
    );
    // The nodes and their watchdog are there, and nothing of them here.
    assert_eq!(
        docker_at(
            host,
            &[
                "ps",
                "-q",
                "--filter",
                &format!("label=dcos-e2e.cluster-id={id}")
            ]
        )
        .len(),
        4,
        "3 nodes and the watchdog on the remote daemon"
    );
    assert!(objects_on(LOCAL, &id).is_empty());
    for node in cluster.nodes() {
        assert_eq!(node.transport(), TransportKind::DockerExec, "{node}");
        // A node sees its daemon's /tmp, not this machine's.
        let seen = node
            .output(["test", "-e", &workspace.to_string_lossy()])
            .unwrap();
        assert_ne!(seen.status, 0, "{node} sees the workspace");
    }
    healthy_and_tested(&cluster);
    // Copies both ways through the API.
    copies_both_ways(&cluster.agents()[0], b"across hosts\n");
    drop(cluster);
    assert!(
        objects_on(host, &id).is_empty(),
        "left on the remote daemon"
    );
    assert!(
        !workspace.exists(),
        "workspace {} left",
        workspace.display()
    );
}

#[test]
fn local_bind_mounts_are_refused_there_and_daemon_paths_work() {
    // Chosen per backend here, not by DOCKER_HOST.
    common::node_image();
    let host = remote();
    let provision = |backend: Docker| {
        Cluster::builder(backend.docker_host(host))
            .masters(1)
            .agents(0)
            .public_agents(0)
            .provision()
    };
    let id = Docker::new_cluster_id();
    let local = tempfile::NamedTempFile::new().unwrap();
    let err = provision(
        Docker::new()
            .cluster_id(&id)
            .master_mount(Mount::new(local.path(), "/x")),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidParameter { parameter, .. } if *parameter == dcos_e2e::Parameter::CustomMounts),
        "{err:?}"
    );
    // Refused before anything of the cluster was made; the workspace went too.
    assert!(objects_on(host, &id).is_empty());
    assert!(common::temp_workspaces(&id).is_empty());
    // A path of the daemon's host, said to be one: bound there. (Outside /tmp the
    // remote daemon's filesystem is this machine's; the repository may be in /tmp.)
    let marker = std::path::PathBuf::from(format!(
        "/var/tmp/dcos-e2e-remote-mount-{}",
        std::process::id()
    ));
    let content = format!("on the daemon's host {:?}", std::time::SystemTime::now());
    std::fs::write(&marker, &content).unwrap();
    let cluster = provision(
        Docker::new()
            .mount_sources_on_daemon(true)
            .master_mount(Mount::new(&marker, "/marker").read_only()),
    );
    std::fs::remove_file(&marker).unwrap();
    let seen = cluster.unwrap().masters()[0]
        .run(["cat", "/marker"])
        .unwrap();
    assert_eq!(seen.stdout_text(), content);
}

#[test]
fn a_node_image_missing_there_is_sent_from_this_machine() {
    let host = use_remote();
    let tag = format!("dcos-e2e-test/sent:{}", std::process::id());
    docker_at(LOCAL, &["tag", common::node_image(), &tag]);
    let cluster = Cluster::builder(Docker::new().node_image(&tag))
        .masters(1)
        .agents(0)
        .public_agents(0)
        .provision();
    let there = docker_at(host, &["images", "-q", &tag]);
    let id = cluster
        .as_ref()
        .map(|c| c.id().to_string())
        .map_err(|e| e.to_string());
    drop(cluster);
    docker_at(LOCAL, &["rmi", &tag]);
    if let Ok(id) = &id {
        assert!(objects_on(host, id).is_empty());
    }
    // Untag only: the layers are the shared node image's.
    let _ = Proc::new("docker").args(["-H", host, "rmi", &tag]).status();
    id.unwrap();
    assert_eq!(there.len(), 1, "{tag} was not sent");
}

/// Provisions on the remote daemon and holds the cluster until killed (run by
/// `a_killed_owner_s_cluster_is_removed_there`).
#[test]
#[ignore = "run as a child process by another test"]
fn remote_holder() {
    use_remote();
    hold(Docker::new());
}

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

#[test]
fn a_killed_owner_s_cluster_is_removed_there() {
    let host = remote();
    common::node_image();
    let (mut child, id, workspace) = spawn_holder("remote::remote_holder", &[]);
    // The CLI finds it there too.
    let listed = minidcos_at(host, &["docker", "list"]);
    assert!(listed.stdout.contains(&id), "{}", listed.stdout);
    let running = format!("label=dcos-e2e.cluster-id={id}");
    assert_eq!(
        docker_at(host, &["ps", "-q", "--filter", &running]).len(),
        3,
        "2 nodes and the watchdog"
    );
    send_signal(&child, libc::SIGKILL);
    child.wait().unwrap();
    poll(
        "the watchdog there to remove it",
        Duration::from_secs(60),
        || objects_on(host, &id).is_empty(),
    );
    // The watchdog there cannot reach this machine's workspace: it stays for `clean`
    // or the test to remove (keys and known hosts only).
    assert!(workspace.exists());
    std::fs::remove_dir_all(&workspace).unwrap();
}

/// Two daemons of the tests' own joined in a swarm of their own (the first its
/// manager); the machine's main daemon stays out of it.
fn swarm() -> &'static [String; 2] {
    static HOSTS: OnceLock<[String; 2]> = OnceLock::new();
    HOSTS.get_or_init(|| {
        let script = common::repo_root().join("scripts/remote-daemon");
        let out = Proc::new(&script)
            .args(["swarm", "r4", "r5"])
            .output()
            .expect("scripts/remote-daemon runs");
        assert!(
            out.status.success(),
            "scripts/remote-daemon swarm r4 r5: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let hosts: Vec<&str> = text.lines().collect();
        [hosts[0].to_string(), hosts[1].to_string()]
    })
}

fn names_on(host: &str, id: &str) -> Vec<String> {
    let filter = format!("label=dcos-e2e.cluster-id={id}");
    let mut names = docker_at(host, &["ps", "--format", "{{.Names}}", "--filter", &filter]);
    names.sort();
    names
}

#[test]
fn a_cluster_over_two_daemons_of_a_swarm_installs_and_its_nodes_meet() {
    common::node_image();
    let [manager, worker] = swarm();
    let cluster = Cluster::builder(Docker::new().docker_hosts([manager, worker]))
        .masters(1)
        .agents(1)
        .public_agents(1)
        .build_artifact(common::sample_installer())
        .extra_config(ExtraConfig::from_yaml("sample_startup_delay: 0").unwrap())
        .create()
        .unwrap();
    let id = cluster.id().to_string();
    // Round-robin over all nodes in role order: master and public agent on the first.
    assert_eq!(
        names_on(manager, &id),
        [
            format!("{id}-master-1"),
            format!("{id}-pub-agent-1"),
            format!("{id}-watchdog")
        ]
    );
    assert_eq!(
        names_on(worker, &id),
        [format!("{id}-agent-1"), format!("{id}-watchdog")]
    );
    healthy_and_tested(&cluster);
    // Across daemons, over the overlay: the master fetches a page the agent serves.
    let agent = &cluster.agents()[0];
    agent
        .run(dcos_e2e::Command::shell(
            "mkdir -p /srv/www && echo across-daemons > /srv/www/marker",
        ))
        .unwrap();
    let _server = agent
        .popen(["python3", "-m", "http.server", "8080", "-d", "/srv/www"])
        .unwrap();
    let url = format!("http://{}:8080/marker", agent.ip_address());
    let fetched = cluster.masters()[0]
        .run(dcos_e2e::Command::shell(format!(
            "for i in $(seq 50); do curl -sf {url} && exit 0; sleep 0.1; done; exit 1"
        )))
        .unwrap();
    assert_eq!(fetched.stdout_text(), "across-daemons");
    drop(cluster);
    assert!(objects_on(manager, &id).is_empty(), "left on the manager");
    assert!(objects_on(worker, &id).is_empty(), "left on the worker");
}

#[test]
fn daemons_that_cannot_make_one_cluster_are_named() {
    common::node_image();
    let [manager, worker] = swarm();
    let alone = remote();
    let provision = |hosts: [&str; 2]| {
        Cluster::builder(Docker::new().docker_hosts(hosts))
            .masters(1)
            .agents(1)
            .public_agents(0)
            .provision()
    };
    let err = provision([manager, alone]).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidParameter { parameter, value, .. }
            if *parameter == dcos_e2e::Parameter::DockerHosts && value == alone),
        "{err:?}"
    );
    assert!(err.to_string().contains("not in a Docker Swarm"), "{err}");
    let err = provision([worker, manager]).unwrap_err();
    assert!(err.to_string().contains("must be a swarm manager"), "{err}");
}

/// Provisions over the swarm's two daemons and holds the cluster until killed (run by
/// `a_killed_owner_s_cluster_over_a_swarm_is_removed_from_both`).
#[test]
#[ignore = "run as a child process by another test"]
fn swarm_holder() {
    common::node_image();
    let [manager, worker] = swarm();
    hold(Docker::new().docker_hosts([manager, worker]));
}

#[test]
fn a_killed_owner_s_cluster_over_a_swarm_is_removed_from_both() {
    let [manager, worker] = swarm();
    let (mut child, id, workspace) = spawn_holder("remote::swarm_holder", &[]);
    assert_eq!(names_on(manager, &id).len(), 2, "master and watchdog");
    assert_eq!(names_on(worker, &id).len(), 2, "agent and watchdog");
    send_signal(&child, libc::SIGKILL);
    child.wait().unwrap();
    poll(
        "the watchdogs to remove it from both",
        Duration::from_secs(90),
        || objects_on(manager, &id).is_empty() && objects_on(worker, &id).is_empty(),
    );
    std::fs::remove_dir_all(&workspace).unwrap();
}

#[test]
fn clean_through_a_worker_removes_a_dead_owner_s_cluster_from_both() {
    let [manager, worker] = swarm();
    // Kept: no watchdogs, so only `clean` removes it once its owner is gone.
    let (mut child, id, workspace) =
        spawn_holder("remote::swarm_holder", &[("DCOS_E2E_KEEP", "1")]);
    send_signal(&child, libc::SIGKILL);
    child.wait().unwrap();
    assert_eq!(names_on(manager, &id).len(), 1, "the master, no watchdog");
    assert_eq!(names_on(worker, &id).len(), 1, "the agent, no watchdog");
    minidcos_at(worker, &["docker", "clean"]).ok();
    assert!(objects_on(manager, &id).is_empty(), "left on the manager");
    assert!(objects_on(worker, &id).is_empty(), "left on the worker");
    assert!(
        !workspace.exists(),
        "workspace {} left",
        workspace.display()
    );
}

#[test]
fn destroy_by_id_through_either_daemon_removes_it_from_both() {
    common::node_image();
    let [manager, worker] = swarm();
    // Over SSH: one jump host, on the manager, reaches the nodes of both over the overlay.
    let backend = Docker::new()
        .docker_hosts([manager, worker])
        .transport(TransportKind::Ssh)
        .published_address(host_address(manager));
    let cluster = master_and_agent(backend).unwrap();
    let id = cluster.id().to_string();
    cluster.nodes().for_each(answers_as_itself);
    cluster.persist().unwrap();
    drop(cluster);
    assert!(
        !objects_on(worker, &id).is_empty(),
        "handed over: still there"
    );
    // Listed through either daemon, with the nodes of both.
    for daemon in [manager, worker] {
        let list = minidcos_at(daemon, &["docker", "list", "--json"])
            .ok()
            .json();
        let row = list
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["cluster_id"] == id.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("not listed through {daemon}: {list}"));
        assert_eq!(
            (row["masters"].as_u64(), row["agents"].as_u64()),
            (Some(1), Some(1)),
            "{row}"
        );
        assert_eq!(row["owner"], "user", "{row}");
    }
    // A log bundle through the worker: each node as its own daemon inspects it.
    let logs = tempfile::tempdir().unwrap();
    let bundle = logs.path().join("bundle");
    minidcos_at(
        worker,
        &["docker", "export-logs", &id, bundle.to_str().unwrap()],
    )
    .ok();
    for node in ["master-1", "agent-1"] {
        let inspect = std::fs::read_to_string(bundle.join(node).join("inspect.json")).unwrap();
        assert!(inspect.contains(&format!("{id}-{node}")), "{node}");
    }
    // Attached through the worker, the agent there is reached through the jump host.
    let ran = minidcos_at(
        worker,
        &["docker", "run", &id, "--node", "agent:1", "--", "hostname"],
    )
    .ok();
    assert_eq!(ran.stdout.trim(), format!("{id}-agent-1"));
    minidcos_at(worker, &["docker", "destroy", &id]).ok();
    assert!(objects_on(manager, &id).is_empty(), "left on the manager");
    assert!(objects_on(worker, &id).is_empty(), "left on the worker");
}
