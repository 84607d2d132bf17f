use std::collections::BTreeMap;

use podman_api::models::{ContainerMount, NamedVolume, Namespace, PerNetworkOptions, PortMapping};
use podman_api::opts::{
    ContainerCreateOpts, ContainerCreateOptsBuilder, ContainerRestartPolicy, ImageVolumeMode,
};
use regctl_runtime::{
    one_off_labels, registry_labels, RegistrySpec, StorageSpec, DATA_DIR, REGISTRY_PORT,
};

use crate::{ApiError, PodmanError};

/// Renders the JSON body that `create_container` sends to
/// `POST /libpod/containers/create` for `spec`, without any I/O.
///
/// Objects come out with sorted keys, so the output is stable across runs.
pub fn create_request(spec: &RegistrySpec) -> Result<serde_json::Value, PodmanError> {
    let build_error = |source: ApiError| PodmanError::BuildCreateRequest {
        name: spec.name.clone(),
        source,
    };

    let body = create_opts(spec)
        .serialize()
        .map_err(|error| build_error(error.into()))?;
    let mut request: serde_json::Value = serde_json::from_str(&body)
        .map_err(|error| build_error(podman_api::Error::from(error).into()))?;

    // podman-api fills maps from `HashMap`s, so their order depends on
    // serde_json's `preserve_order` feature, which any crate in the build
    // can switch on.
    request.sort_all_objects();
    Ok(request)
}

/// Builds the libpod create options of the registry container, the single
/// source of both `create_request` and the request really sent.
pub(crate) fn create_opts(spec: &RegistrySpec) -> ContainerCreateOpts {
    let port = PortMapping {
        container_port: Some(REGISTRY_PORT),
        host_ip: Some(spec.port.host_ip.to_string()),
        // `None` only in a dry run, before `create` allocated a port.
        host_port: spec.port.host_port,
        protocol: Some("tcp".to_owned()),
        range: None,
    };

    let mut builder = storage_builder(spec, &spec.name)
        .labels(registry_labels(spec))
        .portmappings([port])
        .restart_policy(ContainerRestartPolicy::UnlessStopped);

    if let Some(command) = &spec.command {
        builder = builder.command(command);
    }

    // Without a network, libpod picks the engine's default network mode
    // (bridge on the default network for root, slirp4netns or pasta
    // rootless), so nothing is set. A named network needs bridge mode, which
    // is what `podman run --network NAME` sends too.
    if let Some(network) = &spec.network {
        let options = PerNetworkOptions {
            aliases: (!network.aliases.is_empty()).then(|| network.aliases.clone()),
            interface_name: None,
            static_ips: None,
            static_mac: None,
        };
        builder = builder
            .net_namespace(Namespace {
                nsmode: Some("bridge".to_owned()),
                value: None,
            })
            .networks([(network.name.as_str(), options)]);
    }

    builder.build()
}

/// Builds the create options of a one-off container named `name` that runs
/// `program` with `args` on the storage of `spec`: the registry's image,
/// environment and mounts, with no published port, no network and no
/// restart policy.
pub(crate) fn one_off_opts(
    spec: &RegistrySpec,
    name: &str,
    program: &str,
    args: &[String],
) -> ContainerCreateOpts {
    let builder = storage_builder(spec, name)
        .labels(one_off_labels(&spec.name))
        .entrypoint([program])
        .command(args)
        .restart_policy(ContainerRestartPolicy::No);

    // Local storage needs no network. S3 storage does, and then the
    // registry's own network serves, which an endpoint may only resolve on.
    // The one-off gets no alias there, so it never responds to the
    // registry's name.
    let namespace = |mode: &str| Namespace {
        nsmode: Some(mode.to_owned()),
        value: None,
    };
    match (&spec.storage, &spec.network) {
        (StorageSpec::S3(_), None) => builder.build(),
        (StorageSpec::S3(_), Some(network)) => {
            let options = PerNetworkOptions {
                aliases: None,
                interface_name: None,
                static_ips: None,
                static_mac: None,
            };
            builder
                .net_namespace(namespace("bridge"))
                .networks([(network.name.as_str(), options)])
                .build()
        }
        _ => builder.net_namespace(namespace("none")).build(),
    }
}

