use std::collections::BTreeMap;

use async_trait::async_trait;
use futures_util::StreamExt;
use podman_api::opts::{PullOpts, VolumeCreateOpts};
use podman_api::{ApiVersion, Podman};
use regctl_runtime::{
    CompletedRun, ContainerFile, ContainerInfo, ContainerRuntime, EngineInfo, ImageCommand,
    RegistrySpec, RuntimeError, RuntimeKind,
};

use crate::address::{parse_api_url, ApiAddress};
use crate::{ApiError, PodmanError};

/// libpod API version of every request, the version podman-api 0.11's
/// models were generated from. Podman 5.4.2 still returns the 4.x field
/// shapes at this prefix (for example `Entrypoint` as a string).
const API_VERSION: ApiVersion = ApiVersion::new(4, Some(3), Some(1));

/// HTTP status of a libpod error response that means "no such object".
pub(crate) const NOT_FOUND: u16 = 404;

/// [`ContainerRuntime`] on the libpod API of a Podman service.
#[derive(Debug)]
pub struct PodmanRuntime {
    pub(crate) podman: Podman,
    url: String,
}

impl PodmanRuntime {
    /// Creates a client for `unix:///path` or `tcp://host:port`.
    ///
    /// Nothing is sent yet, so an engine that is down shows up as
    /// [`RuntimeError::Unreachable`] on the first call, usually
    /// [`info`](ContainerRuntime::info).
    pub fn connect(url: &str) -> Result<PodmanRuntime, RuntimeError> {
        let address = parse_api_url(url).map_err(RuntimeError::engine)?;

        let podman = match address {
            ApiAddress::Unix(path) => Podman::unix_versioned(path, API_VERSION),
            ApiAddress::Tcp(host) => Podman::tcp_versioned(host, API_VERSION).map_err(|error| {
                RuntimeError::engine(PodmanError::Connect {
                    url: url.to_owned(),
                    source: error.into(),
                })
            })?,
        };

        Ok(PodmanRuntime {
            podman,
            url: url.to_owned(),
        })
    }

    /// Converts a failed operation into the runtime error callers act on.
    pub(crate) fn fail(&self, error: PodmanError) -> RuntimeError {
        error.into_runtime(&self.url)
    }

    /// Reads the pull report stream to its end. libpod returns status 200
    /// before it starts pulling, so a failure arrives as the `error` field of
    /// a report.
    async fn run_pull(&self, reference: &str) -> Result<(), ApiError> {
        let opts = PullOpts::builder().reference(reference).quiet(true).build();
        let images = self.podman.images();
        let mut reports = images.pull(&opts);
        let mut pulled = false;

        while let Some(report) = reports.next().await {
            let report = report?;
            if let Some(error) = report.error.filter(|error| !error.is_empty()) {
                return Err(ApiError::message(error));
            }
            pulled |= report.id.is_some() || report.images.is_some();
        }

        if pulled {
            Ok(())
        } else {
            Err(ApiError::message(
                "the Podman service ended the pull without reporting an image",
            ))
        }
    }
}

