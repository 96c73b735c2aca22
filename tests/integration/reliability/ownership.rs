//! `clean` judges only what this host can see, and removes only directories that are
//! workspaces of the cluster their label names.

use std::process::Command as Proc;

use dcos_e2e::Docker;
use dcos_e2e::docker::{Owner, labels};

use super::Case;
use crate::common::leftovers;

/// A labelled volume standing for a cluster's objects, with the given owner labels.
fn volume(id: &str, extra: &[(&str, &str)]) {
    let mut args = vec!["volume".to_string(), "create".into()];
    let mut all = vec![
        (labels::PROJECT, "1"),
        (labels::CLUSTER_ID, id),
        (labels::ROLE, "agent"),
    ];
    all.extend_from_slice(extra);
    for (k, v) in all {
        args.extend(["--label".into(), format!("{k}={v}")]);
    }
    args.push(format!("{id}-opt"));
    let out = Proc::new("docker").args(&args).output().unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// Removes the test's objects however the test ends.
struct Remove(String);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = dcos_e2e::blocking::docker::destroy_cluster(&self.0);
    }
}

fn owner(id: &str) -> Option<Owner> {
    dcos_e2e::blocking::docker::list_clusters()
        .unwrap()
        .into_iter()
        .find(|c| c.id == id)
        .map(|c| c.owner)
}

#[test]
fn clean_leaves_what_another_host_owns() {
    let _case = Case::new("clean: a cluster of another host is left alone");
    let id = Docker::new_cluster_id();
    let _remove = Remove(id.clone());
    volume(
        &id,
        &[
            (labels::OWNER_PID, "1"),
            (labels::OWNER_START, "1"),
            (labels::BOOT_ID, "boot-of-another-host"),
            (labels::OWNER_MACHINE, "machine-of-another-host"),
        ],
    );
    assert_eq!(owner(&id), Some(Owner::Elsewhere));
    let removed = dcos_e2e::blocking::docker::clean(false).unwrap();
    assert!(
        !removed.contains(&id),
        "clean removed another host's cluster"
    );
    assert_eq!(leftovers(&id).2.len(), 1);
    // Everything, on request.
    dcos_e2e::blocking::docker::destroy_cluster(&id).unwrap();
    assert!(leftovers(&id).2.is_empty());
}

#[test]
fn clean_removes_only_real_workspaces() {
    let _case = Case::new("clean: a label naming another directory does not remove it");
    let id = Docker::new_cluster_id();
    let _remove = Remove(id.clone());
    // A directory that is not a workspace of this cluster, named by its label.
    let victim = tempfile::Builder::new()
        .prefix(&format!("{id}-"))
        .tempdir()
        .unwrap();
    std::fs::write(victim.path().join("precious"), "data").unwrap();
    let ws = victim.path().to_string_lossy().to_string();
    // Its owner died on this machine, this boot: clean removes the cluster's objects.
    let here = my_owner_labels();
    let of = |key: &str| here.iter().find(|(k, _)| *k == key).unwrap().1.clone();
    let (machine, boot) = (of(labels::OWNER_MACHINE), of(labels::BOOT_ID));
    volume(
        &id,
        &[
            (labels::WORKSPACE, &ws),
            (labels::OWNER_PID, "1"),
            (labels::OWNER_START, "0"),
            (labels::OWNER_MACHINE, &machine),
            (labels::BOOT_ID, &boot),
        ],
    );
    assert_eq!(owner(&id), Some(Owner::Nobody));
    // The same without a machine: no host can say it is its own, so nobody cleans it.
    let unplaced = Docker::new_cluster_id();
    let _remove_unplaced = Remove(unplaced.clone());
    volume(
        &unplaced,
        &[
            (labels::OWNER_PID, "1"),
            (labels::OWNER_START, "0"),
            (labels::BOOT_ID, &boot),
        ],
    );
    assert_eq!(owner(&unplaced), Some(Owner::Elsewhere));
    let removed = dcos_e2e::blocking::docker::clean(false).unwrap();
    assert!(removed.contains(&id), "{removed:?}");
    assert!(!removed.contains(&unplaced), "{removed:?}");
    assert!(leftovers(&id).2.is_empty());
    assert!(
        victim.path().join("precious").exists(),
        "clean removed a directory of someone else"
    );
}

/// The owner labels of this very process, as the library writes them.
fn my_owner_labels() -> Vec<(&'static str, String)> {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let start = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(19)
        .unwrap()
        .to_string();
    let read = |p: &str| std::fs::read_to_string(p).unwrap().trim().to_string();
    vec![
        (labels::OWNER_PID, std::process::id().to_string()),
        (labels::OWNER_START, start),
        (labels::BOOT_ID, read("/proc/sys/kernel/random/boot_id")),
        (labels::OWNER_MACHINE, read("/etc/machine-id")),
        (
            labels::OWNER_PIDNS,
            std::fs::read_link("/proc/self/ns/pid")
                .unwrap()
                .display()
                .to_string(),
        ),
    ]
}

#[test]
fn a_create_under_way_is_not_taken_for_a_dead_ones() {
    let _case = Case::new("clean during a create's first moment (watchdog created, not started)");
    let id = Docker::new_cluster_id();
    let _remove = Remove(id.clone());
    // A create's first object: its watchdog container, created but not started yet.
    let mut args = vec![
        "create".to_string(),
        "--name".into(),
        format!("{id}-watchdog"),
    ];
    let mut all: Vec<(&str, String)> = vec![
        (labels::PROJECT, "1".into()),
        (labels::CLUSTER_ID, id.clone()),
        (labels::ROLE, "watchdog".into()),
    ];
    all.extend(my_owner_labels());
    for (k, v) in all {
        args.extend(["--label".into(), format!("{k}={v}")]);
    }
    args.extend([crate::common::node_image().to_string(), "true".into()]);
    let out = Proc::new("docker").args(&args).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(owner(&id), Some(Owner::Process));
    let removed = dcos_e2e::blocking::docker::clean(false).unwrap();
    assert!(!removed.contains(&id), "clean removed a create under way");
    assert_eq!(leftovers(&id).0.len(), 1);
}

/// A container of the user's that happens to have a cluster's watchdog name.
struct Plain(String);

impl Plain {
    fn create(name: String) -> Plain {
        let image = crate::common::node_image();
        let out = Proc::new("docker")
            .args(["create", "--name", &name, image, "true"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        Plain(name)
    }

    fn exists(&self) -> bool {
        Proc::new("docker")
            .args(["container", "inspect", &self.0])
            .output()
            .unwrap()
            .status
            .success()
    }
}

impl Drop for Plain {
    fn drop(&mut self) {
        let _ = Proc::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

#[test]
fn destroy_never_removes_a_container_without_our_labels() {
    let _case = Case::new("destroy: a container with a watchdog's name but not our labels stays");
    let id = Docker::new_cluster_id();
    let named = [
        Plain::create(format!("{id}-watchdog")),
        Plain::create(format!("{id}-reaper")),
    ];
    let err = dcos_e2e::blocking::docker::destroy_cluster(&id).unwrap_err();
    assert!(
        matches!(err, dcos_e2e::Error::NoSuchCluster { .. }),
        "{err}"
    );
    for c in &named {
        assert!(c.exists(), "{} was removed", c.0);
    }
}
