//! Bad input, cluster ids, daemon failures and failures part-way, given networks and
//! scopes.

use std::panic::catch_unwind;
use std::process::Command as Proc;

use dcos_e2e::blocking::Cluster;
use dcos_e2e::{Aftermath, Docker, Error, Mount};

use crate::common::{self, assert_gone, docker_inspect, force_remove, leftovers};

fn invalid_parameter(err: Error) -> (String, String) {
    match err {
        Error::InvalidParameter {
            parameter, value, ..
        } => (parameter.to_string(), value),
        Error::ClusterIdTaken { cluster_id } => ("cluster_id".into(), cluster_id),
        other => panic!("expected an invalid parameter, got: {other}"),
    }
}

#[test]
fn bad_input_is_refused_before_anything_is_made() {
    let id = Docker::new_cluster_id();
    let backend = || common::docker().cluster_id(&id);

    let err = Cluster::builder(backend())
        .masters(0)
        .provision()
        .unwrap_err();
    assert_eq!(invalid_parameter(err), ("masters".into(), "0".into()));

    let missing = std::env::temp_dir().join("dcos-e2e-no-such-dir");
    let err = Cluster::builder(backend().master_mount(Mount::new(&missing, "/x")))
        .provision()
        .unwrap_err();
    assert_eq!(
        invalid_parameter(err),
        ("master_mounts".into(), missing.display().to_string())
    );

    let err = Cluster::builder(common::docker().cluster_id("bad id!"))
        .provision()
        .unwrap_err();
    assert_eq!(
        invalid_parameter(err),
        ("cluster_id".into(), "bad id!".into())
    );

    let err = Cluster::builder(backend())
        .build_artifact("/nonexistent/installer.sh")
        .create()
        .unwrap_err();
    assert_eq!(invalid_parameter(err).0, "build_artifact");
    let dir = tempfile::tempdir().unwrap();
    let err = Cluster::builder(backend())
        .build_artifact(dir.path())
        .create()
        .unwrap_err();
    assert_eq!(
        invalid_parameter(err),
        ("build_artifact".into(), dir.path().display().to_string())
    );
    let err = Cluster::builder(backend()).create().unwrap_err();
    assert_eq!(
        invalid_parameter(err).0,
        "build_artifact",
        "the Docker backend's create needs an artifact"
    );

    assert_gone(&id, None);
}

#[test]
fn a_used_cluster_id_is_refused() {
    let first = common::one_master();
    let err = Cluster::builder(common::docker().cluster_id(first.id()))
        .masters(1)
        .agents(0)
        .public_agents(0)
        .provision()
        .unwrap_err();
    assert_eq!(
        invalid_parameter(err),
        ("cluster_id".into(), first.id().to_string())
    );
    assert_eq!(
        first.masters()[0].run(["true"]).unwrap().status,
        0,
        "the first cluster is untouched"
    );
}

#[test]
fn two_creates_racing_for_one_id_leave_the_winner_intact() {
    let id = Docker::new_cluster_id();
    let create = || {
        let id = id.clone();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let made = Cluster::builder(common::docker().cluster_id(&id))
                .masters(2)
                .agents(0)
                .public_agents(0)
                .provision();
            (started, std::time::Instant::now(), made)
        })
    };
    let (a, b) = (create(), create());
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    // The two were under way at the same time: a race, not one after the other.
    assert!(a.0 < b.1 && b.0 < a.1, "the creates did not overlap");
    let results = [a.2, b.2];
    let (won, lost): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    assert_eq!(won.len(), 1, "one create wins: {lost:?}");
    let lost = lost.into_iter().next().unwrap().unwrap_err();
    eprintln!("the losing create: {}", dcos_e2e::chain(&lost));
    // It lost the id: refused at once, or (the id claimed under it) part-way.
    let id_taken = lost.find(|e| matches!(e, Error::ClusterIdTaken { .. }).then_some(()));
    assert!(id_taken.is_some(), "{lost}");
    let winner = won.into_iter().next().unwrap().unwrap();
    for master in winner.masters() {
        assert_eq!(
            master.run(["true"]).unwrap().status,
            0,
            "the winner's nodes are untouched"
        );
    }
    let workspace = winner.workspace().unwrap().to_path_buf();
    assert!(workspace.is_dir());
    let (containers, networks, _) = leftovers(&id);
    assert_eq!(networks.len(), 1, "{networks:?}");
    assert!(containers.len() >= 2, "{containers:?}");
    drop(winner);
    assert_gone(&id, Some(&workspace));
}

#[test]
fn destroy_by_id_finds_the_workspace_when_only_volumes_are_left() {
    let cluster = common::one_master();
    let id = cluster.id().to_string();
    let workspace = cluster.workspace().unwrap().to_path_buf();
    let (containers, networks, volumes) = leftovers(&id);
    assert!(!volumes.is_empty());
    // Someone removed the containers and the network by hand.
    for args in [
        [
            &["rm", "-f"][..],
            &containers.iter().map(String::as_str).collect::<Vec<_>>(),
        ]
        .concat(),
        [
            &["network", "rm"][..],
            &networks.iter().map(String::as_str).collect::<Vec<_>>(),
        ]
        .concat(),
    ] {
        let out = Proc::new("docker").args(&args).output().unwrap();
        assert!(out.status.success(), "docker {args:?}");
    }
    force_remove(&id);
    assert_gone(&id, Some(&workspace));
    drop(cluster);
}

