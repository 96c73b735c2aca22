//! Flag groups the docker subcommands share, and the choices of enumerated flags.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use dcos_e2e::docker::Distribution;
use dcos_e2e::{Mount, NodeSelector};

use super::parse::*;

/// What the node image is built from (each choice is a recipe and tag of its own).
#[derive(Debug, Args)]
pub struct RecipeArgs {
    /// Debian release of the nodes: bookworm, trixie or forky (forky needs a cgroup v2
    /// host).
    #[arg(long, visible_alias = "suite", value_name = "NAME", default_value = "bookworm", value_parser = parse_distribution)]
    pub distribution: Distribution,
    /// Put a Docker Engine in the node image (docker.io, containerd, runc); its socket
    /// listens from boot, the first client starts the daemon.
    #[arg(long)]
    pub engine: bool,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The installer (build artifact), run with bash: a path, or an http(s):// or
    /// file:// URL (downloaded once into the cache, DCOS_E2E_CACHE_DIR).
    pub artifact: PathBuf,
    /// The sha256 (hex) the artifact must have.
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
    /// YAML file merged over the base install config.
    #[arg(long, value_name = "FILE")]
    pub extra_config: Option<PathBuf>,
    /// Copy a file into the installer's genconf (repeatable).
    #[arg(long, value_name = "SRC:/genconf/DST", value_parser = parse_copy)]
    pub copy_to_genconf: Vec<(PathBuf, PathBuf)>,
}

