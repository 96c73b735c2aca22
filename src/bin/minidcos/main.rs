//! `minidcos`: every capability of the `dcos_e2e` library from a shell.

mod cli;
mod commands;
mod output;

use clap::{CommandFactory, Parser};
use tracing_subscriber::EnvFilter;

use cli::{Cli, Top};

fn main() {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_env("MINIDCOS_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},hyper=warn,russh=warn")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();

    let code = match run(cli) {
        Ok(status) => status,
        Err(e) => {
            eprintln!("error: {}", chain(&e));
            if let Some(hint) = hint(&e) {
                eprintln!("hint: {hint}");
            }
            1
        }
    };
    std::process::exit(code);
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    if let Top::Completions { shell } = cli.command {
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "minidcos",
            &mut std::io::stdout(),
        );
        return Ok(0);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Top::Docker(cmd) => commands::docker(cmd, cli.json).await,
            Top::Existing(args) => commands::existing(args, cli.json).await,
            Top::Completions { .. } => Ok(0),
        }
    })
}

/// One line: the error and its causes.
fn chain(e: &anyhow::Error) -> String {
    dcos_e2e::chain(e.as_ref())
}

/// What to do next, for errors with an obvious remedy.
fn hint(e: &anyhow::Error) -> Option<&'static str> {
    let lib = e
        .chain()
        .find_map(|c| c.downcast_ref::<dcos_e2e::Error>())?;
    Some(match lib {
        dcos_e2e::Error::DockerUnreachable { .. } => {
            "start dockerd, or set DOCKER_HOST; `minidcos docker doctor` checks the setup"
        }
        dcos_e2e::Error::DebootstrapMissing => "apt-get install debootstrap",
        dcos_e2e::Error::ImageBuild { .. } => {
            "check the mirror (--mirror) and that you are root; `minidcos docker doctor`"
        }
        dcos_e2e::Error::CreateFailed { kept: false, .. } => {
            "nothing was left behind; `-v` shows each step"
        }
        dcos_e2e::Error::CreateFailed { kept: true, .. } => {
            "inspect it with `minidcos docker inspect`, remove it with `minidcos docker destroy`"
        }
        dcos_e2e::Error::Timeout { .. } | dcos_e2e::Error::Transport { .. } => {
            "is the node running and reachable? `--transport docker-exec` avoids the network path"
        }
        dcos_e2e::Error::WaitTimeout { .. } => {
            "look at the node with `minidcos docker run ID -- journalctl -b`"
        }
        _ => return None,
    })
}
