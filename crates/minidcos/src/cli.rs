//! The command line, as clap types, and the parsers of flag values: anything wrong in
//! the syntax of an argument is a usage error (exit status 2) that names the flag.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use dcos_e2e::docker::Distribution;
use dcos_e2e::{Mount, NodeSelector};

const EXAMPLES: &str = "\
Examples:
  minidcos docker build-image
  minidcos docker create tests/fixtures/sample-installer/dcos_generate_config.sh --wait
  minidcos docker list
  minidcos docker inspect dcos-e2e-1a2b3c4d
  minidcos docker run dcos-e2e-1a2b3c4d -- systemctl is-system-running
  minidcos docker run dcos-e2e-1a2b3c4d --test-env -- pytest -x
  minidcos docker destroy dcos-e2e-1a2b3c4d
  minidcos existing --cluster-file cluster.yaml run -- hostname

Exit status: 0 ok; `run`: the node command's; 2 usage error; 1 any other error.";

const DOCKER_EXAMPLES: &str = "\
Examples:
  id=$(minidcos docker create installer.sh --wait)
  minidcos docker inspect \"$id\"
  minidcos docker run \"$id\" --node all -- hostname
  minidcos docker send-file \"$id\" ./app.conf /etc/app.conf --node all-agents
  minidcos docker destroy \"$id\"
  minidcos docker clean";

/// Clusters of machine-like Docker containers (or existing SSH hosts) for end-to-end
/// tests of DC/OS and systems like it.
#[derive(Debug, Parser)]
#[command(name = "minidcos", version, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    /// More detail on stderr (-v steps, -vv debug, -vvv everything).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Print results as JSON (stable field names) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Top,
}

