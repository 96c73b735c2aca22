//! Which process owns a cluster, and whether this host can tell if it still lives: its
//! pid, start time, boot id, machine id and pid namespace name it uniquely, even after
//! the pid is reused. A leaf: it reads `/proc` and `/etc/machine-id`, nothing else.

/// A process, named so that a reused pid is not mistaken for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProcessIdentity {
    pub pid: u32,
    /// Start time (field 22 of `/proc/PID/stat`).
    pub start: Option<String>,
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot: Option<String>,
    /// `/etc/machine-id`: which host (absent on objects made before it was recorded).
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
        if self.machine.is_some() && self.machine != machine_id() {
            return Verdict::Unknown;
        }
        // Same machine (or not recorded), another boot: the owner died with that boot.
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
    read_trimmed("/etc/machine-id")
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
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
            ..me
        };
        assert_eq!(other_namespace.verdict(), Verdict::Unknown);
    }
}
