//! The `fisco-p2p` command line. See `fisco-p2p --help`.

mod cli;

use std::process::ExitCode;

use clap::Parser;

#[allow(clippy::print_stderr)]
fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
    };
    match cli.command.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is::<cli::ReportedError>() => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {}", cli::one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// A command line clap refused: one line on stderr (a JSON object with `--json`), exit code 2.
/// `--help` and `--version` print as usual.
#[allow(clippy::print_stderr)]
fn usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = error.print();
        return ExitCode::from(if error.use_stderr() { 2 } else { 0 });
    }
    let rendered = error.render().to_string();
    let first = rendered
        .lines()
        .next()
        .unwrap_or("invalid command line")
        .trim_start_matches("error: ");
    // The values clap would accept, or the argument it suggests, are on lines of their own.
    use clap::error::{ContextKind, ContextValue};
    let mut line = first.to_owned();
    if let Some(ContextValue::Strings(valid)) = error.get(ContextKind::ValidValue) {
        line.push_str(&format!("; expected one of: {}", valid.join(", ")));
    }
    let suggested = match error.get(ContextKind::SuggestedArg) {
        Some(ContextValue::String(text)) => Some(text.clone()),
        Some(ContextValue::StyledStr(text)) => Some(text.to_string()),
        _ => None,
    };
    if let Some(suggested) = suggested {
        line.push_str(&format!("; did you mean {suggested}?"));
    }
    line.push_str("; see --help");
    if std::env::args().any(|arg| arg == "--json") {
        eprintln!("{}", serde_json::json!({ "error": line }));
    } else {
        eprintln!("error: {line}");
    }
    ExitCode::from(2)
}
