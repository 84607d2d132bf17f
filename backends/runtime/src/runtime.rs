use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{ContainerFile, RegistrySpec, RuntimeError};

/// Container engine family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    Docker,
    Podman,
}

impl fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuntimeKind::Docker => "docker",
            RuntimeKind::Podman => "podman",
        })
    }
}

/// Version and mode that an engine reports about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineInfo {
    pub kind: RuntimeKind,
    /// Engine version, such as `20.10.24` or `4.3.1`.
    pub version: String,
    /// API version the engine speaks, such as `1.41`.
    pub api_version: String,
    /// Address regctl talks to, such as `unix:///run/podman/podman.sock`.
    pub socket: String,
    /// Whether the engine runs without root, which rules out host ports
    /// below 1024 unless the host lowers `net.ipv4.ip_unprivileged_port_start`.
    pub rootless: bool,
}

/// Lifecycle state of a container, as both engines name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Dead,
    Other(String),
}

impl ContainerState {
    /// Maps the engine's state string, which Docker and Podman share.
    pub fn parse(state: &str) -> Self {
        match state.to_ascii_lowercase().as_str() {
            "created" | "configured" | "initialized" => ContainerState::Created,
            "running" => ContainerState::Running,
            "paused" => ContainerState::Paused,
            "restarting" => ContainerState::Restarting,
            "exited" | "stopped" => ContainerState::Exited,
            "dead" | "removing" => ContainerState::Dead,
            other => ContainerState::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ContainerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Restarting => "restarting",
            ContainerState::Exited => "exited",
            ContainerState::Dead => "dead",
            ContainerState::Other(other) => other,
        })
    }
}

/// A host port that the engine published for a container port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishedPort {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
}

/// A mount of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountInfo {
    /// `volume` or `bind`.
    pub kind: String,
    /// Volume name or host path.
    pub source: String,
    pub destination: String,
}

/// A container as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub image: String,
    pub state: ContainerState,
    pub labels: BTreeMap<String, String>,
    /// Environment as `KEY=VALUE`. Filled by `inspect_container` only,
    /// because engines leave it out of container lists.
    pub env: Vec<String>,
    pub ports: Vec<PublishedPort>,
    pub networks: Vec<String>,
    pub mounts: Vec<MountInfo>,
}

/// Entrypoint and command that an image runs when a container sets neither.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImageCommand {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
}

/// Result of a one-off container that ran to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedRun {
    /// Exit code of the container's main process.
    pub exit_code: i64,
    /// Its stdout and stderr, interleaved in the order the engine logged
    /// them.
    pub output: String,
}

/// Operations regctl needs from a container engine.
///
/// Implementations map engine errors onto the named [`RuntimeError`]
/// variants where one fits, so callers never parse engine messages. Methods
/// that address a container take its name.
#[async_trait]
pub trait ContainerRuntime: Send + Sync {
    /// Engine family of this backend.
    fn kind(&self) -> RuntimeKind;

    /// Address this backend talks to.
    fn socket(&self) -> &str;

    /// Renders the engine request that `create_container` would send for
    /// `spec`, for `--dry-run` and snapshot tests.
    fn create_request(&self, spec: &RegistrySpec) -> Result<serde_json::Value, RuntimeError>;

    /// Queries the engine's version and mode. Also the reachability probe.
    async fn info(&self) -> Result<EngineInfo, RuntimeError>;

    async fn image_exists(&self, reference: &str) -> Result<bool, RuntimeError>;

    async fn pull_image(&self, reference: &str) -> Result<(), RuntimeError>;

    async fn network_exists(&self, name: &str) -> Result<bool, RuntimeError>;

    async fn volume_exists(&self, name: &str) -> Result<bool, RuntimeError>;

    /// Returns the labels of a volume, or `None` when it does not exist.
    async fn volume_labels(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, RuntimeError>;

    async fn create_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), RuntimeError>;

    async fn remove_volume(&self, name: &str) -> Result<(), RuntimeError>;

    /// Creates the registry container without starting it, and returns its
    /// id. Fails with [`RuntimeError::ContainerExists`] when the name is
    /// taken.
    async fn create_container(&self, spec: &RegistrySpec) -> Result<String, RuntimeError>;

    /// Writes `file` into a created container before it starts, through the
    /// engine's archive API, so it works with a remote engine too.
    async fn copy_file_into(&self, name: &str, file: &ContainerFile) -> Result<(), RuntimeError>;

    /// Reads the file at `path` in a container, running or not, through the
    /// engine's archive API. Returns `None` when the container or the file
    /// does not exist.
    async fn read_file(&self, name: &str, path: &str) -> Result<Option<Vec<u8>>, RuntimeError>;

    /// Starts a container. Fails with [`RuntimeError::PortInUse`] when its
    /// host port is taken.
    async fn start_container(&self, name: &str) -> Result<(), RuntimeError>;

    async fn stop_container(&self, name: &str, timeout_seconds: u32) -> Result<(), RuntimeError>;

    /// Removes a container, stopping it first if it runs.
    async fn remove_container(&self, name: &str) -> Result<(), RuntimeError>;

    /// Returns the container, or `None` when no container has that name.
    async fn inspect_container(&self, name: &str) -> Result<Option<ContainerInfo>, RuntimeError>;

    /// Lists containers in any state that carry `label=value`.
    async fn list_containers(
        &self,
        label: &str,
        value: &str,
    ) -> Result<Vec<ContainerInfo>, RuntimeError>;

    /// Returns the last `tail` lines of a container's stdout and stderr.
    async fn container_logs(&self, name: &str, tail: usize) -> Result<String, RuntimeError>;

    /// Reads the entrypoint and command from the config of a local image.
    async fn image_command(&self, image: &str) -> Result<ImageCommand, RuntimeError>;

    /// Runs `command` in a one-off container named `name` and returns its
    /// exit code and output once it has exited.
    ///
    /// The container is created from `spec` with the same image, mounts and
    /// environment as the registry container, but with `command[0]` as its
    /// entrypoint and the rest as its arguments, no published port, no
    /// network and no restart policy. It carries
    /// [`one_off_labels`](crate::one_off_labels), so `list` never shows it.
    /// It is removed on every path once it was created, also when the run
    /// fails. `files` are copied into it before it starts, such as the
    /// registry's configuration file.
    async fn run_to_completion(
        &self,
        spec: &RegistrySpec,
        name: &str,
        command: Vec<String>,
        files: &[ContainerFile],
    ) -> Result<CompletedRun, RuntimeError>;

    /// Returns the bytes a volume uses on disk, or `None` when the engine
    /// does not report it, as for volumes of drivers other than `local`.
    async fn volume_size(&self, name: &str) -> Result<Option<u64>, RuntimeError>;
}
