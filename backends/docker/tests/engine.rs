//! Tests against a real Docker daemon.
//!
//! The ignored tests need a daemon at `REGCTL_DOCKER_URL` (default
//! `unix:///var/run/docker.sock`) and the image
//! `docker.io/library/registry:2` already present, because they never pull.
//! They create a volume and containers whose names contain the test's
//! process id, and remove them at the end.

use std::net::{IpAddr, Ipv4Addr};

use regctl_docker::DockerRuntime;
use regctl_runtime::{
    volume_labels, ContainerRuntime, PortSpec, RegistrySpec, StorageSpec, VolumeSource,
};

const IMAGE: &str = "docker.io/library/registry:2";

async fn engine() -> DockerRuntime {
    let url = std::env::var("REGCTL_DOCKER_URL")
        .unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned());
    DockerRuntime::connect(&url)
        .await
        .expect("the Docker daemon answers")
}

fn spec(name: &str) -> RegistrySpec {
    RegistrySpec {
        name: name.to_owned(),
        image: IMAGE.to_owned(),
        port: PortSpec {
            host_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            host_port: Some(5999),
        },
        delete_enabled: false,
        storage: StorageSpec::Filesystem {
            source: VolumeSource::Volume {
                name: format!("{name}-data"),
            },
        },
        env: Vec::new(),
        network: None,
        command: None,
    }
}

#[tokio::test]
#[ignore = "needs a Docker daemon with the registry image"]
async fn one_off_runs_to_completion() {
    let runtime = engine().await;
    assert!(
        runtime.image_exists(IMAGE).await.unwrap(),
        "{IMAGE} must be present in Docker; these tests never pull"
    );
    let name = format!("regctl-docker-one-off-{}", std::process::id());
    let spec = spec(&name);
    let volume = spec.data_volume().unwrap().to_owned();
    let one_off = format!("{name}_task");
    let program = "/bin/registry".to_owned();
    runtime
        .create_volume(&volume, &volume_labels(&name))
        .await
        .unwrap();

    // The one-off publishes no port, so the spec's port may be taken.
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

    // bollard reports a non-zero exit as an error, which the backend turns
    // back into the exit code.
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
        "Docker reported no size for {volume}"
    );
    let command = command.unwrap();
    assert!(
        command.cmd.iter().any(|arg| arg.ends_with("config.yml")),
        "{command:?}"
    );
}
