use std::fmt;

use serde::Serialize;

use crate::RuntimeKind;

/// Reads an environment variable. A trait object rather than `std::env`, so
/// discovery is a pure function that tests can feed.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// An engine API address that discovery will try, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub kind: RuntimeKind,
    /// `unix:///path` or `tcp://host:port`.
    pub url: String,
    /// Source of the address, such as `DOCKER_HOST` or `rootless`.
    pub origin: &'static str,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.url, self.origin)
    }
}

/// Docker sockets in the order they are tried: `DOCKER_HOST`, the rootful
/// socket, then the rootless one under `XDG_RUNTIME_DIR`.
pub fn docker_candidates(env: EnvLookup<'_>) -> Vec<Endpoint> {
    let mut candidates = Vec::new();

    if let Some(host) = non_empty(env("DOCKER_HOST")) {
        candidates.push(endpoint(RuntimeKind::Docker, host, "DOCKER_HOST"));
    }

    candidates.push(endpoint(
        RuntimeKind::Docker,
        "unix:///var/run/docker.sock".to_owned(),
        "rootful",
    ));

    if let Some(dir) = non_empty(env("XDG_RUNTIME_DIR")) {
        candidates.push(endpoint(
            RuntimeKind::Docker,
            format!("unix://{dir}/docker.sock"),
            "rootless",
        ));
    }

    candidates
}

/// Podman sockets in the order they are tried: `CONTAINER_HOST`, the
/// rootless socket under `XDG_RUNTIME_DIR`, then the rootful one.
pub fn podman_candidates(env: EnvLookup<'_>) -> Vec<Endpoint> {
    let mut candidates = Vec::new();

    if let Some(host) = non_empty(env("CONTAINER_HOST")) {
        candidates.push(endpoint(RuntimeKind::Podman, host, "CONTAINER_HOST"));
    }

    if let Some(dir) = non_empty(env("XDG_RUNTIME_DIR")) {
        candidates.push(endpoint(
            RuntimeKind::Podman,
            format!("unix://{dir}/podman/podman.sock"),
            "rootless",
        ));
    }

    candidates.push(endpoint(
        RuntimeKind::Podman,
        "unix:///run/podman/podman.sock".to_owned(),
        "rootful",
    ));

    candidates
}

fn endpoint(kind: RuntimeKind, url: String, origin: &'static str) -> Endpoint {
    Endpoint { kind, url, origin }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|value| !value.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |key| {
            pairs
                .iter()
                .find(|(name, _)| *name == key)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    fn urls(endpoints: &[Endpoint]) -> Vec<&str> {
        endpoints
            .iter()
            .map(|endpoint| endpoint.url.as_str())
            .collect()
    }

    #[test]
    fn docker_order_with_everything_set() {
        let env = lookup(&[
            ("DOCKER_HOST", "tcp://127.0.0.1:2375"),
            ("XDG_RUNTIME_DIR", "/run/user/1000"),
        ]);
        assert_eq!(
            urls(&docker_candidates(&env)),
            [
                "tcp://127.0.0.1:2375",
                "unix:///var/run/docker.sock",
                "unix:///run/user/1000/docker.sock"
            ]
        );
    }

    #[test]
    fn podman_prefers_rootless_over_rootful() {
        let env = lookup(&[("XDG_RUNTIME_DIR", "/run/user/1000")]);
        assert_eq!(
            urls(&podman_candidates(&env)),
            [
                "unix:///run/user/1000/podman/podman.sock",
                "unix:///run/podman/podman.sock"
            ]
        );
    }

    #[test]
    fn empty_variables_are_ignored() {
        let env = lookup(&[("CONTAINER_HOST", " "), ("XDG_RUNTIME_DIR", "")]);
        assert_eq!(
            urls(&podman_candidates(&env)),
            ["unix:///run/podman/podman.sock"]
        );
    }
}
