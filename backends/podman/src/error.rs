use std::io;

use podman_api::conn::Error as ConnError;
use regctl_runtime::{RuntimeError, RuntimeKind};

/// Failure of one libpod API call, kept opaque so that podman-api types do
/// not leak out of this crate.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(podman_api::Error);

impl From<podman_api::Error> for ApiError {
    fn from(error: podman_api::Error) -> Self {
        ApiError(error)
    }
}

impl ApiError {
    /// Wraps a failure that the engine reported inside a 200 response, such
    /// as the `error` field of a pull report.
    pub(crate) fn message(message: impl Into<String>) -> Self {
        ApiError(podman_api::Error::StringError(message.into()))
    }

    /// Returns the HTTP status of the engine's error response, or `None`
    /// when no response arrived.
    pub(crate) fn status(&self) -> Option<u16> {
        status_of(&self.0)
    }

    /// Returns whether the engine's error message contains `text`, ignoring
    /// case.
    pub(crate) fn mentions(&self, text: &str) -> bool {
        self.0
            .to_string()
            .to_ascii_lowercase()
            .contains(&text.to_ascii_lowercase())
    }

    /// Returns whether the request never reached the engine, because the
    /// socket is missing, nothing listens on it, or this user may not open it.
    pub(crate) fn is_connection_failure(&self) -> bool {
        let kind = match &self.0 {
            podman_api::Error::IO(error) => Some(error.kind()),
            podman_api::Error::Error(ConnError::IO(error)) => Some(error.kind()),
            podman_api::Error::Error(ConnError::Hyper(error)) => io_kind_in_chain(error),
            _ => None,
        };
        matches!(
            kind,
            Some(
                io::ErrorKind::NotFound
                    | io::ErrorKind::ConnectionRefused
                    | io::ErrorKind::PermissionDenied
            )
        )
    }
}

