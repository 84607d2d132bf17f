//! `regctl gc`: stop the registry, run `registry garbage-collect` on its
//! storage in a one-off container, and start the registry again.

use std::time::Duration;

use indicatif::HumanBytes;
use regctl_runtime::{
    CompletedRun, ContainerRuntime, ContainerState, RegistrySpec, StorageSpec, LABEL_NAME,
    LABEL_ROLE, ROLE_ONE_OFF,
};
use serde::Serialize;
use tracing::{info, warn};

use crate::cli::GcArgs;
use crate::commands::STOP_TIMEOUT_SECONDS;
use crate::commands::{find_registry, Found};
use crate::engines::error_chain;
use crate::error::Error;
use crate::gc;
use crate::output::print_rows;
use crate::readiness::wait_until_ready;
use crate::registry_config;

const HEADERS: &[&str] = &[
    "registry",
    "dry run",
    "blobs marked",
    "blobs eligible",
    "blobs deleted",
    "bytes freed",
];

/// Report of one `gc` run, as stdout shows it.
#[derive(Debug, Serialize)]
struct GcReport {
    registry: String,
    dry_run: bool,
    delete_untagged: bool,
    blobs_marked: Option<u64>,
    eligible_blobs: Vec<String>,
    deleted_blobs: Vec<String>,
    /// Untagged manifests, found with `--delete-untagged` only.
    eligible_manifests: Vec<String>,
    /// Bytes the data volume used before and after the collection, when
    /// the engine reports them.
    bytes_before: Option<u64>,
    bytes_after: Option<u64>,
    bytes_freed: Option<u64>,
}

/// Results of the steps between stopping and starting the registry.
#[derive(Debug)]
pub struct Collection {
    pub run: Result<CompletedRun, Error>,
    /// Result of starting the registry again; `Ok` when it was not running
    /// before.
    pub restart: Result<(), Error>,
    pub bytes_before: Option<u64>,
    pub bytes_after: Option<u64>,
}

pub async fn run(args: &GcArgs) -> Result<(), Error> {
    let Found {
        engine,
        container,
        spec,
    } = find_registry(&args.runtime.runtime, &args.name).await?;
    let runtime = engine.runtime.as_ref();

    // A one-off container cannot reach another process's memory, and the
    // data goes away with the stop anyway.
    if spec.storage == StorageSpec::InMemory {
        return Err(Error::GcInMemory {
            name: spec.name.clone(),
        });
    }

    let command = build_command(runtime, &spec, args).await?;
    let one_off = one_off_name(&spec.name);
    clear_leftover(runtime, &spec.name, &one_off).await?;

    let running = container.state == ContainerState::Running;
    info!(
        "{} registry `{}` for garbage collection",
        if running {
            "stopping"
        } else {
            "using the stopped"
        },
        spec.name
    );
    let collection = collect_garbage(runtime, &spec, &one_off, command, running).await?;

    let restart = match (collection.restart, running && !args.wait.no_wait) {
        (Ok(()), true) => {
            let timeout = Duration::from_secs(args.wait.wait_timeout);
            wait_until_ready(runtime, &spec, timeout).await
        }
        (result, _) => result,
    };

    let run = finish(&spec.name, collection.run, restart)?;
    let report = report(args, &run, collection.bytes_before, collection.bytes_after);
    log_summary(&report);
    print_rows(&[&report], args.output, HEADERS, |report| table_row(report))
}

/// Picks the registry binary and configuration file from the image.
async fn build_command(
    runtime: &dyn ContainerRuntime,
    spec: &RegistrySpec,
    args: &GcArgs,
) -> Result<Vec<String>, Error> {
    let image = runtime.image_command(&spec.image).await?;
    let config = match spec.command {
        Some(_) => registry_config::CONFIG_PATH.to_owned(),
        None => gc::config_path(&image, &spec.image),
    };

    if args.delete_untagged && config == gc::REGISTRY_2_CONFIG {
        warn!(
            "registry 2.x also deletes the platform manifests of multi-platform images with \
             --delete-untagged, because those manifests have no tag of their own"
        );
    }
    Ok(gc::gc_command(
        &gc::registry_program(&image),
        &config,
        args.dry_run,
        args.delete_untagged,
    ))
}

/// Name of the one-off container of registry `name`. Registry names contain
/// no `_`, so it never collides with a registry.
fn one_off_name(name: &str) -> String {
    format!("{name}_gc")
}

/// Removes a one-off container that an interrupted `gc` left, and fails on
/// any other container of that name.
async fn clear_leftover(
    runtime: &dyn ContainerRuntime,
    registry: &str,
    one_off: &str,
) -> Result<(), Error> {
    let Some(container) = runtime.inspect_container(one_off).await? else {
        return Ok(());
    };

    let ours = container.labels.get(LABEL_ROLE).map(String::as_str) == Some(ROLE_ONE_OFF)
        && container.labels.get(LABEL_NAME).map(String::as_str) == Some(registry);
    if !ours {
        return Err(Error::OneOffNameTaken {
            container: one_off.to_owned(),
            runtime: runtime.kind(),
        });
    }

    warn!("removing container `{one_off}`, which an interrupted garbage collection left");
    runtime.remove_container(one_off).await?;
    Ok(())
}

