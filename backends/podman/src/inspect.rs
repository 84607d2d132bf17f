use std::collections::{BTreeMap, HashMap};

use podman_api::models::{ContainerInspectResponseLibpod, InspectHostPort, InspectMount};
use regctl_runtime::{ContainerInfo, ContainerState, MountInfo, PublishedPort};

/// Port map of libpod's inspect output: `5000/tcp` to the host bindings.
type PortMap = HashMap<String, Option<Vec<InspectHostPort>>>;

/// Converts libpod's container inspect output into the runtime-neutral form.
pub(crate) fn container_info(data: ContainerInspectResponseLibpod) -> ContainerInfo {
    let (config_image, labels, env) = match data.config {
        Some(config) => (config.image, config.labels, config.env),
        None => (None, None, None),
    };
    let (live_ports, networks) = match data.network_settings {
        Some(settings) => (settings.ports, settings.networks),
        None => (None, None),
    };

    // `ImageName` is the reference the container was created from, while
    // `Image` is only the image id.
    let image = data
        .image_name
        .filter(|name| !name.is_empty())
        .or(config_image)
        .or(data.image)
        .unwrap_or_default();

    // `NetworkSettings.Ports` is the live state. Podman 4.3 fills it for
    // stopped containers too, and `HostConfig.PortBindings` is the fallback
    // should a version leave it empty.
    let live_ports = live_ports.unwrap_or_default();
    let ports = if live_ports.is_empty() {
        data.host_config
            .and_then(|host_config| host_config.port_bindings)
            .unwrap_or_default()
    } else {
        live_ports
    };

    let mut networks: Vec<String> = networks.unwrap_or_default().into_keys().collect();
    networks.sort();

    ContainerInfo {
        id: data.id.unwrap_or_default(),
        name: data.name.unwrap_or_default(),
        image,
        state: container_state(data.state.and_then(|state| state.status)),
        labels: sorted(labels),
        env: env.unwrap_or_default(),
        ports: published_ports(ports),
        networks,
        mounts: data
            .mounts
            .unwrap_or_default()
            .into_iter()
            .map(mount_info)
            .collect(),
    }
}

pub(crate) fn container_state(status: Option<String>) -> ContainerState {
    ContainerState::parse(status.as_deref().unwrap_or("unknown"))
}

fn sorted(labels: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    labels.unwrap_or_default().into_iter().collect()
}

/// Flattens the port map, skipping unpublished ports and entries that do
/// not parse, and sorts the result.
fn published_ports(ports: PortMap) -> Vec<PublishedPort> {
    let mut published = Vec::new();

    for (key, bindings) in ports {
        let container_port = key.split('/').next().and_then(|port| port.parse().ok());
        let Some(container_port) = container_port else {
            continue;
        };

        for binding in bindings.unwrap_or_default() {
            let host_port = binding.host_port.and_then(|port| port.parse().ok());
            let Some(host_port) = host_port else {
                continue;
            };
            published.push(PublishedPort {
                host_ip: binding.host_ip.unwrap_or_default(),
                host_port,
                container_port,
            });
        }
    }

    published.sort_by(|a, b| {
        (a.container_port, a.host_port, &a.host_ip).cmp(&(
            b.container_port,
            b.host_port,
            &b.host_ip,
        ))
    });
    published
}

/// Converts a mount, naming a volume by its name and a bind mount by its
/// host path.
fn mount_info(mount: InspectMount) -> MountInfo {
    let kind = mount.type_.unwrap_or_default();
    let source = if kind == "volume" {
        mount.name.or(mount.source)
    } else {
        mount.source
    };

    MountInfo {
        kind,
        source: source.unwrap_or_default(),
        destination: mount.destination.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Trimmed inspect output of a registry container created by this
    /// backend on Podman 4.3.1, with the field shapes the engine sent.
    fn inspect_fixture() -> serde_json::Value {
        json!({
            "Id": "4f0c",
            "Name": "regctl-registry",
            "Image": "sha256-like-id",
            "ImageName": "docker.io/library/registry:2",
            "State": { "Status": "running", "Running": true },
            "Config": {
                "Image": "docker.io/library/registry:2",
                "Env": ["REGISTRY_STORAGE_DELETE_ENABLED=true", "container=podman"],
                "Labels": { "io.regctl.name": "regctl-registry", "io.regctl.managed": "true" },
                "StopSignal": 15
            },
            "NetworkSettings": {
                "Ports": {
                    "5000/tcp": [{ "HostIp": "127.0.0.1", "HostPort": "5001" }],
                    "8080/tcp": null
                },
                "Networks": { "podman": {}, "kind": {} }
            },
            "HostConfig": {
                "PortBindings": {
                    "5000/tcp": [{ "HostIp": "127.0.0.1", "HostPort": "5001" }]
                }
            },
            "Mounts": [
                {
                    "Type": "volume",
                    "Name": "regctl-registry-data",
                    "Source": "/var/lib/containers/storage/volumes/regctl-registry-data/_data",
                    "Destination": "/var/lib/registry"
                },
                {
                    "Type": "bind",
                    "Source": "/etc/registry",
                    "Destination": "/etc/docker/registry"
                }
            ]
        })
    }

    fn parse(value: serde_json::Value) -> ContainerInfo {
        container_info(serde_json::from_value(value).unwrap())
    }

    #[test]
    fn inspect_identity_fields() {
        let info = parse(inspect_fixture());

        assert_eq!(info.id, "4f0c");
        assert_eq!(info.name, "regctl-registry");
        assert_eq!(info.image, "docker.io/library/registry:2");
        assert_eq!(info.state, ContainerState::Running);
        assert_eq!(info.labels["io.regctl.managed"], "true");
        assert_eq!(info.env.len(), 2);
    }

    #[test]
    fn inspect_ports_skip_unpublished() {
        let info = parse(inspect_fixture());

        assert_eq!(
            info.ports,
            [PublishedPort {
                host_ip: "127.0.0.1".to_owned(),
                host_port: 5001,
                container_port: 5000,
            }]
        );
    }

    #[test]
    fn inspect_ports_fall_back_to_bindings() {
        let mut fixture = inspect_fixture();
        fixture["NetworkSettings"]["Ports"] = json!({});
        let info = parse(fixture);

        assert_eq!(info.ports.len(), 1);
        assert_eq!(info.ports[0].host_port, 5001);
    }

    #[test]
    fn inspect_networks_are_sorted() {
        let info = parse(inspect_fixture());

        assert_eq!(info.networks, ["kind", "podman"]);
    }

    #[test]
    fn inspect_mounts_name_volumes() {
        let info = parse(inspect_fixture());

        assert_eq!(info.mounts[0].kind, "volume");
        assert_eq!(info.mounts[0].source, "regctl-registry-data");
        assert_eq!(info.mounts[0].destination, "/var/lib/registry");
        assert_eq!(info.mounts[1].kind, "bind");
        assert_eq!(info.mounts[1].source, "/etc/registry");
    }

    #[test]
    fn inspect_of_empty_object() {
        let info = parse(json!({}));

        assert_eq!(info.name, "");
        assert_eq!(info.state, ContainerState::Other("unknown".to_owned()));
        assert!(info.ports.is_empty());
    }
}
