//! A container engine inside nodes: it runs containers with networking on agents,
//! images reach it from the host without a registry, destroy leaves nothing (no
//! container, volume, mount or cgroup directory on the host), each distribution builds
//! and boots with our boot tweaks, and bad input is a clear error.
//!
//! One file per concern: containers, image loading and destroy (`containers`), the
//! engine's storage driver (`storage`), the distributions (`distributions`), what the
//! engine needs of the host and where builds live there (`host`). The engine images,
//! the tiny test image and the checks the files share are here.

use std::process::{Command as Proc, Stdio};
use std::sync::Mutex;

use dcos_e2e::blocking::{self, Node};
use dcos_e2e::docker::{Distribution, ImageOptions};
use dcos_e2e::{Command, Docker};

use crate::common;

mod containers;
mod distributions;
mod host;
mod storage;

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
pub(crate) fn engine_backend(distribution: Distribution) -> Docker {
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
pub(crate) struct TinyImage(pub(crate) String);

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
    pub(crate) fn with_filler(filler_mb: u64) -> Self {
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
