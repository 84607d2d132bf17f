//! Waiting until a registry answers `GET /v2/`.

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use regctl_runtime::{ContainerRuntime, ContainerState, RegistrySpec};
use reqwest::StatusCode;
use tracing::debug;

use crate::error::Error;

/// Pause between two probes. The registry answers about a second after its
/// container starts, so a short pause adds little to `create`.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Probes between two checks of the container's state, which catch a
/// registry that exited instead of waiting for the timeout.
const PROBES_PER_STATE_CHECK: u32 = 10;

/// Log lines shown when the registry does not become ready.
pub const LOG_TAIL_LINES: usize = 20;

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

/// Polls the registry of `spec` until `GET /v2/` answers 200, or 401 when
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

    loop {
        // Another server may answer on the port while this container
        // restarts, so an answer counts only from a running container.
        if probe(&client, &url).await
            && state(runtime, &spec.name).await == Some(ContainerState::Running)
        {
            spinner.finish_and_clear();
            debug!("{url} answered after {} ms", started.elapsed().as_millis());
            return Ok(());
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

async fn state(runtime: &dyn ContainerRuntime, name: &str) -> Option<ContainerState> {
    runtime
        .inspect_container(name)
        .await
        .ok()
        .flatten()
        .map(|info| info.state)
}

/// Whether the container stopped, or restarts after a crash under its
/// restart policy.
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

/// The container's last log lines, or why they could not be read.
pub async fn last_logs(runtime: &dyn ContainerRuntime, name: &str) -> String {
    match runtime.container_logs(name, LOG_TAIL_LINES).await {
        Ok(logs) if logs.trim().is_empty() => "(no output)".to_owned(),
        Ok(logs) => logs,
        Err(error) => format!("(failed to read the logs: {error})"),
    }
}

/// A spinner on stderr when it is a terminal, and nothing otherwise.
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
