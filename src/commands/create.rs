//! `regctl create`: compile the flags, then create, start and wait.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use regctl_runtime::{
    spec_from_labels, volume_labels, ContainerFile, ContainerRuntime, RegistrySpec, RuntimeError,
    RuntimeKind, S3Credentials, StorageSpec, LABEL_MANAGED,
};
use serde::Serialize;
use tracing::{debug, info, warn};

use crate::cli::{CreateArgs, DocumentFormat, RuntimeChoice};
use crate::commands::{is_volume_of, warn_delete_enabled};
use crate::commands::{regctl_spec, RegistryView};
use crate::compile::compile_create;
use crate::engines::{self, Engine};
use crate::error::Error;
use crate::output::{print_document, print_text};
use crate::ports::{self, CreateLock};
use crate::readiness::wait_until_ready;
use crate::registry_config;
use crate::secrets::{load_s3_keys, S3Keys};

/// How long another engine may take to list its registries during
/// `create`. Bounds a hung engine; a stopped one fails at once.
const LIST_TIMEOUT: Duration = Duration::from_secs(5);

/// Attempts to start on a freshly allocated port when another process took
/// the previous one between the check and the start.
const MAX_START_ATTEMPTS: usize = 5;

/// Objects that `create` made, so a failure removes exactly those.
#[derive(Debug, Default)]
struct Created {
    container: bool,
    volume: Option<String>,
}

#[derive(Serialize)]
struct DryRun<'a> {
    runtime: RuntimeKind,
    spec: &'a RegistrySpec,
    request: serde_json::Value,
    /// Files copied into the container before it starts, credentials
    /// redacted.
    files: Vec<DryRunFile>,
}

#[derive(Serialize)]
struct DryRunFile {
    path: &'static str,
    mode: String,
    contents: String,
}

pub async fn run(args: &CreateArgs) -> Result<(), Error> {
    let mut spec = compile_create(args)?;
    let keys = load_s3_keys(&args.storage, &|key| std::env::var(key).ok())?;
    record_credentials(&mut spec, keys.is_some());
    warn_about(&spec);

    if args.dry_run {
        return dry_run(args, &spec, keys.as_ref()).await;
    }

    if let Some(path) = spec.bind_path() {
        if !Path::new(path).is_dir() {
            return Err(Error::HostPathMissing {
                path: path.to_owned(),
            });
        }
    }
    let config = registry_config::config_file(&spec, keys.as_ref());

    let engine = engines::connect(&args.runtime.runtime).await?;
    let runtime = engine.runtime.as_ref();
    check_network(&engine, &spec).await?;
    ensure_image(&engine, &spec.image).await?;
    check_explicit_port(&engine, &spec)?;

    let (spec, created) = {
        let _lock = CreateLock::acquire().await?;
        let taken_elsewhere = ports_on_other_engines(runtime).await;
        provision(runtime, spec, taken_elsewhere, config.as_ref()).await?
    };

    if !args.wait.no_wait {
        let timeout = Duration::from_secs(args.wait.wait_timeout);
        if let Err(error) = wait_until_ready(runtime, &spec, timeout).await {
            if args.keep_on_failure {
                warn!("keeping container `{}` for debugging", spec.name);
            } else {
                roll_back(runtime, &spec.name, &created).await;
            }
            return Err(error);
        }
    }

    info!(
        "registry `{}` is ready on {}; push to {}",
        spec.name,
        engine.info.kind,
        spec.endpoint().unwrap_or_default()
    );
    print_created(&engine, &spec, args.output)
}

/// Marks the spec's S3 credentials as static when keys came from the
/// environment, which the pure compiler does not read.
fn record_credentials(spec: &mut RegistrySpec, have_keys: bool) {
    if let StorageSpec::S3(s3) = &mut spec.storage {
        if have_keys {
            s3.credentials = S3Credentials::Static;
        } else {
            debug!(
                "no S3 keys given: the registry uses the AWS SDK's default credential chain \
                 (environment, shared files, instance role)"
            );
        }
    }
}

