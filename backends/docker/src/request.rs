use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, Mount, MountType, NetworkingConfig,
    PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use regctl_runtime::{registry_labels, RegistrySpec, RuntimeError, DATA_DIR, REGISTRY_PORT};

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
