//! Tests against a real Podman service.
//!
//! The ignored tests need a libpod socket at `REGCTL_PODMAN_URL` (default
//! `unix:///run/podman/podman.sock`) and the image
//! `docker.io/library/registry:2` already present, because they never pull.
//! Run them with `cargo test -p regctl-podman -- --ignored --test-threads=1`.
//! They create containers, volumes and a network whose names contain the
//! test's process id, and remove them at the end.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use regctl_podman::PodmanRuntime;
use regctl_runtime::{
    volume_labels, ContainerRuntime, ContainerState, EnvVar, NetworkSpec, PortSpec, RegistrySpec,
    RuntimeError, RuntimeKind, StorageSpec, VolumeSource, DATA_DIR, LABEL_NAME,
};

const IMAGE: &str = "docker.io/library/registry:2";

fn engine() -> PodmanRuntime {
    let url = std::env::var("REGCTL_PODMAN_URL")
        .unwrap_or_else(|_| "unix:///run/podman/podman.sock".to_owned());
    PodmanRuntime::connect(&url).expect("the Podman URL is valid")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id())
}

/// Returns a port that was free a moment ago. Another process may take it
/// before the container does, which would fail the test with `PortInUse`.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

fn spec(name: &str, port: u16) -> RegistrySpec {
    RegistrySpec {
        name: name.to_owned(),
        image: IMAGE.to_owned(),
        port: PortSpec {
            host_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            host_port: Some(port),
        },
        delete_enabled: true,
        storage: StorageSpec::Filesystem {
            source: VolumeSource::Volume {
                name: format!("{name}-data"),
            },
        },
        env: vec![EnvVar {
            key: "REGISTRY_STORAGE_DELETE_ENABLED".to_owned(),
            value: "true".to_owned(),
        }],
        network: None,
        command: None,
    }
}

/// Sends `GET /v2/` over plain HTTP and returns the status code.
fn get_v2(port: u16) -> std::io::Result<Option<u16>> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET /v2/ HTTP/1.0\r\nHost: localhost\r\n\r\n")?;

    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status_line = response.lines().next().unwrap_or_default();
    Ok(status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok()))
}

