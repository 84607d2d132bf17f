//! One module per subcommand, plus what they share.

pub mod create;
pub mod lifecycle;
pub mod list;
pub mod runtimes;

use regctl_runtime::{spec_from_labels, ContainerInfo, RegistrySpec, RuntimeKind, LABEL_MANAGED};
use serde::Serialize;

use crate::cli::RuntimeChoice;
use crate::engines::{self, Engine};
use crate::error::Error;

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
    pub volume: Option<String>,
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
            volume: spec.data_volume().map(str::to_owned),
            image: spec.image.clone(),
        }
    }
}

/// A regctl registry found on an engine.
pub struct Found {
    pub engine: Engine,
    pub container: ContainerInfo,
    pub spec: RegistrySpec,
}

/// Finds registry `name` on the engines of `choice`; with `auto`, on every
/// engine that answers, in discovery order.
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
        let Some(container) = engine.runtime.inspect_container(name).await? else {
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

/// The spec of a container that regctl created, or `None`.
pub fn regctl_spec(container: &ContainerInfo) -> Option<RegistrySpec> {
    if container.labels.get(LABEL_MANAGED).map(String::as_str) != Some("true") {
        return None;
    }
    spec_from_labels(&container.labels)
}