/// What an upgrade is from, of which nodes, and whether to wait after it.
#[derive(Debug, Args)]
pub struct UpgradeArgs {
    #[command(flatten)]
    pub install: InstallArgs,
    /// Upgrade only these nodes (repeatable; default: all). An IP, ROLE:N, a
    /// container name, all-masters, all-agents, all-public-agents or all.
    #[arg(long = "node", value_name = "NODE", value_parser = parse_node)]
    pub node: Vec<NodeSelector>,
    /// How long each node may take to be healthy again (e.g. 600, 90s, 10m).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub node_timeout: Duration,
    /// Then wait until DC/OS is healthy on every master.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this long.
    #[arg(long, default_value = "10m", value_parser = parse_duration, requires = "wait")]
    pub timeout: Duration,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The installer (build artifact); without it, nodes only. A path, or an http(s)://
    /// or file:// URL (downloaded once into the cache, DCOS_E2E_CACHE_DIR).
    pub artifact: Option<PathBuf>,
    /// The sha256 (hex) the artifact must have (needs ARTIFACT).
    #[arg(long, value_name = "HEX", requires = "artifact")]
    pub sha256: Option<String>,
    /// Number of masters.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub masters: u16,
    /// Number of private agents.
    #[arg(long, default_value_t = 1)]
    pub agents: u16,
    /// Number of public agents.
    #[arg(long, default_value_t = 1)]
    pub public_agents: u16,
    /// YAML file merged over the base install config (needs ARTIFACT).
    #[arg(long, value_name = "FILE", requires = "artifact")]
    pub extra_config: Option<PathBuf>,
    /// Copy a file into the installer's genconf (needs ARTIFACT; repeatable).
    #[arg(long, value_name = "SRC:/genconf/DST", value_parser = parse_copy, requires = "artifact")]
    pub copy_to_genconf: Vec<(PathBuf, PathBuf)>,
    /// Cluster id (default: random dcos-e2e-…); must not be in use.
    #[arg(long, value_name = "ID")]
    pub cluster_id: Option<String>,
    /// Where the cluster's temporary directory is made (default: the system temp dir).
    #[arg(long, value_name = "DIR")]
    pub workspace_dir: Option<PathBuf>,
    /// Bind mount on masters (repeatable).
    #[arg(long, value_name = "SRC:DST[:ro]", value_parser = parse_mount)]
    pub custom_master_volume: Vec<Mount>,
    /// Bind mount on agents (repeatable).
    #[arg(long, value_name = "SRC:DST[:ro]", value_parser = parse_mount)]
    pub custom_agent_volume: Vec<Mount>,
    /// Bind mount on public agents (repeatable).
    #[arg(long, value_name = "SRC:DST[:ro]", value_parser = parse_mount)]
    pub custom_public_agent_volume: Vec<Mount>,
    /// A label of yours on every node container (repeatable; keys `dcos-e2e…` are ours).
    #[arg(long = "label", value_name = "K=V", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// A label of yours on master containers (repeatable).
    #[arg(long = "master-label", value_name = "K=V", value_parser = parse_label)]
    pub master_labels: Vec<(String, String)>,
    /// A label of yours on agent containers (repeatable).
    #[arg(long = "agent-label", value_name = "K=V", value_parser = parse_label)]
    pub agent_labels: Vec<(String, String)>,
    /// A label of yours on public agent containers (repeatable).
    #[arg(long = "public-agent-label", value_name = "K=V", value_parser = parse_label)]
    pub public_agent_labels: Vec<(String, String)>,
    /// Publish a port of the first master on this host (repeatable), e.g. 8080:80.
    #[arg(long = "one-master-host-port-map", value_name = "HOST:CONTAINER", value_parser = parse_port_map)]
    pub one_master_host_port_map: Vec<(u16, u16)>,
    /// The host address --one-master-host-port-map binds to. Default: 127.0.0.1 on this
    /// machine's daemon, every address on a daemon elsewhere; 0.0.0.0 to reach the
    /// master from other machines.
    #[arg(long, value_name = "IP")]
    pub publish_on: Option<std::net::IpAddr>,
    /// Node image (default: ours, built when missing).
    #[arg(long, value_name = "IMAGE", conflicts_with_all = ["engine", "distribution"])]
    pub node_image: Option<String>,
    #[command(flatten)]
    pub recipe: RecipeArgs,
    /// Storage driver of the engine inside nodes (with --engine): auto picks what works
    /// on each node's volume (overlay2, then fuse-overlayfs, then vfs).
    #[arg(long, value_enum, default_value_t = StorageDriverArg::Auto)]
    pub engine_storage_driver: StorageDriverArg,
    /// Run nodes privileged.
    #[arg(long, value_enum, default_value_t = PrivilegedArg::Auto)]
    pub privileged: PrivilegedArg,
    /// How node commands travel. Default: ssh, or docker-exec on a Docker daemon on
    /// another host (DOCKER_HOST), whose node addresses are not reachable from here;
    /// ssh there goes through a jump host whose port that daemon publishes.
    #[arg(long, value_enum)]
    pub transport: Option<TransportArg>,
    /// Where this machine reaches ports the (first) Docker daemon's host publishes, for
    /// SSH through the jump host. Default: the host of a tcp:// or ssh:// daemon
    /// address; for unix://, 127.0.0.1.
    #[arg(long, value_name = "ADDRESS")]
    pub published_address: Option<String>,
    /// The sources of --custom-*-volume are paths on the Docker daemon's host (needed
    /// for them on a daemon on another host).
    #[arg(long)]
    pub mount_sources_on_daemon: bool,
    /// Make the cluster on this Docker daemon instead of DOCKER_HOST's. Repeated: one
    /// cluster over several daemons of one Docker Swarm (the first a manager), nodes
    /// round-robin over them; `destroy` and the other commands then go by DOCKER_HOST
    /// set to any of them.
    #[arg(long, value_name = "HOST")]
    pub docker_host: Vec<String>,
    /// Attach nodes to this existing Docker network instead of a private one.
    #[arg(long, value_name = "NETWORK")]
    pub network: Option<String>,
    /// How long one SSH connection attempt may take (e.g. 10s).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// How long new nodes may take to accept commands (e.g. 2m).
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub ready_timeout: Duration,
    /// Wait for DC/OS to be healthy before returning (needs ARTIFACT).
    #[arg(long, requires = "artifact")]
    pub wait: bool,
    /// With --wait: give up after this long (e.g. 600, 90s, 10m).
    #[arg(long, default_value = "10m", value_parser = parse_duration, requires = "wait")]
    pub timeout: Duration,
    /// Stream installer and node output to stderr.
    #[arg(long)]
    pub log_output_live: bool,
    /// When installing or waiting fails, write a log bundle of every node into DIR
    /// before the cluster is removed.
    #[arg(long, value_name = "DIR", requires = "artifact")]
    pub logs_on_failure: Option<PathBuf>,
}

