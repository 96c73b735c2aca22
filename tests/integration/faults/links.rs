//! Slow links: a rate into one node measurably slows a transfer into it; what the
//! kernel cannot do (netem here) is refused naming the module; unshaping leaves no
//! queueing discipline of ours.

use dcos_e2e::blocking::{Cluster, Node};
use dcos_e2e::{Error, Link};

use crate::common::{self, assert_gone};

/// Bytes per second of `bytes` sent from `from` to a sink on `to` (measured by the
/// sink, from the connection to its end).
fn throughput(from: &Node, to: &Node, bytes: usize) -> f64 {
    const SINK: &str = r#"import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5001)); s.listen(1); s.settimeout(60)
c, _ = s.accept(); t = time.time(); n = 0
while True:
    b = c.recv(65536)
    if not b:
        break
    n += len(b)
print(n / max(time.time() - t, 1e-6))"#;
    let mut sink = to.popen(["python3", "-c", SINK]).unwrap();
    let send = format!(
        "for i in $(seq 100); do (head -c {bytes} /dev/zero > /dev/tcp/{}/5001) 2>/dev/null && exit 0; sleep 0.1; done; exit 1",
        to.ip_address()
    );
    from.run(["bash", "-c", &send]).unwrap();
    let out = sink.wait().unwrap();
    assert_eq!(out.status, 0, "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout_text().parse().unwrap()
}

fn ours_on(node: &Node) -> bool {
    node.run(["sh", "-c", "tc qdisc show | grep -c ' 1e2e: ' || true"])
        .unwrap()
        .stdout_text()
        != "0"
}

#[test]
fn a_rate_into_one_node_slows_a_transfer_into_it_and_unshape_restores_it() {
    let c = Cluster::builder(common::docker())
        .masters(1)
        .agents(1)
        .public_agents(0)
        .provision()
        .unwrap();
    let id = c.id().to_string();
    let (m, a) = (&c.masters()[0], &c.agents()[0]);
    let size = 1_000_000;
    let before = throughput(m, a, size);

    // 4 Mbit/s into the agent: a second for a megabyte.
    c.shape_between(&[m], &[a], &Link::new().rate(4_000_000))
        .unwrap();
    assert!(ours_on(m) && !ours_on(a));
    let during = throughput(m, a, size);
    assert!(
        during * 3.0 < before,
        "{during:.0} B/s with the rate, {before:.0} B/s before"
    );
    // The test host's commands to the shaped node still work.
    m.run(["true"]).unwrap();
    c.unshape().unwrap();
    assert!(!ours_on(m));
    let after = throughput(m, a, size);
    assert!(
        after > during * 3.0,
        "{after:.0} B/s after, {during:.0} B/s during"
    );

    // A node's own rate, replaced by another, then taken out.
    a.shape(&Link::new().rate(50_000_000)).unwrap();
    a.shape(&Link::new().rate(60_000_000)).unwrap();
    assert!(ours_on(a));
    a.unshape().unwrap();
    a.unshape().unwrap();
    assert!(!ours_on(a));

    // Delay needs netem: done where the kernel has it, else refused naming it.
    let netem = a
        .output([
            "sh",
            "-c",
            "tc qdisc add dev lo root netem delay 1ms && tc qdisc del dev lo root",
        ])
        .unwrap()
        .status
        == 0;
    let delayed = a.shape(&Link::new().delay(std::time::Duration::from_millis(20)));
    match (netem, delayed) {
        (true, Ok(())) => a.unshape().unwrap(),
        (false, Err(Error::KernelModuleMissing { module, node, .. })) => {
            assert_eq!(module, "sch_netem");
            assert!(node.contains(&a.ip_address().to_string()), "{node}");
        }
        (netem, other) => panic!("netem here: {netem}; got {other:?}"),
    }
    assert!(matches!(
        a.shape(&Link::new()),
        Err(Error::InvalidParameter { .. })
    ));
    c.destroy().unwrap();
    assert_gone(&id, None);
}