#[async_trait]
impl ContainerRuntime for PodmanRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Podman
    }

    fn socket(&self) -> &str {
        &self.url
    }

    fn create_request(&self, spec: &RegistrySpec) -> Result<serde_json::Value, RuntimeError> {
        crate::create_request(spec).map_err(RuntimeError::engine)
    }

    async fn info(&self) -> Result<EngineInfo, RuntimeError> {
        // libpod's `/info` takes about 200 ms on Podman 4.3.1 and `/_ping`
        // about 10 ms, and every command starts with this call. The ping
        // carries the version in its headers, and on a unix socket the
        // socket's owner tells rootful (root) from rootless.
        if let Some(rootless) = socket_owned_by_user(&self.url) {
            if let Ok(ping) = self.podman.ping().await {
                return Ok(EngineInfo {
                    kind: RuntimeKind::Podman,
                    version: ping.libpod_api_version.clone(),
                    api_version: ping.libpod_api_version,
                    socket: self.url.clone(),
                    rootless,
                });
            }
        }
        self.full_info().await
    }

    async fn image_exists(&self, reference: &str) -> Result<bool, RuntimeError> {
        self.podman
            .images()
            .get(reference)
            .exists()
            .await
            .map_err(|error| {
                self.fail(PodmanError::ImageExists {
                    image: reference.to_owned(),
                    source: error.into(),
                })
            })
    }

    async fn pull_image(&self, reference: &str) -> Result<(), RuntimeError> {
        tracing::debug!(image = reference, "pulling image");

        self.run_pull(reference).await.map_err(|source| {
            self.fail(PodmanError::PullImage {
                image: reference.to_owned(),
                source,
            })
        })
    }

    async fn network_exists(&self, name: &str) -> Result<bool, RuntimeError> {
        self.podman
            .networks()
            .get(name)
            .exists()
            .await
            .map_err(|error| {
                self.fail(PodmanError::NetworkExists {
                    name: name.to_owned(),
                    source: error.into(),
                })
            })
    }

    async fn volume_exists(&self, name: &str) -> Result<bool, RuntimeError> {
        self.podman
            .volumes()
            .get(name)
            .exists()
            .await
            .map_err(|error| {
                self.fail(PodmanError::VolumeExists {
                    name: name.to_owned(),
                    source: error.into(),
                })
            })
    }

    async fn volume_labels(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, RuntimeError> {
        match self.podman.volumes().get(name).inspect().await {
            Ok(volume) => Ok(Some(volume.labels.into_iter().collect())),
            Err(error) => {
                let source = ApiError::from(error);
                if source.status() == Some(NOT_FOUND) {
                    return Ok(None);
                }
                Err(self.fail(PodmanError::InspectVolume {
                    name: name.to_owned(),
                    source,
                }))
            }
        }
    }

    async fn create_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), RuntimeError> {
        tracing::debug!(volume = name, "creating volume");

        let opts = VolumeCreateOpts::builder()
            .name(name)
            .labels(labels.clone())
            .build();
        self.podman
            .volumes()
            .create(&opts)
            .await
            .map(|_| ())
            .map_err(|error| {
                self.fail(PodmanError::CreateVolume {
                    name: name.to_owned(),
                    source: error.into(),
                })
            })
    }

    /// Removes a volume unless a container uses it. A volume that is already
    /// gone counts as removed.
    async fn remove_volume(&self, name: &str) -> Result<(), RuntimeError> {
        tracing::debug!(volume = name, "removing volume");

        // `delete` rather than podman-api's `remove`, whose `force=true`
        // would also remove every container that uses the volume.
        match self.podman.volumes().get(name).delete().await {
            Ok(()) => Ok(()),
            Err(error) => {
                let source = ApiError::from(error);
                if source.status() == Some(NOT_FOUND) {
                    tracing::debug!(volume = name, "volume was already removed");
                    return Ok(());
                }
                Err(self.fail(PodmanError::RemoveVolume {
                    name: name.to_owned(),
                    source,
                }))
            }
        }
    }

    async fn create_container(&self, spec: &RegistrySpec) -> Result<String, RuntimeError> {
        self.create(spec).await
    }

    async fn copy_file_into(&self, name: &str, file: &ContainerFile) -> Result<(), RuntimeError> {
        self.copy_file(name, file).await
    }

    async fn read_file(&self, name: &str, path: &str) -> Result<Option<Vec<u8>>, RuntimeError> {
        self.read_container_file(name, path).await
    }

    async fn start_container(&self, name: &str) -> Result<(), RuntimeError> {
        self.start(name).await
    }

    async fn stop_container(&self, name: &str, timeout_seconds: u32) -> Result<(), RuntimeError> {
        self.stop(name, timeout_seconds).await
    }

    async fn remove_container(&self, name: &str) -> Result<(), RuntimeError> {
        self.remove(name).await
    }

    async fn inspect_container(&self, name: &str) -> Result<Option<ContainerInfo>, RuntimeError> {
        self.inspect(name).await
    }

    async fn list_containers(
        &self,
        label: &str,
        value: &str,
    ) -> Result<Vec<ContainerInfo>, RuntimeError> {
        self.list(label, value).await
    }

    async fn container_logs(&self, name: &str, tail: usize) -> Result<String, RuntimeError> {
        self.logs(name, tail).await
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

impl PodmanRuntime {
    /// Queries libpod's `/info`, which also works over TCP.
    async fn full_info(&self) -> Result<EngineInfo, RuntimeError> {
        let info = self.podman.info().await.map_err(|error| {
            self.fail(PodmanError::Info {
                source: error.into(),
            })
        })?;

        let rootless = info
            .host
            .and_then(|host| host.security)
            .and_then(|security| security.rootless)
            .unwrap_or(false);
        let (version, api_version) = match info.version {
            Some(version) => (version.version, version.api_version),
            None => (None, None),
        };

        Ok(EngineInfo {
            kind: RuntimeKind::Podman,
            version: version.unwrap_or_default(),
            api_version: api_version.unwrap_or_default(),
            socket: self.url.clone(),
            rootless,
        })
    }
}

/// Checks whether the unix socket at `url` belongs to a user other than root, or
/// `None` for another kind of address or a socket that cannot be read.
fn socket_owned_by_user(url: &str) -> Option<bool> {
    use std::os::unix::fs::MetadataExt;

    let path = url.strip_prefix("unix://")?;
    std::fs::metadata(path)
        .ok()
        .map(|metadata| metadata.uid() != 0)
}