/// `--privileged`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PrivilegedArg {
    /// Privileged where the daemon allows it.
    Auto,
    /// Always privileged.
    Yes,
    /// Never privileged.
    No,
}

/// `--engine-storage-driver`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StorageDriverArg {
    /// What works on the node's volume.
    Auto,
    /// Kernel overlayfs.
    Overlay2,
    /// overlayfs in user space (nodes get /dev/fuse).
    FuseOverlayfs,
    /// Plain copies (slow, always works).
    Vfs,
}

/// `--transport`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TransportArg {
    /// SSH with the cluster's key.
    Ssh,
    /// `docker exec` through the Docker API.
    DockerExec,
}

#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Which nodes: an IP, ROLE:N (master:1, agent:2, public-agent:1), a container
    /// name, all-masters, all-agents, all-public-agents or all. Repeatable. Default: the
    /// first master.
    #[arg(long = "node", value_name = "NODE", value_parser = parse_node)]
    pub node: Vec<NodeSelector>,
}

/// The nodes of a cluster a fault is for.
#[derive(Debug, Args)]
pub struct NodeFaultArgs {
    /// The cluster id.
    pub id: String,
    /// Which nodes: an IP, ROLE:N, a container name, all-masters, all-agents,
    /// all-public-agents or all.
    #[arg(required = true, value_name = "NODE", value_parser = parse_node)]
    pub nodes: Vec<NodeSelector>,
}

/// Whom a copy runs as.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Copy as this user (the files are theirs).
    #[arg(long)]
    pub user: Option<String>,
    /// Copy as root through sudo.
    #[arg(long)]
    pub sudo: bool,
}

impl CopyArgs {
    pub fn options(&self) -> dcos_e2e::CopyOptions {
        let options = dcos_e2e::CopyOptions::new().sudo(self.sudo);
        match &self.user {
            Some(user) => options.user(user),
            None => options,
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The cluster id.
    pub id: String,
    #[command(flatten)]
    pub nodes: NodeArgs,
    #[command(flatten)]
    pub command: CommandArgs,
    /// How node commands travel (default: as the cluster was created).
    #[arg(long, value_enum)]
    pub transport: Option<TransportArg>,
}

#[derive(Debug, Args)]
pub struct CommandArgs {
    /// Environment variable for the command (repeatable); the value is passed literally.
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Run as this user.
    #[arg(long)]
    pub user: Option<String>,
    /// Run as root through sudo.
    #[arg(long)]
    pub sudo: bool,
    /// Run the words as one shell script instead of one command.
    #[arg(long, conflicts_with = "test_env")]
    pub shell: bool,
    /// Run in the integration-test environment, as run_integration_tests does (DC/OS
    /// environment, test directory, MASTER_HOSTS…), on the chosen nodes (default: the
    /// first master).
    #[arg(long)]
    pub test_env: bool,
    /// Run on a terminal, as `ssh -t` does: raw mode, the window size and its changes,
    /// every key (Ctrl-C, Ctrl-D) to the command, its output and errors as one stream.
    /// The default when standard input and output are terminals; needs a terminal on
    /// standard input.
    #[arg(long, conflicts_with = "no_tty")]
    pub tty: bool,
    /// Run without a terminal even on one: separate output and error streams, no input.
    #[arg(long)]
    pub no_tty: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub args: Vec<String>,
}
