use std::process::ExitCode;

use clap::Parser;
use regctl::cli::Cli;
use regctl::error::Error;
use regctl::logging;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.verbose, cli.quiet);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");

    match runtime.block_on(regctl::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&error);
            ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(1))
        }
    }
}

/// Prints an error once: the message, each cause, details such as log
/// lines, then a hint.
fn report(error: &Error) {
    let mut text = format!("error: {error}\n");

    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!("  caused by: {cause}\n"));
        source = cause.source();
    }

    if let Some(details) = error.details() {
        text.push_str(&details);
        text.push('\n');
    }

    if let Some(hint) = error.hint() {
        text.push_str(&format!("hint: {hint}\n"));
    }

    eprint!("{text}");
}
