//! Ports of the first master on the host, labels of the user's own, and what `inspect`
//! and `web` say of them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use dcos_e2e::blocking::Cluster;
use dcos_e2e::{Command, Docker, Error, Parameter, Role};

use crate::common::{self, assert_gone, docker_inspect};
use crate::process::{minidcos, poll};

/// A port of this host that is free now.
fn free_port() -> u16 {
    TcpListener::bind(("0.0.0.0", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_status(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.lines().next().map(str::to_string)
}

#[test]
fn a_published_port_and_labels_of_the_users_own() {
    let port = free_port();
    let cluster = Cluster::builder(
        common::docker()
            .label("ci-run", "42")
            .role_label(Role::Master, "tier", "control")
            .one_master_host_port(port, 8080),
    )
    .masters(1)
    .agents(1)
    .public_agents(0)
    .provision()
    .unwrap();
    let master = &cluster.masters()[0];
    let name = master.container_name().unwrap();
    let label = |container: &str, key: &str| {
        docker_inspect(
            &format!("{{{{index .Config.Labels \"{key}\"}}}}"),
            container,
        )
    };
    assert_eq!(label(name, "ci-run"), "42");
    assert_eq!(label(name, "tier"), "control");
    let agent = cluster.agents()[0].container_name().unwrap();
    assert_eq!(label(agent, "ci-run"), "42");
    assert_eq!(label(agent, "tier"), "", "a master label on an agent");
    // Ours are there too, and decide what is removed.
    assert_eq!(label(name, "dcos-e2e.cluster-id"), cluster.id());

    // The master's port 8080 answers on this host's port.
    let server = master
        .popen(Command::shell(
            "cd /tmp && exec python3 -m http.server 8080",
        ))
        .unwrap();
    poll(
        "the published port to answer",
        Duration::from_secs(60),
        || http_status(port).is_some_and(|s| s.contains("200")),
    );
    assert_eq!(cluster.published_ports().unwrap(), [(8080, port)]);
    // On this machine's daemon, on loopback only.
    assert_eq!(
        docker_inspect(
            "{{(index (index .HostConfig.PortBindings \"8080/tcp\") 0).HostIp}}",
            name
        ),
        "127.0.0.1"
    );
    let url = format!("http://localhost:{port}");

    let inspect = minidcos(&["docker", "inspect", cluster.id(), "--json"])
        .ok()
        .json();
    let web: Vec<&str> = inspect["web"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert!(web.contains(&url.as_str()), "{web:?}");
    let states: Vec<&str> = inspect["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["running", "running"]);

    // `web` prints the addresses, and hands the last to $BROWSER.
    let dir = tempfile::tempdir().unwrap();
    let opened = dir.path().join("opened");
    let browser = dir.path().join("browser.sh");
    std::fs::write(
        &browser,
        format!("#!/bin/sh\necho \"$1\" > {}\n", opened.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let out = std::process::Command::new(common::minidcos())
        .args(["docker", "web", cluster.id()])
        .env("BROWSER", &browser)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains(&format!("http://{}", master.ip_address())),
        "{printed}"
    );
    assert!(printed.contains(&url), "{printed}");
    poll(
        "the browser to be handed the address",
        Duration::from_secs(30),
        || std::fs::read_to_string(&opened).is_ok_and(|o| o.trim() == url),
    );
    server.kill().unwrap();
}

#[test]
fn a_taken_port_and_labels_of_ours_are_refused_before_anything_is_made() {
    let taken = TcpListener::bind(("0.0.0.0", 0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    let id = Docker::new_cluster_id();
    let refused = |backend: Docker| {
        Cluster::builder(backend.cluster_id(&id))
            .masters(1)
            .agents(0)
            .public_agents(0)
            .provision()
            .unwrap_err()
    };
    let parameter = |e: Error| match e {
        Error::InvalidParameter { parameter, .. } => parameter,
        other => panic!("expected a refused parameter, got {other}"),
    };
    assert_eq!(
        parameter(refused(common::docker().one_master_host_port(port, 80))),
        Parameter::OneMasterHostPortMap
    );
    assert_eq!(
        parameter(refused(
            common::docker().label("dcos-e2e.cluster-id", "evil")
        )),
        Parameter::Labels
    );
    assert_eq!(
        parameter(refused(common::docker().role_label(
            Role::Agent,
            "bad key",
            "x"
        ))),
        Parameter::Labels
    );
    assert_gone(&id, None);

    // The CLI: a malformed label is a usage error; one of ours names the flag.
    let malformed = minidcos(&["docker", "create", "--label", "novalue"]);
    assert_eq!(malformed.code, Some(2), "{malformed:?}");
    let ours = minidcos(&[
        "docker",
        "create",
        "--label",
        "dcos-e2e.role=x",
        "--cluster-id",
        &id,
    ]);
    assert_eq!(ours.code, Some(1), "{ours:?}");
    assert!(ours.stderr.contains("--label"), "{ours:?}");
    let port_taken = minidcos(&[
        "docker",
        "create",
        "--one-master-host-port-map",
        &format!("{port}:80"),
        "--cluster-id",
        &id,
    ]);
    assert_eq!(port_taken.code, Some(1), "{port_taken:?}");
    assert!(
        port_taken.stderr.contains("--one-master-host-port-map"),
        "{port_taken:?}"
    );
    assert_gone(&id, None);
    drop(taken);
}
