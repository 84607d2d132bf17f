//! Telling Docker and Podman apart through the Docker-compatible API that
//! both serve, for an engine given only by its address.

use bollard::models::SystemVersion;
use regctl_runtime::{RuntimeError, RuntimeKind};

use crate::error::DockerError;
use crate::runtime::new_client;

/// Component that Podman lists in `GET /version` (seen in 4.3.1 and 5.4.2).
const PODMAN_COMPONENT: &str = "Podman Engine";

/// Component that Docker lists in `GET /version` (seen in 20.10.24 and
/// 26.1.5).
const DOCKER_COMPONENT: &str = "Engine";

/// Connects to `url` (`unix:///PATH` or `tcp://HOST:PORT`) and returns the
/// family of the engine there, read from its `GET /version`.
///
/// Fails with [`DockerError::NoResponse`] when nothing responds, and with
/// [`DockerError::UnknownEngine`] when the response names neither Docker nor
/// Podman. Both arrive as [`RuntimeError::Engine`], because the engine's
/// kind, which [`RuntimeError::Unreachable`] names, is not known yet.
pub async fn detect_kind(url: &str) -> Result<RuntimeKind, RuntimeError> {
    let no_response = |source| DockerError::NoResponse {
        url: url.to_owned(),
        source,
    };

    // Negotiation first: Docker rejects a client API version above its own.
    let client = new_client(url)?.map_err(no_response)?;
    let client = client.negotiate_version().await.map_err(no_response)?;
    let version = client.version().await.map_err(no_response)?;

    kind_from_version(&version).ok_or_else(|| {
        let components = component_names(&version);
        DockerError::UnknownEngine {
            url: url.to_owned(),
            components: if components.is_empty() {
                "none".to_owned()
            } else {
                components.join(", ")
            },
        }
        .into()
    })
}

/// Returns the engine family whose component `version` lists, or `None`
/// when it lists neither.
pub(crate) fn kind_from_version(version: &SystemVersion) -> Option<RuntimeKind> {
    let names = component_names(version);
    if names.contains(&PODMAN_COMPONENT) {
        Some(RuntimeKind::Podman)
    } else if names.contains(&DOCKER_COMPONENT) {
        Some(RuntimeKind::Docker)
    } else {
        None
    }
}

fn component_names(version: &SystemVersion) -> Vec<&str> {
    version
        .components
        .iter()
        .flatten()
        .map(|component| component.name.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> SystemVersion {
        serde_json::from_str(json).expect("the fixture is a /version response")
    }

    #[test]
    fn docker_engines_are_docker() {
        for json in [
            include_str!("../fixtures/version-docker-20.10.json"),
            include_str!("../fixtures/version-docker-26.1.json"),
        ] {
            assert_eq!(kind_from_version(&parse(json)), Some(RuntimeKind::Docker));
        }
    }

    #[test]
    fn podman_engines_are_podman() {
        for json in [
            include_str!("../fixtures/version-podman-4.3.json"),
            include_str!("../fixtures/version-podman-5.4.json"),
        ] {
            assert_eq!(kind_from_version(&parse(json)), Some(RuntimeKind::Podman));
        }
    }

    #[test]
    fn podman_reports_docker_api_version() {
        // Podman's compatibility API claims a Docker API version, so the
        // version fields alone cannot tell the engines apart.
        let version = parse(include_str!("../fixtures/version-podman-4.3.json"));
        assert_eq!(version.api_version.as_deref(), Some("1.41"));
    }

    #[test]
    fn other_engines_are_unknown() {
        let containerd_only = r#"{"Components":[{"Name":"containerd","Version":"1.7.0"}]}"#;
        assert_eq!(kind_from_version(&parse(containerd_only)), None);
        assert_eq!(kind_from_version(&parse("{}")), None);
    }
}
