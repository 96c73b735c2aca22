//! A container engine inside nodes (issue 18): it runs containers with networking on
//! agents, images reach it from the host without a registry, destroy leaves nothing
//! (no container, volume, mount or cgroup directory on the host), each distribution
//! builds and boots with our boot tweaks, and bad input is a clear error.

use std::process::{Command as Proc, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use dcos_e2e::blocking::{self, Cluster, Node};
use dcos_e2e::docker::{Distribution, EngineState, ImageOptions, StorageDriver};
use dcos_e2e::{Command, Docker, Error};

use crate::common;

/// The engine image of a distribution, built once (the build is shared across
/// processes).
fn engine_image(distribution: Distribution) -> String {
    static IMAGES: Mutex<Vec<(Distribution, String)>> = Mutex::new(Vec::new());
    if let Some((_, tag)) = IMAGES
        .lock()
        .unwrap()
        .iter()
        .find(|(d, _)| *d == distribution)
    {
        return tag.clone();
    }
    let options = ImageOptions::default()
        .distribution(distribution)
        .engine(true);
    let tag = blocking::docker::ensure_node_image(&options).expect("the engine image builds");
    IMAGES.lock().unwrap().push((distribution, tag.clone()));
    tag
}

/// A backend whose nodes have the engine (our recipe, built when missing).
fn engine_backend(distribution: Distribution) -> Docker {
    engine_image(distribution);
    Docker::new().image_options(
        ImageOptions::default()
            .distribution(distribution)
            .engine(true),
    )
}

/// An image made on the host in the test: `docker import` of a small root filesystem
/// (bash and python3 with their libraries, copied out of our node image, and a tiny
/// web server that needs no DNS). Removed on drop.
struct TinyImage(String);

/// Answers every connection with `200 ok`; says `serving` once it listens.
const WEB_SERVER: &str = r#"import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", 8000))
s.listen(16)
print("serving", flush=True)
while True:
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
    c.close()
"#;

impl TinyImage {
    fn new() -> Self {
        Self::with_filler(0)
    }

    /// With `filler_mb` megabytes of random data in it too.
    fn with_filler(filler_mb: u64) -> Self {
        let tag = format!(
            "dcos-e2e-test/tiny:{}",
            hex::encode(rand::random::<[u8; 4]>())
        );
        // Each library as the loader finds it (a link, its directory resolved) and its
        // real file, plus the merged-/usr links (/bin, /lib, /lib64).
        let script = format!(
            r#"set -e
cat > /web.py <<'PY'
{WEB_SERVER}PY
head -c {filler_mb}000000 /dev/urandom > /filler
py=$(readlink -f /usr/bin/python3)
bins="/usr/bin/bash /usr/bin/cat /usr/bin/hostname $py"
libs=$(for b in $bins; do ldd "$b" | grep -o '/[^ ]*'; done | sort -u | while read -r l; do echo "$(readlink -f "$(dirname "$l")")/$(basename "$l")"; readlink -f "$l"; done | sort -u)
tar -c -f - --exclude=__pycache__ /bin /lib /lib64 /sbin /usr/bin/python3 /web.py /filler $bins $libs "/usr/lib/$(basename "$py")" 2>/dev/null"#
        );
        let mut export = Proc::new("docker")
            .args(["run", "--rm", "--entrypoint", "/bin/sh"])
            .arg(common::node_image())
            .args(["-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .expect("docker CLI runs");
        let tar = export.stdout.take().expect("piped");
        let import = Proc::new("docker")
            .args(["import", "--change", r#"CMD ["/usr/bin/bash"]"#, "-", &tag])
            .stdin(tar)
            .stdout(Stdio::null())
            .status()
            .expect("docker CLI runs");
        let exported = export.wait().expect("docker run ends");
        let image = TinyImage(tag);
        assert!(
            exported.success() && import.success(),
            "the tiny image is made"
        );
        image
    }
}

impl Drop for TinyImage {
    fn drop(&mut self) {
        let _ = Proc::new("docker")
            .args(["rmi", "-f", &self.0])
            .stdout(Stdio::null())
            .status();
    }
}

fn sh(node: &Node, script: &str) -> String {
    node.run(Command::shell(script))
        .unwrap_or_else(|e| panic!("{script}: {}", dcos_e2e::chain(&e)))
        .stdout_text()
}

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

/// The node-boot tweaks of our recipe and DC/OS's prerequisites, on one node.
fn assert_node_is_ours(node: &Node, distribution: Distribution) {
    let codename = sh(node, ". /etc/os-release; echo $VERSION_CODENAME");
    assert_eq!(codename, distribution.name());
    let state = node
        .output(["systemctl", "is-system-running", "--wait"])
        .unwrap()
        .stdout_text();
    let failed = sh(node, "systemctl --failed --no-legend --plain");
    assert!(
        state == "running" && failed.is_empty(),
        "{distribution}: systemd {state}, failed units: {failed}"
    );
    // Masked units stay masked (each is either shipped and masked, or only our mask).
    let masked = sh(
        node,
        "for u in getty@.service systemd-timesyncd.service systemd-sysusers.service \
         systemd-journal-flush.service systemd-remount-fs.service apt-daily.timer; do \
         printf '%s=%s\\n' $u \"$(systemctl is-enabled $u 2>/dev/null)\"; done",
    );
    for line in masked.lines() {
        assert!(line.ends_with("=masked"), "{distribution}: {line}");
    }
    // One host key: the one the harness injected (SSH to the node pinned it).
    assert_eq!(
        sh(node, "ls /etc/ssh/ | grep '^ssh_host_'"),
        "ssh_host_ed25519_key"
    );
    let sshd = sh(
        node,
        "sshd -T | grep -E '^(maxsessions|passwordauthentication) '",
    );
    assert!(
        sshd.contains("maxsessions 256") && sshd.contains("passwordauthentication no"),
        "{distribution}: {sshd}"
    );
    // DC/OS's installer preflight and its services.
    sh(
        node,
        "for c in curl bash ping tar xz unzip ipset systemd-notify lsmod iptables ifconfig gzip; do \
         command -v $c >/dev/null || { echo missing $c >&2; exit 1; }; done; getent group nogroup",
    );
}

/// A web server in one inner container, reached by name from another on an inner
/// network, and through a published port from the node itself.
fn assert_containers_network(node: &Node, image: &str) {
    sh(
        node,
        &format!(
            "docker network create web-net >/dev/null && \
             docker run -d --name web --network web-net -p 8080:8000 {image} python3 -u /web.py >/dev/null && \
             timeout 60 sh -c 'until docker logs web 2>&1 | grep -q serving; do sleep 0.1; done'"
        ),
    );
    let by_name = sh(
        node,
        &format!(
            "docker run --rm --network web-net {image} bash -c \
             'exec 3<>/dev/tcp/web/8000; printf \"GET / HTTP/1.0\\r\\n\\r\\n\" >&3; read -r status <&3; echo \"$status\"'"
        ),
    );
    assert!(by_name.starts_with("HTTP/1.0 200"), "by name: {by_name:?}");
    let published = sh(
        node,
        "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/",
    );
    assert_eq!(published, "200", "through the published port");
}

#[test]
fn engine_nodes_run_networked_containers_and_destroy_leaves_nothing() {
    let image = TinyImage::new();
    let cluster = Cluster::builder(engine_backend(Distribution::Bookworm))
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
    cluster.destroy().unwrap();

    common::assert_gone(&id, workspace.as_deref());
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

/// The storage driver can be chosen; the choice is reported by the library and
/// `inspect`, and images load and run with it (here through the CLI, into one node).
#[test]
fn a_chosen_storage_driver_is_used_and_reported() {
    let image = TinyImage::new();
    let cluster = Cluster::builder(
        engine_backend(Distribution::Bookworm).engine_storage_driver(StorageDriver::Vfs),
    )
    .masters(1)
    .agents(0)
    .public_agents(0)
    .provision()
    .unwrap();
    let master = &cluster.masters()[0];
    assert_eq!(sh(master, "docker info --format '{{.Driver}}'"), "vfs");
    let status = blocking::docker::engine_status(master).unwrap();
    assert_eq!(status.storage_driver.as_deref(), Some("vfs"));
    assert!(status.detail.unwrap().contains("asked for"));

    let out = Proc::new(common::minidcos())
        .args([
            "docker",
            "load-image",
            cluster.id(),
            &image.0,
            "--node",
            "master:1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        sh(
            master,
            &format!("docker run --rm {} hostname | wc -l", image.0)
        ),
        "1"
    );
    let out = Proc::new(common::minidcos())
        .args(["docker", "inspect", cluster.id()])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("running (vfs)"), "{table}");
    let out = Proc::new(common::minidcos())
        .args(["--json", "docker", "inspect", cluster.id()])
        .output()
        .unwrap();
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(view["nodes"][0]["engine"]["state"], "running");
    assert_eq!(view["nodes"][0]["engine"]["storage_driver"], "vfs");

    // An engine that is there but stopped is told apart from none, and named.
    sh(master, "systemctl stop docker.socket docker.service");
    assert_eq!(
        blocking::docker::engine_status(master).unwrap().state,
        EngineState::Stopped
    );
    let err = cluster.load_image(&image.0).unwrap_err();
    assert!(
        matches!(&err, Error::EngineDown { node, .. } if *node == master.to_string()),
        "{err}"
    );
}

/// fuse-overlayfs needs /dev/fuse in the node: asking for it gives the node the
/// host's, and containers run on it.
#[test]
fn fuse_overlayfs_is_given_the_device_it_needs() {
    if !std::path::Path::new("/dev/fuse").exists() {
        panic!("this host has no /dev/fuse; the test needs it");
    }
    let image = TinyImage::new();
    let cluster = Cluster::builder(
        engine_backend(Distribution::Bookworm).engine_storage_driver(StorageDriver::FuseOverlayfs),
    )
    .masters(1)
    .agents(0)
    .public_agents(0)
    .provision()
    .unwrap();
    let master = &cluster.masters()[0];
    assert_eq!(
        sh(master, "docker info --format '{{.Driver}}'"),
        "fuse-overlayfs"
    );
    cluster.load_image(&image.0).unwrap();
    assert_eq!(
        sh(
            master,
            &format!("docker run --rm {} cat /etc/hostname | wc -l", image.0)
        ),
        "1"
    );
}

/// Trixie (the current stable) with its engine: builds, boots with our tweaks, and
/// runs networked containers (its Docker needs the IPv6 setting in our drop-in).
#[test]
fn trixie_builds_boots_and_runs_containers() {
    let image = TinyImage::new();
    let cluster = Cluster::builder(engine_backend(Distribution::Trixie))
        .masters(1)
        .agents(0)
        .public_agents(0)
        .provision()
        .unwrap();
    let master = &cluster.masters()[0];
    assert_node_is_ours(master, Distribution::Trixie);
    cluster.load_image(&image.0).unwrap();
    assert_containers_network(master, &image.0);
}

/// The default image (bookworm, no engine) boots with our tweaks and has DC/OS's
/// prerequisites.
#[test]
fn the_default_image_boots_with_our_tweaks_and_dcos_prerequisites() {
    let cluster = common::one_master();
    assert_node_is_ours(&cluster.masters()[0], Distribution::Bookworm);
}

/// Forky's systemd refuses cgroup v1: on such a host it is refused before anything is
/// built, naming what works; elsewhere it builds and boots.
#[test]
fn forky_is_refused_on_cgroup_v1_and_boots_elsewhere() {
    let info = Proc::new("docker")
        .args(["info", "--format", "{{.CgroupVersion}}"])
        .output()
        .unwrap();
    let v1 = String::from_utf8_lossy(&info.stdout).trim() == "1";
    let options = ImageOptions::default().distribution(Distribution::Forky);
    if v1 {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = lines.clone();
        let err = blocking::docker::ensure_node_image(
            &options
                .clone()
                .progress(move |l: &str| sink.lock().unwrap().push(l.into())),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(
                err,
                Error::InvalidParameter {
                    parameter: dcos_e2e::Parameter::Distribution,
                    ..
                }
            ) && text.contains("cgroup v1")
                && text.contains("bookworm, trixie"),
            "{text}"
        );
        assert!(lines.lock().unwrap().is_empty(), "nothing was built");
        return;
    }
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| blocking::docker::ensure_node_image(&options).unwrap());
    let cluster = common::one_master_on(Docker::new().image_options(options));
    assert_node_is_ours(&cluster.masters()[0], Distribution::Forky);
}

#[test]
fn an_unknown_distribution_names_the_supported_ones() {
    let out = Proc::new(common::minidcos())
        .args(["docker", "build-image", "--distribution", "jessie"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "a usage error: {err}");
    assert!(
        err.contains("jessie")
            && err.contains("bookworm")
            && err.contains("trixie")
            && err.contains("forky"),
        "{err}"
    );
    let err = ImageOptions::default()
        .suite("jessie")
        .checked_distribution()
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidParameter {
            parameter: dcos_e2e::Parameter::Distribution,
            ..
        }
    ));
}

/// `doctor` explains what the inner engine needs here, from a real probe.
#[test]
fn doctor_reports_what_the_engine_needs() {
    common::node_image();
    let out = Proc::new(common::minidcos())
        .args(["--json", "docker", "doctor"])
        .output()
        .unwrap();
    let checks: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let find = |name: &str| {
        checks
            .iter()
            .find(|c| c["check"] == name)
            .unwrap_or_else(|| panic!("no {name} check in {checks:?}"))
            .clone()
    };
    let caps = find("engine capabilities");
    assert_eq!(caps["ok"], true, "{caps}");
    assert!(caps["detail"].as_str().unwrap().contains("NET_ADMIN"));
    let storage = find("engine storage");
    assert!(
        storage["detail"].as_str().unwrap().contains("overlay"),
        "{storage}"
    );
    assert_eq!(find("engine iptables")["ok"], true);
    assert!(
        find("distributions")["detail"]
            .as_str()
            .unwrap()
            .contains("trixie")
    );
}

/// Issue 15, item 7: builds and their locks live where only root can go, so another
/// user can neither swap a root filesystem nor hold a lock a build would wait on
/// (before: predictable names in the world-writable /tmp).
#[test]
fn another_user_cannot_reach_the_build_directory_or_its_locks() {
    use std::os::unix::fs::MetadataExt;
    common::node_image();
    let state = std::path::Path::new("/var/lib/dcos-e2e");
    let meta = std::fs::symlink_metadata(state).unwrap();
    assert!(meta.is_dir(), "a real directory, not a link");
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o700));
    let lock = std::fs::read_dir(state)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".lock"))
        .expect("a build left its lock file")
        .path();
    // As nobody: neither open the lock (to hold it) nor plant anything beside it.
    let attempt = |script: &str| {
        Proc::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--",
                "sh",
                "-c",
            ])
            .arg(script)
            .output()
            .expect("setpriv runs")
    };
    let hold = attempt(&format!("exec 9<{}", lock.display()));
    assert!(!hold.status.success(), "nobody opened {}", lock.display());
    assert!(String::from_utf8_lossy(&hold.stderr).contains("ermission denied"));
    let plant = attempt(&format!("mkdir {}/build-planted", state.display()));
    assert!(!plant.status.success(), "nobody made a directory there");
    // Root itself can (the check above is not vacuous).
    assert!(std::fs::File::open(&lock).is_ok());
}
