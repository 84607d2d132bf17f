//! regctl creates and manages local OCI registries on Docker or Podman.
//!
//! The binary is a thin `main`; this library contains the CLI definition, the
//! pure flag compiler and the commands, so tests can reach them.

pub mod cli;
pub mod commands;
pub mod compile;
pub mod engines;
pub mod error;
pub mod failpoint;
pub mod gc;
pub mod logging;
pub mod output;
pub mod ports;
pub mod readiness;
pub mod refs;
pub mod registry_client;
pub mod registry_config;
pub mod removal;
pub mod secrets;
pub mod validate;

use cli::{Cli, Command};
use error::Error;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Create(args) => commands::create::run(&args).await,
        Command::List(args) => commands::list::run(&args).await,
        Command::Inspect(args) => commands::lifecycle::inspect(&args).await,
        Command::Start(args) => commands::lifecycle::start(&args).await,
        Command::Stop(args) => commands::lifecycle::stop(&args).await,
        Command::Delete(args) => commands::lifecycle::delete(&args).await,
        Command::Images(args) => commands::images::run(&args).await,
        Command::Rmi(args) => commands::rmi::run(&args).await,
        Command::Update(args) => commands::update::run(&args).await,
        Command::Gc(args) => commands::gc::run(&args).await,
        Command::Runtimes(args) => commands::runtimes::run(&args).await,
    }
}