/// Digs the status out of the wrappers that podman-api puts around errors of
/// streamed responses. A failed logs request, for example, arrives as
/// `Error::Error(conn::Error::IO(io::Error(conn::Error::Any(Error::Fault))))`.
fn status_of(error: &(dyn std::error::Error + Send + Sync + 'static)) -> Option<u16> {
    if let Some(error) = error.downcast_ref::<podman_api::Error>() {
        return match error {
            podman_api::Error::Fault { code, .. } => Some(code.as_u16()),
            podman_api::Error::Error(inner) => status_of(inner),
            podman_api::Error::IO(inner) => status_of(inner),
            _ => None,
        };
    }

    if let Some(error) = error.downcast_ref::<ConnError>() {
        return match error {
            ConnError::Fault { code, .. } => Some(code.as_u16()),
            ConnError::IO(inner) => status_of(inner),
            ConnError::Any(inner) => status_of(inner.as_ref()),
            _ => None,
        };
    }

    error
        .downcast_ref::<io::Error>()
        .and_then(io::Error::get_ref)
        .and_then(status_of)
}

/// Finds the first I/O error below a hyper error, where the connector puts
/// the reason a connection failed.
fn io_kind_in_chain(error: &(dyn std::error::Error + 'static)) -> Option<io::ErrorKind> {
    let mut current = error.source();
    while let Some(cause) = current {
        if let Some(io_error) = cause.downcast_ref::<io::Error>() {
            return Some(io_error.kind());
        }
        current = cause.source();
    }
    None
}

/// Failure of a Podman backend operation, named after the operation.
///
/// Messages name the object but never its environment values, which may
/// hold secrets. The engine's own message is the `source`, so callers that
/// print the cause chain show it once.
#[derive(Debug, thiserror::Error)]
pub enum PodmanError {
    #[error("invalid Podman API URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error("failed to create a Podman client for `{url}`")]
    Connect {
        url: String,
        #[source]
        source: ApiError,
    },

    #[error("failed to query Podman for its version")]
    Info {
        #[source]
        source: ApiError,
    },

    #[error("failed to check whether image `{image}` exists")]
    ImageExists {
        image: String,
        #[source]
        source: ApiError,
    },

    #[error("failed to pull image `{image}`")]
    PullImage {
        image: String,
        #[source]
        source: ApiError,
    },

    #[error("failed to check whether network `{name}` exists")]
    NetworkExists {
        name: String,
        #[source]
        source: ApiError,
    },

    #[error("failed to check whether volume `{name}` exists")]
    VolumeExists {
        name: String,
        #[source]
        source: ApiError,
    },

    #[error("failed to inspect volume `{name}`")]
    InspectVolume {
        name: String,
        #[source]
        source: ApiError,
    },

    #[error("failed to create volume `{name}`")]
    CreateVolume {
        name: String,
        #[source]
        source: ApiError,
    },

    #[error("failed to remove volume `{name}`")]
    RemoveVolume {
        name: String,
        #[source]
        source: ApiError,
    },

    #[error("failed to build the create request of container `{name}`")]
    BuildCreateRequest {
        name: String,
        #[source]
        source: ApiError,
    },

    #[error(
        "container `{name}` has no host port; allocate one before creating it, \
         because Podman would otherwise pick a random port"
    )]
    HostPortMissing { name: String },

    #[error("failed to create container `{name}`")]
    CreateContainer {
        name: String,
        #[source]
        source: ApiError,
    },

    #[error("failed to pack `{path}` into an archive")]
    PackFile {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to copy `{path}` into container `{name}`")]
    CopyFile {
        name: String,
        path: String,
        #[source]
        source: ApiError,
    },

    #[error("failed to read `{path}` from container `{name}`")]
    ReadFile {
        name: String,
        path: String,
        #[source]
        source: ApiError,
    },

    #[error("failed to unpack `{path}` from the engine's archive")]
    UnpackFile {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to start container `{name}`")]
    StartContainer {
        name: String,
        #[source]
        source: ApiError,
    },

    #[error("failed to stop container `{name}`")]
    StopContainer {
        name: String,
        #[source]
        source: ApiError,
    },

    #[error("failed to remove container `{name}`")]
    RemoveContainer {
        name: String,
        #[source]
        source: ApiError,
    },

    #[error("failed to inspect container `{name}`")]
    InspectContainer {
        name: String,
        #[source]
        source: ApiError,
    },

    #[error("failed to list containers with label `{filter}`")]
    ListContainers {
        filter: String,
        #[source]
        source: ApiError,
    },

    #[error("failed to read the logs of container `{name}`")]
    ContainerLogs {
        name: String,
        #[source]
        source: ApiError,
    },

    #[error("failed to inspect image `{image}`")]
    InspectImage {
        image: String,
        #[source]
        source: ApiError,
    },

    #[error("one-off container `{name}` has no command to run")]
    EmptyCommand { name: String },

    #[error("failed to wait for container `{name}` to exit")]
    WaitContainer {
        name: String,
        #[source]
        source: ApiError,
    },

    #[error("the Podman service reported no exit code for container `{name}`")]
    ExitCodeMissing { name: String },

    #[error("failed to query the disk usage of Podman volumes")]
    DiskUsage {
        #[source]
        source: ApiError,
    },
}

impl PodmanError {
    fn api_source(&self) -> Option<&ApiError> {
        use PodmanError::*;

        match self {
            InvalidUrl { .. }
            | HostPortMissing { .. }
            | PackFile { .. }
            | UnpackFile { .. }
            | EmptyCommand { .. }
            | ExitCodeMissing { .. } => None,
            Connect { source, .. }
            | Info { source }
            | ImageExists { source, .. }
            | PullImage { source, .. }
            | NetworkExists { source, .. }
            | VolumeExists { source, .. }
            | InspectVolume { source, .. }
            | CreateVolume { source, .. }
            | RemoveVolume { source, .. }
            | BuildCreateRequest { source, .. }
            | CreateContainer { source, .. }
            | CopyFile { source, .. }
            | ReadFile { source, .. }
            | StartContainer { source, .. }
            | StopContainer { source, .. }
            | RemoveContainer { source, .. }
            | InspectContainer { source, .. }
            | ListContainers { source, .. }
            | ContainerLogs { source, .. }
            | InspectImage { source, .. }
            | WaitContainer { source, .. }
            | DiskUsage { source } => Some(source),
        }
    }

    /// Converts into [`RuntimeError::Unreachable`] when the request never
    /// reached the engine at `socket`, and into [`RuntimeError::Engine`]
    /// otherwise. Each operation picks its named variants (`ContainerExists`,
    /// `PortInUse`, …) before it falls back to this.
    pub(crate) fn into_runtime(self, socket: &str) -> RuntimeError {
        let unreachable = self
            .api_source()
            .is_some_and(ApiError::is_connection_failure);

        if unreachable {
            RuntimeError::Unreachable {
                kind: RuntimeKind::Podman,
                socket: socket.to_owned(),
                source: Box::new(self),
            }
        } else {
            RuntimeError::engine(self)
        }
    }
}
