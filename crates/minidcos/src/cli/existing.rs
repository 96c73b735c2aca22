//! `minidcos existing`: the same node commands on hosts described by a cluster file.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::args::{CommandArgs, CopyArgs, InstallArgs, NodeArgs, UpgradeArgs};
use super::parse::parse_duration;

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
    /// Install DC/OS from an artifact on the hosts: genconf here, `serve/` copied to
    /// each host (only what changed), the per-role install as root (sudo when the
    /// user is not root).
    #[command(
        after_help = "Example:\n  minidcos existing --cluster-file cluster.yaml install dcos_generate_config.sh"
    )]
    Install {
        #[command(flatten)]
        install: InstallArgs,
    },
    /// Upgrade the hosts from a second artifact: masters one at a time, each healthy
    /// again before the next, then agents, then public agents.
    #[command(
        after_help = "Example:\n  minidcos existing --cluster-file cluster.yaml upgrade installer-2.3.sh --wait"
    )]
    Upgrade {
        #[command(flatten)]
        upgrade: UpgradeArgs,
    },
    /// Show the nodes and their ssh commands.
    #[command(
        after_help = "Example:\n  minidcos existing --cluster-file cluster.yaml inspect --json"
    )]
    Inspect,
}
