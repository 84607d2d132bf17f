//! The error type of regctl commands, and how each one is reported.

use std::net::IpAddr;

use regctl_docker::DockerError;
use regctl_runtime::{Endpoint, RuntimeError, RuntimeKind};

use crate::compile::CompileError;

/// Exit code of usage errors, as clap uses.
pub const EXIT_USAGE: i32 = 2;

/// Exit code of failures at run time.
pub const EXIT_FAILURE: i32 = 1;

/// Reason an engine at one address did not respond.
#[derive(Debug)]
pub struct Attempt {
    pub endpoint: Endpoint,
    pub reason: String,
}

/// Failure of a regctl command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Compile(#[from] CompileError),

    #[error(transparent)]
    Runtime(#[from] RuntimeError),

    #[error("no container engine answered; tried:{}", format_attempts(.attempts))]
    NoRuntime { attempts: Vec<Attempt> },

    #[error("failed to connect to the container engine at {url}")]
    EngineAtUrl {
        url: String,
        #[source]
        source: RuntimeError,
    },

    #[error("registry `{name}` already exists on {runtime} (state: {state})")]
    RegistryExists {
        name: String,
        runtime: RuntimeKind,
        state: String,
    },

    #[error("container `{name}` on {runtime} was not created by regctl")]
    ForeignContainer { name: String, runtime: RuntimeKind },

    #[error("volume `{name}` on {runtime} exists and was not created by regctl")]
    ForeignVolume { name: String, runtime: RuntimeKind },

    #[error("registry `{name}` not found on {searched}")]
    RegistryNotFound { name: String, searched: String },

    #[error("network `{name}` not found on {runtime}")]
    NetworkNotFound { name: String, runtime: RuntimeKind },

    #[error("image `{image}` is not present on {runtime} and could not be pulled")]
    ImageUnavailable {
        image: String,
        runtime: RuntimeKind,
        #[source]
        source: RuntimeError,
    },

    #[error("host port {port} on {ip} is already in use")]
    PortInUse { ip: IpAddr, port: u16 },

    #[error(
        "host port {port} is below {first_unprivileged}, which rootless {runtime} cannot bind"
    )]
    PrivilegedPort {
        port: u16,
        first_unprivileged: u16,
        runtime: RuntimeKind,
    },

    #[error("no free host port on {ip} between {first} and {last}")]
    NoFreePort { ip: IpAddr, first: u16, last: u16 },

    #[error("registry `{name}` did not answer at {url} within {seconds} s")]
    NotReady {
        name: String,
        url: String,
        seconds: u64,
        logs: String,
    },

    #[error("registry `{name}` stopped before it answered at {url}")]
    Exited {
        name: String,
        url: String,
        logs: String,
    },

    #[error("failed to take the regctl lock at {path}")]
    Lock {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to write to stdout")]
    Output(#[source] std::io::Error),

    #[error("failed to serialize the output")]
    Serialize(#[source] Box<dyn std::error::Error + Send + Sync>),

    #[error("{failed} of {total} registries could not be deleted")]
    DeleteIncomplete { failed: usize, total: usize },
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Compile(_) => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    }

    /// Text printed after the error and its causes, such as a container's
    /// last log lines.
    pub fn details(&self) -> Option<String> {
        match self {
            Error::NotReady { logs, .. } | Error::Exited { logs, .. } => Some(format!(
                "last log lines of the registry:\n{}",
                indent(logs.trim_end())
            )),
            _ => None,
        }
    }

    /// Returns what to do next, printed last.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Compile(error) => error.hint(),
            Error::Runtime(error) => runtime_hint(error),
            Error::NoRuntime { .. } => Some(
                "start Docker (`sudo systemctl start docker`) or Podman \
                 (`systemctl --user start podman.socket` rootless, \
                 `sudo systemctl start podman.socket` rootful), or point \
                 DOCKER_HOST or CONTAINER_HOST at a running engine"
                    .to_owned(),
            ),
            Error::EngineAtUrl { url, source } => engine_at_url_hint(url, source),
            Error::RegistryExists { name, .. } => Some(format!(
                "use `regctl start {name}`, or `regctl delete {name}` first, or choose another name"
            )),
            Error::ForeignContainer { .. } => {
                Some("regctl never touches containers it did not create; choose another name".to_owned())
            }
            Error::ForeignVolume { name, .. } => Some(format!(
                "choose another registry name, or remove volume `{name}` if its data is not needed"
            )),
            Error::RegistryNotFound { .. } => {
                Some("`regctl list` shows the registries regctl created".to_owned())
            }
            Error::NetworkNotFound { name, runtime } => Some(format!(
                "create it first (`{runtime} network create {name}`) or check `{runtime} network ls`"
            )),
            Error::ImageUnavailable { image, runtime, .. } => Some(format!(
                "load the image without network access with `{runtime} load -i FILE`, \
                 or pass another image with --image; then check `{runtime} image inspect {image}`"
            )),
            Error::PortInUse { .. } => {
                Some("choose another port with --port, or omit --port to let regctl pick one".to_owned())
            }
            Error::PrivilegedPort { first_unprivileged, .. } => Some(format!(
                "use a port of {first_unprivileged} or above, or lower \
                 `net.ipv4.ip_unprivileged_port_start` with sysctl"
            )),
            Error::NotReady { .. } | Error::Exited { .. } => Some(
                "nothing was left behind; pass --keep-on-failure to keep the container for debugging"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

fn runtime_hint(error: &RuntimeError) -> Option<String> {
    match error {
        RuntimeError::Unreachable {
            kind,
            socket,
            source,
        } => {
            let denied = source.to_string().contains("ermission denied");
            Some(match (kind, denied) {
                (RuntimeKind::Docker, true) => format!(
                    "your user cannot open {socket}: add it to the `docker` group \
                     (`sudo usermod -aG docker $USER`, then log in again) or use rootless Docker"
                ),
                (RuntimeKind::Podman, true) => format!(
                    "your user cannot open {socket}: use the rootless socket \
                     (`systemctl --user start podman.socket`)"
                ),
                (RuntimeKind::Docker, false) => {
                    "check that the Docker daemon runs: `docker version`".to_owned()
                }
                (RuntimeKind::Podman, false) => {
                    "check that the Podman API service runs: `podman system service` \
                     or `systemctl --user start podman.socket`"
                        .to_owned()
                }
            })
        }
        RuntimeError::ContainerExists { name } => Some(format!(
            "another process created `{name}` meanwhile; use `regctl list` to see it"
        )),
        _ => None,
    }
}

fn engine_at_url_hint(url: &str, error: &RuntimeError) -> Option<String> {
    // Once the kind is known, the backend's errors carry their own hints.
    let RuntimeError::Engine(inner) = error else {
        return runtime_hint(error);
    };
    let Some(DockerError::NoResponse { source, .. }) = inner.downcast_ref::<DockerError>() else {
        return None;
    };

    if crate::engines::error_chain(source).contains("ermission denied") {
        Some(format!(
            "your user cannot open {url}: run regctl as the user that owns the engine, \
             or pick another engine with --runtime"
        ))
    } else {
        Some(format!(
            "check that an engine listens at {url}: `podman system service {url}` \
             or `dockerd --host {url}` starts one there"
        ))
    }
}

fn format_attempts(attempts: &[Attempt]) -> String {
    attempts
        .iter()
        .map(|attempt| {
            format!(
                "\n  {} {}: {}",
                attempt.endpoint.kind, attempt.endpoint, attempt.reason
            )
        })
        .collect()
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}