/// Polls `/v2/` until the registry responds, for at most 15 seconds.
fn wait_for_v2(port: u16) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match get_v2(port) {
            Ok(Some(status)) => return status,
            _ if Instant::now() > deadline => {
                panic!("registry on port {port} did not respond within 15 s")
            }
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

async fn require_image(runtime: &PodmanRuntime) {
    assert!(
        runtime.image_exists(IMAGE).await.unwrap(),
        "{IMAGE} must be present in Podman; these tests never pull"
    );
}

#[tokio::test]
async fn missing_socket_is_unreachable() {
    let runtime = PodmanRuntime::connect("unix:///nonexistent/regctl/podman.sock").unwrap();

    match runtime.info().await {
        Err(RuntimeError::Unreachable { kind, socket, .. }) => {
            assert_eq!(kind, RuntimeKind::Podman);
            assert_eq!(socket, "unix:///nonexistent/regctl/podman.sock");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[test]
fn invalid_url_names_the_value() {
    let error = PodmanRuntime::connect("ssh://core@localhost/run/podman.sock").unwrap_err();

    assert!(error
        .to_string()
        .contains("ssh://core@localhost/run/podman.sock"));
}

#[tokio::test]
#[ignore = "needs a Podman service with the registry image"]
async fn info_reports_engine() {
    let info = engine().info().await.unwrap();

    assert_eq!(info.kind, RuntimeKind::Podman);
    assert!(!info.version.is_empty());
    assert!(!info.api_version.is_empty());
}

#[tokio::test]
#[ignore = "needs a Podman service with the registry image"]
async fn registry_lifecycle() {
    let runtime = engine();
    require_image(&runtime).await;
    let name = unique("regctl-podman-test");
    let spec = spec(&name, free_port());
    let port = spec.port.host_port.unwrap();
    let volume = spec.data_volume().unwrap().to_owned();

    runtime
        .create_volume(&volume, &volume_labels(&name))
        .await
        .unwrap();
    assert!(runtime.volume_exists(&volume).await.unwrap());
    assert_eq!(
        runtime.volume_labels(&volume).await.unwrap(),
        Some(volume_labels(&name))
    );

    let id = runtime.create_container(&spec).await.unwrap();
    assert!(!id.is_empty());
    let again = runtime.create_container(&spec).await;
    assert!(
        matches!(again, Err(RuntimeError::ContainerExists { .. })),
        "{again:?}"
    );

    let created = runtime.inspect_container(&name).await.unwrap().unwrap();
    assert_eq!(created.id, id);
    assert_eq!(created.state, ContainerState::Created);
    assert_eq!(created.image, IMAGE);
    assert_eq!(created.ports.len(), 1, "{:?}", created.ports);
    assert_eq!(created.ports[0].host_port, port);
    assert_eq!(created.ports[0].host_ip, "127.0.0.1");
    assert_eq!(created.mounts.len(), 1, "{:?}", created.mounts);
    assert_eq!(created.mounts[0].source, volume);
    assert_eq!(created.mounts[0].destination, DATA_DIR);
    assert!(created
        .env
        .contains(&"REGISTRY_STORAGE_DELETE_ENABLED=true".to_owned()));

    runtime.start_container(&name).await.unwrap();
    runtime.start_container(&name).await.unwrap();
    assert_eq!(wait_for_v2(port), 200);

    let listed = runtime.list_containers(LABEL_NAME, &name).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].name, name);
    assert_eq!(listed[0].state, ContainerState::Running);
    assert_eq!(listed[0].mounts[0].source, volume);
    assert!(listed[0].env.is_empty(), "{:?}", listed[0].env);

    let logs = runtime.container_logs(&name, 50).await.unwrap();
    assert!(logs.contains("listening on"), "{logs}");
    let one_line = runtime.container_logs(&name, 1).await.unwrap();
    assert_eq!(one_line.lines().count(), 1, "{one_line}");

    runtime.stop_container(&name, 5).await.unwrap();
    runtime.stop_container(&name, 5).await.unwrap();
    let stopped = runtime.inspect_container(&name).await.unwrap().unwrap();
    assert_eq!(stopped.state, ContainerState::Exited);

    runtime.remove_container(&name).await.unwrap();
    assert!(runtime.inspect_container(&name).await.unwrap().is_none());
    assert!(runtime.volume_exists(&volume).await.unwrap());
    let removed_twice = runtime.remove_container(&name).await;
    assert!(
        matches!(removed_twice, Err(RuntimeError::ContainerNotFound { .. })),
        "{removed_twice:?}"
    );

    runtime.remove_volume(&volume).await.unwrap();
    assert_eq!(runtime.volume_labels(&volume).await.unwrap(), None);
    runtime.remove_volume(&volume).await.unwrap();
}

#[tokio::test]
#[ignore = "needs a Podman service with the registry image"]
async fn remove_running_container() {
    let runtime = engine();
    require_image(&runtime).await;
    let name = unique("regctl-podman-running");
    let spec = spec(&name, free_port());

    runtime.create_container(&spec).await.unwrap();
    runtime.start_container(&name).await.unwrap();
    runtime.remove_container(&name).await.unwrap();

    assert!(runtime.inspect_container(&name).await.unwrap().is_none());
    runtime
        .remove_volume(spec.data_volume().unwrap())
        .await
        .unwrap();
}

#[tokio::test]
#[ignore = "needs a Podman service with the registry image"]
async fn taken_port_is_port_in_use() {
    let runtime = engine();
    require_image(&runtime).await;
    let name = unique("regctl-podman-port");
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let spec = spec(&name, port);

    runtime.create_container(&spec).await.unwrap();
    let started = runtime.start_container(&name).await;

    runtime.remove_container(&name).await.unwrap();
    runtime
        .remove_volume(spec.data_volume().unwrap())
        .await
        .unwrap();
    drop(listener);
    match started {
        Err(RuntimeError::PortInUse { port: reported, .. }) => assert_eq!(reported, port),
        other => panic!("expected PortInUse, got {other:?}"),
    }
}

#[tokio::test]
#[ignore = "needs a Podman service with the registry image"]
async fn missing_container_errors() {
    let runtime = engine();
    let name = unique("regctl-podman-missing");

    assert!(runtime.inspect_container(&name).await.unwrap().is_none());
    for result in [
        runtime.start_container(&name).await,
        runtime.stop_container(&name, 1).await,
        runtime.remove_container(&name).await,
        runtime.container_logs(&name, 10).await.map(drop),
    ] {
        assert!(
            matches!(result, Err(RuntimeError::ContainerNotFound { .. })),
            "{result:?}"
        );
    }
}

#[tokio::test]
#[ignore = "needs a Podman service with the registry image"]
async fn missing_network_is_network_not_found() {
    let runtime = engine();
    require_image(&runtime).await;
    let name = unique("regctl-podman-nonet");
    let mut spec = spec(&name, free_port());
    spec.network = Some(NetworkSpec {
        name: unique("regctl-missing-net"),
        aliases: vec!["registry.test".to_owned()],
    });

    assert!(!runtime
        .network_exists(&spec.network.as_ref().unwrap().name)
        .await
        .unwrap());
    let created = runtime.create_container(&spec).await;

    assert!(
        matches!(created, Err(RuntimeError::NetworkNotFound { .. })),
        "{created:?}"
    );
    assert!(runtime.inspect_container(&name).await.unwrap().is_none());
}

#[tokio::test]
#[ignore = "needs a Podman service with the registry image"]
async fn network_aliases_are_attached() {
    let runtime = engine();
    require_image(&runtime).await;
    let network = unique("regctl-podman-net");
    let name = unique("regctl-podman-aliased");

    // The backend never creates networks, so the test does it through the
    // libpod API directly.
    let podman = podman_api::Podman::new(runtime.socket()).unwrap();
    let network_opts = podman_api::opts::NetworkCreateOpts::builder()
        .name(&network)
        .dns_enabled(true)
        .build();
    podman.networks().create(&network_opts).await.unwrap();
    assert!(runtime.network_exists(&network).await.unwrap());

    let mut spec = spec(&name, free_port());
    spec.network = Some(NetworkSpec {
        name: network.clone(),
        aliases: vec!["registry.test".to_owned()],
    });
    let port = spec.port.host_port.unwrap();
    runtime.create_container(&spec).await.unwrap();
    runtime.start_container(&name).await.unwrap();
    let status = wait_for_v2(port);
    let info = runtime.inspect_container(&name).await.unwrap().unwrap();
    let raw = podman.containers().get(&name).inspect().await.unwrap();

    runtime.remove_container(&name).await.unwrap();
    runtime
        .remove_volume(spec.data_volume().unwrap())
        .await
        .unwrap();
    podman.networks().get(&network).remove().await.unwrap();

    assert_eq!(status, 200);
    assert_eq!(info.networks, std::slice::from_ref(&network));
    let aliases = raw.network_settings.unwrap().networks.unwrap()[&network]
        .aliases
        .clone()
        .unwrap_or_default();
    assert!(aliases.contains(&"registry.test".to_owned()), "{aliases:?}");
}

#[tokio::test]
#[ignore = "needs a Podman service; pulls fail without internet"]
async fn failed_pull_names_the_image() {
    let runtime = engine();
    let image = "localhost:1/regctl/does-not-exist:latest";

    let error = runtime.pull_image(image).await.unwrap_err();

    assert!(matches!(error, RuntimeError::Engine(_)), "{error:?}");
    assert!(error.to_string().contains(image), "{error}");
}

#[tokio::test]
#[ignore = "needs a Podman service with the registry image"]
async fn one_off_runs_to_completion() {
    let runtime = engine();
    require_image(&runtime).await;
    let name = unique("regctl-podman-one-off");
    let spec = spec(&name, free_port());
    let volume = spec.data_volume().unwrap().to_owned();
    let one_off = format!("{name}_task");
    let program = "/bin/registry".to_owned();
    runtime
        .create_volume(&volume, &volume_labels(&name))
        .await
        .unwrap();

    let succeeded = runtime
        .run_to_completion(
            &spec,
            &one_off,
            vec![program.clone(), "--version".to_owned()],
            &[],
        )
        .await;
    let left_after_success = runtime.inspect_container(&one_off).await.unwrap();
    let failed = runtime
        .run_to_completion(
            &spec,
            &one_off,
            vec![
                program,
                "garbage-collect".to_owned(),
                "/missing.yml".to_owned(),
            ],
            &[],
        )
        .await;
    let left_after_failure = runtime.inspect_container(&one_off).await.unwrap();
    let empty = runtime
        .run_to_completion(&spec, &one_off, Vec::new(), &[])
        .await;
    let size = runtime.volume_size(&volume).await;
    let command = runtime.image_command(IMAGE).await;
    runtime.remove_volume(&volume).await.unwrap();

    let succeeded = succeeded.unwrap();
    assert_eq!(succeeded.exit_code, 0, "{}", succeeded.output);
    assert!(
        succeeded.output.contains("distribution"),
        "{}",
        succeeded.output
    );
    assert!(
        left_after_success.is_none(),
        "the one-off container was left"
    );

    let failed = failed.unwrap();
    assert_eq!(failed.exit_code, 1, "{}", failed.output);
    assert!(failed.output.contains("/missing.yml"), "{}", failed.output);
    assert!(
        left_after_failure.is_none(),
        "the failed one-off container was left"
    );

    assert!(empty.unwrap_err().to_string().contains("has no command"));
    assert!(
        size.unwrap().is_some(),
        "Podman reported no size for {volume}"
    );
    let command = command.unwrap();
    assert!(
        command.cmd.iter().any(|arg| arg.ends_with("config.yml")),
        "{command:?}"
    );
}
