//! `regctl runtimes`: every engine regctl can reach, and the one `auto`
//! picks.

use regctl_runtime::RuntimeKind;
use serde::Serialize;

use crate::cli::{RuntimeChoice, RuntimesArgs};
use crate::engines::{self, Engine};
use crate::error::Error;
use crate::output::print_rows;

const HEADERS: &[&str] = &[
    "runtime", "version", "api", "socket", "origin", "mode", "auto",
];

/// One engine that responded.
#[derive(Debug, Serialize)]
struct RuntimeRow {
    runtime: RuntimeKind,
    version: String,
    api_version: String,
    socket: String,
    /// Origin of the address, such as `DOCKER_HOST` or `rootful`.
    origin: &'static str,
    rootless: bool,
    /// Whether `--runtime auto` picks this engine.
    auto: bool,
}

impl RuntimeRow {
    fn new(engine: &Engine, auto: bool) -> Self {
        RuntimeRow {
            runtime: engine.info.kind,
            version: engine.info.version.clone(),
            api_version: engine.info.api_version.clone(),
            socket: engine.info.socket.clone(),
            origin: engine.origin,
            rootless: engine.info.rootless,
            auto,
        }
    }
}

/// Probes every address of `auto` discovery and prints the engines that
/// responded, in discovery order. Fails, listing every address tried, when
/// none responds.
pub async fn run(args: &RuntimesArgs) -> Result<(), Error> {
    let engines = engines::connect_all(&RuntimeChoice::Auto).await?;

    // `auto` takes the first engine that responds, and connect_all keeps the
    // discovery order.
    let rows: Vec<RuntimeRow> = engines
        .iter()
        .enumerate()
        .map(|(index, engine)| RuntimeRow::new(engine, index == 0))
        .collect();

    print_rows(&rows, args.output, HEADERS, |row| {
        vec![
            row.runtime.to_string(),
            row.version.clone(),
            row.api_version.clone(),
            row.socket.clone(),
            row.origin.to_owned(),
            if row.rootless { "rootless" } else { "rootful" }.to_owned(),
            if row.auto { "yes" } else { "no" }.to_owned(),
        ]
    })
}