/// Warns about settings whose cost users may not expect.
fn warn_about(spec: &RegistrySpec) {
    if spec.delete_enabled {
        warn_delete_enabled(&spec.name);
    }

    if spec.storage == StorageSpec::InMemory {
        warn!(
            "`{}` keeps its data in memory: every image is lost when the container stops",
            spec.name
        );
    }
}

async fn dry_run(
    args: &CreateArgs,
    spec: &RegistrySpec,
    keys: Option<&S3Keys>,
) -> Result<(), Error> {
    // A runtime name needs no engine, so the request is rendered offline.
    // `auto` and a URL need the engine to tell its kind.
    let runtime = match &args.runtime.runtime {
        RuntimeChoice::Docker => RuntimeKind::Docker,
        RuntimeChoice::Podman => RuntimeKind::Podman,
        choice => engines::connect(choice).await?.info.kind,
    };

    let request = match runtime {
        RuntimeKind::Docker => regctl_docker::create_request(spec)?,
        RuntimeKind::Podman => regctl_podman::create_request(spec).map_err(RuntimeError::engine)?,
    };

    if spec.port.host_port.is_none() {
        info!("the host port is allocated at create time, so the dry run leaves it empty");
    }

    let files = registry_config::render_redacted(spec, keys)
        .map(|contents| DryRunFile {
            path: registry_config::CONFIG_PATH,
            mode: "0600".to_owned(),
            contents,
        })
        .into_iter()
        .collect();

    let document = DryRun {
        runtime,
        spec,
        request,
        files,
    };
    print_document(&document, args.output.unwrap_or(DocumentFormat::Json))
}

async fn check_network(engine: &Engine, spec: &RegistrySpec) -> Result<(), Error> {
    let Some(network) = &spec.network else {
        return Ok(());
    };

    if engine.runtime.network_exists(&network.name).await? {
        Ok(())
    } else {
        Err(Error::NetworkNotFound {
            name: network.name.clone(),
            runtime: engine.info.kind,
        })
    }
}

/// Pulls `image` only when the engine does not have it.
async fn ensure_image(engine: &Engine, image: &str) -> Result<(), Error> {
    if engine.runtime.image_exists(image).await? {
        debug!("image `{image}` is present");
        return Ok(());
    }

    info!("pulling image `{image}`");
    engine
        .runtime
        .pull_image(image)
        .await
        .map_err(|source| Error::ImageUnavailable {
            image: image.to_owned(),
            runtime: engine.info.kind,
            source,
        })
}

/// Checks an explicit `--port` that no engine call can check early: a
/// rootless engine cannot bind a privileged port, and fails only at start.
fn check_explicit_port(engine: &Engine, spec: &RegistrySpec) -> Result<(), Error> {
    let Some(port) = spec.port.host_port else {
        return Ok(());
    };

    let first_unprivileged = ports::first_unprivileged_port();
    if engine.info.rootless && port < first_unprivileged {
        return Err(Error::PrivilegedPort {
            port,
            first_unprivileged,
            runtime: engine.info.kind,
        });
    }
    Ok(())
}

/// Creates the volume and the container and starts it, under the create
/// lock. On failure, removes what it created and returns the error.
///
/// `taken_elsewhere` contains host ports that registries on other engines
/// recorded, which allocation skips too.
async fn provision(
    runtime: &dyn ContainerRuntime,
    spec: RegistrySpec,
    taken_elsewhere: BTreeSet<u16>,
    config: Option<&ContainerFile>,
) -> Result<(RegistrySpec, Created), Error> {
    check_name_free(runtime, &spec.name).await?;

    let name = spec.name.clone();
    let mut created = Created::default();
    match provision_steps(runtime, spec, taken_elsewhere, config, &mut created).await {
        Ok(spec) => Ok((spec, created)),
        Err(error) => {
            roll_back(runtime, &name, &created).await;
            Err(error)
        }
    }
}

