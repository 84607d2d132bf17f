use std::collections::BTreeMap;

use async_trait::async_trait;
use bollard::errors::Error as BollardError;
use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, DownloadFromContainerOptions,
    InspectContainerOptions, InspectNetworkOptions, ListContainersOptions, LogsOptions,
    RemoveContainerOptions, RemoveVolumeOptions, StartContainerOptions, StopContainerOptions,
    UploadToContainerOptions,
};
use bollard::{Docker, API_DEFAULT_VERSION};
use futures_util::TryStreamExt;
use regctl_runtime::{
    file_from_archive, spec_from_labels, BoxError, CompletedRun, ContainerFile, ContainerInfo,
    ContainerRuntime, EngineInfo, ImageCommand, RegistrySpec, RuntimeError, RuntimeKind,
};

use crate::convert::{container_from_inspect, container_from_summary};
use crate::error::{is_connection_error, status_code, unreachable, DockerError};
use crate::request::{container_body, create_request};

/// Seconds bollard waits for one API call. Pulls and stops can take long, so
/// this bounds only a hung daemon.
const REQUEST_TIMEOUT_SECONDS: u64 = 300;

/// A Docker daemon reached through one socket.
#[derive(Debug, Clone)]
pub struct DockerRuntime {
    pub(crate) client: Docker,
    pub(crate) url: String,
}

impl DockerRuntime {
    /// Connects to `url` (`unix:///PATH` or `tcp://HOST:PORT`) and negotiates
    /// the API version, so daemons from API 1.41 (Docker 20.10) on work.
    ///
    /// Negotiation is also the reachability check: an absent socket or a
    /// stopped daemon fails here with [`RuntimeError::Unreachable`].
    pub async fn connect(url: &str) -> Result<Self, RuntimeError> {
        let client = new_client(url)?.map_err(|source| DockerError::Connect {
            url: url.to_owned(),
            source,
        })?;

        let client = client
            .negotiate_version()
            .await
            .map_err(|source| unreachable(url, source))?;

        Ok(DockerRuntime {
            client,
            url: url.to_owned(),
        })
    }

    /// Maps an error of a call that needs the daemon, keeping "cannot reach
    /// the daemon" apart from the daemon's error responses.
    pub(crate) fn failure(
        &self,
        source: BollardError,
        wrap: impl FnOnce(BollardError) -> DockerError,
    ) -> RuntimeError {
        if is_connection_error(&source) {
            unreachable(&self.url, source)
        } else {
            wrap(source).into()
        }
    }

    /// Host port a container was created with, read from its spec label.
    async fn recorded_host_port(&self, name: &str) -> Option<u16> {
        let info = self.inspect_container(name).await.ok()??;
        spec_from_labels(&info.labels)?.port.host_port
    }
}

/// Creates a client for `url` without sending anything. The outer error
/// rejects an address that is neither `unix://` nor `tcp://` (or `http://`).
/// The inner one is bollard's, such as a Unix socket that does not exist.
pub(crate) fn new_client(url: &str) -> Result<Result<Docker, BollardError>, DockerError> {
    if let Some(path) = url.strip_prefix("unix://") {
        Ok(Docker::connect_with_unix(
            path,
            REQUEST_TIMEOUT_SECONDS,
            API_DEFAULT_VERSION,
        ))
    } else if url.starts_with("tcp://") || url.starts_with("http://") {
        Ok(Docker::connect_with_http(
            url,
            REQUEST_TIMEOUT_SECONDS,
            API_DEFAULT_VERSION,
        ))
    } else {
        Err(DockerError::InvalidUrl {
            url: url.to_owned(),
        })
    }
}

/// Checks whether a start failure means the host port is taken. Docker 20.10 reports
/// "port is already allocated" for a port another container holds, and
/// "address already in use" for one another process holds.
fn is_port_conflict(error: &BollardError) -> bool {
    let message = error.to_string();
    message.contains("address already in use") || message.contains("port is already allocated")
}

