//! `inspect`, `start`, `stop` and `delete` of one or more registries.

use std::time::Duration;

use regctl_runtime::{ContainerInfo, RegistrySpec};
use serde::Serialize;
use tracing::info;

use crate::cli::{DeleteArgs, InspectArgs, NameArgs, StartArgs};
use crate::commands::is_volume_of;
use crate::commands::STOP_TIMEOUT_SECONDS;
use crate::commands::{find_registry, Found, RegistryView};
use crate::error::Error;
use crate::output::{print_document, print_text};
use crate::readiness::wait_until_ready;

#[derive(Serialize)]
struct InspectView<'a> {
    #[serde(flatten)]
    registry: RegistryView,
    container: &'a ContainerInfo,
    spec: &'a RegistrySpec,
}

pub async fn inspect(args: &InspectArgs) -> Result<(), Error> {
    let found = find_registry(&args.runtime.runtime, &args.name).await?;

    let view = InspectView {
        registry: RegistryView::new(
            found.engine.info.kind,
            found.container.state.to_string(),
            &found.spec,
        ),
        container: &found.container,
        spec: &found.spec,
    };
    print_document(&view, args.output)
}

pub async fn start(args: &StartArgs) -> Result<(), Error> {
    let Found { engine, spec, .. } = find_registry(&args.runtime.runtime, &args.name).await?;

    engine.runtime.start_container(&spec.name).await?;

    if !args.wait.no_wait {
        let timeout = Duration::from_secs(args.wait.wait_timeout);
        wait_until_ready(engine.runtime.as_ref(), &spec, timeout).await?;
    }

    info!("registry `{}` started on {}", spec.name, engine.info.kind);
    print_text(&format!("{}\n", spec.endpoint().unwrap_or_default()))
}

pub async fn stop(args: &NameArgs) -> Result<(), Error> {
    let Found { engine, spec, .. } = find_registry(&args.runtime.runtime, &args.name).await?;

    engine
        .runtime
        .stop_container(&spec.name, STOP_TIMEOUT_SECONDS)
        .await?;

    info!("registry `{}` stopped on {}", spec.name, engine.info.kind);
    Ok(())
}

/// Removes every named registry. All names are looked up first, so a typo
/// in one name removes nothing.
pub async fn delete(args: &DeleteArgs) -> Result<(), Error> {
    let mut registries = Vec::with_capacity(args.names.len());
    for name in &args.names {
        registries.push(find_registry(&args.runtime.runtime, name).await?);
    }

    for found in &registries {
        delete_one(found, args.volumes).await?;
    }
    Ok(())
}

async fn delete_one(found: &Found, remove_volumes: bool) -> Result<(), Error> {
    let runtime = found.engine.runtime.as_ref();
    let name = &found.spec.name;

    runtime.remove_container(name).await?;
    info!("removed registry `{name}` from {}", found.engine.info.kind);

    if let Some(path) = found.spec.bind_path() {
        if remove_volumes {
            info!("kept host path `{path}`: regctl never deletes host paths");
        }
        return Ok(());
    }

    let Some(volume) = found.spec.data_volume() else {
        return Ok(());
    };

    if !remove_volumes {
        info!("kept data volume `{volume}`; pass --volumes to remove it");
        return Ok(());
    }

    // Only a volume that regctl created for this registry is removed.
    let owned = runtime
        .volume_labels(volume)
        .await?
        .is_some_and(|labels| is_volume_of(&labels, name));
    if owned {
        runtime.remove_volume(volume).await?;
        info!("removed data volume `{volume}`");
    } else {
        info!("kept volume `{volume}`, which regctl did not create for `{name}`");
    }
    Ok(())
}
