//! `wait_for_dcos`: poll every master until its diagnostics pass and it serves the CA
//! certificate. No fixed sleep: each check is retried with a short, growing pause.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::error::{Error, Parameter, Result};
use crate::node::{Command, Node, Output};

/// The diagnostics check, stopped on the node after `$1` seconds (a hung check must
/// neither outlast the wait nor keep running there).
const DIAGNOSTICS: &str = "d=/opt/mesosphere/bin/dcos-diagnostics; [ -x \"$d\" ] || d=/opt/mesosphere/bin/3dt; \
                           exec timeout -k 1 \"$0\" \"$d\" --diag";

/// Run one check with what is left of the wait; `None` if the deadline came first.
async fn bounded(master: &Node, cmd: Command, deadline: Instant) -> Option<Result<Output>> {
    tokio::time::timeout_at(deadline.into(), master.output(cmd))
        .await
        .ok()
}

/// Seconds left before `deadline`, at least one (for the node's `timeout`).
fn seconds_left(deadline: Instant) -> u64 {
    deadline
        .saturating_duration_since(Instant::now())
        .as_secs()
        .max(1)
}

/// Why a node is not healthy yet: the check and what it said. Every node runs the
/// diagnostics; a master must also serve the CA certificate.
async fn unhealthy(master: &Node, deadline: Instant) -> Option<String> {
    let diagnostics = Command::shell(format!(
        "sh -c {} {}",
        crate::node::quote(DIAGNOSTICS),
        seconds_left(deadline)
    ))
    .sudo(true);
    let Some(ran) = bounded(master, diagnostics, deadline).await else {
        return Some("dcos-diagnostics --diag did not finish before the wait ended".into());
    };
    match ran {
        Ok(out) if out.status == 0 => {}
        // The node's `timeout` stopped it.
        Ok(out) if out.status == 124 => {
            return Some("dcos-diagnostics --diag did not finish before the wait ended".into());
        }
        Ok(out) => {
            let said = format!("{} {}", out.stdout_text(), out.stderr_text());
            return Some(format!(
                "dcos-diagnostics --diag exited {}: {}",
                out.status,
                last_line(&said)
            ));
        }
        Err(e) => return Some(format!("dcos-diagnostics --diag could not run: {e}")),
    }
    if master.role() != crate::node::Role::Master {
        return None;
    }
    let url = format!("http://{}/ca/dcos-ca.crt", master.ip_address());
    // Asked from the master itself, so it works where this host cannot route to nodes.
    let curl = Command::new([
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "5",
        url.as_str(),
    ]);
    let Some(ran) = bounded(master, curl, deadline).await else {
        return Some(format!("GET {url} did not finish before the wait ended"));
    };
    match ran {
        Ok(out) if matches!(out.stdout_text().as_str(), "200" | "404") => None,
        Ok(out) => Some(format!(
            "GET {url} answered {}",
            if out.stdout_text() == "000" {
                "nothing".into()
            } else {
                out.stdout_text()
            }
        )),
        Err(e) => Some(format!("GET {url} could not run: {e}")),
    }
}

fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

pub(crate) async fn wait_for_dcos(masters: &[Node], timeout: Duration) -> Result<()> {
    // Nothing to check is not healthy.
    if masters.is_empty() {
        return Err(Error::invalid(
            Parameter::Masters,
            0,
            "no master to wait for",
        ));
    }
    wait_healthy(masters, timeout).await
}

/// Wait until every node of `nodes` is healthy (see [`unhealthy`]), polling until
/// `timeout`.
pub(crate) async fn wait_healthy(nodes: &[Node], timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let waits = nodes.iter().map(|master| async move {
        let mut pause = Duration::from_millis(100);
        loop {
            let failing = unhealthy(master, deadline).await;
            match failing {
                None => return None,
                Some(why) if Instant::now() >= deadline => return Some(format!("{master}: {why}")),
                Some(_) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    tokio::time::sleep(pause.min(left)).await;
                    // A check is a few milliseconds on the open connection: poll often
                    // so the wait ends soon after the cluster is healthy.
                    pause = (pause * 3 / 2).min(Duration::from_millis(250));
                }
            }
        }
    });
    let failing: Vec<String> = join_all(waits).await.into_iter().flatten().collect();
    if failing.is_empty() {
        Ok(())
    } else {
        Err(Error::WaitTimeout { timeout, failing })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_masters_is_an_error_not_health() {
        let err = wait_for_dcos(&[], Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no master"), "{err}");
    }
}
