//! The command line, as clap types. No logic here.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  minidcos docker build-image
  minidcos docker create tests/fixtures/sample-installer/dcos_generate_config.sh --wait
  minidcos docker list
  minidcos docker run dcos-e2e-1a2b3c4d -- systemctl is-system-running
  minidcos docker run dcos-e2e-1a2b3c4d --test-env -- pytest -x
  minidcos docker destroy dcos-e2e-1a2b3c4d
  minidcos existing --cluster-file cluster.yaml run -- hostname";

/// Clusters of machine-like Docker containers (or existing SSH hosts) for end-to-end
/// tests of DC/OS and systems like it.
#[derive(Debug, Parser)]
#[command(name = "minidcos", version, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    /// More detail on stderr (-v info, -vv debug).
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
    #[command(subcommand)]
    Docker(DockerCmd),
    /// Node operations on an existing cluster described in a cluster file.
    Existing(ExistingArgs),
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum DockerCmd {
    /// Create a cluster; with an artifact, install DC/OS on it. Prints the cluster id.
    #[command(
        after_help = "Example:\n  minidcos docker create installer.sh --masters 3 --agents 2 --public-agents 0 --wait"
    )]
    Create(CreateArgs),
    /// Install DC/OS from an artifact on a cluster created without one.
    Install {
        /// The cluster id.
        id: String,
        #[command(flatten)]
        install: InstallArgs,
    },
    /// List clusters.
    List,
    /// Show a cluster's nodes, addresses, ssh commands, workspace and key.
    Inspect {
        /// The cluster id.
        id: String,
    },
    /// Run a command on nodes; exits with the command's status.
    #[command(
        after_help = "Example:\n  minidcos docker run dcos-e2e-1a2b3c4d --node agent:1 --env A=b -- sh -c 'echo $A'"
    )]
    Run(RunArgs),
    /// Copy a local file to nodes.
    SendFile {
        /// The cluster id.
        id: String,
        /// Local file.
        source: PathBuf,
        /// Absolute destination path on the node.
        destination: String,
        #[command(flatten)]
        nodes: NodeArgs,
    },
    /// Copy a file from a node.
    DownloadFile {
        /// The cluster id.
        id: String,
        /// Absolute path on the node.
        source: String,
        /// Local destination.
        destination: PathBuf,
        #[command(flatten)]
        nodes: NodeArgs,
    },
    /// Wait until DC/OS is healthy on every master.
    Wait {
        /// The cluster id.
        id: String,
        /// Give up after this long (e.g. 600, 90s, 10m).
        #[arg(long, default_value = "10m", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Destroy clusters.
    Destroy {
        /// Cluster ids.
        #[arg(required_unless_present = "all")]
        ids: Vec<String>,
        /// Destroy every cluster of ours.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
    /// Remove what is left of clusters whose owner is gone (never a cluster `create`
    /// completed, nor one whose process is alive).
    Clean {
        /// Remove every cluster of ours.
        #[arg(long)]
        all: bool,
    },
    /// Check this machine can run clusters.
    Doctor {
        /// The workspace directory to check for free disk.
        #[arg(long)]
        workspace_dir: Option<PathBuf>,
    },
    /// Build the node image (debootstrap; needs root; about a minute).
    BuildImage {
        /// Debian mirror URL (default: from the host's apt sources).
        #[arg(long)]
        mirror: Option<String>,
        /// Debian suite.
        #[arg(long, default_value = "bookworm")]
        suite: String,
        /// Also install this Debian package in the image (repeatable; makes a new tag).
        #[arg(long = "extra-package", value_name = "PACKAGE")]
        extra_packages: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The installer (build artifact), run with bash.
    pub artifact: PathBuf,
    /// YAML file merged over the base install config.
    #[arg(long, value_name = "FILE")]
    pub extra_config: Option<PathBuf>,
    /// Copy a file into the installer's genconf: SRC:/genconf/DST.
    #[arg(long, value_name = "SRC:/genconf/DST")]
    pub copy_to_genconf: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The installer (build artifact); without it, nodes only.
    pub artifact: Option<PathBuf>,
    /// Number of masters.
    #[arg(long, default_value_t = 1)]
    pub masters: usize,
    /// Number of private agents.
    #[arg(long, default_value_t = 1)]
    pub agents: usize,
    /// Number of public agents.
    #[arg(long, default_value_t = 1)]
    pub public_agents: usize,
    /// YAML file merged over the base install config.
    #[arg(long, value_name = "FILE")]
    pub extra_config: Option<PathBuf>,
    /// Copy a file into the installer's genconf: SRC:/genconf/DST.
    #[arg(long, value_name = "SRC:/genconf/DST")]
    pub copy_to_genconf: Vec<String>,
    /// Cluster id (default: random dcos-e2e-…).
    #[arg(long)]
    pub cluster_id: Option<String>,
    /// Where the cluster's temporary directory is made.
    #[arg(long)]
    pub workspace_dir: Option<PathBuf>,
    /// Bind mount on masters: SRC:DST[:ro].
    #[arg(long, value_name = "SRC:DST[:ro]")]
    pub custom_master_volume: Vec<String>,
    /// Bind mount on agents: SRC:DST[:ro].
    #[arg(long, value_name = "SRC:DST[:ro]")]
    pub custom_agent_volume: Vec<String>,
    /// Bind mount on public agents: SRC:DST[:ro].
    #[arg(long, value_name = "SRC:DST[:ro]")]
    pub custom_public_agent_volume: Vec<String>,
    /// Node image (default: ours, built when missing).
    #[arg(long)]
    pub node_image: Option<String>,
    /// Run nodes privileged: auto, yes or no.
    #[arg(long, default_value = "auto")]
    pub privileged: String,
    /// How node commands travel: ssh or docker-exec.
    #[arg(long, default_value = "ssh")]
    pub transport: String,
    /// Wait for DC/OS to be healthy before returning.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this long.
    #[arg(long, default_value = "10m", value_parser = parse_duration, requires = "wait")]
    pub timeout: Duration,
    /// Stream installer output to stderr.
    #[arg(long)]
    pub log_output_live: bool,
}

#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Which nodes: an IP, ROLE:N (master:1, agent:2, public-agent:1), all-masters,
    /// all-agents, all-public-agents or all. Repeatable. Default: the first master.
    #[arg(long = "node", value_name = "NODE")]
    pub node: Vec<String>,
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
    #[arg(long)]
    pub transport: Option<String>,
}

#[derive(Debug, Args)]
pub struct CommandArgs {
    /// Environment variable for the command: K=V (repeatable).
    #[arg(long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Run as this user.
    #[arg(long)]
    pub user: Option<String>,
    /// Run as root through sudo.
    #[arg(long)]
    pub sudo: bool,
    /// Run the words as one shell script instead of one command.
    #[arg(long)]
    pub shell: bool,
    /// Run in the integration-test environment (as run_integration_tests does).
    #[arg(long)]
    pub test_env: bool,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExistingArgs {
    /// The cluster file (YAML: ssh_user, ssh_key_path, masters, agents, public_agents).
    #[arg(long)]
    pub cluster_file: PathBuf,
    #[command(subcommand)]
    pub command: ExistingCmd,
}

#[derive(Debug, Subcommand)]
pub enum ExistingCmd {
    /// Run a command on nodes; exits with the command's status.
    Run {
        #[command(flatten)]
        nodes: NodeArgs,
        #[command(flatten)]
        command: CommandArgs,
    },
    /// Copy a local file to nodes.
    SendFile {
        /// Local file.
        source: PathBuf,
        /// Absolute destination path on the node.
        destination: String,
        #[command(flatten)]
        nodes: NodeArgs,
    },
    /// Copy a file from a node.
    DownloadFile {
        /// Absolute path on the node.
        source: String,
        /// Local destination.
        destination: PathBuf,
        #[command(flatten)]
        nodes: NodeArgs,
    },
    /// Wait until DC/OS is healthy on every master.
    Wait {
        /// Give up after this long (e.g. 600, 90s, 10m).
        #[arg(long, default_value = "10m", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Show the nodes.
    Inspect,
}

/// `600`, `90s`, `10m`, `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = s.trim().split_at(
        s.trim()
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(s.trim().len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 600, 90s, 10m or 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("`{s}` is not a duration like 600, 90s, 10m or 1h")),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("600").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