#[async_trait]
impl ContainerRuntime for DockerRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Docker
    }

    fn socket(&self) -> &str {
        &self.url
    }

    fn create_request(&self, spec: &RegistrySpec) -> Result<serde_json::Value, RuntimeError> {
        create_request(spec)
    }

    async fn info(&self) -> Result<EngineInfo, RuntimeError> {
        let version = self
            .client
            .version()
            .await
            .map_err(|source| self.failure(source, DockerError::Version))?;

        let info = self
            .client
            .info()
            .await
            .map_err(|source| self.failure(source, DockerError::Version))?;

        let rootless = info
            .security_options
            .unwrap_or_default()
            .iter()
            .any(|option| option.contains("name=rootless"));

        Ok(EngineInfo {
            kind: RuntimeKind::Docker,
            version: version.version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            socket: self.url.clone(),
            rootless,
        })
    }

    async fn image_exists(&self, reference: &str) -> Result<bool, RuntimeError> {
        match self.client.inspect_image(reference).await {
            Ok(_) => Ok(true),
            Err(source) if status_code(&source) == Some(404) => Ok(false),
            Err(source) => Err(self.failure(source, |source| DockerError::InspectImage {
                image: reference.to_owned(),
                source,
            })),
        }
    }

    async fn pull_image(&self, reference: &str) -> Result<(), RuntimeError> {
        let options = CreateImageOptions {
            from_image: Some(reference.to_owned()),
            ..Default::default()
        };

        self.client
            .create_image(Some(options), None, None)
            .try_for_each(|_progress| async { Ok(()) })
            .await
            .map_err(|source| {
                self.failure(source, |source| DockerError::PullImage {
                    image: reference.to_owned(),
                    source,
                })
            })
    }

    async fn network_exists(&self, name: &str) -> Result<bool, RuntimeError> {
        match self
            .client
            .inspect_network(name, None::<InspectNetworkOptions>)
            .await
        {
            Ok(_) => Ok(true),
            Err(source) if status_code(&source) == Some(404) => Ok(false),
            Err(source) => Err(self.failure(source, |source| DockerError::InspectNetwork {
                name: name.to_owned(),
                source,
            })),
        }
    }

    async fn volume_exists(&self, name: &str) -> Result<bool, RuntimeError> {
        Ok(self.volume_labels(name).await?.is_some())
    }

    async fn volume_labels(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, RuntimeError> {
        match self.client.inspect_volume(name).await {
            Ok(volume) => Ok(Some(volume.labels.into_iter().collect())),
            Err(source) if status_code(&source) == Some(404) => Ok(None),
            Err(source) => Err(self.failure(source, |source| DockerError::InspectVolume {
                name: name.to_owned(),
                source,
            })),
        }
    }

    async fn create_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), RuntimeError> {
        let request = VolumeCreateRequest {
            name: Some(name.to_owned()),
            labels: Some(labels.clone().into_iter().collect()),
            ..Default::default()
        };

        self.client
            .create_volume(request)
            .await
            .map(|_| ())
            .map_err(|source| {
                self.failure(source, |source| DockerError::CreateVolume {
                    name: name.to_owned(),
                    source,
                })
            })
    }

    async fn remove_volume(&self, name: &str) -> Result<(), RuntimeError> {
        match self
            .client
            .remove_volume(name, None::<RemoveVolumeOptions>)
            .await
        {
            Ok(()) => Ok(()),
            Err(source) if status_code(&source) == Some(404) => Ok(()),
            Err(source) => Err(self.failure(source, |source| DockerError::RemoveVolume {
                name: name.to_owned(),
                source,
            })),
        }
    }

    async fn create_container(&self, spec: &RegistrySpec) -> Result<String, RuntimeError> {
        let options = CreateContainerOptions {
            name: Some(spec.name.clone()),
            ..Default::default()
        };

        match self
            .client
            .create_container(Some(options), container_body(spec))
            .await
        {
            Ok(response) => Ok(response.id),
            Err(source) if status_code(&source) == Some(409) => {
                Err(RuntimeError::ContainerExists {
                    name: spec.name.clone(),
                })
            }
            Err(source) => Err(self.failure(source, |source| DockerError::CreateContainer {
                name: spec.name.clone(),
                source,
            })),
        }
    }

    async fn copy_file_into(&self, name: &str, file: &ContainerFile) -> Result<(), RuntimeError> {
        let archive = file.to_archive().map_err(|source| DockerError::PackFile {
            path: file.path.clone(),
            source,
        })?;
        let options = UploadToContainerOptions {
            path: "/".to_owned(),
            ..Default::default()
        };

        self.client
            .upload_to_container(name, Some(options), bollard::body_full(archive.into()))
            .await
            .map_err(|source| {
                if status_code(&source) == Some(404) {
                    return RuntimeError::ContainerNotFound {
                        name: name.to_owned(),
                    };
                }
                self.failure(source, |source| DockerError::CopyFile {
                    name: name.to_owned(),
                    path: file.path.clone(),
                    source,
                })
            })
    }

    async fn read_file(&self, name: &str, path: &str) -> Result<Option<Vec<u8>>, RuntimeError> {
        let options = DownloadFromContainerOptions {
            path: path.to_owned(),
        };

        let chunks: Result<Vec<_>, _> = self
            .client
            .download_from_container(name, Some(options))
            .try_collect()
            .await;
        let archive = match chunks {
            Ok(chunks) => chunks.concat(),
            Err(source) if status_code(&source) == Some(404) => return Ok(None),
            Err(source) => {
                return Err(self.failure(source, |source| DockerError::ReadFile {
                    name: name.to_owned(),
                    path: path.to_owned(),
                    source,
                }))
            }
        };

        file_from_archive(&archive).map_err(|source| {
            DockerError::UnpackFile {
                path: path.to_owned(),
                source,
            }
            .into()
        })
    }

    async fn start_container(&self, name: &str) -> Result<(), RuntimeError> {
        let result = self
            .client
            .start_container(name, None::<StartContainerOptions>)
            .await;

        let source = match result {
            Ok(()) => return Ok(()),
            Err(source) => source,
        };

        if status_code(&source) == Some(404) {
            return Err(RuntimeError::ContainerNotFound {
                name: name.to_owned(),
            });
        }

        if is_port_conflict(&source) {
            let port = self.recorded_host_port(name).await.unwrap_or_default();
            return Err(RuntimeError::PortInUse {
                port,
                source: BoxError::from(source),
            });
        }

        Err(self.failure(source, |source| DockerError::StartContainer {
            name: name.to_owned(),
            source,
        }))
    }

    async fn stop_container(&self, name: &str, timeout_seconds: u32) -> Result<(), RuntimeError> {
        let options = StopContainerOptions {
            t: Some(i32::try_from(timeout_seconds).unwrap_or(i32::MAX)),
            ..Default::default()
        };

        match self.client.stop_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            // 304: the container was not running, which is what stop wants.
            Err(source) if status_code(&source) == Some(304) => Ok(()),
            Err(source) if status_code(&source) == Some(404) => {
                Err(RuntimeError::ContainerNotFound {
                    name: name.to_owned(),
                })
            }
            Err(source) => Err(self.failure(source, |source| DockerError::StopContainer {
                name: name.to_owned(),
                source,
            })),
        }
    }

    async fn remove_container(&self, name: &str) -> Result<(), RuntimeError> {
        // `v` removes only anonymous volumes, such as the one the image's
        // `VOLUME /var/lib/registry` creates when nothing is mounted there.
        // Named volumes stay, so the registry's data survives a recreation.
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };

        match self.client.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(source) if status_code(&source) == Some(404) => {
                Err(RuntimeError::ContainerNotFound {
                    name: name.to_owned(),
                })
            }
            Err(source) => Err(self.failure(source, |source| DockerError::RemoveContainer {
                name: name.to_owned(),
                source,
            })),
        }
    }

    async fn inspect_container(&self, name: &str) -> Result<Option<ContainerInfo>, RuntimeError> {
        match self
            .client
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
        {
            Ok(response) => Ok(Some(container_from_inspect(response))),
            Err(source) if status_code(&source) == Some(404) => Ok(None),
            Err(source) => Err(
                self.failure(source, |source| DockerError::InspectContainer {
                    name: name.to_owned(),
                    source,
                }),
            ),
        }
    }

    async fn list_containers(
        &self,
        label: &str,
        value: &str,
    ) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let options = ListContainersOptions {
            all: true,
            filters: Some(
                [("label".to_owned(), vec![format!("{label}={value}")])]
                    .into_iter()
                    .collect(),
            ),
            ..Default::default()
        };

        let containers = self
            .client
            .list_containers(Some(options))
            .await
            .map_err(|source| self.failure(source, DockerError::ListContainers))?;

        Ok(containers.into_iter().map(container_from_summary).collect())
    }

    async fn container_logs(&self, name: &str, tail: usize) -> Result<String, RuntimeError> {
        self.read_logs(name, tail.to_string()).await
    }

    async fn image_command(&self, image: &str) -> Result<ImageCommand, RuntimeError> {
        self.image_config_command(image).await
    }

    async fn run_to_completion(
        &self,
        spec: &RegistrySpec,
        name: &str,
        command: Vec<String>,
        files: &[ContainerFile],
    ) -> Result<CompletedRun, RuntimeError> {
        self.run_one_off(spec, name, &command, files).await
    }

    async fn volume_size(&self, name: &str) -> Result<Option<u64>, RuntimeError> {
        self.volume_disk_usage(name).await
    }
}

impl DockerRuntime {
    /// Reads stdout and stderr of a container; `tail` is a line count or
    /// `all`.
    pub(crate) async fn read_logs(&self, name: &str, tail: String) -> Result<String, RuntimeError> {
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            tail,
            ..Default::default()
        };

        let chunks: Vec<_> = self
            .client
            .logs(name, Some(options))
            .try_collect()
            .await
            .map_err(|source| {
                self.failure(source, |source| DockerError::ContainerLogs {
                    name: name.to_owned(),
                    source,
                })
            })?;

        Ok(chunks.iter().map(ToString::to_string).collect())
    }
}
