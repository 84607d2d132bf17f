use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, Mount, MountType, NetworkingConfig,
    PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use regctl_runtime::{
    one_off_labels, registry_labels, RegistrySpec, RuntimeError, StorageSpec, DATA_DIR,
    REGISTRY_PORT,
};

/// Renders the body of `POST /containers/create` for `spec`, as JSON.
///
/// This is the same body [`crate::DockerRuntime`] sends, so `--dry-run` and
/// the snapshot tests show exactly what reaches the daemon.
pub fn create_request(spec: &RegistrySpec) -> Result<serde_json::Value, RuntimeError> {
    serde_json::to_value(container_body(spec)).map_err(RuntimeError::engine)
}

pub(crate) fn container_body(spec: &RegistrySpec) -> ContainerCreateBody {
    let port_key = format!("{REGISTRY_PORT}/tcp");

    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: spec.command.clone(),
        env: Some(spec.env_strings()),
        labels: Some(registry_labels(spec).into_iter().collect()),
        exposed_ports: Some(vec![port_key]),
        host_config: Some(host_config(spec)),
        networking_config: spec.network.as_ref().map(|network| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                network.name.clone(),
                EndpointSettings {
                    aliases: Some(network.aliases.clone()),
                    ..Default::default()
                },
            )])),
        }),
        ..Default::default()
    }
}

/// Builds the body of a one-off container that runs `program` with `args`
/// on the storage of `spec`.
///
/// It starts from [`container_body`], so image, environment and mounts stay
/// those of the registry container, and drops what a task must not have:
/// the published port, the network and the restart policy.
pub(crate) fn one_off_body(
    spec: &RegistrySpec,
    program: &str,
    args: &[String],
) -> ContainerCreateBody {
    let registry = container_body(spec);

    // Local storage needs no network. S3 storage does, and then the
    // registry's own network serves, which an endpoint may only resolve on.
    // The one-off gets no alias there, so it never responds to the
    // registry's name.
    let registry_host = registry.host_config.unwrap_or_default();
    let network_mode = match spec.storage {
        StorageSpec::S3(_) => registry_host.network_mode.clone(),
        _ => Some("none".to_owned()),
    };
    let host_config = HostConfig {
        port_bindings: None,
        network_mode,
        restart_policy: None,
        ..registry_host
    };

    ContainerCreateBody {
        entrypoint: Some(vec![program.to_owned()]),
        cmd: Some(args.to_vec()),
        labels: Some(one_off_labels(&spec.name).into_iter().collect()),
        exposed_ports: None,
        networking_config: None,
        host_config: Some(host_config),
        ..registry
    }
}

fn host_config(spec: &RegistrySpec) -> HostConfig {
    let binding = PortBinding {
        host_ip: Some(spec.port.host_ip.to_string()),
        // An empty host port lets the daemon pick one, which Docker then
        // changes on every start. `create` always allocates a fixed port, so
        // only a dry run without one renders the empty form.
        host_port: Some(
            spec.port
                .host_port
                .map(|port| port.to_string())
                .unwrap_or_default(),
        ),
    };

    let mount = |source: &str, typ: MountType| Mount {
        target: Some(DATA_DIR.to_owned()),
        source: Some(source.to_owned()),
        typ: Some(typ),
        ..Default::default()
    };
    let mounts = match (spec.data_volume(), spec.bind_path()) {
        (Some(volume), _) => Some(vec![mount(volume, MountType::VOLUME)]),
        (None, Some(path)) => Some(vec![mount(path, MountType::BIND)]),
        // NOTE: with no mount, the image's `VOLUME /var/lib/registry` makes
        // the engine create an anonymous volume, which `delete` removes with
        // the container.
        (None, None) => None,
    };

    HostConfig {
        port_bindings: Some(HashMap::from([(
            format!("{REGISTRY_PORT}/tcp"),
            Some(vec![binding]),
        )])),
        mounts,
        // Without a network the daemon uses its default one, so nothing
        // depends on a network named `bridge`.
        network_mode: spec.network.as_ref().map(|network| network.name.clone()),
        restart_policy: Some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
            maximum_retry_count: None,
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use regctl_runtime::{EnvVar, NetworkSpec, PortSpec, StorageSpec, VolumeSource, LABEL_SPEC};

    use super::*;

    fn spec() -> RegistrySpec {
        RegistrySpec {
            name: "kind-registry".to_owned(),
            image: "docker.io/library/registry:2".to_owned(),
            port: PortSpec {
                host_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                host_port: Some(5001),
            },
            delete_enabled: true,
            storage: StorageSpec::Filesystem {
                source: VolumeSource::Volume {
                    name: "kind-registry-data".to_owned(),
                },
            },
            env: vec![EnvVar {
                key: "REGISTRY_STORAGE_DELETE_ENABLED".to_owned(),
                value: "true".to_owned(),
            }],
            network: Some(NetworkSpec {
                name: "kind".to_owned(),
                aliases: vec!["kind-registry".to_owned()],
            }),
            command: None,
        }
    }

    #[test]
    fn one_off_keeps_storage_and_drops_port() {
        let spec = spec();
        let args = ["garbage-collect".to_owned(), "/config.yml".to_owned()];
        let registry = container_body(&spec);
        let one_off = one_off_body(&spec, "/bin/registry", &args);
        let host = one_off.host_config.clone().unwrap();

        assert_eq!(one_off.image, registry.image);
        assert_eq!(one_off.env, registry.env);
        assert_eq!(host.mounts, registry.host_config.unwrap().mounts);
        assert_eq!(one_off.entrypoint, Some(vec!["/bin/registry".to_owned()]));
        assert_eq!(one_off.cmd, Some(args.to_vec()));
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.port_bindings, None);
        assert_eq!(host.restart_policy, None);
        assert_eq!(one_off.exposed_ports, None);
        assert!(one_off.networking_config.is_none());

        let labels = one_off.labels.unwrap();
        assert_eq!(
            labels.get("io.regctl.role").map(String::as_str),
            Some("one-off")
        );
        assert!(!labels.contains_key(LABEL_SPEC));
    }
}
