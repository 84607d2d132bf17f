//! `regctl update`: recreate a registry's container from its recorded spec
//! with a changed setting. The data volume and the host port stay, so the
//! images and the push address survive.

use std::net::IpAddr;
use std::time::Duration;

use regctl_runtime::{
    ContainerFile, ContainerRuntime, ContainerState, RegistrySpec, RuntimeError, StorageSpec,
};
use tracing::{info, warn};

use crate::cli::UpdateArgs;
use crate::commands::warn_delete_enabled;
use crate::commands::STOP_TIMEOUT_SECONDS;
use crate::commands::{find_registry, Found};
use crate::compile::compile_update;
use crate::engines::error_chain;
use crate::error::Error;
use crate::output::print_text;
use crate::ports::CreateLock;
use crate::readiness::wait_until_ready;
use crate::registry_config;

pub async fn run(args: &UpdateArgs) -> Result<(), Error> {
    let Found {
        engine,
        container,
        spec,
    } = find_registry(&args.runtime.runtime, &args.name).await?;
    let runtime = engine.runtime.as_ref();

    // A new container starts with empty memory, so every image would go.
    if spec.storage == StorageSpec::InMemory {
        return Err(Error::UpdateInMemory {
            name: spec.name.clone(),
        });
    }

    let updated = compile_update(&spec, args.delete_enabled);
    let endpoint = format!("{}\n", spec.endpoint().unwrap_or_default());
    if updated == spec {
        info!(
            "registry `{}` already has delete {}; nothing to change",
            spec.name,
            enabled_word(spec.delete_enabled)
        );
        return print_text(&endpoint);
    }

    if updated.delete_enabled {
        warn_delete_enabled(&spec.name);
    }

    // A stopped registry stays stopped, as it would after `stop`.
    let running = container.state == ContainerState::Running;
    let wait = (running && !args.wait.no_wait).then(|| Duration::from_secs(args.wait.wait_timeout));
    replace_container(runtime, &spec, &updated, running, wait).await?;

    info!(
        "registry `{}` on {} now has delete {}",
        spec.name,
        engine.info.kind,
        enabled_word(updated.delete_enabled)
    );
    if !running {
        info!(
            "the registry was not running and stays stopped; start it with `regctl start {}`",
            spec.name
        );
    }
    print_text(&endpoint)
}

fn enabled_word(enabled: bool) -> &'static str {
    if enabled {
        "enabled"
    } else {
        "disabled"
    }
}

/// Replaces the container of `old` with one of `new`, started when `start`
/// and then waited for when `wait` is set. On failure, brings back a
/// container of `old` and reports whether that worked.
///
/// The create lock is held while a container is missing, so a concurrent
/// `create` cannot take the host port meanwhile.
pub async fn replace_container(
    runtime: &dyn ContainerRuntime,
    old: &RegistrySpec,
    new: &RegistrySpec,
    start: bool,
    wait: Option<Duration>,
) -> Result<(), Error> {
    // The registry stops gracefully before its container is removed. The
    // configuration file, whose credentials exist nowhere else, is read
    // after the stop because Podman 5.4 serves no file of a running
    // container through its archive endpoint (404).
    let prepared = prepare_removal(runtime, old).await;
    let config = match prepared {
        Ok(config) => config,
        Err(error) => {
            // Nothing was removed, so starting the old container again undoes
            // the stop.
            if start {
                let _ = runtime.start_container(&old.name).await;
            }
            return Err(error);
        }
    };

    let replaced = {
        let _lock = CreateLock::acquire().await?;
        runtime.remove_container(&old.name).await?;
        bring_up(runtime, new, start, config.as_ref()).await
    };

    let ready = match (replaced, wait) {
        (Ok(()), Some(timeout)) => wait_until_ready(runtime, new, timeout).await,
        (result, _) => result,
    };
    let Err(error) = ready else {
        return Ok(());
    };

    warn!(
        "the new container of `{}` failed; restoring the previous one",
        old.name
    );
    let restored = restore(runtime, old, start, wait, config.as_ref()).await;
    Err(Error::UpdateFailed {
        name: old.name.clone(),
        volume: old.data_volume().map(str::to_owned),
        port: port_arg(old),
        restore_error: restored.err().map(|error| error_chain(&error)),
        source: Box::new(error),
    })
}

/// Stops the old container and reads its configuration file, if any.
async fn prepare_removal(
    runtime: &dyn ContainerRuntime,
    old: &RegistrySpec,
) -> Result<Option<ContainerFile>, Error> {
    runtime
        .stop_container(&old.name, STOP_TIMEOUT_SECONDS)
        .await?;
    registry_config::read_config_file(runtime, old).await
}

async fn bring_up(
    runtime: &dyn ContainerRuntime,
    spec: &RegistrySpec,
    start: bool,
    config: Option<&ContainerFile>,
) -> Result<(), Error> {
    runtime.create_container(spec).await?;
    if let Some(file) = config {
        runtime.copy_file_into(&spec.name, file).await?;
    }
    if start {
        runtime.start_container(&spec.name).await?;
    }
    Ok(())
}