async fn provision_steps(
    runtime: &dyn ContainerRuntime,
    mut spec: RegistrySpec,
    taken_elsewhere: BTreeSet<u16>,
    config: Option<&ContainerFile>,
    created: &mut Created,
) -> Result<RegistrySpec, Error> {
    let explicit_port = spec.port.host_port;
    let mut taken = recorded_ports(runtime).await?;
    taken.extend(taken_elsewhere);

    // A taken explicit port is an error before anything is created.
    if let Some(port) = explicit_port {
        check_port_free(spec.port.host_ip, port, &taken)?;
    }

    if let Some(volume) = spec.data_volume() {
        if ensure_volume(runtime, &spec.name, volume).await? {
            created.volume = Some(volume.to_owned());
        }
    }

    for _ in 0..MAX_START_ATTEMPTS {
        let port = match explicit_port {
            Some(port) => port,
            None => ports::allocate(spec.port.host_ip, &taken)?,
        };
        spec.port.host_port = Some(port);
        crate::failpoint::take_port_after_check(spec.port.host_ip, port);

        runtime.create_container(&spec).await?;
        created.container = true;

        if let Some(file) = config {
            runtime.copy_file_into(&spec.name, file).await?;
        }

        match runtime.start_container(&spec.name).await {
            Ok(()) => return Ok(spec),
            Err(RuntimeError::PortInUse { .. }) if explicit_port.is_none() => {
                debug!("host port {port} was taken before the start; trying another");
                runtime.remove_container(&spec.name).await?;
                created.container = false;
                taken.insert(port);
            }
            Err(RuntimeError::PortInUse { .. }) => {
                return Err(Error::PortInUse {
                    ip: spec.port.host_ip,
                    port,
                });
            }
            Err(error) => return Err(error.into()),
        }
    }

    Err(Error::NoFreePort {
        ip: spec.port.host_ip,
        first: ports::FIRST_AUTO_PORT,
        last: ports::LAST_AUTO_PORT,
    })
}

fn check_port_free(ip: std::net::IpAddr, port: u16, taken: &BTreeSet<u16>) -> Result<(), Error> {
    if taken.contains(&port) || !ports::is_free(ip, port) {
        return Err(Error::PortInUse { ip, port });
    }
    Ok(())
}

/// Fails when any container already has the name. The error states whether
/// it is a regctl registry.
async fn check_name_free(runtime: &dyn ContainerRuntime, name: &str) -> Result<(), Error> {
    // Engines also resolve a unique prefix of a container id; a container
    // found that way leaves the name free.
    let Some(container) = runtime
        .inspect_container(name)
        .await?
        .filter(|container| container.name == name)
    else {
        return Ok(());
    };

    if regctl_spec(&container).is_some() {
        Err(Error::RegistryExists {
            name: name.to_owned(),
            runtime: runtime.kind(),
            state: container.state.to_string(),
        })
    } else {
        Err(Error::ForeignContainer {
            name: name.to_owned(),
            runtime: runtime.kind(),
        })
    }
}

/// Host ports of every regctl registry on the engine, running or not, so a
/// new registry never takes the port of a stopped one.
async fn recorded_ports(runtime: &dyn ContainerRuntime) -> Result<BTreeSet<u16>, Error> {
    let containers = runtime.list_containers(LABEL_MANAGED, "true").await?;
    Ok(containers
        .iter()
        .filter_map(|container| spec_from_labels(&container.labels)?.port.host_port)
        .collect())
}

