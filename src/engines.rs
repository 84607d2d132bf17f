//! Finding and connecting to container engines.

use std::time::Duration;

use regctl_docker::DockerRuntime;
use regctl_podman::PodmanRuntime;
use regctl_runtime::{
    docker_candidates, podman_candidates, ContainerRuntime, Endpoint, EngineInfo, RuntimeError,
    RuntimeKind,
};
use tracing::debug;

use crate::cli::RuntimeChoice;
use crate::error::{Attempt, Error};

/// How long one engine may take to respond to its version probe. A socket that
/// does not exist fails at once; this bounds a daemon that hangs.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Origin of an address given with `--runtime URL`.
const ORIGIN_FLAG: &str = "--runtime";

/// A runtime that responded, with what it reported.
pub struct Engine {
    pub runtime: Box<dyn ContainerRuntime>,
    pub info: EngineInfo,
    /// Origin of the address, such as `DOCKER_HOST` or `rootful`.
    pub origin: &'static str,
}

/// Addresses to try for `choice`, in order, read from the environment.
/// Empty for a URL, whose engine kind is known only once the engine responds.
pub fn candidates(choice: &RuntimeChoice) -> Vec<Endpoint> {
    let env = |key: &str| std::env::var(key).ok();
    match choice {
        RuntimeChoice::Docker => docker_candidates(&env),
        RuntimeChoice::Podman => podman_candidates(&env),
        RuntimeChoice::Auto => {
            let mut all = docker_candidates(&env);
            all.extend(podman_candidates(&env));
            all
        }
        RuntimeChoice::Url(_) => Vec::new(),
    }
}

/// Connects to the first engine of `choice` that answers, or to the engine
/// at the URL that `choice` names.
pub async fn connect(choice: &RuntimeChoice) -> Result<Engine, Error> {
    match choice {
        RuntimeChoice::Url(url) => connect_url(url).await,
        _ => connect_first(candidates(choice)).await,
    }
}

/// Connects to the engine at `url`, after reading from its `GET /version`
/// whether Docker or Podman listens there. Both serve that endpoint, so the
/// Docker client sends that request, and the engine's own backend the rest.
pub async fn connect_url(url: &str) -> Result<Engine, Error> {
    let attempt = async {
        let kind = regctl_docker::detect_kind(url).await?;
        let endpoint = Endpoint {
            kind,
            url: url.to_owned(),
            origin: ORIGIN_FLAG,
        };
        connect_endpoint(&endpoint).await
    };

    let source = match tokio::time::timeout(PROBE_TIMEOUT, attempt).await {
        Ok(Ok(engine)) => return Ok(engine),
        Ok(Err(error)) => error,
        Err(_) => {
            RuntimeError::Engine(format!("no response within {} s", PROBE_TIMEOUT.as_secs()).into())
        }
    };
    Err(Error::EngineAtUrl {
        url: url.to_owned(),
        source,
    })
}

/// Connects to the first of `endpoints` that answers.
pub async fn connect_first(endpoints: Vec<Endpoint>) -> Result<Engine, Error> {
    let mut attempts = Vec::new();

    for endpoint in endpoints {
        match probe(&endpoint).await {
            Ok(engine) => return Ok(engine),
            Err(reason) => attempts.push(Attempt { endpoint, reason }),
        }
    }

    Err(Error::NoRuntime { attempts })
}

/// Connects to every engine of `choice` that answers, once per address, in
/// discovery order, so the first is the one [`connect`] picks. Fails only
/// when none answers.
pub async fn connect_all(choice: &RuntimeChoice) -> Result<Vec<Engine>, Error> {
    if let RuntimeChoice::Url(url) = choice {
        return Ok(vec![connect_url(url).await?]);
    }

    let mut engines: Vec<Engine> = Vec::new();
    let mut attempts = Vec::new();

    for endpoint in candidates(choice) {
        if engines
            .iter()
            .any(|engine| engine.info.socket == endpoint.url)
        {
            continue;
        }
        match probe(&endpoint).await {
            Ok(engine) => engines.push(engine),
            Err(reason) => attempts.push(Attempt { endpoint, reason }),
        }
    }

    if engines.is_empty() {
        return Err(Error::NoRuntime { attempts });
    }
    Ok(engines)
}

