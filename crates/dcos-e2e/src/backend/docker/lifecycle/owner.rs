//! Which process owns a cluster, and whether this host can tell if it still lives: its
//! pid, start time, boot id, machine id and pid namespace name it uniquely, even after
//! the pid is reused. A leaf: it reads `/proc`, `/etc/machine-id` and, on hosts without
//! one (many CI containers), a host id of our own it keeps in the user's state directory.

/// A process, named so that a reused pid is not mistaken for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProcessIdentity {
    pub pid: u32,
    /// Start time (field 22 of `/proc/PID/stat`).
    pub start: Option<String>,
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot: Option<String>,
    /// Which host: `/etc/machine-id`, or our own host id where there is none (absent on
    /// objects made before it was recorded: then no host can judge the owner).
    pub machine: Option<String>,
    /// The pid namespace (`/proc/self/ns/pid`); pids mean something only within it.
    pub pidns: Option<String>,
}

/// What this host can say of an owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Alive,
    Dead,
    /// Another host, or another pid namespace here: not ours to judge.
    Unknown,
}

impl ProcessIdentity {
    /// This process.
    pub(crate) fn current() -> Self {
        let pid = std::process::id();
        Self {
            pid,
            start: process_start(pid),
            boot: boot_id(),
            machine: machine_id(),
            pidns: pid_namespace(),
        }
    }

    /// Whether this very process still runs, as far as this host can see.
    pub(crate) fn verdict(&self) -> Verdict {
        // A host that cannot be told apart from another is not this one: on a daemon
        // shared by several hosts, guessing "here" would remove another's live cluster.
        let here = machine_id();
        if self.machine.is_none() || here.is_none() || self.machine != here {
            return Verdict::Unknown;
        }
        // Same machine, another boot: the owner died with that boot.
        if self.boot.is_none() || self.boot != boot_id() {
            return Verdict::Dead;
        }
        if self.pidns.is_some() && self.pidns != pid_namespace() {
            return Verdict::Unknown;
        }
        if self.start.is_some() && process_start(self.pid) == self.start {
            Verdict::Alive
        } else {
            Verdict::Dead
        }
    }
}

fn boot_id() -> Option<String> {
    read_trimmed("/proc/sys/kernel/random/boot_id")
}

fn machine_id() -> Option<String> {
    static ID: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    ID.get_or_init(|| read_trimmed("/etc/machine-id").or_else(|| host_id_in(&state_dir()?).ok()))
        .clone()
}

/// Where a user's host id is kept: `$XDG_STATE_HOME/dcos-e2e`, else
/// `~/.local/state/dcos-e2e`.
fn state_dir() -> Option<std::path::PathBuf> {
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let base = nonempty("XDG_STATE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| nonempty("HOME").map(|h| std::path::Path::new(&h).join(".local/state")))?;
    Some(base.join("dcos-e2e"))
}

/// The host id kept in `dir` (`host-id`), made on first use: random, and written whole
/// before anyone can read it (a link to a finished file), so that processes racing to
/// make it all end up with the one that won.
fn host_id_in(dir: &std::path::Path) -> std::io::Result<String> {
    let path = dir.join("host-id");
    if let Some(id) = read_trimmed_path(&path) {
        return Ok(id);
    }
    std::fs::create_dir_all(dir)?;
    let id = format!("dcos-e2e-{:032x}", rand::random::<u128>());
    let draft = tempfile::NamedTempFile::new_in(dir)?;
    std::fs::write(draft.path(), format!("{id}\n"))?;
    match std::fs::hard_link(draft.path(), &path) {
        Ok(()) => Ok(id),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_trimmed_path(&path).ok_or_else(|| std::io::Error::other("an empty host-id file"))
        }
        Err(e) => Err(e),
    }
}

fn read_trimmed_path(path: &std::path::Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn read_trimmed(path: &str) -> Option<String> {
    read_trimmed_path(std::path::Path::new(path))
}

fn pid_namespace() -> Option<String> {
    std::fs::read_link("/proc/self/ns/pid")
        .ok()
        .map(|p| p.to_string_lossy().to_string())
}

fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    after_name.split_whitespace().nth(19).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let me = ProcessIdentity::current();
        assert_eq!(me.verdict(), Verdict::Alive);
        let reused = ProcessIdentity {
            start: Some("0".into()),
            ..me.clone()
        };
        assert_eq!(reused.verdict(), Verdict::Dead);
        let rebooted = ProcessIdentity {
            boot: Some("another-boot".into()),
            ..me.clone()
        };
        assert_eq!(rebooted.verdict(), Verdict::Dead);
        let elsewhere = ProcessIdentity {
            machine: Some("another-machine".into()),
            ..me.clone()
        };
        assert_eq!(elsewhere.verdict(), Verdict::Unknown);
        let other_namespace = ProcessIdentity {
            pidns: Some("pid:[1]".into()),
            ..me.clone()
        };
        assert_eq!(other_namespace.verdict(), Verdict::Unknown);
        // No machine recorded: not this host's to judge, even with our pid and boot.
        let unrecorded = ProcessIdentity {
            machine: None,
            start: Some("0".into()),
            ..me
        };
        assert_eq!(unrecorded.verdict(), Verdict::Unknown);
    }

    #[test]
    fn a_host_without_a_machine_id_keeps_one_id_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let first = host_id_in(&state).unwrap();
        assert!(
            first.starts_with("dcos-e2e-") && first.len() > 30,
            "{first}"
        );
        // Read back by later processes, and by ones racing to make it.
        let again: Vec<String> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..4)
                .map(|_| s.spawn(|| host_id_in(&state).unwrap()))
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert!(again.iter().all(|id| *id == first), "{again:?}");
        let other = tempfile::tempdir().unwrap();
        assert_ne!(host_id_in(other.path()).unwrap(), first);
    }

    #[test]
    fn racing_first_uses_agree_on_one_id() {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<String> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..8)
                .map(|_| s.spawn(|| host_id_in(dir.path()).unwrap()))
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    }
}