#[test]
fn unreachable_daemon_is_a_typed_error() {
    // A child process: DOCKER_HOST must not leak into other tests.
    let out = Proc::new(common::minidcos())
        .args([
            "docker",
            "create",
            "--masters",
            "1",
            "--agents",
            "0",
            "--public-agents",
            "0",
            "--node-image",
            "x",
        ])
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot reach the Docker daemon"), "{err}");
    // And the library's own error is the typed one (in a child: this very test binary).
    let child = Proc::new("/proc/self/exe")
        .args([
            "docker::input::unreachable_daemon_child",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&child.stderr)
    );
    assert!(said.contains("1 passed"), "{said}");
}

#[test]
#[ignore = "run as a child process by unreachable_daemon_is_a_typed_error"]
fn unreachable_daemon_child() {
    let err = Cluster::builder(Docker::new().node_image("x"))
        .provision()
        .unwrap_err();
    assert!(matches!(err, Error::DockerUnreachable { .. }), "{err}");
}

/// An image that exists but cannot boot: creation fails after the network and
/// containers exist, and everything made so far is removed.
#[test]
fn failure_part_way_leaves_nothing() {
    let tag = format!("dcos-e2e-test/broken:{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README"), "not a machine").unwrap();
    let tar = Proc::new("tar")
        .args(["-C"])
        .arg(dir.path())
        .args(["-cf", "-", "."])
        .output()
        .unwrap();
    let mut import = Proc::new("docker")
        .args(["import", "-c", "LABEL dcos-e2e.test=1", "-", &tag])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    import.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
    assert!(import.wait().unwrap().success());

    let workspaces = tempfile::tempdir().unwrap();
    let id = Docker::new_cluster_id();
    let err = Cluster::builder(
        Docker::new()
            .cluster_id(&id)
            .node_image(&tag)
            .workspace_dir(workspaces.path()),
    )
    .provision()
    .unwrap_err();
    let _ = Proc::new("docker").args(["rmi", "-f", &tag]).output();
    match &err {
        Error::CreateFailed(f) if f.aftermath == Aftermath::Removed => {
            assert_eq!(f.cluster_id, id)
        }
        other => panic!("expected CreateFailed, got {other}"),
    }
    assert_gone(&id, None);
    assert_eq!(
        std::fs::read_dir(workspaces.path()).unwrap().count(),
        0,
        "workspace removed"
    );
}

#[test]
fn nodes_join_a_given_network_which_stays() {
    let name = format!("dcos-e2e-test-net-{}", std::process::id());
    let made = Proc::new("docker")
        .args(["network", "create", &name])
        .output()
        .unwrap();
    assert!(made.status.success());
    let result = catch_unwind(|| {
        let cluster = Cluster::builder(common::docker().network(&name))
            .masters(1)
            .agents(1)
            .public_agents(0)
            .provision()
            .unwrap();
        let master = cluster.masters()[0].container_name().unwrap().to_string();
        let on = docker_inspect(
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}",
            &master,
        );
        assert_eq!(on, name);
        let agent = cluster.agents()[0].ip_address().to_string();
        cluster.masters()[0]
            .run([
                "bash",
                "-c",
                &format!("timeout 5 bash -c '</dev/tcp/{agent}/22'"),
            ])
            .unwrap();
        let id = cluster.id().to_string();
        drop(cluster);
        assert_gone(&id, None);
        let inspect = Proc::new("docker")
            .args(["network", "inspect", &name])
            .output()
            .unwrap();
        assert!(
            inspect.status.success(),
            "the user's network is not removed"
        );
    });
    let _ = Proc::new("docker").args(["network", "rm", &name]).output();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// `scope`: an `Err` ends the scope as an error (destroy_on_error), `Ok` as a normal end.
#[test]
fn scope_applies_the_policy_for_how_it_ended() {
    let make = |id: &str| {
        Cluster::builder(common::docker().cluster_id(id))
            .masters(1)
            .agents(0)
            .public_agents(0)
            .destroy_on_success(false)
            .destroy_on_error(true)
            .provision()
            .unwrap()
    };
    let failed_id = Docker::new_cluster_id();
    let result = make(&failed_id).scope(|c| c.masters()[0].run(["false"]));
    assert_eq!(result.unwrap_err().exit_status(), Some(1));
    assert_gone(&failed_id, None);

    let ok_id = Docker::new_cluster_id();
    let result = make(&ok_id).scope(|c| c.masters()[0].run(["true"]));
    assert!(result.is_ok());
    let (containers, _, _) = leftovers(&ok_id);
    force_remove(&ok_id);
    assert_eq!(containers.len(), 1, "kept: destroy_on_success is false");
    assert_gone(&ok_id, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn async_scope_destroys_on_error() {
    let id = Docker::new_cluster_id();
    // The shared image helper blocks: keep it off the runtime's threads.
    let backend = tokio::task::spawn_blocking(common::docker).await.unwrap();
    let cluster = dcos_e2e::Cluster::builder(backend.cluster_id(&id))
        .masters(1)
        .agents(0)
        .public_agents(0)
        .destroy_on_success(false)
        .provision()
        .await
        .unwrap();
    let result = cluster
        .scope(async |c: &dcos_e2e::Cluster| c.masters()[0].run(["sh", "-c", "exit 3"]).await)
        .await;
    assert_eq!(result.unwrap_err().exit_status(), Some(3));
    assert_gone(&id, None);
}
