//! The `fisco-p2p` command line: one subcommand per job, each with its own `--help`.

mod certs;
mod ctl;
mod demo;
mod id;
mod run;
pub(crate) mod terminal;

use clap::{Parser, Subcommand};

/// The command line of the `fisco-p2p` binary.
#[derive(Debug, Parser)]
#[command(
    name = "fisco-p2p",
    version,
    about = "FISCO BCOS P2P network node and tools",
    long_about = "FISCO BCOS P2P network node and tools.\n\n\
                  Node directories follow FISCO's layout: node.key, node.crt (node, agency, CA \
                  certificates) and ca.crt."
)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Make FISCO-style certificates: a chain CA, agencies and nodes.
    #[command(subcommand)]
    Certs(certs::CertsCommand),
    /// Print the node ID of a node directory, a node.key or a node.crt.
    Id(id::IdArgs),
    /// Run a local demo network on 127.0.0.1 and show, step by step, what it does.
    Demo(demo::DemoArgs),
    /// Run a node from its configuration file and flags, with its admin API.
    Run(run::RunArgs),
    /// Watch and drive a running node through its admin API.
    Ctl(ctl::CtlArgs),
}

impl Command {
    /// Runs the subcommand; the error is reported on one line by `main`.
    pub(crate) fn run(self) -> anyhow::Result<()> {
        match self {
            Command::Certs(command) => command.run(),
            Command::Id(args) => args.run(),
            Command::Demo(args) => args.run(),
            Command::Run(args) => args.run(),
            Command::Ctl(args) => args.run(),
        }
    }
}

/// An error already reported in its own form (`ctl --json` writes a JSON object): `main` only
/// exits non-zero.
#[derive(Debug)]
pub(crate) struct ReportedError;

impl std::fmt::Display for ReportedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(reported)")
    }
}

impl std::error::Error for ReportedError {}

impl ReportedError {
    /// Writes `error` to stderr as one JSON object, `{"error": "...", "status": N}` (`status`,
    /// the HTTP status, when the API answered), and returns the marker.
    #[allow(clippy::print_stderr)]
    pub(crate) fn json(error: &anyhow::Error) -> Self {
        let mut object = serde_json::json!({ "error": one_line(error) });
        if let Some(fisco_p2p_admin::client::ClientError::Api { status, .. }) =
            error.downcast_ref::<fisco_p2p_admin::client::ClientError>()
        {
            object["status"] = serde_json::json!(status);
        }
        eprintln!("{object}");
        Self
    }
}

/// An error and its causes on one line, skipping a cause its parent's message already quotes;
/// control characters (a peer's words may be quoted) are escaped.
pub(crate) fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    terminal::escape(&line).into_owned()
}