/// Connects to one address and requests the engine's version. Returns why
/// it failed, with its causes, as text for the "tried" list.
async fn probe(endpoint: &Endpoint) -> Result<Engine, String> {
    let result = tokio::time::timeout(PROBE_TIMEOUT, connect_endpoint(endpoint)).await;

    let outcome = match result {
        Ok(outcome) => outcome.map_err(|error| error_chain(&error)),
        Err(_) => Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
    };

    match &outcome {
        Ok(engine) => debug!(
            "using {} {} (API {}) at {}",
            engine.info.kind, engine.info.version, engine.info.api_version, endpoint.url
        ),
        Err(reason) => debug!(
            "{} at {} did not answer: {reason}",
            endpoint.kind, endpoint.url
        ),
    }
    outcome
}

async fn connect_endpoint(endpoint: &Endpoint) -> Result<Engine, RuntimeError> {
    let runtime = client_for(endpoint).await?;
    let info = runtime.info().await?;
    Ok(Engine {
        runtime,
        info,
        origin: endpoint.origin,
    })
}

/// Builds the client of one address without asking the engine about
/// itself. A Docker client negotiates its API version here; a Podman client
/// sends nothing yet.
async fn client_for(endpoint: &Endpoint) -> Result<Box<dyn ContainerRuntime>, RuntimeError> {
    Ok(match endpoint.kind {
        RuntimeKind::Docker => Box::new(DockerRuntime::connect(&endpoint.url).await?),
        RuntimeKind::Podman => Box::new(PodmanRuntime::connect(&endpoint.url)?),
    })
}

/// Clients of every discovered address except `skip`, without the version
/// probe, for callers that only list containers. libpod's `/info`, which
/// the probe calls, takes about 200 ms on Podman 4.3. An address whose
/// engine is down is left out.
pub async fn clients_except(skip: &str) -> Vec<Box<dyn ContainerRuntime>> {
    let mut clients = Vec::new();
    for endpoint in candidates(&RuntimeChoice::Auto) {
        if endpoint.url == skip {
            continue;
        }
        match tokio::time::timeout(PROBE_TIMEOUT, client_for(&endpoint)).await {
            Ok(Ok(client)) => clients.push(client),
            Ok(Err(error)) => debug!("skipping {}: {}", endpoint.url, error_chain(&error)),
            Err(_) => debug!("skipping {}: no response", endpoint.url),
        }
    }
    clients
}

/// Joins an error and its sources with `: `, for one-line reports.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some clients repeat their cause inside their own message.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(kind: RuntimeKind, url: &str) -> Endpoint {
        Endpoint {
            kind,
            url: url.to_owned(),
            origin: "test",
        }
    }

    #[tokio::test]
    async fn no_engine_lists_every_address_tried() {
        let endpoints = vec![
            endpoint(RuntimeKind::Docker, "unix:///nonexistent/docker.sock"),
            endpoint(
                RuntimeKind::Podman,
                "unix:///nonexistent/podman/podman.sock",
            ),
            endpoint(RuntimeKind::Docker, "ftp://127.0.0.1:1"),
        ];

        let Err(error) = connect_first(endpoints).await else {
            panic!("a missing socket answered");
        };
        let message = error.to_string();

        assert!(
            message.starts_with("no container engine answered; tried:"),
            "{message}"
        );
        assert!(
            message.contains("docker unix:///nonexistent/docker.sock (test): "),
            "{message}"
        );
        assert!(
            message.contains("podman unix:///nonexistent/podman/podman.sock (test): "),
            "{message}"
        );
        assert!(
            message.contains("invalid Docker address `ftp://127.0.0.1:1`"),
            "{message}"
        );
        assert!(error.hint().unwrap().contains("systemctl"), "{message}");
    }
}
