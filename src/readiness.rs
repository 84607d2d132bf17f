//! Waiting until a registry responds to `GET /v2/`.

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use regctl_runtime::{ContainerRuntime, ContainerState, RegistrySpec};
use reqwest::StatusCode;
use tracing::debug;

use crate::error::Error;

/// Pause between two probes. The registry responds about a second after its
/// container starts, so a short pause adds little to `create`.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Probes between two checks of the container's state, which catch a
/// registry that exited instead of waiting for the timeout.
const PROBES_PER_STATE_CHECK: u32 = 10;

/// Log lines shown when the registry does not become ready.
pub const LOG_TAIL_LINES: usize = 20;

/// Log lines read to find the registry's errors. Every probe adds two or
/// three lines, so the errors sit further back than the shown tail.
const LOG_SCAN_LINES: usize = 400;

/// Distinct error lines shown in place of the tail when there are any.
const ERROR_LINES: usize = 5;

/// Address to probe for a registry published on `ip`: loopback when it is
/// published on every interface.
pub fn probe_url(ip: IpAddr, port: u16) -> String {
    format!("{}/v2/", base_url(ip, port))
}

/// Base URL of a registry published on `ip`, such as
/// `http://127.0.0.1:5001`: loopback when it is published on every
/// interface.
pub fn base_url(ip: IpAddr, port: u16) -> String {
    let ip = match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    };
    match ip {
        IpAddr::V4(v4) => format!("http://{v4}:{port}"),
        IpAddr::V6(v6) => format!("http://[{v6}]:{port}"),
    }
}