/// Collects the host ports recorded by registries on every other reachable
/// engine.
/// Docker frees the port of a crashed container while it waits to restart,
/// so only the record keeps another engine from taking it.
async fn ports_on_other_engines(runtime: &dyn ContainerRuntime) -> BTreeSet<u16> {
    let mut ports = BTreeSet::new();

    // NOTE: this counts only what `auto` discovery finds as the current user.
    // A registry on an engine given only by `--runtime URL`, or on another
    // user's rootless engine, is not counted, so a stopped one there can
    // lose its port.
    for other in engines::clients_except(runtime.socket()).await {
        match tokio::time::timeout(LIST_TIMEOUT, recorded_ports(other.as_ref())).await {
            Ok(Ok(found)) => ports.extend(found),
            Ok(Err(error)) => debug!(
                "cannot list registries on {}: {}",
                other.socket(),
                engines::error_chain(&error)
            ),
            Err(_) => debug!("{} did not respond when listing registries", other.socket()),
        }
    }
    ports
}

/// Creates the data volume, or reuses it when an earlier registry of the
/// same name left it. Returns whether it created the volume.
async fn ensure_volume(
    runtime: &dyn ContainerRuntime,
    registry: &str,
    volume: &str,
) -> Result<bool, Error> {
    match runtime.volume_labels(volume).await? {
        None => {
            runtime
                .create_volume(volume, &volume_labels(registry))
                .await?;
            Ok(true)
        }
        Some(labels) if is_volume_of(&labels, registry) => {
            info!("reusing data volume `{volume}`");
            Ok(false)
        }
        Some(_) => Err(Error::ForeignVolume {
            name: volume.to_owned(),
            runtime: runtime.kind(),
        }),
    }
}

/// Removes what a failed `create` made. A failure here is logged, because
/// the error that caused the roll-back is the one to report.
async fn roll_back(runtime: &dyn ContainerRuntime, name: &str, created: &Created) {
    if created.container {
        debug!("removing container `{name}`");
        if let Err(error) = runtime.remove_container(name).await {
            warn!(
                "failed to remove container `{name}` after the failure: {}",
                engines::error_chain(&error)
            );
        }
    }

    if let Some(volume) = &created.volume {
        debug!("removing volume `{volume}`");
        if let Err(error) = runtime.remove_volume(volume).await {
            warn!(
                "failed to remove volume `{volume}` after the failure: {}",
                engines::error_chain(&error)
            );
        }
    }
}

fn print_created(
    engine: &Engine,
    spec: &RegistrySpec,
    format: Option<DocumentFormat>,
) -> Result<(), Error> {
    match format {
        None => print_text(&format!("{}\n", spec.endpoint().unwrap_or_default())),
        Some(format) => {
            let view = RegistryView::new(engine.info.kind, "running".to_owned(), spec);
            print_document(&view, format)
        }
    }
}

#[cfg(test)]
mod tests {
    use regctl_runtime::fake::{FakeRuntime, Fault};

    use super::*;
    use crate::compile::data_volume_name;

    const IMAGE: &str = "docker.io/library/registry:2";
    const DEFAULT_IP: std::net::IpAddr = crate::validate::DEFAULT_HOST_IP;

    fn spec(name: &str, port: Option<u16>) -> RegistrySpec {
        let mut args = vec!["regctl", "create", name];
        let port_text = port.map(|port| port.to_string());
        if let Some(port) = &port_text {
            args.extend(["--port", port]);
        }
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(args).unwrap();
        let crate::cli::Command::Create(create) = cli.command else {
            unreachable!("`create` parses to Command::Create");
        };
        compile_create(&create).unwrap()
    }

    fn fake() -> FakeRuntime {
        FakeRuntime::new(RuntimeKind::Docker).with_image(IMAGE)
    }

    #[tokio::test]
    async fn provision_creates_volume_then_container() {
        let runtime = fake();

        let (spec, created) = provision(&runtime, spec("dev", None), BTreeSet::new(), None)
            .await
            .unwrap();

        assert!(spec.port.host_port.unwrap() >= ports::FIRST_AUTO_PORT);
        assert!(created.container);
        assert_eq!(created.volume.as_deref(), Some("dev-data"));
        assert_eq!(runtime.container_names(), ["dev"]);
        let calls = runtime.calls();
        let order: Vec<&str> = calls
            .iter()
            .map(String::as_str)
            .filter(|call| call.starts_with("create_") || call.starts_with("start_"))
            .collect();
        assert_eq!(
            order,
            [
                "create_volume dev-data",
                "create_container dev",
                "start_container dev"
            ]
        );
    }

