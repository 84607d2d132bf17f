//! One-off containers that run a task on a registry's storage, such as
//! garbage collection, and the image config that picks the task's command.

use bollard::errors::Error as BollardError;
use bollard::query_parameters::{
    CreateContainerOptions, StartContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;
use regctl_runtime::{
    CompletedRun, ContainerFile, ContainerRuntime, ImageCommand, RegistrySpec, RuntimeError,
};

use crate::error::{status_code, DockerError};
use crate::request::one_off_body;
use crate::DockerRuntime;

impl DockerRuntime {
    pub(crate) async fn image_config_command(
        &self,
        image: &str,
    ) -> Result<ImageCommand, RuntimeError> {
        let inspect = self.client.inspect_image(image).await.map_err(|source| {
            self.failure(source, |source| DockerError::InspectImage {
                image: image.to_owned(),
                source,
            })
        })?;

        let config = inspect.config.unwrap_or_default();
        Ok(ImageCommand {
            entrypoint: config.entrypoint.unwrap_or_default(),
            cmd: config.cmd.unwrap_or_default(),
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
        if let Err(error) = self.remove_container(name).await {
            tracing::warn!(
                container = name,
                "failed to remove the one-off container: {error}"
            );
        }
        result
    }

    async fn copy_files(&self, name: &str, files: &[ContainerFile]) -> Result<(), RuntimeError> {
        for file in files {
            self.copy_file_into(name, file).await?;
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
            return Err(DockerError::EmptyCommand {
                name: name.to_owned(),
            }
            .into());
        };

        let options = CreateContainerOptions {
            name: Some(name.to_owned()),
            ..Default::default()
        };
        tracing::debug!(container = name, ?command, "creating one-off container");

        match self
            .client
            .create_container(Some(options), one_off_body(spec, program, args))
            .await
        {
            Ok(_) => Ok(()),
            Err(source) if status_code(&source) == Some(409) => {
                Err(RuntimeError::ContainerExists {
                    name: name.to_owned(),
                })
            }
            Err(source) => Err(self.failure(source, |source| DockerError::CreateContainer {
                name: name.to_owned(),
                source,
            })),
        }
    }

    async fn run_created(&self, name: &str) -> Result<CompletedRun, RuntimeError> {
        self.client
            .start_container(name, None::<StartContainerOptions>)
            .await
            .map_err(|source| {
                self.failure(source, |source| DockerError::StartContainer {
                    name: name.to_owned(),
                    source,
                })
            })?;

        let exit_code = self.wait_for_exit(name).await?;
        let output = self.read_logs(name, "all".to_owned()).await?;
        Ok(CompletedRun { exit_code, output })
    }

    /// Waits until the container is no longer running and returns its exit
    /// code.
    async fn wait_for_exit(&self, name: &str) -> Result<i64, RuntimeError> {
        loop {
            let options = WaitContainerOptions {
                condition: "not-running".to_owned(),
            };
            let mut responses = self.client.wait_container(name, Some(options));

            match responses.next().await {
                Some(Ok(response)) => return Ok(response.status_code),
                // bollard turns a non-zero exit code into this error.
                Some(Err(BollardError::DockerContainerWaitError { code, .. })) => return Ok(code),
                // The client's request timeout also bounds this call, so a
                // task that runs longer is waited for again.
                Some(Err(BollardError::RequestTimeoutError)) => {
                    tracing::debug!(container = name, "still waiting for the container to exit");
                }
                Some(Err(source)) => {
                    return Err(self.failure(source, |source| DockerError::WaitContainer {
                        name: name.to_owned(),
                        source,
                    }))
                }
                None => {
                    return Err(DockerError::WaitEnded {
                        name: name.to_owned(),
                    }
                    .into())
                }
            }
        }
    }
}
