//! Hosts that stop answering: a stopped node, and a frozen host with stock sshd limits.

use std::path::Path;
use std::time::{Duration, Instant};

use dcos_e2e::{Command, Error, ExistingCluster, Host};

use super::{CONNECT_TIMEOUT, docker_cluster, existing_builder, pinned_keys};
use crate::common::{self, docker_cli};

/// A node that stops answering (its container stopped) gives `Error::Timeout` naming
/// it within the connect timeout, not a hang; the other nodes keep working.
#[test]
fn a_stopped_node_times_out() {
    let original = docker_cluster(1, 1, 0);
    let id = original.id().to_string();
    let workspace = original.workspace().map(Path::to_path_buf);
    let existing = ExistingCluster::new(
        original.masters(),
        original.agents(),
        Vec::<Host>::new(),
        "root",
    )
    .connect_timeout(CONNECT_TIMEOUT)
    .known_hosts(pinned_keys(&original));
    let wrapped = existing_builder(&existing).provision().unwrap();
    let agent = &wrapped.agents()[0];
    let master = &wrapped.masters()[0];
    agent.run(["true"]).unwrap();
    // Machines it did not make are not its to stop.
    assert!(matches!(agent.pause(), Err(Error::NotSupported { .. })));

    docker_cli(&[
        "stop",
        "--time",
        "1",
        original.agents()[0].container_name().unwrap(),
    ]);
    for attempt in 0..2 {
        let started = Instant::now();
        let err = agent.run(["true"]).unwrap_err();
        let elapsed = started.elapsed();
        match &err {
            Error::Timeout { node, .. } => {
                assert!(
                    node.contains("agent 1") && node.contains(&agent.ip_address().to_string()),
                    "{node}"
                );
            }
            other => panic!("attempt {attempt}: expected Error::Timeout, got {other:?}"),
        }
        assert!(
            elapsed < CONNECT_TIMEOUT + Duration::from_secs(2),
            "attempt {attempt} took {elapsed:?}"
        );
    }
    master.run(["true"]).unwrap();
    drop(wrapped);

    original.destroy().unwrap();
    drop(original);
    common::assert_gone(&id, workspace.as_deref());
}

/// A host with OpenSSH's default `MaxSessions 10` (our node image allows more): many
/// more concurrent commands than that all succeed (sshd frees a session slot a moment
/// after a command ends, and a new channel must not be refused in that moment). Then
/// the host freezes (`docker pause`: a network blip) while commands wait on its
/// connection: they fail within the connect timeout, and once it answers again commands
/// work (channels opened for commands that gave up must not use up its sessions).
#[test]
fn stock_sshd_many_commands_and_a_freeze() {
    let original = docker_cluster(1, 0, 0);
    let id = original.id().to_string();
    let workspace = original.workspace().map(Path::to_path_buf);
    let node = &original.masters()[0];
    // First match wins in sshd_config: this comes before the image's own settings.
    node.run(Command::shell(
        "echo 'MaxSessions 10' > /etc/ssh/sshd_config.d/00-max-sessions.conf \
         && systemctl reload ssh",
    ))
    .unwrap();
    let existing = ExistingCluster::new(
        original.masters(),
        Vec::<Host>::new(),
        Vec::<Host>::new(),
        "root",
    )
    .connect_timeout(CONNECT_TIMEOUT)
    .known_hosts(pinned_keys(&original));
    let wrapped = existing_builder(&existing).provision().unwrap();
    let host = &wrapped.masters()[0];
    // sshd re-executes itself on reload and refuses connections for a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(e) = host.run(["true"]) {
        assert!(Instant::now() < deadline, "sshd did not come back: {e}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let container = node.container_name().unwrap();

    let many = |n: usize, cmd: &[&str]| -> Vec<dcos_e2e::Result<dcos_e2e::Output>> {
        std::thread::scope(|s| {
            let runs: Vec<_> = (0..n).map(|_| s.spawn(|| host.run(cmd))).collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        })
    };
    for (i, r) in many(40, &["sleep", "0.2"]).into_iter().enumerate() {
        r.unwrap_or_else(|e| panic!("concurrent run {i}: {}", dcos_e2e::chain(&e)));
    }

    common::pause(container);
    let started = Instant::now();
    let results = many(10, &["true"]);
    let elapsed = started.elapsed();
    docker_cli(&["unpause", container]);
    for r in results {
        let err = r.expect_err("a frozen host runs nothing");
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    }
    eprintln!("the frozen host's commands gave up after {elapsed:?}");

    // More than 10 sessions' worth of commands, some at once: the channels opened for
    // the commands that gave up must not use up the host's sessions.
    for i in 0..12 {
        host.run(["true"])
            .unwrap_or_else(|e| panic!("run {i} after the freeze: {}", dcos_e2e::chain(&e)));
    }
    for (i, r) in many(40, &["sleep", "0.2"]).into_iter().enumerate() {
        r.unwrap_or_else(|e| {
            panic!(
                "concurrent run {i} after the freeze: {}",
                dcos_e2e::chain(&e)
            )
        });
    }
    drop(wrapped);

    original.destroy().unwrap();
    drop(original);
    common::assert_gone(&id, workspace.as_deref());
}