#[derive(Debug, Subcommand)]
pub enum Top {
    /// Clusters of Docker containers.
    #[command(subcommand, after_help = DOCKER_EXAMPLES)]
    Docker(DockerCmd),
    /// Node operations on an existing cluster described in a cluster file.
    #[command(
        after_help = "Example:\n  minidcos existing --cluster-file cluster.yaml run --node all -- hostname\n\nThe cluster file (YAML):\n  ssh_user: centos\n  ssh_key_path: ~/.ssh/id_ed25519   # relative paths are from the file's directory\n  masters: [10.0.0.1]\n  agents: [10.0.0.2, 10.0.0.3]\n  public_agents: [10.0.0.4]\n  known_hosts: ~/.ssh/known_hosts   # optional (this default); hosts are looked up by address\n  strict_host_key_checking: true    # optional (this default); false trusts unlisted hosts on first use\n\nHost keys are checked against known_hosts: a host not listed there is refused unless\nstrict_host_key_checking is false (then its first key is trusted for this run; the file\nis not written), and a listed host must present a listed key. Add a host with\n`ssh-keyscan -H ADDRESS >> FILE` after checking its fingerprint."
    )]
    Existing(ExistingArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  minidcos completions bash > /etc/bash_completion.d/minidcos"
    )]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum DockerCmd {
    /// Create a cluster; with an artifact, install DC/OS on it. Prints the cluster id.
    ///
    /// The cluster stays until `minidcos docker destroy`. Ctrl-C (or SIGTERM) while it
    /// is being made removes what was made; a killed create is removed by its watchdog.
    #[command(after_help = "\
Examples:
  minidcos docker create installer.sh --wait
  minidcos docker create installer.sh --masters 3 --agents 2 --public-agents 0 --extra-config extra.yaml
  minidcos docker create --agents 0 --public-agents 0      # nodes only, install later")]
    Create(Box<CreateArgs>),
    /// Install DC/OS from an artifact on a cluster created without one.
    #[command(after_help = "Example:\n  minidcos docker install dcos-e2e-1a2b3c4d installer.sh")]
    Install {
        /// The cluster id.
        id: String,
        #[command(flatten)]
        install: InstallArgs,
    },
    /// List clusters, with who owns each.
    #[command(after_help = "Example:\n  minidcos docker list --json")]
    List,
    /// Show a cluster's nodes, addresses, ssh commands, workspace and key.
    #[command(after_help = "Example:\n  minidcos docker inspect dcos-e2e-1a2b3c4d --json")]
    Inspect {
        /// The cluster id.
        id: String,
    },
    /// Run a command on nodes; exits with the command's status.
    #[command(after_help = "\
Examples:
  minidcos docker run dcos-e2e-1a2b3c4d -- systemctl is-system-running
  minidcos docker run dcos-e2e-1a2b3c4d --node agent:1 --env A=b -- sh -c 'echo $A'
  minidcos docker run dcos-e2e-1a2b3c4d --test-env -- pytest -x
  minidcos docker run dcos-e2e-1a2b3c4d -- bash    # an interactive shell on a terminal")]
    Run(RunArgs),
    /// Copy a local file or directory to nodes (modes and links kept).
    #[command(
        after_help = "Example:\n  minidcos docker send-file dcos-e2e-1a2b3c4d ./app.conf /etc/app.conf --node all"
    )]
    SendFile {
        /// The cluster id.
        id: String,
        /// Local file or directory.
        source: PathBuf,
        /// Absolute destination path on the node.
        destination: String,
        #[command(flatten)]
        nodes: NodeArgs,
        #[command(flatten)]
        copy: CopyArgs,
    },
    /// Copy a file or directory from one node.
    #[command(
        after_help = "Example:\n  minidcos docker download-file dcos-e2e-1a2b3c4d /var/log/app.log ./app.log --node agent:1"
    )]
    DownloadFile {
        /// The cluster id.
        id: String,
        /// Absolute path on the node.
        source: String,
        /// Local destination.
        destination: PathBuf,
        #[command(flatten)]
        nodes: NodeArgs,
        #[command(flatten)]
        copy: CopyArgs,
    },
    /// Print the first master's web addresses; open the first with $BROWSER if set.
    #[command(after_help = "Example:\n  minidcos docker web dcos-e2e-1a2b3c4d")]
    Web {
        /// The cluster id.
        id: String,
    },
    /// Write a log bundle: per node the journal, unit states, installer output,
    /// dcos-diagnostics and the container's inspect; a summary beside them.
    #[command(
        after_help = "Example:\n  minidcos docker export-logs dcos-e2e-1a2b3c4d ./logs\n  less ./logs/summary.txt ./logs/master-1/journal.log"
    )]
    ExportLogs {
        /// The cluster id.
        id: String,
        /// Directory to write the bundle into (made if missing).
        dir: PathBuf,
    },
    /// Wait until DC/OS is healthy on every master.
    #[command(after_help = "Example:\n  minidcos docker wait dcos-e2e-1a2b3c4d --timeout 20m")]
    Wait {
        /// The cluster id.
        id: String,
        /// Give up after this long (e.g. 600, 90s, 10m).
        #[arg(long, default_value = "10m", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Destroy clusters: containers, volumes, network and workspace.
    #[command(
        group(ArgGroup::new("which").args(["ids", "all"]).required(true)),
        after_help = "Examples:\n  minidcos docker destroy dcos-e2e-1a2b3c4d\n  minidcos docker destroy --all"
    )]
    Destroy {
        /// Cluster ids (or --all).
        ids: Vec<String>,
        /// Destroy every cluster of ours on this Docker daemon.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
    /// Remove what is left of clusters whose owner is gone (never a cluster `create`
    /// completed, nor one whose process is alive).
    #[command(
        after_help = "Examples:\n  minidcos docker clean\n  minidcos docker clean --all   # everything of ours, live or not"
    )]
    Clean {
        /// Remove every cluster of ours, including live and created ones.
        #[arg(long)]
        all: bool,
    },
    /// Check this machine can run clusters.
    #[command(after_help = "Example:\n  minidcos docker doctor --json")]
    Doctor {
        /// The workspace directory to check for free disk.
        #[arg(long, value_name = "DIR")]
        workspace_dir: Option<PathBuf>,
    },
    /// Build the node image (debootstrap; needs root; about a minute). Prints its tag.
    #[command(
        after_help = "Examples:\n  minidcos docker build-image\n  minidcos docker build-image --engine --distribution trixie\n  minidcos docker build-image --mirror http://mirror.example/debian --extra-package jq"
    )]
    BuildImage {
        /// Debian mirror URL (default: from the host's apt sources).
        #[arg(long, value_name = "URL")]
        mirror: Option<String>,
        #[command(flatten)]
        recipe: RecipeArgs,
        /// Also install this Debian package in the image (repeatable; makes a new tag).
        #[arg(long = "extra-package", value_name = "PACKAGE")]
        extra_packages: Vec<String>,
    },
    /// Load images from this host's Docker daemon into the container engine of nodes
    /// (no registry needed; the nodes' image needs the engine: `create --engine`).
    #[command(after_help = "\
