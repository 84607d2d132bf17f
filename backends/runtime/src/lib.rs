//! The runtime-neutral description of a regctl registry and the
//! [`ContainerRuntime`] trait that each engine backend implements.
//!
//! The CLI compiles its flags into a [`RegistrySpec`]; a backend turns that
//! spec into the engine's own create request. Nothing in this crate talks to
//! an engine, so the CLI and the tests can depend on it alone.

mod discovery;
mod error;
#[cfg(feature = "fake")]
pub mod fake;
mod file;
mod labels;
mod runtime;
mod spec;

pub use discovery::{docker_candidates, podman_candidates, Endpoint, EnvLookup};
pub use error::{BoxError, RuntimeError};
pub use file::{file_from_archive, ContainerFile};
pub use labels::{
    one_off_labels, registry_labels, spec_from_labels, volume_labels, LABEL_MANAGED, LABEL_NAME,
    LABEL_ROLE, LABEL_SPEC, LABEL_VERSION, ROLE_ONE_OFF,
};
pub use runtime::{
    CompletedRun, ContainerInfo, ContainerRuntime, ContainerState, EngineInfo, ImageCommand,
    MountInfo, PublishedPort, RuntimeKind,
};
pub use spec::{
    EnvVar, NetworkSpec, PortSpec, RegistrySpec, S3Credentials, S3Storage, StorageSpec,
    VolumeSource, DATA_DIR, REGISTRY_PORT,
};
