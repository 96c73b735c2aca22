//! `minidcos`: every capability of the `dcos_e2e` library from a shell.

mod cli;
mod commands;
mod errors;
mod output;
mod signals;
mod terminal;

use std::io::IsTerminal;

use clap::{CommandFactory, Parser};
use tracing_subscriber::EnvFilter;

use cli::{Cli, DockerCmd, Top};

fn main() {
    let cli = Cli::parse();
    logging(&cli);
    let code = match run(cli) {
        Ok(status) => status,
        Err(e) => {
            eprintln!("error: {}", errors::chain(&e));
            if let Some(hint) = errors::hint(&e) {
                eprintln!("hint: {hint}");
            }
            1
        }
    };
    std::process::exit(code);
}

/// Log lines on stderr: warnings by default, more with -v; `MINIDCOS_LOG` overrides.
fn logging(cli: &Cli) {
    let mut directives = match cli.verbose {
        0 => "warn".to_string(),
        1 => "warn,dcos_e2e=info,minidcos=info".to_string(),
        2 => "info,dcos_e2e=debug,minidcos=debug,hyper=warn,russh=warn,bollard=info".to_string(),
        _ => "debug".to_string(),
    };
    let live = matches!(&cli.command, Top::Docker(DockerCmd::Create(a)) if a.log_output_live);
    if live && cli.verbose == 0 {
        directives.push_str(",dcos_e2e::installer=info,dcos_e2e::node=info");
    }
    let filter =
        EnvFilter::try_from_env("MINIDCOS_LOG").unwrap_or_else(|_| EnvFilter::new(directives));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| output::LogWriter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
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
        let status = match cli.command {
            Top::Docker(cmd) => commands::docker(cmd, cli.json).await,
            Top::Existing(args) => commands::existing(args, cli.json).await,
            Top::Completions { .. } => Ok(0),
        };
        // An interrupted create may have left a probe container halfway (created, not
        // yet removed): the runtime's end would leave it so.
        dcos_e2e::docker::finish_pending(std::time::Duration::from_secs(30)).await;
        status
    })
}
