//! Faults on demand: nodes stopped, started, restarted, paused, resumed and killed.

mod links;
mod network;

use std::process::Command as Proc;
use std::time::Duration;

use dcos_e2e::blocking::Cluster;
use dcos_e2e::{Error, InstallOptions, NodeState, TransportKind};

use crate::common::{self, assert_gone, docker_inspect};

fn cluster(masters: usize, agents: usize, transport: TransportKind) -> Cluster {
    Cluster::builder(common::docker().transport(transport))
        .masters(masters)
        .agents(agents)
        .public_agents(0)
        .provision()
        .expect("the cluster provisions")
}

fn address_of(container: &str) -> String {
    docker_inspect(
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        container,
    )
}

/// A container of the user's own on the cluster's network; removed when dropped.
struct Stranger(String);

impl Stranger {
    fn join(network: &str) -> Self {
        let name = format!("stranger-{}", std::process::id());
        let out = Proc::new("docker")
            .args(["run", "-d", "--name", &name, "--network", network])
            .args(["--entrypoint", "sleep", common::node_image(), "600"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self(name)
    }
}

impl Drop for Stranger {
    fn drop(&mut self) {
        let _ = Proc::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

/// A stopped master refuses commands at once, saying so; `wait_for_dcos` names it. A
/// container that joins the network meanwhile does not get its address; started again,
/// it is back on that address, SSH works with the host key pinned at create, its disk
/// kept what was written and the installed system is healthy again.
#[test]
fn a_stopped_master_comes_back_on_its_address_with_its_key_and_disk() {
    let c = cluster(1, 1, TransportKind::Ssh);
    let id = c.id().to_string();
    c.install(&InstallOptions::new(common::sample_installer()))
        .unwrap();
    c.wait_for_dcos(Duration::from_secs(300)).unwrap();
    let master = &c.masters()[0];
    let container = master.container_name().unwrap().to_string();
    let before = master.ip_address();
    master
        .run([
            "sh",
            "-c",
            "echo kept > /root/mark && echo gone > /run/mark",
        ])
        .unwrap();

    master.stop().unwrap();
    assert_eq!(master.state().unwrap(), NodeState::Stopped);
    assert_eq!(docker_inspect("{{.State.Running}}", &container), "false");
    match master.run(["true"]) {
        Err(Error::NodeDown { node, state }) => {
            assert_eq!(state, NodeState::Stopped);
            assert!(node.contains(&before.to_string()), "{node}");
        }
        other => panic!("expected Error::NodeDown, got {other:?}"),
    }
    let err = c.wait_for_dcos(Duration::from_secs(2)).unwrap_err();
    assert!(
        matches!(&err, Error::WaitTimeout { failing, .. } if failing.iter().any(|f| f.contains(&before.to_string()))),
        "{err}"
    );
    let stranger = Stranger::join(&id);
    assert_ne!(address_of(&stranger.0), before.to_string());

    master.start().unwrap();
    assert_eq!(master.state().unwrap(), NodeState::Running);
    assert_eq!(address_of(&container), before.to_string());
    assert_eq!(master.ip_address(), before);
    let marks = master
        .run([
            "sh",
            "-c",
            "cat /root/mark; cat /run/mark 2>/dev/null || echo none",
        ])
        .unwrap()
        .stdout_text();
    assert_eq!(marks, "kept\nnone", "the disk is kept, the tmpfs is new");
    c.wait_for_dcos(Duration::from_secs(300)).unwrap();
    // A handle found afresh reaches it too (the address is read back from Docker).
    let again = Cluster::attach_docker(&id, None).unwrap();
    assert_eq!(again.masters()[0].ip_address(), before);
    again.masters()[0].run(["true"]).unwrap();
    drop(stranger);
    c.destroy().unwrap();
    assert_gone(&id, None);
}

/// A paused agent: commands to it fail at once with `NodeDown` (also through a handle
/// found afresh, as the CLI has), the other node goes on; resumed, it runs commands on
/// the connection it had, and nothing of it was lost.
/// Paused again and stopped, it is halted by its init.
#[test]
fn a_paused_agent_fails_fast_and_resumes_where_it_was() {
    let c = cluster(1, 1, TransportKind::Ssh);
    let id = c.id().to_string();
    let agent = &c.agents()[0];
    let pid = agent
        .run(["sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $!"])
        .unwrap()
        .stdout_text();

    agent.pause().unwrap();
    assert_eq!(agent.state().unwrap(), NodeState::Paused);
    assert!(matches!(
        agent.run(["true"]),
        Err(Error::NodeDown {
            state: NodeState::Paused,
            ..
        })
    ));
    let found = Cluster::attach_docker(&id, None).unwrap();
    assert!(matches!(
        found.agents()[0].run(["true"]),
        Err(Error::NodeDown {
            state: NodeState::Paused,
            ..
        })
    ));
    c.masters()[0].run(["true"]).unwrap();

    agent.resume().unwrap();
    agent.run(["kill", "-0", &pid]).unwrap();
    // Asking twice is asking once.
    agent.resume().unwrap();
    // A paused node stopped is halted by its init, not killed after the grace.
    agent.pause().unwrap();
    agent.stop().unwrap();
    let container = agent.container_name().unwrap();
    assert_eq!(docker_inspect("{{.State.ExitCode}}", container), "0");
    drop(found);
    c.destroy().unwrap();
    assert_gone(&id, None);
}

/// A restart (and a kill, then a start) over docker exec: the node boots afresh on its
/// address; a node paused when the cluster is destroyed goes with it.
#[test]
fn restart_and_kill_over_docker_exec_and_a_paused_node_is_destroyed() {
    let c = cluster(1, 1, TransportKind::DockerExec);
    let id = c.id().to_string();
    let master = &c.masters()[0];
    let before = master.ip_address();
    let boot = |n: &dcos_e2e::blocking::Node| n.run(["cat", "/proc/sys/kernel/random/boot_id"]);
    let pid1_start = |n: &dcos_e2e::blocking::Node| {
        n.run(["sh", "-c", "cut -d' ' -f22 /proc/1/stat"])
            .unwrap()
            .stdout_text()
    };
    boot(master).unwrap();
    let first = pid1_start(master);
    master.restart().unwrap();
    let second = pid1_start(master);
    assert_ne!(first, second, "a new init");
    assert_eq!(
        address_of(master.container_name().unwrap()),
        before.to_string()
    );

    assert_eq!(master.kill("SIGKILL").unwrap(), NodeState::Stopped);
    assert!(matches!(master.run(["true"]), Err(Error::NodeDown { .. })));
    master.start().unwrap();
    assert_ne!(pid1_start(master), second);
    assert!(matches!(
        master.kill(" "),
        Err(Error::InvalidParameter { .. })
    ));

    c.agents()[0].pause().unwrap();
    c.destroy().unwrap();
    assert_gone(&id, None);
}

/// The CLI: `minidcos docker node pause|resume|stop|start|kill`, and `run` on a paused
/// node failing at once with a hint.
#[test]
fn the_cli_injects_node_faults() {
    let c = cluster(1, 1, TransportKind::Ssh);
    let id = c.id().to_string();
    let minidcos = |args: &[&str]| {
        let out = Proc::new(common::minidcos()).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (status, out, err) = minidcos(&["docker", "node", "pause", &id, "agent:1"]);
    assert_eq!(status, Some(0), "{err}");
    assert!(out.contains("paused"), "{out}");
    let (status, _, err) = minidcos(&["docker", "run", &id, "--node", "agent:1", "--", "true"]);
    assert_eq!(status, Some(1));
    assert!(err.contains("is paused") && err.contains("hint:"), "{err}");
    let (status, _, err) = minidcos(&["docker", "node", "resume", &id, "agent:1"]);
    assert_eq!(status, Some(0), "{err}");
    let (status, _, err) = minidcos(&["docker", "run", &id, "--node", "agent:1", "--", "true"]);
    assert_eq!(status, Some(0), "{err}");
    let (status, out, err) = minidcos(&["--json", "docker", "node", "kill", &id, "all"]);
    assert_eq!(status, Some(0), "{err}");
    let states: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(states.as_array().unwrap().len(), 2, "{out}");
    assert!(
        states
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "stopped"),
        "{out}"
    );
    let (status, _, err) = minidcos(&["docker", "node", "start", &id, "all"]);
    assert_eq!(status, Some(0), "{err}");
    c.agents()[0].run(["true"]).unwrap();
    let (status, _, err) = minidcos(&["docker", "node", "stop", &id, "agent:9"]);
    assert_eq!(status, Some(1));
    assert!(err.contains("agent:9"), "{err}");
    c.destroy().unwrap();
    assert_gone(&id, None);
}
