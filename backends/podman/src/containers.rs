//! Container operations of [`PodmanRuntime`], with the mapping of libpod's
//! status codes and messages onto the named [`RuntimeError`] variants.

use futures_util::StreamExt;
use podman_api::opts::{
    ContainerDeleteOpts, ContainerListFilter, ContainerListOpts, ContainerLogsOpts,
    ContainerStopOpts,
};
use regctl_runtime::{
    spec_from_labels, ContainerFile, ContainerInfo, RegistrySpec, RuntimeError, REGISTRY_PORT,
};

use crate::inspect::container_info;
use crate::request::create_opts;
use crate::runtime::NOT_FOUND;
use crate::{ApiError, PodmanError, PodmanRuntime};

/// Status libpod returns when a container already is in the requested
/// state, such as start on a running container. podman-api reports it as an
/// error.
const NOT_MODIFIED: u16 = 304;

const CONFLICT: u16 = 409;

impl PodmanRuntime {
    pub(crate) async fn create(&self, spec: &RegistrySpec) -> Result<String, RuntimeError> {
        if spec.port.host_port.is_none() {
            return Err(RuntimeError::engine(PodmanError::HostPortMissing {
                name: spec.name.clone(),
            }));
        }

        tracing::debug!(
            container = spec.name,
            image = spec.image,
            "creating container"
        );
        let created = self
            .podman
            .containers()
            .create(&create_opts(spec))
            .await
            .map_err(|error| self.create_failure(spec, error.into()))?;

        for warning in &created.warnings {
            tracing::warn!(
                container = spec.name,
                warning,
                "the Podman service warned while creating a container"
            );
        }
        Ok(created.id)
    }

    /// Maps a failed create. Podman 4.3 returns status 500, not 409, for a
    /// taken name, so the message "that name is already in use" is checked
    /// too.
    fn create_failure(&self, spec: &RegistrySpec, source: ApiError) -> RuntimeError {
        let name_taken = source.status() == Some(CONFLICT)
            || (source.mentions("already in use") && !source.mentions("address already in use"));
        if name_taken {
            return RuntimeError::ContainerExists {
                name: spec.name.clone(),
            };
        }

        if let Some(network) = &spec.network {
            if source.mentions("network not found") {
                return RuntimeError::NetworkNotFound {
                    name: network.name.clone(),
                };
            }
        }

        self.fail(PodmanError::CreateContainer {
            name: spec.name.clone(),
            source,
        })
    }

    /// Extracts `file` into the container through the archive endpoint,
    /// which works on a created container that never ran.
    pub(crate) async fn copy_file(
        &self,
        name: &str,
        file: &ContainerFile,
    ) -> Result<(), RuntimeError> {
        let archive = file.to_archive().map_err(|source| {
            RuntimeError::engine(PodmanError::PackFile {
                path: file.path.clone(),
                source,
            })
        })?;

        let result = self
            .podman
            .containers()
            .get(name)
            .copy_to("/", archive.into())
            .await;

        let Err(error) = result else {
            return Ok(());
        };
        let source = ApiError::from(error);
        if source.status() == Some(NOT_FOUND) {
            return Err(not_found(name));
        }
        Err(self.fail(PodmanError::CopyFile {
            name: name.to_owned(),
            path: file.path.clone(),
            source,
        }))
    }

    /// Reads one file through the archive endpoint. libpod returns 404 for a
    /// missing container or path, and 500 "no such container" in some
    /// versions, which both mean there is nothing to read.
    pub(crate) async fn read_container_file(
        &self,
        name: &str,
        path: &str,
    ) -> Result<Option<Vec<u8>>, RuntimeError> {
        let container = self.podman.containers().get(name);
        let chunks: Result<Vec<Vec<u8>>, _> = container
            .copy_from(path)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect();

        let archive = match chunks {
            Ok(chunks) => chunks.concat(),
            Err(error) => {
                let source = ApiError::from(error);
                if source.status() == Some(NOT_FOUND) || source.mentions("no such") {
                    return Ok(None);
                }
                return Err(self.fail(PodmanError::ReadFile {
                    name: name.to_owned(),
                    path: path.to_owned(),
                    source,
                }));
            }
        };

        regctl_runtime::file_from_archive(&archive).map_err(|source| {
            RuntimeError::engine(PodmanError::UnpackFile {
                path: path.to_owned(),
                source,
            })
        })
    }

    pub(crate) async fn start(&self, name: &str) -> Result<(), RuntimeError> {
        tracing::debug!(container = name, "starting container");
        let Err(error) = self.podman.containers().get(name).start(None).await else {
            return Ok(());
        };

        let source = ApiError::from(error);
        match source.status() {
            Some(NOT_MODIFIED) => {
                tracing::debug!(container = name, "container was already running");
                Ok(())
            }
            Some(NOT_FOUND) => Err(not_found(name)),
            _ if source.mentions("address already in use") => {
                let port = self.host_port_of(name).await;
                Err(RuntimeError::PortInUse {
                    port,
                    source: Box::new(PodmanError::StartContainer {
                        name: name.to_owned(),
                        source,
                    }),
                })
            }
            _ => Err(self.fail(PodmanError::StartContainer {
                name: name.to_owned(),
                source,
            })),
        }
    }