/// Stops the registry when `running`, measures its volume, runs `command`
/// in the one-off container, measures again, and starts the registry
/// again. The restart happens also when the collection failed.
///
/// NOTE: an interrupted regctl (Ctrl-C) leaves the registry stopped; the
/// next `gc` removes the one-off container but finds a stopped registry.
pub async fn collect_garbage(
    runtime: &dyn ContainerRuntime,
    spec: &RegistrySpec,
    one_off: &str,
    command: Vec<String>,
    running: bool,
) -> Result<Collection, Error> {
    if running {
        runtime
            .stop_container(&spec.name, STOP_TIMEOUT_SECONDS)
            .await?;
    }

    let bytes_before = volume_size(runtime, spec).await;
    info!("running `{}`", command.join(" "));
    let run = match registry_config::read_config_file(runtime, spec).await {
        Ok(config) => runtime
            .run_to_completion(spec, one_off, command, config.as_slice())
            .await
            .map_err(Error::from),
        Err(error) => Err(error),
    };
    let bytes_after = volume_size(runtime, spec).await;

    let restart = if running {
        info!("starting registry `{}` again", spec.name);
        runtime
            .start_container(&spec.name)
            .await
            .map_err(Error::from)
    } else {
        Ok(())
    };

    Ok(Collection {
        run,
        restart,
        bytes_before,
        bytes_after,
    })
}

/// Bytes the registry's data volume uses, or `None` when it has none or the
/// engine cannot tell. A failed measurement only loses the number.
async fn volume_size(runtime: &dyn ContainerRuntime, spec: &RegistrySpec) -> Option<u64> {
    let volume = spec.data_volume()?;
    match runtime.volume_size(volume).await {
        Ok(size) => size,
        Err(error) => {
            warn!(
                "failed to measure volume `{volume}`: {}",
                error_chain(&error)
            );
            None
        }
    }
}

/// Combines the run and the restart into one result. The collector's
/// failure comes first, because the registry's storage is what the user
/// asked about; a failed restart is then logged.
fn finish(
    name: &str,
    run: Result<CompletedRun, Error>,
    restart: Result<(), Error>,
) -> Result<CompletedRun, Error> {
    let failed_run = match run {
        Ok(run) if run.exit_code == 0 => {
            return restart
                .map(|()| run)
                .map_err(|source| Error::RestartFailed {
                    name: name.to_owned(),
                    source: Box::new(source),
                });
        }
        Ok(run) => Error::GcFailed {
            name: name.to_owned(),
            exit_code: run.exit_code,
            output: run.output,
        },
        Err(error) => error,
    };

    if let Err(error) = restart {
        warn!(
            "registry `{name}` did not start again: {}; start it with `regctl start {name}`",
            error_chain(&error)
        );
    }
    Err(failed_run)
}

fn report(
    args: &GcArgs,
    run: &CompletedRun,
    bytes_before: Option<u64>,
    bytes_after: Option<u64>,
) -> GcReport {
    let output = gc::parse_output(&run.output);
    let bytes_freed = match (bytes_before, bytes_after) {
        (Some(before), Some(after)) => Some(before.saturating_sub(after)),
        _ => None,
    };

    GcReport {
        registry: args.name.clone(),
        dry_run: args.dry_run,
        delete_untagged: args.delete_untagged,
        blobs_marked: output.blobs_marked,
        deleted_blobs: gc::deleted_blobs(&output, args.dry_run, run.exit_code),
        eligible_blobs: output.eligible_blobs,
        eligible_manifests: output.eligible_manifests,
        bytes_before,
        bytes_after,
        bytes_freed,
    }
}

fn log_summary(report: &GcReport) {
    if report.dry_run {
        info!(
            "dry run: {} blob(s) and {} untagged manifest(s) are eligible for deletion; \
             nothing was deleted",
            report.eligible_blobs.len(),
            report.eligible_manifests.len()
        );
        return;
    }

    let freed = report
        .bytes_freed
        .map(|bytes| format!(" and freed {}", HumanBytes(bytes)))
        .unwrap_or_default();
    info!(
        "deleted {} blob(s){freed} on registry `{}`",
        report.deleted_blobs.len(),
        report.registry
    );
}

fn table_row(report: &GcReport) -> Vec<String> {
    let optional = |value: Option<u64>| value.map(|value| value.to_string()).unwrap_or_default();
    vec![
        report.registry.clone(),
        report.dry_run.to_string(),
        optional(report.blobs_marked),
        report.eligible_blobs.len().to_string(),
        report.deleted_blobs.len().to_string(),
        optional(report.bytes_freed),
    ]
}

#[cfg(test)]
mod tests {
    use regctl_runtime::fake::{FakeRuntime, Fault};
    use regctl_runtime::RuntimeKind;

    use super::*;

