use std::collections::BTreeMap;

use bollard::models::{ContainerInspectResponse, ContainerSummary, PortMap};
use regctl_runtime::{ContainerInfo, ContainerState, MountInfo, PublishedPort};

/// Builds a [`ContainerInfo`] from `GET /containers/{name}/json`.
pub(crate) fn container_from_inspect(response: ContainerInspectResponse) -> ContainerInfo {
    let config = response.config.unwrap_or_default();
    let settings = response.network_settings.unwrap_or_default();

    let state = response
        .state
        .and_then(|state| state.status)
        .map_or(ContainerState::Other("unknown".to_owned()), |status| {
            ContainerState::parse(status.as_ref())
        });

    let mounts = response
        .mounts
        .unwrap_or_default()
        .into_iter()
        .map(|mount| MountInfo {
            kind: mount.typ.map(|typ| typ.to_string()).unwrap_or_default(),
            source: mount.name.or(mount.source).unwrap_or_default(),
            destination: mount.destination.unwrap_or_default(),
        })
        .collect();

    ContainerInfo {
        id: response.id.unwrap_or_default(),
        name: trim_name(response.name.unwrap_or_default()),
        image: config.image.unwrap_or_default(),
        state,
        labels: sorted(config.labels),
        env: config.env.unwrap_or_default(),
        ports: published_ports(settings.ports.unwrap_or_default()),
        networks: sorted_keys(settings.networks),
        mounts,
    }
}

/// Builds a [`ContainerInfo`] from one entry of `GET /containers/json`,
/// which carries no environment.
pub(crate) fn container_from_summary(summary: ContainerSummary) -> ContainerInfo {
    let name = summary
        .names
        .unwrap_or_default()
        .into_iter()
        .next()
        .map(trim_name)
        .unwrap_or_default();

    let ports = summary
        .ports
        .unwrap_or_default()
        .into_iter()
        .filter_map(|port| {
            Some(PublishedPort {
                host_ip: port.ip.unwrap_or_default(),
                host_port: port.public_port?,
                container_port: port.private_port,
            })
        })
        .collect();

    let networks = summary
        .network_settings
        .and_then(|settings| settings.networks)
        .map(|networks| sorted_keys(Some(networks)))
        .unwrap_or_default();

    ContainerInfo {
        id: summary.id.unwrap_or_default(),
        name,
        image: summary.image.unwrap_or_default(),
        state: summary
            .state
            .map_or(ContainerState::Other("unknown".to_owned()), |state| {
                ContainerState::parse(state.as_ref())
            }),
        labels: sorted(summary.labels),
        env: Vec::new(),
        ports,
        networks,
        mounts: Vec::new(),
    }
}

fn published_ports(ports: PortMap) -> Vec<PublishedPort> {
    let mut published: Vec<PublishedPort> = ports
        .into_iter()
        .flat_map(|(container_port, bindings)| {
            let container_port = container_port
                .split('/')
                .next()
                .and_then(|port| port.parse().ok())
                .unwrap_or_default();

            bindings
                .unwrap_or_default()
                .into_iter()
                .filter_map(move |binding| {
                    Some(PublishedPort {
                        host_ip: binding.host_ip.unwrap_or_default(),
                        host_port: binding.host_port?.parse().ok()?,
                        container_port,
                    })
                })
        })
        .collect();

    published.sort_by(|a, b| (a.host_port, &a.host_ip).cmp(&(b.host_port, &b.host_ip)));
    published
}

/// Docker prefixes container names with `/`.
fn trim_name(name: String) -> String {
    name.trim_start_matches('/').to_owned()
}

fn sorted(map: Option<std::collections::HashMap<String, String>>) -> BTreeMap<String, String> {
    map.unwrap_or_default().into_iter().collect()
}

fn sorted_keys<V>(map: Option<std::collections::HashMap<String, V>>) -> Vec<String> {
    let mut keys: Vec<String> = map.unwrap_or_default().into_keys().collect();
    keys.sort();
    keys
}