Examples:
  minidcos docker load-image dcos-e2e-1a2b3c4d my-app:1.0
  minidcos docker load-image dcos-e2e-1a2b3c4d my-app:1.0 my-db:2 --node all-agents")]
    LoadImage {
        /// The cluster id.
        id: String,
        /// Images on this host's daemon (name:tag or id).
        #[arg(required = true, value_name = "IMAGE")]
        images: Vec<String>,
        /// Which nodes: as for `run` (default: every node).
        #[arg(long = "node", value_name = "NODE", value_parser = parse_node)]
        node: Vec<NodeSelector>,
    },
}

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
    /// The installer (build artifact), run with bash.
    pub artifact: PathBuf,
    /// YAML file merged over the base install config.
    #[arg(long, value_name = "FILE")]
    pub extra_config: Option<PathBuf>,
    /// Copy a file into the installer's genconf (repeatable).
    #[arg(long, value_name = "SRC:/genconf/DST", value_parser = parse_copy)]
    pub copy_to_genconf: Vec<(PathBuf, PathBuf)>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The installer (build artifact); without it, nodes only.
    pub artifact: Option<PathBuf>,
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

#[derive(Debug, Args)]
pub struct ExistingArgs {
    /// The cluster file (YAML: ssh_user, ssh_key_path, masters, agents, public_agents,
    /// known_hosts, strict_host_key_checking).
    #[arg(long, value_name = "FILE")]
    pub cluster_file: PathBuf,
    #[command(subcommand)]
    pub command: ExistingCmd,
}

#[derive(Debug, Subcommand)]
pub enum ExistingCmd {
    /// Run a command on nodes; exits with the command's status.
    #[command(
        after_help = "Example:\n  minidcos existing --cluster-file cluster.yaml run --node all-agents -- uptime"
    )]
    Run {
        #[command(flatten)]
        nodes: NodeArgs,
        #[command(flatten)]
        command: CommandArgs,
    },
    /// Copy a local file to nodes.
    #[command(
        after_help = "Example:\n  minidcos existing --cluster-file cluster.yaml send-file ./a.conf /etc/a.conf --node all"
    )]
    SendFile {
        /// Local file or directory.
        source: PathBuf,
        /// Absolute destination path on the node.
        destination: String,
        #[command(flatten)]
        nodes: NodeArgs,
        #[command(flatten)]
        copy: CopyArgs,
    },
    /// Copy a file or directory from one node.
    #[command(
        after_help = "Example:\n  minidcos existing --cluster-file cluster.yaml download-file /var/log/a.log ./a.log"
    )]
    DownloadFile {
        /// Absolute path on the node.
        source: String,
        /// Local destination.
        destination: PathBuf,
        #[command(flatten)]
        nodes: NodeArgs,
        #[command(flatten)]
        copy: CopyArgs,
    },
    /// Wait until DC/OS is healthy on every master.
    #[command(
        after_help = "Example:\n  minidcos existing --cluster-file cluster.yaml wait --timeout 30m"
    )]
    Wait {
        /// Give up after this long (e.g. 600, 90s, 10m).
        #[arg(long, default_value = "10m", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Show the nodes and their ssh commands.
    #[command(
        after_help = "Example:\n  minidcos existing --cluster-file cluster.yaml inspect --json"
    )]
    Inspect,
}

/// `600`, `90s`, `10m`, `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a duration like 600, 90s, 10m or 1h");
    let t = s.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = number.parse().map_err(|_| bad())?;
    let secs = match unit {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        _ => None,
    };
    secs.map(Duration::from_secs).ok_or_else(bad)
}

