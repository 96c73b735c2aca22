//! Shared by the integration tests: the repository's files, the node image (built once,
//! then reused by every test process), cluster builders, and leftover checks.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command as Proc;
use std::sync::OnceLock;

use dcos_e2e::Docker;
use dcos_e2e::blocking;
use dcos_e2e::docker::{ImageOptions, labels};

/// The default node image, built if missing (the build is shared across processes).
pub fn node_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        blocking::docker::ensure_node_image(&ImageOptions::default()).expect("node image builds")
    })
}

/// A Docker backend on the shared image.
pub fn docker() -> Docker {
    node_image();
    Docker::new()
}

/// A provisioned cluster of one master on the shared image.
pub fn one_master() -> blocking::Cluster {
    one_master_on(docker())
}

/// A provisioned cluster of one master on this backend.
pub fn one_master_on(backend: Docker) -> blocking::Cluster {
    blocking::Cluster::builder(backend)
        .masters(1)
        .agents(0)
        .public_agents(0)
        .provision()
        .expect("a one-master cluster provisions")
}

/// The repository root. The tests are declared from a package below it, so this is the
/// first directory at or above the package's that holds the test fixtures.
pub fn repo_root() -> &'static Path {
    let package = Path::new(env!("CARGO_MANIFEST_DIR"));
    package
        .ancestors()
        .find(|dir| dir.join("tests/fixtures/sample-installer").is_dir())
        .unwrap_or(package)
}

/// The sample installer shipped as a test fixture.
pub fn sample_installer() -> PathBuf {
    repo_root().join("tests/fixtures/sample-installer/dcos_generate_config.sh")
}

/// The sample installer at another version, in `dir` (as a second artifact would be).
pub fn sample_installer_at(version: &str, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(sample_installer()).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("SAMPLE_DCOS_VERSION="))
        .expect("the sample installer names its version");
    let path = dir.join(format!("dcos_generate_config-{version}.sh"));
    std::fs::write(
        &path,
        text.replacen(line, &format!("SAMPLE_DCOS_VERSION={version}"), 1),
    )
    .unwrap();
    path
}

/// The sample installer's cluster becomes healthy and its integration tests pass.
pub fn healthy_and_tested(cluster: &blocking::Cluster) {
    cluster
        .wait_for_dcos(std::time::Duration::from_secs(120))
        .unwrap();
    let out = cluster
        .run_integration_tests(["pytest", "-x"], std::collections::BTreeMap::new())
        .unwrap();
    assert!(
        out.stdout_text().contains("8 passed"),
        "{}",
        out.stdout_text()
    );
}

