//! One-off containers that run a task on a registry's storage, such as
//! garbage collection, with the image config and disk usage the task needs.

use std::time::Duration;

use futures_util::StreamExt;
use podman_api::models::ContainerStatus;
use podman_api::opts::{ContainerLogsOpts, ContainerWaitOpts};
use regctl_runtime::{CompletedRun, ContainerFile, ImageCommand, RegistrySpec, RuntimeError};

use crate::request::one_off_opts;
use crate::{ApiError, PodmanError, PodmanRuntime};

/// Disk usage requests tried before a "no such container" error counts.
const DISK_USAGE_ATTEMPTS: u32 = 3;

/// Pause before a disk usage request is tried again.
const DISK_USAGE_RETRY_PAUSE: Duration = Duration::from_millis(200);

impl PodmanRuntime {
    pub(crate) async fn image_config_command(
        &self,
        image: &str,
    ) -> Result<ImageCommand, RuntimeError> {
        let data = self
            .podman
            .images()
            .get(image)
            .inspect()
            .await
            .map_err(|error| {
                self.fail(PodmanError::InspectImage {
                    image: image.to_owned(),
                    source: error.into(),
                })
            })?;

        let (entrypoint, cmd) = match data.config {
            Some(config) => (config.entrypoint, config.cmd),
            None => (None, None),
        };
        Ok(ImageCommand {
            entrypoint: entrypoint.unwrap_or_default(),
            cmd: cmd.unwrap_or_default(),
        })
    }

    /// Creates, starts and waits for a one-off container, reads its output,
    /// then removes it whatever happened after the create.
    pub(crate) async fn run_one_off(
        &self,
        spec: &RegistrySpec,
        name: &str,
        command: &[String],
        files: &[ContainerFile],
    ) -> Result<CompletedRun, RuntimeError> {
        self.create_one_off(spec, name, command).await?;

        let result = match self.copy_files(name, files).await {
            Ok(()) => self.run_created(name).await,
            Err(error) => Err(error),
        };

        // A failed removal leaves a labelled container that the next run
        // reports as taken, so the result of the task still wins here.
        if let Err(error) = self.remove(name).await {
            tracing::warn!(
                container = name,
                "failed to remove the one-off container: {error}"
            );
        }
        result
    }

    async fn copy_files(&self, name: &str, files: &[ContainerFile]) -> Result<(), RuntimeError> {
        for file in files {
            self.copy_file(name, file).await?;
        }
        Ok(())
    }

    /// Creates the one-off container. This is the only place that creates
    /// one, so every task container gets the registry's mounts and
    /// environment.
    async fn create_one_off(
        &self,
        spec: &RegistrySpec,
        name: &str,
        command: &[String],
    ) -> Result<(), RuntimeError> {
        let Some((program, args)) = command.split_first() else {
            return Err(self.fail(PodmanError::EmptyCommand {
                name: name.to_owned(),
            }));
        };

        tracing::debug!(container = name, ?command, "creating one-off container");
        let opts = one_off_opts(spec, name, program, args);
        let created = self.podman.containers().create(&opts).await;

        match created {
            Ok(_) => Ok(()),
            Err(error) => {
                let source = ApiError::from(error);
                // Podman 4.3 returns 500, not 409, for a taken name.
                if source.mentions("already in use") {
                    return Err(RuntimeError::ContainerExists {
                        name: name.to_owned(),
                    });
                }
                Err(self.fail(PodmanError::CreateContainer {
                    name: name.to_owned(),
                    source,
                }))
            }
        }
    }

    async fn run_created(&self, name: &str) -> Result<CompletedRun, RuntimeError> {
        self.start(name).await?;

        let container = self.podman.containers().get(name);
        let opts = ContainerWaitOpts::builder()
            .conditions([ContainerStatus::Exited])
            .build();
        container.wait(&opts).await.map_err(|error| {
            self.fail(PodmanError::WaitContainer {
                name: name.to_owned(),
                source: error.into(),
            })
        })?;

        let exit_code = self.exit_code(name).await?;
        let output = self.all_logs(name).await?;
        Ok(CompletedRun { exit_code, output })
    }

    async fn exit_code(&self, name: &str) -> Result<i64, RuntimeError> {
        let data = self
            .podman
            .containers()
            .get(name)
            .inspect()
            .await
            .map_err(|error| {
                self.fail(PodmanError::InspectContainer {
                    name: name.to_owned(),
                    source: error.into(),
                })
            })?;

        data.state
            .and_then(|state| state.exit_code)
            .map(i64::from)
            .ok_or_else(|| {
                self.fail(PodmanError::ExitCodeMissing {
                    name: name.to_owned(),
                })
            })
    }

    async fn all_logs(&self, name: &str) -> Result<String, RuntimeError> {
        let opts = ContainerLogsOpts::builder()
            .stdout(true)
            .stderr(true)
            .build();
        let container = self.podman.containers().get(name);
        let mut chunks = container.logs(&opts);

        let mut output = Vec::new();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|error| {
                self.fail(PodmanError::ContainerLogs {
                    name: name.to_owned(),
                    source: error.into(),
                })
            })?;
            output.extend(Vec::<u8>::from(chunk));
        }
        Ok(String::from_utf8_lossy(&output).into_owned())
    }

    /// Size of a volume from `GET /libpod/system/df`, which walks every
    /// volume, image and container.
    ///
    /// Podman 4.3 fails the whole request with "no such container" when a
    /// container is removed during the walk, as the one-off container just
    /// was, so that error is retried a few times.
    pub(crate) async fn volume_disk_usage(&self, name: &str) -> Result<Option<u64>, RuntimeError> {
        let mut attempt = 1;
        let usage = loop {
            let source = match self.podman.data_usage().await {
                Ok(usage) => break usage,
                Err(error) => ApiError::from(error),
            };
            if attempt == DISK_USAGE_ATTEMPTS || !source.mentions("no such container") {
                return Err(self.fail(PodmanError::DiskUsage { source }));
            }
            tracing::debug!(attempt, "a container vanished during the disk usage walk");
            attempt += 1;
            tokio::time::sleep(DISK_USAGE_RETRY_PAUSE).await;
        };

        let size = usage
            .volumes
            .unwrap_or_default()
            .into_iter()
            .find(|volume| volume.volume_name.as_deref() == Some(name))
            .and_then(|volume| volume.size)
            .and_then(|size| u64::try_from(size).ok());
        Ok(size)
    }
}