/// `K=V`; the value may hold anything, `=` included.
fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v))
            if !k.is_empty()
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !k.starts_with(|c: char| c.is_ascii_digit()) =>
        {
            Ok((k.to_string(), v.to_string()))
        }
        _ => Err(format!(
            "`{s}` is not K=V with K a variable name (letters, digits, _)"
        )),
    }
}

/// `K=V` for a label; the value may be empty or hold `=`.
fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !k.contains(char::is_whitespace) => {
            Ok((k.to_string(), v.to_string()))
        }
        _ => Err(format!(
            "`{s}` is not K=V with a non-empty key without spaces"
        )),
    }
}

/// `HOST:CONTAINER` ports, each 1 to 65535.
fn parse_port_map(s: &str) -> Result<(u16, u16), String> {
    let bad = || format!("`{s}` is not HOST:CONTAINER, two ports from 1 to 65535");
    let (host, container) = s.split_once(':').ok_or_else(bad)?;
    let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad);
    Ok((port(host)?, port(container)?))
}

/// `SRC:/genconf/DST` (the source may itself hold `:`).
fn parse_copy(s: &str) -> Result<(PathBuf, PathBuf), String> {
    match s.rsplit_once(':') {
        Some((src, dst)) if !src.is_empty() && !dst.is_empty() => {
            Ok((PathBuf::from(src), PathBuf::from(dst)))
        }
        _ => Err(format!("`{s}` is not SRC:/genconf/DST")),
    }
}

/// `SRC:DST`, `SRC:DST:ro` or `SRC:DST:rw`.
fn parse_mount(s: &str) -> Result<Mount, String> {
    s.parse::<Mount>()
        .map_err(|_| format!("`{s}` is not SRC:DST, SRC:DST:ro or SRC:DST:rw"))
}

/// A node selector (see [`NodeSelector`]); a bad one is a usage error naming it.
fn parse_node(s: &str) -> Result<NodeSelector, String> {
    s.parse::<NodeSelector>().map_err(|e| match e {
        dcos_e2e::Error::InvalidParameter { reason, .. } => format!("`{s}`: {reason}"),
        other => other.to_string(),
    })
}

/// A distribution name; an unknown one is a usage error naming those supported.
fn parse_distribution(s: &str) -> Result<Distribution, String> {
    s.parse::<Distribution>().map_err(|e| match e {
        dcos_e2e::Error::InvalidParameter { reason, .. } => format!("`{s}`: {reason}"),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("600").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        for bad in ["ten", "5d", "5x", "", "m", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_values_are_literal() {
        assert_eq!(
            parse_env("A=x y=z").unwrap(),
            ("A".to_string(), "x y=z".to_string())
        );
        assert_eq!(parse_env("A=").unwrap(), ("A".into(), String::new()));
        for bad in ["A", "=x", "1A=x", "A B=x"] {
            assert!(parse_env(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nodes() {
        use dcos_e2e::Role;
        assert_eq!(parse_node("all").unwrap(), NodeSelector::All);
        assert_eq!(
            parse_node("all-public-agents").unwrap(),
            NodeSelector::AllOf(Role::PublicAgent)
        );
        assert_eq!(
            parse_node("agent:2").unwrap(),
            NodeSelector::Nth(Role::Agent, 2)
        );
        assert_eq!(
            parse_node("10.0.0.1").unwrap(),
            NodeSelector::Ip("10.0.0.1".parse().unwrap())
        );
        for bad in ["agent", "agent:0", "agent:x", "boss:1", "10.0.0"] {
            assert!(parse_node(bad).is_err(), "{bad}");
        }
        for spec in [
            "all",
            "all-masters",
            "agent:2",
            "public-agent:1",
            "10.0.0.1",
        ] {
            assert_eq!(parse_node(spec).unwrap().to_string(), spec);
        }
    }

    #[test]
    fn copies_and_mounts() {
        assert_eq!(
            parse_copy("a:b:/genconf/x").unwrap(),
            (PathBuf::from("a:b"), PathBuf::from("/genconf/x"))
        );
        assert!(parse_copy("nocolon").is_err());
        assert!(parse_mount("/a:/b:ro").unwrap().read_only);
        assert!(parse_mount("/a").is_err());
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