/// Starts the options that the registry and its one-off containers share:
/// image, environment and the data volume.
fn storage_builder(spec: &RegistrySpec, name: &str) -> ContainerCreateOptsBuilder {
    let env: BTreeMap<&str, &str> = spec
        .env
        .iter()
        .map(|var| (var.key.as_str(), var.value.as_str()))
        .collect();

    // The image declares `VOLUME /var/lib/registry`. regctl mounts its own
    // storage there or needs none, and Podman 4.3 keeps an anonymous volume
    // made for it even when removing with `v=true`.
    let mut builder = ContainerCreateOpts::builder()
        .name(name)
        .image(&spec.image)
        .env(env)
        .image_volume_mode(ImageVolumeMode::Ignore);

    if let Some(volume) = spec.data_volume() {
        builder = builder.volumes([NamedVolume {
            name: Some(volume.to_owned()),
            dest: Some(DATA_DIR.to_owned()),
            is_anonymous: None,
            options: None,
        }]);
    }

    if let Some(path) = spec.bind_path() {
        builder = builder.mounts([ContainerMount {
            destination: Some(DATA_DIR.to_owned()),
            source: Some(path.to_owned()),
            _type: Some("bind".to_owned()),
            options: Some(vec!["rbind".to_owned()]),
            uid_mappings: None,
            gid_mappings: None,
        }]);
    }
    builder
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use regctl_runtime::{
        EnvVar, NetworkSpec, PortSpec, StorageSpec, VolumeSource, LABEL_MANAGED, LABEL_NAME,
        LABEL_SPEC,
    };
    use serde_json::json;

    use super::*;

    fn plain_spec() -> RegistrySpec {
        RegistrySpec {
            name: "regctl-registry".to_owned(),
            image: "docker.io/library/registry:2".to_owned(),
            port: PortSpec {
                host_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                host_port: Some(5001),
            },
            delete_enabled: true,
            storage: StorageSpec::Filesystem {
                source: VolumeSource::Volume {
                    name: "regctl-registry-data".to_owned(),
                },
            },
            env: vec![
                EnvVar {
                    key: "REGISTRY_STORAGE_DELETE_ENABLED".to_owned(),
                    value: "true".to_owned(),
                },
                EnvVar {
                    key: "OTEL_TRACES_EXPORTER".to_owned(),
                    value: "none".to_owned(),
                },
            ],
            network: None,
            command: None,
        }
    }

    fn networked_spec() -> RegistrySpec {
        RegistrySpec {
            name: "kind-registry".to_owned(),
            port: PortSpec {
                host_ip: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                host_port: Some(5002),
            },
            network: Some(NetworkSpec {
                name: "kind".to_owned(),
                aliases: vec!["kind-registry".to_owned(), "registry.local".to_owned()],
            }),
            ..plain_spec()
        }
    }

    #[test]
    fn plain_spec_fields() {
        let spec = plain_spec();
        let request = create_request(&spec).unwrap();

        assert_eq!(request["name"], "regctl-registry");
        assert_eq!(request["image"], "docker.io/library/registry:2");
        assert_eq!(request["restart_policy"], "unless-stopped");
        assert_eq!(
            request["env"],
            json!({
                "OTEL_TRACES_EXPORTER": "none",
                "REGISTRY_STORAGE_DELETE_ENABLED": "true",
            })
        );
        assert_eq!(
            request["portmappings"],
            json!([{
                "container_port": 5000,
                "host_ip": "127.0.0.1",
                "host_port": 5001,
                "protocol": "tcp",
            }])
        );
        assert_eq!(
            request["volumes"],
            json!([{ "Dest": "/var/lib/registry", "Name": "regctl-registry-data" }])
        );
    }

    #[test]
    fn labels_match_registry_labels() {
        let spec = plain_spec();
        let request = create_request(&spec).unwrap();

        let expected = serde_json::to_value(registry_labels(&spec)).unwrap();
        assert_eq!(request["labels"], expected);
        assert_eq!(request["labels"][LABEL_MANAGED], "true");
        assert_eq!(request["labels"][LABEL_NAME], "regctl-registry");
        assert!(request["labels"][LABEL_SPEC].is_string());
    }

    #[test]
    fn no_network_leaves_default_mode() {
        let request = create_request(&plain_spec()).unwrap();

        assert!(request.get("Networks").is_none());
        assert!(request.get("netns").is_none());
    }

    #[test]
    fn network_with_aliases() {
        let request = create_request(&networked_spec()).unwrap();

        assert_eq!(request["netns"], json!({ "nsmode": "bridge" }));
        assert_eq!(
            request["Networks"],
            json!({ "kind": { "aliases": ["kind-registry", "registry.local"] } })
        );
        assert_eq!(request["portmappings"][0]["host_ip"], "::");
        assert_eq!(request["portmappings"][0]["host_port"], 5002);
    }

    #[test]
    fn network_without_aliases() {
        let mut spec = networked_spec();
        spec.network.as_mut().unwrap().aliases.clear();
        let request = create_request(&spec).unwrap();

        assert_eq!(request["Networks"], json!({ "kind": {} }));
    }

    #[test]
    fn missing_host_port_is_left_out() {
        let mut spec = plain_spec();
        spec.port.host_port = None;
        let request = create_request(&spec).unwrap();

        assert!(request["portmappings"][0].get("host_port").is_none());
        assert_eq!(request["portmappings"][0]["container_port"], 5000);
    }

    #[test]
    fn output_is_deterministic() {
        let spec = networked_spec();
        let first = serde_json::to_string(&create_request(&spec).unwrap()).unwrap();

        for _ in 0..20 {
            let again = serde_json::to_string(&create_request(&spec).unwrap()).unwrap();
            assert_eq!(again, first);
        }
    }

    #[test]
    fn keys_are_sorted() {
        let request = create_request(&networked_spec()).unwrap();
        let keys: Vec<&String> = request.as_object().unwrap().keys().collect();

        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn one_off_keeps_storage_and_drops_port() {
        let spec = networked_spec();
        let command = ["garbage-collect".to_owned(), "/config.yml".to_owned()];
        let opts = one_off_opts(&spec, "kind-registry_gc", "/bin/registry", &command);
        let request: serde_json::Value = serde_json::from_str(&opts.serialize().unwrap()).unwrap();
        let registry = create_request(&spec).unwrap();

        assert_eq!(request["name"], "kind-registry_gc");
        assert_eq!(request["image"], registry["image"]);
        assert_eq!(request["env"], registry["env"]);
        assert_eq!(request["volumes"], registry["volumes"]);
        assert_eq!(request["entrypoint"], json!(["/bin/registry"]));
        assert_eq!(
            request["command"],
            json!(["garbage-collect", "/config.yml"])
        );
        assert_eq!(request["netns"], json!({ "nsmode": "none" }));
        assert_eq!(request["restart_policy"], "no");
        assert!(request.get("portmappings").is_none());
        assert!(request.get("Networks").is_none());
        assert_eq!(request["labels"]["io.regctl.role"], "one-off");
        assert!(request["labels"].get(LABEL_SPEC).is_none());
    }

    #[test]
    fn request_matches_sent_body() {
        let spec = networked_spec();
        let sent: serde_json::Value =
            serde_json::from_str(&create_opts(&spec).serialize().unwrap()).unwrap();

        assert_eq!(create_request(&spec).unwrap(), sent);
    }
}