    #[tokio::test]
    async fn provision_skips_ports_recorded_elsewhere() {
        let runtime = fake();
        let first = ports::allocate(DEFAULT_IP, &BTreeSet::new()).unwrap();

        let (spec, _) = provision(&runtime, spec("dev", None), BTreeSet::from([first]), None)
            .await
            .unwrap();

        assert_ne!(spec.port.host_port, Some(first));
    }

    #[tokio::test]
    async fn failed_container_create_removes_the_volume() {
        let runtime = fake().with_fault(Fault::CreateContainer);

        let result = provision(&runtime, spec("dev", None), BTreeSet::new(), None).await;

        assert!(result.is_err());
        assert!(runtime.container_names().is_empty());
        assert!(runtime.volume_names().is_empty());
    }

    #[tokio::test]
    async fn taken_auto_port_retries_then_cleans_up() {
        let runtime = fake().with_fault(Fault::PortInUse);

        let error = provision(&runtime, spec("dev", None), BTreeSet::new(), None)
            .await
            .unwrap_err();

        assert!(matches!(error, Error::NoFreePort { .. }), "{error}");
        let starts = runtime
            .calls()
            .iter()
            .filter(|call| call.starts_with("start_container"))
            .count();
        assert_eq!(starts, MAX_START_ATTEMPTS);
        assert!(runtime.container_names().is_empty());
        assert!(runtime.volume_names().is_empty());
    }

    #[tokio::test]
    async fn taken_explicit_port_fails_without_retry() {
        let runtime = fake().with_fault(Fault::PortInUse);
        let port = ports::allocate(DEFAULT_IP, &BTreeSet::new()).unwrap();

        let error = provision(&runtime, spec("dev", Some(port)), BTreeSet::new(), None)
            .await
            .unwrap_err();

        assert!(
            matches!(error, Error::PortInUse { port: p, .. } if p == port),
            "{error}"
        );
        assert!(runtime.container_names().is_empty());
        assert!(runtime.volume_names().is_empty());
    }

    #[tokio::test]
    async fn foreign_container_is_never_touched() {
        let runtime = fake().with_foreign_container("dev");

        let error = provision(&runtime, spec("dev", None), BTreeSet::new(), None)
            .await
            .unwrap_err();

        assert!(matches!(error, Error::ForeignContainer { .. }), "{error}");
        assert_eq!(runtime.container_names(), ["dev"]);
        assert!(runtime.volume_names().is_empty());
        assert!(!runtime
            .calls()
            .iter()
            .any(|call| call.starts_with("remove_")));
    }

    #[tokio::test]
    async fn existing_volume_is_reused_and_kept_on_failure() {
        let runtime = fake().with_fault(Fault::CreateContainer);
        let volume = data_volume_name("dev");
        runtime
            .create_volume(&volume, &volume_labels("dev"))
            .await
            .unwrap();

        let result = provision(&runtime, spec("dev", None), BTreeSet::new(), None).await;

        assert!(result.is_err());
        assert_eq!(runtime.volume_names(), [volume]);
    }

    #[tokio::test]
    async fn foreign_volume_is_rejected() {
        let runtime = fake();
        runtime
            .create_volume("dev-data", &std::collections::BTreeMap::new())
            .await
            .unwrap();

        let error = provision(&runtime, spec("dev", None), BTreeSet::new(), None)
            .await
            .unwrap_err();

        assert!(matches!(error, Error::ForeignVolume { .. }), "{error}");
        assert!(runtime.container_names().is_empty());
    }
}
