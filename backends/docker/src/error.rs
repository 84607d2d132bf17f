use bollard::errors::Error as BollardError;
use regctl_runtime::{BoxError, RuntimeError, RuntimeKind};

/// Failure of one Docker API call, named after the operation.
///
/// Messages leave out the bollard error because `main` prints the cause
/// chain after the message.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("invalid Docker address `{url}`: expected unix:///PATH or tcp://HOST:PORT")]
    InvalidUrl { url: String },

    #[error("failed to connect to Docker at {url}")]
    Connect {
        url: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to query the Docker version")]
    Version(#[source] BollardError),

    #[error("no response to GET /version at {url}")]
    NoResponse {
        url: String,
        #[source]
        source: BollardError,
    },

    #[error(
        "the engine at {url} is neither Docker nor Podman: GET /version lists the components {components}"
    )]
    UnknownEngine { url: String, components: String },

    #[error("failed to inspect image `{image}`")]
    InspectImage {
        image: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to pull image `{image}`")]
    PullImage {
        image: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to inspect network `{name}`")]
    InspectNetwork {
        name: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to inspect volume `{name}`")]
    InspectVolume {
        name: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to create volume `{name}`")]
    CreateVolume {
        name: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to remove volume `{name}`")]
    RemoveVolume {
        name: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to create container `{name}`")]
    CreateContainer {
        name: String,
        #[source]
        source: BollardError,
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
        source: BollardError,
    },

    #[error("failed to read `{path}` from container `{name}`")]
    ReadFile {
        name: String,
        path: String,
        #[source]
        source: BollardError,
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
        source: BollardError,
    },

    #[error("failed to stop container `{name}`")]
    StopContainer {
        name: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to remove container `{name}`")]
    RemoveContainer {
        name: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to inspect container `{name}`")]
    InspectContainer {
        name: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to list containers")]
    ListContainers(#[source] BollardError),

    #[error("failed to read the logs of container `{name}`")]
    ContainerLogs {
        name: String,
        #[source]
        source: BollardError,
    },

    #[error("one-off container `{name}` has no command to run")]
    EmptyCommand { name: String },

    #[error("failed to wait for container `{name}` to exit")]
    WaitContainer {
        name: String,
        #[source]
        source: BollardError,
    },

    #[error("the Docker daemon ended the wait for container `{name}` without an exit code")]
    WaitEnded { name: String },

    #[error("failed to query the disk usage of Docker volumes")]
    DiskUsage(#[source] reqwest::Error),

    #[error("the disk usage that Docker returned is not valid JSON")]
    DiskUsageBody(#[source] serde_json::Error),
}

impl From<DockerError> for RuntimeError {
    fn from(error: DockerError) -> Self {
        RuntimeError::engine(error)
    }
}

/// Returns the HTTP status of an error response of the daemon, if any.
pub(crate) fn status_code(error: &BollardError) -> Option<u16> {
    match error {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// Whether the error means the daemon could not be reached at all, as
/// opposed to an error response of the daemon.
pub(crate) fn is_connection_error(error: &BollardError) -> bool {
    matches!(
        error,
        BollardError::IOError { .. }
            | BollardError::HyperLegacyError { .. }
            | BollardError::SocketNotFoundError(_)
            | BollardError::RequestTimeoutError
    )
}

pub(crate) fn unreachable(socket: &str, source: BollardError) -> RuntimeError {
    RuntimeError::Unreachable {
        kind: RuntimeKind::Docker,
        socket: socket.to_owned(),
        source: BoxError::from(source),
    }
}
