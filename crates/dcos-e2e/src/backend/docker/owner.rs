//! Which process owns a cluster: its pid, start time and boot id name it uniquely on
//! this host, even after the pid is reused. A leaf: it reads `/proc` and nothing else.

/// A process on this host, named so that a reused pid is not mistaken for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProcessIdentity {
    pub pid: u32,
    /// Start time (field 22 of `/proc/PID/stat`).
    pub start: Option<String>,
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot: Option<String>,
}

impl ProcessIdentity {
    /// This process.
    pub(crate) fn current() -> Self {
        let pid = std::process::id();
        Self {
            pid,
            start: process_start(pid),
            boot: boot_id(),
        }
    }

    /// Whether this very process still runs (same boot, same pid, same start time).
    pub(crate) fn is_alive(&self) -> bool {
        self.boot.is_some()
            && self.boot == boot_id()
            && self.start.is_some()
            && process_start(self.pid) == self.start
    }
}

fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
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
    fn this_process_is_alive_and_a_changed_start_is_not() {
        let me = ProcessIdentity::current();
        assert!(me.is_alive());
        let reused = ProcessIdentity {
            start: Some("0".into()),
            ..me
        };
        assert!(!reused.is_alive());
    }
}
