//! How the daemon and its nodes are reached: the daemon over TCP with TLS and over
//! `ssh://`, and the nodes there over SSH through a jump host on that daemon's host.

use std::process::Command as Proc;
use std::time::Duration;

use dcos_e2e::blocking::Cluster;
use dcos_e2e::{Docker, Error, TransportKind};

use super::{
    Sshd, answers_as_itself, chain, copies_both_ways, host_address, master_and_agent, names_on,
    objects_on, remote, remote_tls, sshd_answers_at,
};
use crate::common;
use crate::process::minidcos_at;

#[test]
fn a_daemon_over_tcp_with_tls_runs_a_cluster() {
    common::node_image();
    let unix = remote();
    let (tcp, certs) = remote_tls(unix);
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

/// Whether an sshd greets a connection to `ip` from here. (Where a default route leads
/// to a gateway that accepts any connection, a connect alone proves nothing.)
fn sshd_answers(ip: std::net::IpAddr) -> bool {
    sshd_answers_at(std::net::SocketAddr::new(ip, 22))
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
    // The jump host opens tunnels to SSH ports only: the same hop to port 80 is refused.
    let to_80 = command.replace("%h:%p", "%h:80");
    let out = Proc::new("sh")
        .args(["-c", &format!("{to_80} -o BatchMode=yes hostname")])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a tunnel to port 80 was opened");
    assert!(said.contains("prohibited"), "{said}");
    drop(cluster);
    assert!(objects_on(host, &id).is_empty(), "left there");
}

#[test]
fn a_daemon_reached_over_ssh_runs_a_cluster() {
    let host = remote();
    let sshd = Sshd::start(host, 2222, &[]);
    let url = sshd.url.clone();
    let provision = || master_and_agent(Docker::new().docker_host(&url));
    // Its host key is not known yet: refused, naming the key.
    let err = provision().unwrap_err();
    let chain = chain(&err);
    assert!(matches!(&err, Error::DockerUnreachable { .. }), "{err:?}");
    assert!(
        chain.contains("SHA256:") && chain.contains("known_hosts"),
        "{chain}"
    );
    sshd.trust();
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
    // A stream left unread stalls only itself: a process writing far more than any
    // buffer holds, never read, while other calls go on to the same daemon (they share
    // one SSH connection; the stream has one of its own).
    let flood = cluster.masters()[0]
        .popen(dcos_e2e::Command::shell(
            "head -c 300000000 /dev/zero; echo done",
        ))
        .unwrap();
    for _ in 0..3 {
        cluster.nodes().for_each(answers_as_itself);
    }
    copies_both_ways(&cluster.agents()[0], b"while a stream waits\n");
    drop(flood);
    let listed = minidcos_at(&url, &["docker", "list"]).ok();
    assert!(listed.stdout.contains(&id), "{listed:?}");
    drop(cluster);
    assert!(objects_on(host, &id).is_empty(), "left there");
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

#[test]
fn a_large_image_loads_into_nodes_over_ssh() {
    // Larger than any channel's window: `docker load` on each node is slower than the
    // export here, so the image's stream backs up while other calls go on.
    let image = crate::engine::TinyImage::with_filler(100);
    let host = remote();
    let sshd = Sshd::start(host, 2224, &[]);
    sshd.trust();
    let backend = crate::engine::engine_backend(dcos_e2e::docker::Distribution::Bookworm)
        .docker_host(&sshd.url);
    let cluster = master_and_agent(backend).unwrap();
    let id = cluster.id().to_string();
    let nodes: Vec<&dcos_e2e::blocking::Node> = cluster.nodes().collect();
    std::thread::scope(|s| {
        let loading = s.spawn(|| cluster.load_images(&[&image.0], &nodes, None));
        // Meanwhile the daemon answers (calls on the shared connection).
        cluster.nodes().for_each(answers_as_itself);
        loading.join().unwrap().unwrap();
    });
    for node in cluster.nodes() {
        let size = node
            .run([
                "docker",
                "image",
                "inspect",
                "--format",
                "{{.Size}}",
                &image.0,
            ])
            .unwrap()
            .stdout_text();
        let size: u64 = size.trim().parse().unwrap();
        assert!(size > 100_000_000, "{node}: {size} bytes");
    }
    drop(cluster);
    assert!(objects_on(host, &id).is_empty(), "left there");
}