    fn spec() -> RegistrySpec {
        serde_json::from_value(serde_json::json!({
            "name": "reg",
            "image": "docker.io/library/registry:2",
            "port": { "host_ip": "127.0.0.1", "host_port": 5077 },
            "delete_enabled": true,
            "storage": { "driver": "filesystem", "source": { "kind": "volume", "name": "reg-data" } },
            "env": [],
            "network": null
        }))
        .unwrap()
    }

    fn command() -> Vec<String> {
        vec!["/bin/registry".to_owned(), "garbage-collect".to_owned()]
    }

    /// Calls that change the registry or run the collector, in order.
    fn steps(runtime: &FakeRuntime) -> Vec<String> {
        runtime
            .calls()
            .into_iter()
            .filter(|call| !call.starts_with("inspect") && !call.starts_with("image"))
            .collect()
    }

    #[tokio::test]
    async fn running_registry_is_stopped_then_started() {
        let runtime = FakeRuntime::new(RuntimeKind::Docker)
            .with_registry(&spec(), ContainerState::Running)
            .with_volume_sizes("reg-data", &[1000, 400])
            .with_run_result(0, "blob eligible for deletion: sha256:aa\n");

        let collection = collect_garbage(&runtime, &spec(), "reg_gc", command(), true)
            .await
            .unwrap();

        assert_eq!(
            steps(&runtime),
            [
                "stop_container reg",
                "volume_size reg-data",
                "run_to_completion reg_gc from reg /bin/registry garbage-collect",
                "volume_size reg-data",
                "start_container reg",
            ]
        );
        assert_eq!(collection.run.unwrap().exit_code, 0);
        assert!(collection.restart.is_ok());
        assert_eq!(collection.bytes_before, Some(1000));
        assert_eq!(collection.bytes_after, Some(400));
    }

    #[tokio::test]
    async fn stopped_registry_stays_stopped() {
        let runtime =
            FakeRuntime::new(RuntimeKind::Podman).with_registry(&spec(), ContainerState::Exited);

        collect_garbage(&runtime, &spec(), "reg_gc", command(), false)
            .await
            .unwrap();

        let steps = steps(&runtime);
        assert!(!steps.iter().any(|call| call.starts_with("stop_container")));
        assert!(!steps.iter().any(|call| call.starts_with("start_container")));
    }

    #[tokio::test]
    async fn failed_collection_still_restarts() {
        let runtime = FakeRuntime::new(RuntimeKind::Docker)
            .with_registry(&spec(), ContainerState::Running)
            .with_run_result(1, "failed to delete blob\n");

        let collection = collect_garbage(&runtime, &spec(), "reg_gc", command(), true)
            .await
            .unwrap();

        assert_eq!(steps(&runtime).last().unwrap(), "start_container reg");
        let error = finish("reg", collection.run, collection.restart).unwrap_err();
        assert!(matches!(error, Error::GcFailed { exit_code: 1, .. }));
        assert!(error.details().unwrap().contains("failed to delete blob"));
    }

    #[tokio::test]
    async fn engine_failure_still_restarts() {
        let runtime = FakeRuntime::new(RuntimeKind::Docker)
            .with_registry(&spec(), ContainerState::Running)
            .with_fault(Fault::RunToCompletion);

        let collection = collect_garbage(&runtime, &spec(), "reg_gc", command(), true)
            .await
            .unwrap();

        assert_eq!(steps(&runtime).last().unwrap(), "start_container reg");
        assert!(collection.run.is_err());
        assert!(collection.restart.is_ok());
    }

    #[test]
    fn failed_restart_after_good_run_is_an_error() {
        let run = CompletedRun {
            exit_code: 0,
            output: String::new(),
        };
        let restart = Err(Error::Usage("start failed".to_owned()));

        let error = finish("reg", Ok(run), restart).unwrap_err();

        assert!(matches!(error, Error::RestartFailed { .. }));
        assert!(error.hint().unwrap().contains("regctl start reg"));
    }

    #[tokio::test]
    async fn leftover_one_off_is_removed() {
        let runtime = FakeRuntime::new(RuntimeKind::Docker).with_one_off("reg_gc", "reg");

        clear_leftover(&runtime, "reg", "reg_gc").await.unwrap();

        assert!(runtime.container_names().is_empty());
    }

    #[tokio::test]
    async fn one_off_of_another_registry_is_kept() {
        let runtime = FakeRuntime::new(RuntimeKind::Docker).with_one_off("reg_gc", "other");

        let error = clear_leftover(&runtime, "reg", "reg_gc").await.unwrap_err();

        assert!(matches!(error, Error::OneOffNameTaken { .. }));
        assert_eq!(runtime.container_names(), ["reg_gc"]);
    }

    #[tokio::test]
    async fn foreign_container_in_the_way_is_kept() {
        let runtime = FakeRuntime::new(RuntimeKind::Docker).with_foreign_container("reg_gc");

        let error = clear_leftover(&runtime, "reg", "reg_gc").await.unwrap_err();

        assert!(matches!(error, Error::OneOffNameTaken { .. }));
        assert_eq!(runtime.container_names(), ["reg_gc"]);
    }
}
