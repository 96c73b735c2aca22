//! The command line, as clap types, and the parsers of flag values: anything wrong in
//! the syntax of an argument is a usage error (exit status 2) that names the flag.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Parser, Subcommand};
use dcos_e2e::NodeSelector;

mod args;
mod existing;
mod parse;

pub use args::*;
pub use existing::{ExistingArgs, ExistingCmd};
use parse::*;

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
    /// Upgrade an installed cluster from a second artifact: masters one at a time, each
    /// healthy again before the next, then agents, then public agents.
    #[command(after_help = "\
Examples:
  minidcos docker upgrade dcos-e2e-1a2b3c4d installer-2.3.sh --wait
  minidcos docker upgrade dcos-e2e-1a2b3c4d installer-2.3.sh --node all-masters")]
    Upgrade {
        /// The cluster id.
        id: String,
        #[command(flatten)]
        upgrade: UpgradeArgs,
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
    /// Remove nodes: each one's container and its own volumes; the cluster goes on.
    #[command(after_help = "Example:\n  minidcos docker destroy-node dcos-e2e-1a2b3c4d master:2")]
    DestroyNode(NodeFaultArgs),
    /// Add a node of a role, made as the others were; on an installed cluster it takes
    /// the address of a node of its role DC/OS was installed with that is gone, and is
    /// installed. Prints the new node's name and address.
    #[command(after_help = "\
Examples:
  minidcos docker add-node dcos-e2e-1a2b3c4d master --wait
  minidcos docker add-node dcos-e2e-1a2b3c4d agent")]
    AddNode {
        /// The cluster id.
        id: String,
        /// master, agent or public-agent.
        #[arg(value_parser = parse::parse_role)]
        role: dcos_e2e::Role,
        /// Then wait until DC/OS is healthy on every master.
        #[arg(long)]
        wait: bool,
        /// With --wait: give up after this long (e.g. 600, 90s, 10m).
        #[arg(long, default_value = "10m", value_parser = parse::parse_duration, requires = "wait")]
        timeout: std::time::Duration,
    },
    /// Faults on nodes' machines: stop, start, restart, pause, resume or signal them
    /// (a stopped node keeps its address, disks and keys).
    #[command(after_help = "\
Examples:
  minidcos docker node stop dcos-e2e-1a2b3c4d master:1
  minidcos docker node start dcos-e2e-1a2b3c4d master:1
  minidcos docker node pause dcos-e2e-1a2b3c4d all-agents
  minidcos docker node kill dcos-e2e-1a2b3c4d agent:1 --signal SIGKILL")]
    Node {
        #[command(subcommand)]
        action: NodeAction,
    },
}

/// What `minidcos docker node` does to each node named.
#[derive(Debug, Subcommand)]
pub enum NodeAction {
    /// Halt the nodes (their init is asked to; killed after 10 s).
    Stop(NodeFaultArgs),
    /// Start stopped nodes and wait until they accept commands.
    Start(NodeFaultArgs),
    /// Stop and start the nodes, then wait until they accept commands.
    Restart(NodeFaultArgs),
    /// Freeze every process of the nodes.
    Pause(NodeFaultArgs),
    /// Let paused nodes go on.
    Resume(NodeFaultArgs),
    /// Send a signal to the nodes' first process; prints what each does then.
    Kill {
        #[command(flatten)]
        target: NodeFaultArgs,
        /// The signal: a name (SIGKILL, TERM) or a number.
        #[arg(long, default_value = "SIGKILL")]
        signal: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
