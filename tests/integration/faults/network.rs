//! Network faults: cuts between groups of nodes, healed exactly, undone by the scope
//! helper, gone with the cluster when its owner is killed.

use std::time::Duration;

use dcos_e2e::blocking::{Cluster, Node};
use dcos_e2e::{Error, NodeState};

use crate::common::{self, assert_gone, containers_of};
use crate::process::{poll, send_signal, spawn_holder};

/// Whether a TCP connection from `from` to `to`'s sshd is made within 2 s (a real
/// attempt from inside the node).
fn reaches(from: &Node, to: &Node) -> bool {
    let probe = format!("timeout 2 bash -c '</dev/tcp/{}/22'", to.ip_address());
    from.output(["bash", "-c", &probe]).unwrap().status == 0
}

/// Our chain's rules on `node` (none: the chain is gone, and no jump to it is left).
fn rules(node: &Node) -> Vec<String> {
    let out = node
        .run(["sh", "-c", "iptables -w -S DCOS-E2E-FAULTS 2>/dev/null | grep -- '-j DROP' || true; iptables -w -S | grep -c -- '-j DCOS-E2E-FAULTS' || true"])
        .unwrap()
        .stdout_text();
    let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
    let jumps = lines.pop().unwrap_or_default();
    if lines.is_empty() {
        assert_eq!(jumps, "0", "no jump to our chain without rules in it");
    }
    lines
}

fn one_of_each() -> Cluster {
    Cluster::builder(common::docker()).provision().unwrap()
}

/// {master} | {agent, public agent}: no connection across the cut either way, one
/// within a side; the test host reaches every node; heal restores it and leaves no rule.
/// A one-way cut drops only what goes one way; `isolate` cuts a node off from all; the
/// cluster's `heal` takes every cut out.
#[test]
fn a_partition_cuts_both_ways_and_heal_leaves_no_rule() {
    let c = one_of_each();
    let id = c.id().to_string();
    let (m, a, p) = (&c.masters()[0], &c.agents()[0], &c.public_agents()[0]);
    assert!(reaches(m, a) && reaches(a, m), "before the cut");

    let cut = c.partition(&[m], &[a, p]).unwrap();
    assert!(!reaches(m, a), "master to agent");
    assert!(!reaches(a, m), "agent to master");
    assert!(!reaches(p, m), "public agent to master");
    assert!(reaches(a, p), "the same side");
    for n in [m, a, p] {
        n.run(["true"]).unwrap();
    }
    assert_eq!(rules(m).len(), 4, "{:?}", rules(m));
    assert!(rules(m).iter().all(|r| r.contains(cut.name())));
    cut.heal().unwrap();
    assert!(reaches(m, a) && reaches(a, m), "healed");
    for n in [m, a, p] {
        assert!(rules(n).is_empty(), "{n}: {:?}", rules(n));
    }
    cut.heal().unwrap();

    let one_way = c.partition_one_way(&[m], &[a]).unwrap();
    assert!(!reaches(m, a));
    let (on_m, on_a) = (rules(m), rules(a));
    assert!(
        on_m.len() == 1 && on_m[0].contains(&format!("-d {}/32", a.ip_address())),
        "{on_m:?}"
    );
    assert!(
        on_a.len() == 1 && on_a[0].contains(&format!("-s {}/32", m.ip_address())),
        "{on_a:?}"
    );
    let cut_off = p.isolate().unwrap();
    assert!(!reaches(p, a) && !reaches(m, p));
    assert_ne!(one_way.name(), cut_off.name());
    c.heal().unwrap();
    assert!(reaches(m, a) && reaches(p, a));
    for n in [m, a, p] {
        assert!(rules(n).is_empty(), "{n}: {:?}", rules(n));
    }

    // Bad input: a node on both sides, nobody on one, a node of another cluster.
    assert!(matches!(
        c.partition(&[m], &[m, a]),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        c.partition(&[], &[a]),
        Err(Error::InvalidParameter { .. })
    ));
    let other = common::one_master();
    let err = c.partition(&[m], &[&other.masters()[0]]).unwrap_err();
    assert!(
        err.to_string().contains(&format!("not a node of {id}")),
        "{err}"
    );
    drop(other);
    c.destroy().unwrap();
    assert_gone(&id, None);
}

/// `with_faults` undoes the cut, the pause and the stop when its code fails, and the
/// code's own error is what it returns.
#[test]
fn with_faults_undoes_everything_when_the_code_fails() {
    let c = one_of_each();
    let id = c.id().to_string();
    let (m, a, p) = (&c.masters()[0], &c.agents()[0], &c.public_agents()[0]);
    let result: Result<(), Error> = c.with_faults(|c| {
        let _cut = c.partition(&[m], &[a])?;
        a.pause()?;
        p.stop()?;
        c.masters()[0].run(["false"]).map(drop)
    });
    assert!(matches!(result, Err(Error::CommandFailed(_))), "{result:?}");
    assert_eq!(a.state().unwrap(), NodeState::Running);
    assert_eq!(p.state().unwrap(), NodeState::Running);
    assert!(reaches(m, a) && reaches(p, m));
    assert!(rules(m).is_empty());
    c.destroy().unwrap();
    assert_gone(&id, None);
}

#[test]
#[ignore = "run as a child process by another test"]
fn faulted_holder() {
    let c = one_of_each();
    let (m, a) = (&c.masters()[0], &c.agents()[0]);
    let _cut = c.partition(&[m], &[a]).unwrap();
    c.public_agents()[0].pause().unwrap();
    println!("cluster-id {} {}", c.id(), c.workspace().unwrap().display());
    std::thread::sleep(Duration::from_secs(600));
}

/// Faults in place when the owner is SIGKILLed go with the cluster: the watchdog
/// removes the paused node too, and nothing is left.
#[test]
fn faults_of_a_killed_owner_go_with_its_cluster() {
    let (mut child, id, workspace) = spawn_holder("faults::network::faulted_holder", &[]);
    assert_eq!(containers_of(&id), 4, "3 nodes and the watchdog");
    send_signal(&child, libc::SIGKILL);
    child.wait().unwrap();
    poll("the watchdog to remove it", Duration::from_secs(60), || {
        let (c, n, v) = common::leftovers(&id);
        c.is_empty() && n.is_empty() && v.is_empty()
    });
    poll("its workspace to go", Duration::from_secs(10), || {
        !workspace.exists()
    });
    assert_gone(&id, Some(&workspace));
}
