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

/// How long one engine may take to answer its version probe. A socket that
/// does not exist fails at once; this bounds a daemon that hangs.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// A runtime that answered, with what it reported.
pub struct Engine {
    pub runtime: Box<dyn ContainerRuntime>,
    pub info: EngineInfo,
}

/// Addresses to try for `choice`, in order, read from the environment.
pub fn candidates(choice: RuntimeChoice) -> Vec<Endpoint> {
    let env = |key: &str| std::env::var(key).ok();
    match choice {
        RuntimeChoice::Docker => docker_candidates(&env),
        RuntimeChoice::Podman => podman_candidates(&env),
        RuntimeChoice::Auto => {
            let mut all = docker_candidates(&env);
            all.extend(podman_candidates(&env));
            all
        }
    }
}

/// Connects to the first engine of `choice` that answers.
pub async fn connect(choice: RuntimeChoice) -> Result<Engine, Error> {
    connect_first(candidates(choice)).await
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

/// Connects to every engine of `choice` that answers, once per address.
/// Fails only when none answers.
pub async fn connect_all(choice: RuntimeChoice) -> Result<Vec<Engine>, Error> {
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

/// Connects to one address and asks for the engine's version. Returns why
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
    let runtime: Box<dyn ContainerRuntime> = match endpoint.kind {
        RuntimeKind::Docker => Box::new(DockerRuntime::connect(&endpoint.url).await?),
        RuntimeKind::Podman => Box::new(PodmanRuntime::connect(&endpoint.url)?),
    };
    let info = runtime.info().await?;
    Ok(Engine { runtime, info })
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
