//! What the bench knows and made: its knobs, its report, and every cluster and workspace
//! it created, so all of them are removed at the end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use dcos_e2e::{Cluster, Docker};

use crate::baseline::{baseline_image, ensure_openssh};
use crate::capture::Capture;
use crate::config::Config;
use crate::environment::print_environment;
use crate::report::{Report, median};
use crate::util::{docker, leftovers};

pub struct Bench {
    pub cfg: Config,
    pub report: Report,
    pub log: Capture,
    pub image: String,
    pub baseline_image: Option<String>,
    /// Every cluster id this bench made (library or CLI).
    pub made: Vec<String>,
    /// The workspaces of the library clusters it made.
    pub workspaces: Vec<PathBuf>,
    pub tmp: tempfile::TempDir,
    /// 1+1+1 baseline samples (key -> values), from the paired runs.
    pub base3: BTreeMap<String, Vec<f64>>,
}

impl Bench {
    /// Build (or find) the node image and the baseline's, print the environment, and
    /// make the bench's scratch directory.
    pub async fn prepare(cfg: Config, log: Capture) -> Result<Self> {
        let image = dcos_e2e::docker::ensure_node_image(&Default::default()).await?;
        print_environment(&image);
        ensure_openssh()?;
        let baseline_image = Some(baseline_image(&image)?);
        Ok(Bench {
            cfg,
            report: Report::default(),
            log,
            image,
            baseline_image,
            made: Vec::new(),
            workspaces: Vec::new(),
            tmp: tempfile::Builder::new()
                .prefix("dcos-e2e-bench-")
                .tempdir_in("/var/tmp")?,
            base3: BTreeMap::new(),
        })
    }

    pub fn base3(&self, key: &str) -> Option<f64> {
        self.base3.get(key).and_then(|v| median(v))
    }

    pub async fn provision(
        &mut self,
        masters: usize,
        agents: usize,
        public: usize,
    ) -> Result<Cluster> {
        self.provision_with(Docker::new(), masters, agents, public)
            .await
    }

    pub async fn provision_with(
        &mut self,
        backend: Docker,
        masters: usize,
        agents: usize,
        public: usize,
    ) -> Result<Cluster> {
        let cluster = Cluster::builder(backend.node_image(self.image.clone()))
            .masters(masters)
            .agents(agents)
            .public_agents(public)
            .provision()
            .await?;
        self.made.push(cluster.id().to_string());
        self.workspaces
            .extend(cluster.workspace().map(Path::to_path_buf));
        Ok(cluster)
    }
}

/// Remove whatever of this bench is still there, then list what carries our labels.
pub async fn final_cleanup(b: &mut Bench) {
    for id in &b.made {
        if leftovers(id) > 0 {
            eprintln!("removing leftover cluster {id}");
            if let Err(e) = dcos_e2e::docker::destroy_cluster(id).await {
                eprintln!("  failed: {e}");
            }
        }
    }
    let ours_left: usize = b.made.iter().map(|id| leftovers(id)).sum();
    let baseline_left = docker(&["ps", "-aq", "--filter", "label=dcos-e2e-baseline"])
        .map_or(0, |s| s.lines().count());
    let others = docker(&[
        "ps",
        "-a",
        "--filter",
        "label=dcos-e2e",
        "--format",
        "{{.Names}} {{.Label \"dcos-e2e.cluster-id\"}}",
    ])
    .unwrap_or_default();
    let foreign: Vec<&str> = others
        .lines()
        .filter(|l| {
            let id = l.split_whitespace().nth(1).unwrap_or("");
            !b.made.iter().any(|m| m == id)
        })
        .collect();
    let workspaces_left = b.workspaces.iter().filter(|w| w.exists()).count();
    b.report.note(format!(
        "cleanup: {} clusters made by this bench; {ours_left} of their containers/volumes/networks left, \
         {workspaces_left} of their workspaces; {baseline_left} baseline containers left{}",
        b.made.len(),
        if foreign.is_empty() {
            String::new()
        } else {
            format!(
                "; {} other containers with the dcos-e2e label exist, not made by this bench: {}",
                foreign.len(),
                foreign.join(", ")
            )
        }
    ));
    if let Some(img) = &b.baseline_image {
        let _ = docker(&["rmi", img]);
    }
}
