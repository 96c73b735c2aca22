//! Where provisioning time goes, from Docker's and systemd's own timestamps.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use dcos_e2e::{Cluster, Command};
use futures_util::future::try_join_all;

use crate::state::Bench;
use crate::util::{docker, leftovers, mono_now, parse_rfc3339, secs, wall_now};

/// One cluster provisioned and destroyed, timed, and what its destroy left.
pub struct Round {
    pub id: String,
    /// Seconds `provision()` took.
    pub provision: f64,
    /// Seconds `destroy()` took.
    pub destroy: f64,
    pub timeline: Timeline,
    /// Docker objects of the cluster left after its destroy.
    pub left: usize,
    pub workspace_left: bool,
}

impl Round {
    pub async fn run(b: &mut Bench, masters: usize, agents: usize, public: usize) -> Result<Self> {
        let t0 = mono_now();
        let started = Instant::now();
        let cluster = b.provision(masters, agents, public).await?;
        let provision = secs(started);
        let timeline = Timeline::of(&cluster, t0, provision).await?;
        let id = cluster.id().to_string();
        let started = Instant::now();
        cluster.destroy().await?;
        let destroy = secs(started);
        Ok(Round {
            left: leftovers(&id),
            workspace_left: cluster.workspace().is_some_and(Path::exists),
            id,
            provision,
            destroy,
            timeline,
        })
    }
}

/// Per-step times of one provisioning, from Docker's and systemd's own timestamps,
/// relative to the call.
pub struct Timeline {
    network: Option<f64>,
    watchdog_started: Option<f64>,
    created: Vec<f64>,
    started: Vec<f64>,
    systemd: Vec<f64>,
    sshd: Vec<f64>,
    booted: Vec<f64>,
    returned: f64,
}

impl Timeline {
    /// `t0` is `mono_now()` just before `provision()`; `returned` seconds later it returned.
    pub async fn of(cluster: &Cluster, t0: f64, returned: f64) -> Result<Timeline> {
        let offset = wall_now() - mono_now(); // wall = mono + offset
        let rel = |wall: f64| wall - offset - t0;
        let id = cluster.id();
        let network = docker(&["network", "inspect", "--format", "{{.Created}}", id])
            .ok()
            .and_then(|s| parse_rfc3339(&s))
            .map(rel);
        let watchdog_started = docker(&[
            "inspect",
            "--format",
            "{{.State.StartedAt}}",
            &format!("{id}-watchdog"),
        ])
        .ok()
        .and_then(|s| parse_rfc3339(&s))
        .map(rel);
        let names: Vec<String> = cluster
            .nodes()
            .filter_map(|n| n.container_name().map(str::to_string))
            .collect();
        let mut args = vec!["inspect", "--format", "{{.Created}} {{.State.StartedAt}}"];
        args.extend(names.iter().map(String::as_str));
        let mut created = Vec::new();
        let mut started = Vec::new();
        for line in docker(&args)?.lines() {
            let mut it = line.split_whitespace();
            if let (Some(c), Some(s)) = (
                it.next().and_then(parse_rfc3339),
                it.next().and_then(parse_rfc3339),
            ) {
                created.push(rel(c));
                started.push(rel(s));
            }
        }
        let probe = "systemctl show -p UserspaceTimestampMonotonic -p FinishTimestampMonotonic; \
                     systemctl show ssh -p ActiveEnterTimestampMonotonic";
        let outs = try_join_all(cluster.nodes().map(|n| n.run(Command::shell(probe)))).await?;
        let (mut systemd, mut sshd, mut booted) = (Vec::new(), Vec::new(), Vec::new());
        for out in outs {
            for line in out.stdout_text().lines() {
                let Some((k, v)) = line.split_once('=') else {
                    continue;
                };
                let Ok(us) = v.trim().parse::<f64>() else {
                    continue;
                };
                if us <= 0.0 {
                    continue;
                }
                let t = us / 1e6 - t0;
                match k {
                    "UserspaceTimestampMonotonic" => systemd.push(t),
                    "FinishTimestampMonotonic" => booted.push(t),
                    "ActiveEnterTimestampMonotonic" => sshd.push(t),
                    _ => {}
                }
            }
        }
        Ok(Timeline {
            network,
            watchdog_started,
            created,
            started,
            systemd,
            sshd,
            booted,
            returned,
        })
    }

    pub fn describe(&self) -> String {
        let span = |v: &[f64]| -> String {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if v.is_empty() {
                "?".into()
            } else if v.len() == 1 {
                format!("+{lo:.2}")
            } else {
                format!("+{lo:.2}..{hi:.2}")
            }
        };
        let one = |v: Option<f64>| v.map_or("?".into(), |v| format!("+{v:.2}"));
        format!(
            "network created {}, watchdog started {}, containers created {}, started {}, \
             systemd running {}, sshd active {}, boot finished {}, provision() returned +{:.2} (seconds after the call)",
            one(self.network),
            one(self.watchdog_started),
            span(&self.created),
            span(&self.started),
            span(&self.systemd),
            span(&self.sshd),
            span(&self.booted),
            self.returned
        )
    }
}
