//! Containers in the nodes: they run with networking on agents, images load from the
//! host into every node, loading refuses a missing image and nodes without an engine,
//! and destroy leaves nothing of them on the host.

use std::process::Command as Proc;
use std::sync::{Arc, Mutex};

use dcos_e2e::Error;
use dcos_e2e::blocking::{self, Cluster, Node};
use dcos_e2e::docker::{Distribution, EngineState};

use super::{TinyImage, assert_containers_network, assert_node_is_ours, engine_backend, sh};
use crate::common;

/// Full ids of the containers the node's engine runs or ran.
fn inner_containers(node: &Node) -> Vec<String> {
    sh(node, "docker ps -aq --no-trunc")
        .lines()
        .map(str::to_string)
        .collect()
}

/// Directories anywhere under /sys/fs/cgroup whose name holds one of `ids`.
fn cgroup_dirs_naming(ids: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![std::path::PathBuf::from("/sys/fs/cgroup")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().to_string();
            if ids.iter().any(|id| name.contains(id.as_str())) {
                found.push(entry.path().display().to_string());
            }
            stack.push(entry.path());
        }
    }
    found
}

/// Mount table lines (this process's and the host init's) naming one of `words`.
fn mounts_naming(words: &[String]) -> Vec<String> {
    ["/proc/self/mountinfo", "/proc/1/mountinfo"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| t.lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|l| words.iter().any(|w| l.contains(w.as_str())))
        .collect()
}

#[test]
fn engine_nodes_run_networked_containers_and_destroy_leaves_nothing() {
    let image = TinyImage::new();
    let backend = engine_backend(Distribution::Bookworm);
    let mounts_before = common::host_mounts();
    let cluster = Cluster::builder(backend)
        .masters(1)
        .agents(1)
        .public_agents(1)
        .provision()
        .unwrap();
    let id = cluster.id().to_string();
    let workspace = cluster.workspace().map(|w| w.to_path_buf());

    // Nothing started the engines yet: they wait on their socket.
    for node in cluster.nodes() {
        let status = blocking::docker::engine_status(node).unwrap();
        assert_eq!(status.state, EngineState::OnDemand, "{node}");
    }
    // Every node's engine answers, with the systemd cgroup driver and a storage driver
    // it chose itself, as the library reports it.
    for node in cluster.nodes() {
        let info = sh(node, "docker info --format '{{.Driver}} {{.CgroupDriver}}'");
        let (driver, cgroups) = info.split_once(' ').unwrap();
        assert!(
            ["overlay2", "fuse-overlayfs", "vfs"].contains(&driver),
            "{info}"
        );
        assert_eq!(cgroups, "systemd");
        let status = blocking::docker::engine_status(node).unwrap();
        assert_eq!(status.state, EngineState::Running);
        assert_eq!(status.storage_driver.as_deref(), Some(driver));
        assert!(status.detail.is_some(), "the reason for {driver} is told");
    }
    assert_node_is_ours(&cluster.masters()[0], Distribution::Bookworm);

    // Loaded from the host's daemon into every node, with progress.
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let all: Vec<&Node> = cluster.nodes().collect();
    cluster
        .load_images(
            &[&image.0],
            &all,
            Some(Arc::new(move |l: &str| sink.lock().unwrap().push(l.into()))),
        )
        .unwrap();
    for node in cluster.nodes() {
        sh(
            node,
            &format!("docker image inspect {} >/dev/null", image.0),
        );
    }
    let lines = lines.lock().unwrap().clone();
    assert_eq!(
        lines.iter().filter(|l| l.contains("Loaded image")).count(),
        3,
        "one line per node: {lines:?}"
    );

    let agent = &cluster.agents()[0];
    assert_containers_network(agent, &image.0);

    // Two agents each run containers at once.
    let agents = [&cluster.agents()[0], &cluster.public_agents()[0]];
    std::thread::scope(|s| {
        for agent in agents {
            let tag = &image.0;
            s.spawn(move || {
                sh(
                    agent,
                    &format!(
                        "for i in 1 2 3; do docker run -d --label busy=1 {tag} \
                         python3 -c 'import time; time.sleep(600)' >/dev/null; done"
                    ),
                )
            });
        }
    });
    for agent in agents {
        assert_eq!(
            sh(agent, "docker ps -q --filter label=busy=1 | wc -l"),
            "3",
            "{agent}"
        );
    }

    // What destroy must take along: the inner containers and the nodes themselves.
    let mut ids: Vec<String> = cluster.nodes().flat_map(inner_containers).collect();
    assert!(ids.len() >= 7, "{ids:?}");
    for node in cluster.nodes() {
        ids.push(common::docker_inspect(
            "{{.Id}}",
            node.container_name().unwrap(),
        ));
    }
    assert!(
        !cgroup_dirs_naming(&ids).is_empty(),
        "the inner containers' cgroups exist while they run (else the check below proves nothing)"
    );
    common::assert_host_mounts_as(&mounts_before, "while engines run containers");
    cluster.destroy().unwrap();

    common::assert_gone(&id, workspace.as_deref());
    common::assert_host_mounts_as(&mounts_before, "after destroy");
    let left = cgroup_dirs_naming(&ids);
    assert!(left.is_empty(), "cgroup directories left: {left:?}");
    let mut words = ids.clone();
    words.push(id.clone());
    let mounts = mounts_naming(&words);
    assert!(mounts.is_empty(), "mounts left: {mounts:?}");
}

#[test]
fn loading_refuses_a_missing_image_and_nodes_without_an_engine() {
    let cluster = common::one_master();
    let master = cluster.masters()[0].to_string();
    let missing = "dcos-e2e-test/never-built:nope";
    let err = cluster.load_image(missing).unwrap_err();
    assert!(
        matches!(&err, Error::ImageMissing { image, .. } if image == missing),
        "{err}"
    );
    // The default image has no engine: the node is named, nothing is sent.
    let err = cluster.load_image(common::node_image()).unwrap_err();
    assert!(
        matches!(&err, Error::NoEngine { node } if *node == master),
        "{err}"
    );
    assert_eq!(
        blocking::docker::engine_status(&cluster.masters()[0])
            .unwrap()
            .state,
        EngineState::Absent
    );
    // A node of another cluster is not this cluster's to load into: it is named, and
    // nothing reaches it through this cluster's daemons.
    let other = common::one_master();
    let stranger = &other.masters()[0];
    let err = cluster
        .load_images(&[common::node_image()], &[stranger], None)
        .unwrap_err();
    assert!(
        matches!(&err, Error::NoSuchNode { selector, cluster_id }
            if *selector == stranger.to_string() && cluster_id == cluster.id()),
        "{err}"
    );

    // The same from the command line: one line naming the image, or the node, and a hint.
    let cli = |args: &[&str]| {
        Proc::new(common::minidcos())
            .args(["docker", "load-image", cluster.id()])
            .args(args)
            .output()
            .unwrap()
    };
    let out = cli(&[missing]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(missing) && err.contains("hint:"), "{err}");
    let out = cli(&[common::node_image(), "--node", "master:1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&master) && err.contains("no container engine") && err.contains("--engine"),
        "{err}"
    );
}