/// `minidcos ARGS`, which must succeed; its standard output.
pub fn minidcos_ok(args: &[&str]) -> String {
    let out = Proc::new(minidcos()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "minidcos {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Path of the built `minidcos` binary.
pub fn minidcos() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_minidcos"))
}

/// Docker objects carrying the cluster's label, by kind: (containers, networks, volumes).
pub fn leftovers(cluster_id: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    leftovers_at(None, cluster_id)
}

/// `docker [-H HOST] ARGS`, which must succeed (a failed listing would otherwise look
/// like "nothing there"); its non-empty stdout lines.
pub fn docker_lines(host: Option<&str>, args: &[&str]) -> Vec<String> {
    let out = Proc::new("docker")
        .args(host.map(|h| ["-H", h]).into_iter().flatten())
        .args(args)
        .output()
        .expect("docker CLI runs");
    assert!(
        out.status.success(),
        "docker {host:?} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// [`leftovers`] on the daemon at `host` (default: the `docker` CLI's).
pub fn leftovers_at(
    host: Option<&str>,
    cluster_id: &str,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let filter = format!("label={}={}", labels::CLUSTER_ID, cluster_id);
    let list = |args: &[&str]| docker_lines(host, args);
    (
        list(&["ps", "-a", "-q", "--filter", &filter]),
        list(&["network", "ls", "-q", "--filter", &filter]),
        list(&["volume", "ls", "-q", "--filter", &filter]),
    )
}

/// How many containers carry the cluster's label, running or not.
pub fn containers_of(cluster_id: &str) -> usize {
    leftovers(cluster_id).0.len()
}

/// Names of the cluster's running containers (`docker ps`, nodes and watchdog), of one
/// role if given.
pub fn running(cluster_id: &str, role: Option<&str>) -> Vec<String> {
    let mut args = vec![
        "ps".to_string(),
        "--format".into(),
        "{{.Names}}".into(),
        "--filter".into(),
        format!("label={}={cluster_id}", labels::CLUSTER_ID),
    ];
    if let Some(role) = role {
        args.extend(["--filter".into(), format!("label={}={role}", labels::ROLE)]);
    }
    let out = Proc::new("docker").args(&args).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Workspaces of the cluster in the default place: `ID-*` in the temporary directory.
pub fn temp_workspaces(cluster_id: &str) -> Vec<PathBuf> {
    let prefix = format!("{cluster_id}-");
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

/// Assert nothing of the cluster is left: containers, networks, volumes, workspace.
pub fn assert_gone(cluster_id: &str, workspace: Option<&Path>) {
    let (c, n, v) = leftovers(cluster_id);
    assert!(
        c.is_empty() && n.is_empty() && v.is_empty(),
        "left behind by {cluster_id}: containers {c:?}, networks {n:?}, volumes {v:?}"
    );
    if let Some(ws) = workspace {
        assert!(!ws.exists(), "workspace {} left behind", ws.display());
    }
}

/// Remove a cluster the test kept on purpose.
pub fn force_remove(cluster_id: &str) {
    blocking::docker::destroy_cluster(cluster_id).expect("destroy by id");
}

/// `docker inspect -f FORMAT NAME`; the object must exist (a failed inspect is not an
/// empty answer).
pub fn docker_inspect(format: &str, name: &str) -> String {
    let out = Proc::new("docker")
        .args(["inspect", "-f", format, name])
        .output()
        .expect("docker CLI runs");
    assert!(
        out.status.success(),
        "docker inspect {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `docker ARGS`, which must succeed.
pub fn docker_cli(args: &[&str]) {
    let status = Proc::new("docker")
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("docker CLI runs");
    assert!(status.success(), "docker {args:?}");
}

/// `docker pause`, tried again a few times: the cgroup freezer gives up ("unable to
/// freeze") while a process in the container waits on busy storage.
pub fn pause(container: &str) {
    for _ in 0..5 {
        let out = Proc::new("docker")
            .args(["pause", container])
            .output()
            .expect("docker CLI runs");
        if out.status.success() {
            return;
        }
        eprintln!(
            "docker pause {container}: {}; again",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    panic!("docker pause {container} kept failing");
}

/// This machine's own mounts (`scripts/host-mounts`: the mount table without what
/// containers and network namespaces made by other tests bring and take away).
pub fn host_mounts() -> Vec<String> {
    let out = Proc::new(repo_root().join("scripts/host-mounts"))
        .output()
        .expect("scripts/host-mounts runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The host's mounts are as they were `before`; on a difference, says which lines went
/// and which came, and `when`.
pub fn assert_host_mounts_as(before: &[String], when: &str) {
    let now = host_mounts();
    let gone: Vec<_> = before.iter().filter(|l| !now.contains(l)).collect();
    let came: Vec<_> = now.iter().filter(|l| !before.contains(l)).collect();
    assert!(
        gone.is_empty() && came.is_empty(),
        "the host's mounts changed {when}:\n  was: {gone:#?}\n  now: {came:#?}"
    );
}

/// One test per transport (`ssh::CASE`, `docker_exec::CASE`) for each `async fn
/// CASE(kind: TransportKind)` of the module it is used in.
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