    /// Finds the host port of the registry port of a container, for the
    /// `PortInUse` error of a start that failed. Returns 0 when unknown.
    async fn host_port_of(&self, name: &str) -> u16 {
        let info = match self.inspect(name).await {
            Ok(Some(info)) => info,
            _ => return 0,
        };

        let published = info
            .ports
            .iter()
            .find(|port| port.container_port == REGISTRY_PORT)
            .map(|port| port.host_port);
        let from_spec = || spec_from_labels(&info.labels).and_then(|spec| spec.port.host_port);
        published.or_else(from_spec).unwrap_or(0)
    }

    pub(crate) async fn stop(&self, name: &str, timeout_seconds: u32) -> Result<(), RuntimeError> {
        tracing::debug!(container = name, timeout_seconds, "stopping container");
        let opts = ContainerStopOpts::builder()
            .timeout(timeout_seconds as usize)
            .build();
        let Err(error) = self.podman.containers().get(name).stop(&opts).await else {
            return Ok(());
        };

        let source = ApiError::from(error);
        match source.status() {
            Some(NOT_MODIFIED) => {
                tracing::debug!(container = name, "container was already stopped");
                Ok(())
            }
            Some(NOT_FOUND) => Err(not_found(name)),
            _ => Err(self.fail(PodmanError::StopContainer {
                name: name.to_owned(),
                source,
            })),
        }
    }

    pub(crate) async fn remove(&self, name: &str) -> Result<(), RuntimeError> {
        tracing::debug!(container = name, "removing container");

        // `force` stops a running container first. `volumes` removes only
        // anonymous volumes, such as the one the image's `VOLUME
        // /var/lib/registry` creates when nothing is mounted there; named
        // volumes stay, so the registry's data survives a recreation.
        let opts = ContainerDeleteOpts::builder()
            .force(true)
            .volumes(true)
            .build();
        let Err(error) = self.podman.containers().get(name).delete(&opts).await else {
            return Ok(());
        };

        let source = ApiError::from(error);
        if source.status() == Some(NOT_FOUND) {
            return Err(not_found(name));
        }
        Err(self.fail(PodmanError::RemoveContainer {
            name: name.to_owned(),
            source,
        }))
    }

    pub(crate) async fn inspect(&self, name: &str) -> Result<Option<ContainerInfo>, RuntimeError> {
        match self.podman.containers().get(name).inspect().await {
            Ok(data) => Ok(Some(container_info(data))),
            Err(error) => {
                let source = ApiError::from(error);
                // Podman 4.3 returns 500 "no such container" instead of 404
                // for a container removed while it is being looked up.
                if source.status() == Some(NOT_FOUND) || source.mentions("no such container") {
                    return Ok(None);
                }
                Err(self.fail(PodmanError::InspectContainer {
                    name: name.to_owned(),
                    source,
                }))
            }
        }
    }

    /// Lists the matching containers, then inspects each one, because
    /// libpod's list gives only the destinations of mounts. Containers
    /// removed between the two calls are left out. The result is sorted by
    /// name.
    ///
    /// `env` stays empty, as the trait documents for lists, so that a listing
    /// never carries environment values, which may hold secrets.
    pub(crate) async fn list(
        &self,
        label: &str,
        value: &str,
    ) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let opts = ContainerListOpts::builder()
            .all(true)
            .filter([ContainerListFilter::LabelKeyVal(
                label.to_owned(),
                value.to_owned(),
            )])
            .build();
        let listed = self
            .podman
            .containers()
            .list(&opts)
            .await
            .map_err(|error| {
                self.fail(PodmanError::ListContainers {
                    filter: format!("{label}={value}"),
                    source: error.into(),
                })
            })?;

        let mut containers = Vec::with_capacity(listed.len());
        for id in listed.into_iter().filter_map(|container| container.id) {
            if let Some(mut info) = self.inspect(&id).await? {
                info.env.clear();
                containers.push(info);
            }
        }

        containers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(containers)
    }

    pub(crate) async fn logs(&self, name: &str, tail: usize) -> Result<String, RuntimeError> {
        let opts = ContainerLogsOpts::builder()
            .stdout(true)
            .stderr(true)
            .tail(tail.to_string())
            .build();
        let container = self.podman.containers().get(name);
        let mut chunks = container.logs(&opts);

        // libpod sends one frame per line, with its newline, interleaving
        // stdout and stderr in the order they were written.
        let mut output = Vec::new();
        while let Some(chunk) = chunks.next().await {
            match chunk {
                Ok(chunk) => output.extend(Vec::<u8>::from(chunk)),
                Err(error) => return Err(self.logs_failure(name, error.into())),
            }
        }

        Ok(String::from_utf8_lossy(&output).into_owned())
    }

    fn logs_failure(&self, name: &str, source: ApiError) -> RuntimeError {
        if source.status() == Some(NOT_FOUND) {
            return not_found(name);
        }
        self.fail(PodmanError::ContainerLogs {
            name: name.to_owned(),
            source,
        })
    }
}

fn not_found(name: &str) -> RuntimeError {
    RuntimeError::ContainerNotFound {
        name: name.to_owned(),
    }
}
