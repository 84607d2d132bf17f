use crate::RuntimeKind;

/// A backend's own error, boxed so that this crate needs no engine client.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Failure of a [`ContainerRuntime`](crate::ContainerRuntime) call.
///
/// The named variants are the conditions callers act on. Everything else is
/// [`RuntimeError::Engine`], which carries the backend's own error enum.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{kind} is not reachable at {socket}")]
    Unreachable {
        kind: RuntimeKind,
        socket: String,
        #[source]
        source: BoxError,
    },

    #[error("a container named `{name}` already exists")]
    ContainerExists { name: String },

    #[error("container `{name}` not found")]
    ContainerNotFound { name: String },

    #[error("network `{name}` not found")]
    NetworkNotFound { name: String },

    #[error("host port {port} is already in use")]
    PortInUse {
        port: u16,
        #[source]
        source: BoxError,
    },

    #[error(transparent)]
    Engine(BoxError),
}

impl RuntimeError {
    /// Wraps a backend error that has no named variant.
    pub fn engine(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        RuntimeError::Engine(Box::new(error))
    }
}
