//! Logging to stderr through `tracing`, in the same `level: message` form
//! as the error report.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Variable that overrides the verbosity flags with a `tracing` filter,
/// such as `regctl=trace,bollard=debug`.
const LOG_ENV: &str = "REGCTL_LOG";

/// Installs the stderr logger. `-q` keeps errors only; each `-v` adds a
/// level to regctl's own logs, and `-vvv` also shows the engine clients'.
pub fn init(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,regctl=info",
        (false, 1) => {
            "warn,regctl=debug,regctl_runtime=debug,regctl_docker=debug,regctl_podman=debug"
        }
        (false, 2) => {
            "warn,regctl=trace,regctl_runtime=trace,regctl_docker=trace,regctl_podman=trace"
        }
        (false, _) => "trace",
    };

    let filter = EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new(default));

    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .event_format(PlainFormat)
        .with_filter(filter)
        .with_filter(filter_fn(|metadata| !prints_request_bodies(metadata)));

    tracing_subscriber::registry().with(layer).init();
}

/// Checks whether an event may print request bodies, which carry the registry
/// configuration file and its credentials. bollard 0.21 logs every request,
/// body included, at TRACE, so those events are dropped at any verbosity.
fn prints_request_bodies(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.target().starts_with("bollard") && *metadata.level() == Level::TRACE
}

/// Formats an event as `warning: message`, and info events as the bare
/// message.
struct PlainFormat;

impl<S, N> FormatEvent<S, N> for PlainFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let prefix = match *event.metadata().level() {
            Level::ERROR => "error: ",
            Level::WARN => "warning: ",
            Level::INFO => "",
            Level::DEBUG => "debug: ",
            Level::TRACE => "trace: ",
        };
        write!(writer, "{prefix}")?;
        context
            .field_format()
            .format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