/// Removes whatever the failed update left under the registry's name and
/// creates the container of `old` again.
async fn restore(
    runtime: &dyn ContainerRuntime,
    old: &RegistrySpec,
    start: bool,
    wait: Option<Duration>,
    config: Option<&ContainerFile>,
) -> Result<(), Error> {
    {
        let _lock = CreateLock::acquire().await?;
        match runtime.remove_container(&old.name).await {
            Ok(()) | Err(RuntimeError::ContainerNotFound { .. }) => {}
            Err(error) => return Err(error.into()),
        }
        bring_up(runtime, old, start, config).await?;
    }

    if let Some(timeout) = wait {
        wait_until_ready(runtime, old, timeout).await?;
    }
    Ok(())
}

/// `--port` value that publishes a registry where `spec` did.
fn port_arg(spec: &RegistrySpec) -> String {
    let port = spec.port.host_port.unwrap_or_default();
    match spec.port.host_ip {
        IpAddr::V6(ip) => format!("[{ip}]:{port}"),
        IpAddr::V4(ip) => format!("{ip}:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use regctl_runtime::fake::{FakeRuntime, Fault};
    use regctl_runtime::{spec_from_labels, RuntimeKind};

    use super::*;
    use crate::compile::DELETE_ENABLED_KEY;

    fn spec() -> RegistrySpec {
        serde_json::from_value(serde_json::json!({
            "name": "reg",
            "image": "docker.io/library/registry:2",
            "port": { "host_ip": "127.0.0.1", "host_port": 5077 },
            "delete_enabled": false,
            "storage": { "driver": "filesystem", "source": { "kind": "volume", "name": "reg-data" } },
            "env": [{ "key": DELETE_ENABLED_KEY, "value": "false" }],
            "network": null
        }))
        .unwrap()
    }

    async fn recorded_spec(runtime: &FakeRuntime) -> RegistrySpec {
        let info = runtime.inspect_container("reg").await.unwrap().unwrap();
        spec_from_labels(&info.labels).unwrap()
    }

    #[tokio::test]
    async fn replace_recreates_with_new_spec() {
        let old = spec();
        let runtime =
            FakeRuntime::new(RuntimeKind::Docker).with_registry(&old, ContainerState::Running);
        let new = compile_update(&old, true);

        replace_container(&runtime, &old, &new, true, None)
            .await
            .unwrap();

        assert_eq!(recorded_spec(&runtime).await, new);
        let info = runtime.inspect_container("reg").await.unwrap().unwrap();
        assert_eq!(info.state, ContainerState::Running);
        assert!(info
            .env
            .contains(&"REGISTRY_STORAGE_DELETE_ENABLED=true".to_owned()));
        assert!(runtime.volume_names().is_empty(), "no volume was touched");
    }

    #[tokio::test]
    async fn replace_leaves_stopped_registry_stopped() {
        let old = spec();
        let runtime =
            FakeRuntime::new(RuntimeKind::Podman).with_registry(&old, ContainerState::Exited);

        replace_container(&runtime, &old, &compile_update(&old, true), false, None)
            .await
            .unwrap();

        let info = runtime.inspect_container("reg").await.unwrap().unwrap();
        assert_eq!(info.state, ContainerState::Created);
        assert!(!runtime
            .calls()
            .iter()
            .any(|call| call.starts_with("start_container")));
    }

    #[tokio::test]
    async fn failed_create_restores_old_container() {
        let old = spec();
        let runtime = FakeRuntime::new(RuntimeKind::Docker)
            .with_registry(&old, ContainerState::Running)
            .with_fault(Fault::CreateContainerOnce);
        let new = compile_update(&old, true);

        let error = replace_container(&runtime, &old, &new, true, None)
            .await
            .unwrap_err();

        let Error::UpdateFailed {
            restore_error,
            port,
            volume,
            ..
        } = &error
        else {
            panic!("expected UpdateFailed, got {error:?}");
        };
        assert_eq!(restore_error, &None);
        assert_eq!(port, "127.0.0.1:5077");
        assert_eq!(volume.as_deref(), Some("reg-data"));
        assert!(error
            .to_string()
            .contains("the previous container was restored"));
        assert_eq!(recorded_spec(&runtime).await, old);
        let info = runtime.inspect_container("reg").await.unwrap().unwrap();
        assert_eq!(info.state, ContainerState::Running);
    }

    #[tokio::test]
    async fn failed_restore_is_reported() {
        let old = spec();
        let runtime = FakeRuntime::new(RuntimeKind::Docker)
            .with_registry(&old, ContainerState::Running)
            .with_fault(Fault::CreateContainer);

        let error = replace_container(&runtime, &old, &compile_update(&old, true), true, None)
            .await
            .unwrap_err();

        assert!(error.to_string().contains("was not restored"), "{error}");
        assert!(error
            .details()
            .unwrap()
            .contains("restoring the previous container failed"));
        assert!(error
            .hint()
            .unwrap()
            .contains("regctl create reg --port 127.0.0.1:5077"));
    }

    #[test]
    fn port_arg_brackets_ipv6() {
        let mut spec = spec();
        spec.port.host_ip = "::1".parse().unwrap();

        assert_eq!(port_arg(&spec), "[::1]:5077");
    }
}