/// Polls the registry of `spec` until `GET /v2/` returns 200, or 401 when
/// the registry requires authentication.
///
/// NOTE: the probe goes to the host's own address, so it only works when the
/// engine runs on this host, not with a remote DOCKER_HOST.
pub async fn wait_until_ready(
    runtime: &dyn ContainerRuntime,
    spec: &RegistrySpec,
    timeout: Duration,
) -> Result<(), Error> {
    let port = spec.port.host_port.unwrap_or_default();
    let url = probe_url(spec.port.host_ip, port);
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("a plain HTTP client builds");

    let spinner = spinner(&format!("waiting for {} at {url}", spec.name));
    let started = Instant::now();
    let mut probes = 0u32;
    let mut storage_error = None;

    loop {
        // Another server may respond on the port while this container
        // restarts, so a response counts only from a running container.
        if probe(&client, &url).await
            && state(runtime, &spec.name).await == Some(ContainerState::Running)
        {
            match check_storage(&client, &url).await {
                Ok(()) => {
                    spinner.finish_and_clear();
                    debug!("{url} responded after {} ms", started.elapsed().as_millis());
                    return Ok(());
                }
                Err(reason) => storage_error = Some(reason),
            }
        }

        probes += 1;
        if probes % PROBES_PER_STATE_CHECK == 0 && has_failed(runtime, &spec.name).await {
            spinner.finish_and_clear();
            return Err(Error::Exited {
                name: spec.name.clone(),
                url,
                logs: last_logs(runtime, &spec.name).await,
            });
        }

        if started.elapsed() >= timeout {
            spinner.finish_and_clear();
            return Err(Error::NotReady {
                name: spec.name.clone(),
                url,
                seconds: timeout.as_secs(),
                storage_error,
                logs: last_logs(runtime, &spec.name).await,
            });
        }

        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

async fn probe(client: &reqwest::Client, url: &str) -> bool {
    match client.get(url).send().await {
        Ok(response) => matches!(response.status(), StatusCode::OK | StatusCode::UNAUTHORIZED),
        Err(_) => false,
    }
}

/// Lists one repository, which reads the storage. `/v2/` alone returns 200
/// before the storage driver has ever reached its bucket, so a wrong S3
/// endpoint or bucket shows only here, as a 5xx with the driver's error.
async fn check_storage(client: &reqwest::Client, base_url: &str) -> Result<(), String> {
    let url = format!("{base_url}_catalog?n=1");
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|error| format!("GET {url} failed: {error}"))?;

    let status = response.status();
    if !status.is_server_error() {
        return Ok(());
    }

    let body = response.text().await.unwrap_or_default();
    Err(format!("GET {url} returned {status}: {}", body.trim()))
}

async fn state(runtime: &dyn ContainerRuntime, name: &str) -> Option<ContainerState> {
    runtime
        .inspect_container(name)
        .await
        .ok()
        .flatten()
        .map(|info| info.state)
}

/// Checks whether the container stopped, or restarts after a crash under
/// its restart policy.
async fn has_failed(runtime: &dyn ContainerRuntime, name: &str) -> bool {
    match runtime.inspect_container(name).await {
        Ok(Some(info)) => matches!(
            info.state,
            ContainerState::Exited | ContainerState::Dead | ContainerState::Restarting
        ),
        Ok(None) => true,
        Err(_) => false,
    }
}

/// Reads the container's logs and returns its distinct error lines, or its
/// last lines when it logged no error, or why the logs could not be read.
pub async fn last_logs(runtime: &dyn ContainerRuntime, name: &str) -> String {
    match runtime.container_logs(name, LOG_SCAN_LINES).await {
        Ok(logs) if logs.trim().is_empty() => "(no output)".to_owned(),
        Ok(logs) => summarize_logs(&logs),
        Err(error) => format!("(failed to read the logs: {error})"),
    }
}

/// Picks the lines that explain a failure. Distribution logs errors as
/// `level=error`, `level=fatal` or a Go panic; identical causes repeat once
/// per probe, so each `err.detail` (or message) is shown once.
fn summarize_logs(logs: &str) -> String {
    let is_error = |line: &&str| {
        ["level=error", "level=fatal", "level=panic", "panic:"]
            .iter()
            .any(|marker| line.contains(marker))
    };

    let mut seen = std::collections::HashSet::new();
    let mut errors: Vec<&str> = logs
        .lines()
        .rev()
        .filter(is_error)
        .filter(|line| seen.insert(error_cause(line)))
        .take(ERROR_LINES)
        .collect();

    if errors.is_empty() {
        let lines: Vec<&str> = logs.lines().collect();
        let start = lines.len().saturating_sub(LOG_TAIL_LINES);
        return lines[start..].join("\n");
    }

    errors.reverse();
    errors.join("\n")
}

/// Returns the part of an error line that names its cause, without the time stamp
/// and request ids that differ between repeats. S3 errors put their request
/// id after an escaped line break, so the cause ends at the first `\n`.
fn error_cause(line: &str) -> &str {
    for field in ["err.detail=", "msg="] {
        if let Some(start) = line.find(field) {
            let rest = &line[start..];
            let end = ["\" ", "\\n"]
                .iter()
                .filter_map(|stop| rest.find(stop))
                .min()
                .unwrap_or(rest.len());
            return &rest[..end];
        }
    }
    line
}

/// Creates a spinner on stderr when it is a terminal, and a hidden one
/// otherwise.
fn spinner(message: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }

    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .expect("the spinner template is valid"),
    );
    spinner.set_message(message.to_owned());
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_keeps_distinct_errors() {
        let logs = "\
time=\"1\" level=info msg=\"listening\"
time=\"2\" level=error msg=\"response completed with error\" err.detail=\"s3aws: NoSuchBucket\\n\\trequest id: 1\" id=1
1.2.3.4 - - \"GET /v2/ HTTP/1.1\" 200
time=\"3\" level=error msg=\"response completed with error\" err.detail=\"s3aws: NoSuchBucket\\n\\trequest id: 2\" id=2
time=\"4\" level=fatal msg=\"invalid log level\"";

        let summary = summarize_logs(logs);
        let lines: Vec<&str> = summary.lines().collect();

        assert_eq!(lines.len(), 2, "{summary}");
        assert!(lines[0].contains("NoSuchBucket"), "{summary}");
        assert!(lines[1].contains("invalid log level"), "{summary}");
    }

    #[test]
    fn summary_without_errors_is_the_tail() {
        let logs: String = (0..30).map(|i| format!("line {i}\n")).collect();

        let summary = summarize_logs(&logs);

        assert_eq!(summary.lines().count(), LOG_TAIL_LINES);
        assert!(summary.ends_with("line 29"), "{summary}");
    }
}
