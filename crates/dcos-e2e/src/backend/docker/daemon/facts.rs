//! Facts about the Docker daemon that decide how nodes run: its cgroup version, and
//! whether it lets containers run privileged (some refuse: "unable to apply caps").

use crate::backend::docker::daemon::client::{ContainerSpec, DockerClient, Fault, op, to_the_end};
use crate::backend::docker::daemon::private;
use crate::backend::docker::labels;
use crate::error::Result;

/// What this daemon allows, found once per process and daemon (the privilege verdict
/// once per daemon, across processes).
#[derive(Clone, Copy, Debug)]
pub(crate) struct DaemonFacts {
    pub cgroup_v2: bool,
    pub privileged_allowed: bool,
}

/// Per daemon address: a process may use several daemons.
static FACTS: std::sync::Mutex<Vec<(String, DaemonFacts)>> = std::sync::Mutex::new(Vec::new());

/// cgroup version from the daemon, and whether it lets containers run privileged (some
/// refuse: "unable to apply caps"), probed with a throwaway container of `image`.
pub(crate) async fn daemon_facts(client: &DockerClient, image: &str) -> Result<DaemonFacts> {
    let known = |facts: &[(String, DaemonFacts)]| {
        facts
            .iter()
            .find(|(host, _)| host == client.host())
            .map(|(_, f)| *f)
    };
    if let Some(facts) = known(&FACTS.lock().unwrap_or_else(|p| p.into_inner())) {
        return Ok(facts);
    }
    // Two first creates at once may both probe; the verdict is the same.
    let facts = async {
        let info = client.info().await.map_err(op("reading daemon info"))?;
        let cgroup_v2 = info.cgroup_v2;
        // The answer depends on the daemon, not on us: remember it per daemon (id,
        // version, security options), so each new process does not pay for a probe.
        let daemon = format!(
            "{}|{}|{}",
            info.id,
            info.server_version,
            info.security_options.join(",")
        );
        let digest = hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(daemon.as_bytes())[..8]);
        let cache = format!("daemon-{digest}.privileged");
        let privileged_allowed = match private::read(&cache).as_deref() {
            Some("yes") => true,
            Some("no") => false,
            _ => match probe_privileged(client, image).await? {
                Some(allowed) => {
                    private::write(&cache, if allowed { "yes" } else { "no" });
                    allowed
                }
                // Not a verdict on privileges (say, an image without /bin/true): the
                // minimal set works everywhere; ask again next time.
                None => false,
            },
        };
        tracing::debug!(cgroup_v2, privileged_allowed, "daemon facts");
        Ok::<_, crate::error::Error>(DaemonFacts {
            cgroup_v2,
            privileged_allowed,
        })
    }
    .await?;
    let mut all = FACTS.lock().unwrap_or_else(|p| p.into_inner());
    if known(&all).is_none() {
        all.push((client.host().to_string(), facts));
    }
    Ok(facts)
}

/// `Some(allowed)` when the daemon gave a verdict, `None` when the probe failed otherwise.
async fn probe_privileged(client: &DockerClient, image: &str) -> Result<Option<bool>> {
    let spec = ContainerSpec {
        image: image.to_string(),
        entrypoint: Some(vec!["/bin/true".into()]),
        // Owner labels: `clean` removes a probe whose process died before removing it.
        labels: labels::probe_labels(),
        network_disabled: true,
        privileged: true,
        ..Default::default()
    };
    let client = client.clone();
    let started = to_the_end(async move {
        let created = client
            .create_container(&spec)
            .await
            .map_err(op("creating the privilege probe"))?;
        let started = client.start_container(&created).await;
        client.remove_container(&created).await?;
        Ok::<_, crate::error::Error>(started)
    })
    .await?;
    match started {
        Ok(()) => Ok(Some(true)),
        Err(e) if e.fault() == Fault::PrivilegesRefused => {
            tracing::info!(
                "privileged containers are refused here ({e}); nodes use the minimal capability set"
            );
            Ok(Some(false))
        }
        Err(e) => {
            tracing::debug!("the privilege probe failed for another reason: {e}");
            Ok(None)
        }
    }
}
