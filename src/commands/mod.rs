//! One module per subcommand, plus what they share.

pub mod create;
pub mod gc;
pub mod images;
pub mod lifecycle;
pub mod list;
pub mod rmi;
pub mod runtimes;
pub mod update;

use std::collections::BTreeMap;

use regctl_runtime::{
    spec_from_labels, ContainerInfo, ContainerState, RegistrySpec, RuntimeKind, StorageSpec,
    VolumeSource, LABEL_MANAGED, LABEL_NAME,
};
use serde::Serialize;

use crate::cli::RuntimeChoice;
use crate::engines::{self, Engine};
use crate::error::Error;

/// Seconds the engine waits for a registry to exit before killing it.
pub const STOP_TIMEOUT_SECONDS: u32 = 10;

/// One registry as `list`, `inspect` and `create` show it.
#[derive(Debug, Serialize)]
pub struct RegistryView {
    pub name: String,
    pub runtime: RuntimeKind,
    pub state: String,
    /// Address to push to, such as `localhost:5001`.
    pub endpoint: String,
    pub delete_enabled: bool,
    pub storage: String,
    /// Location of the data: a volume name, a host path, `memory`, or an
    /// `s3://BUCKET/PREFIX` address.
    pub data: String,
    pub image: String,
}

impl RegistryView {
    pub fn new(runtime: RuntimeKind, state: String, spec: &RegistrySpec) -> Self {
        RegistryView {
            name: spec.name.clone(),
            runtime,
            state,
            endpoint: spec.endpoint().unwrap_or_default(),
            delete_enabled: spec.delete_enabled,
            storage: spec.storage_driver().to_owned(),
            data: data_location(spec),
            image: spec.image.clone(),
        }
    }
}

fn data_location(spec: &RegistrySpec) -> String {
    match &spec.storage {
        StorageSpec::Filesystem {
            source: VolumeSource::Volume { name },
        } => name.clone(),
        StorageSpec::Filesystem {
            source: VolumeSource::Bind { path },
        } => path.clone(),
        StorageSpec::InMemory => "memory".to_owned(),
        StorageSpec::S3(s3) => format!(
            "s3://{}{}",
            s3.bucket,
            s3.root_directory.as_deref().unwrap_or_default()
        ),
    }
}

/// A regctl registry found on an engine.
pub struct Found {
    pub engine: Engine,
    pub container: ContainerInfo,
    pub spec: RegistrySpec,
}

/// Finds registry `name` on the engines of `choice`; with `auto`, on every
/// engine that responds, in discovery order.
///
/// Fails when no engine has a container of that name, and when the
/// container lacks regctl's labels, so callers never touch a container
/// regctl did not create.
pub async fn find_registry(choice: &RuntimeChoice, name: &str) -> Result<Found, Error> {
    let engines = engines::connect_all(choice).await?;
    let searched = engines
        .iter()
        .map(|engine| format!("{} ({})", engine.info.kind, engine.info.socket))
        .collect::<Vec<_>>()
        .join(", ");

    for engine in engines {
        // Engines also resolve a unique prefix of a container id, so only an
        // exact name match counts.
        let Some(container) = engine
            .runtime
            .inspect_container(name)
            .await?
            .filter(|container| container.name == name)
        else {
            continue;
        };

        let Some(spec) = regctl_spec(&container) else {
            return Err(Error::ForeignContainer {
                name: name.to_owned(),
                runtime: engine.info.kind,
            });
        };

        return Ok(Found {
            engine,
            container,
            spec,
        });
    }

    Err(Error::RegistryNotFound {
        name: name.to_owned(),
        searched,
    })
}

/// Finds registry `name` like [`find_registry`], and fails unless its
/// container runs, for commands that talk to the registry's API.
pub async fn find_running_registry(choice: &RuntimeChoice, name: &str) -> Result<Found, Error> {
    let found = find_registry(choice, name).await?;
    if found.container.state != ContainerState::Running {
        return Err(Error::RegistryNotRunning {
            name: name.to_owned(),
            state: found.container.state.to_string(),
        });
    }
    Ok(found)
}

/// Returns the spec of a container that regctl created, or `None`.
pub fn regctl_spec(container: &ContainerInfo) -> Option<RegistrySpec> {
    spec_from_labels(&container.labels)
}

/// Checks whether volume labels mark a volume that regctl created for
/// registry `registry`.
pub fn is_volume_of(labels: &BTreeMap<String, String>, registry: &str) -> bool {
    labels.get(LABEL_MANAGED).map(String::as_str) == Some("true")
        && labels.get(LABEL_NAME).map(String::as_str) == Some(registry)
}

/// Warns that delete is on, which any client that reaches the port can use.
pub fn warn_delete_enabled(registry: &str) {
    tracing::warn!(
        "delete is enabled on `{registry}`: the registry has no authentication, so anyone who \
         can reach its port can delete images"
    );
}
