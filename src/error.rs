//! The error type of regctl commands, and how each one is reported.

use std::net::IpAddr;

use regctl_docker::DockerError;
use regctl_runtime::{Endpoint, RuntimeError, RuntimeKind};

use crate::compile::CompileError;
use crate::removal::PlanError;

/// Exit code of usage errors, as clap uses.
pub const EXIT_USAGE: i32 = 2;

/// Exit code of failures at run time.
pub const EXIT_FAILURE: i32 = 1;

/// Reason an engine at one address did not respond.
#[derive(Debug)]
pub struct Attempt {
    pub endpoint: Endpoint,
    pub reason: String,
}

/// Failure of a regctl command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Compile(#[from] CompileError),

    #[error(transparent)]
    Runtime(#[from] RuntimeError),

    #[error("no container engine answered; tried:{}", format_attempts(.attempts))]
    NoRuntime { attempts: Vec<Attempt> },

    #[error("failed to connect to the container engine at {url}")]
    EngineAtUrl {
        url: String,
        #[source]
        source: RuntimeError,
    },

    #[error("registry `{name}` already exists on {runtime} (state: {state})")]
    RegistryExists {
        name: String,
        runtime: RuntimeKind,
        state: String,
    },

    #[error("container `{name}` on {runtime} was not created by regctl")]
    ForeignContainer { name: String, runtime: RuntimeKind },

    #[error("volume `{name}` on {runtime} exists and was not created by regctl")]
    ForeignVolume { name: String, runtime: RuntimeKind },

    #[error("registry `{name}` not found on {searched}")]
    RegistryNotFound { name: String, searched: String },

    #[error("network `{name}` not found on {runtime}")]
    NetworkNotFound { name: String, runtime: RuntimeKind },

    #[error("image `{image}` is not present on {runtime} and could not be pulled")]
    ImageUnavailable {
        image: String,
        runtime: RuntimeKind,
        #[source]
        source: RuntimeError,
    },

    #[error("host port {port} on {ip} is already in use")]
    PortInUse { ip: IpAddr, port: u16 },

    #[error(
        "host port {port} is below {first_unprivileged}, which rootless {runtime} cannot bind"
    )]
    PrivilegedPort {
        port: u16,
        first_unprivileged: u16,
        runtime: RuntimeKind,
    },

    #[error("no free host port on {ip} between {first} and {last}")]
    NoFreePort { ip: IpAddr, first: u16, last: u16 },

    #[error("registry `{name}` was not ready at {url} within {seconds} s")]
    NotReady {
        name: String,
        url: String,
        seconds: u64,
        /// Last failure of the storage check, such as an S3 error.
        storage_error: Option<String>,
        logs: String,
    },

    #[error("registry `{name}` stopped before it answered at {url}")]
    Exited {
        name: String,
        url: String,
        logs: String,
    },

    #[error("failed to take the regctl lock at {path}")]
    Lock {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to read the S3 secret key file `{path}`")]
    SecretFile {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("the S3 secret key file `{path}` is empty")]
    EmptySecretFile { path: String },

    #[error("an S3 {missing} is missing: give both keys or neither")]
    IncompleteS3Keys { missing: &'static str },

    #[error("the configuration file `/etc/regctl/config.yml` of registry `{name}` is missing")]
    ConfigMissing { name: String },

    #[error("`gc` does not apply to registry `{name}`, which keeps its data in memory")]
    GcInMemory { name: String },

    #[error(
        "`update` would lose every image of registry `{name}`, which keeps its data in memory"
    )]
    UpdateInMemory { name: String },

    #[error("host path `{path}` does not exist")]
    HostPathMissing { path: String },

    #[error("failed to write to stdout")]
    Output(#[source] std::io::Error),

    #[error("failed to serialize the output")]
    Serialize(#[source] Box<dyn std::error::Error + Send + Sync>),

    /// A combination of arguments that clap cannot check, such as `--keep`
    /// with a digest.
    #[error("{0}")]
    Usage(String),

    #[error("registry `{name}` is not running (state: {state})")]
    RegistryNotRunning { name: String, state: String },

    #[error("invalid registry URL path `{path}`")]
    RegistryUrl {
        path: String,
        #[source]
        source: url::ParseError,
    },

    #[error("request {method} {url} failed")]
    RegistryRequest {
        method: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("{method} {url} returned status {status}: {message}")]
    RegistryStatus {
        method: String,
        url: String,
        status: u16,
        message: String,
    },

    #[error("the registry sent no Docker-Content-Digest header for {url}")]
    RegistryDigestMissing { url: String },

    #[error("the registry sent a body that is not the expected JSON for {url}")]
    RegistryBody {
        url: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("repository `{repository}` not found on registry `{name}`")]
    RepositoryNotFound { name: String, repository: String },

    #[error("manifest `{reference}` not found on registry `{name}`")]
    ManifestNotFound { name: String, reference: String },

    /// A selection `rmi` cannot carry out. The planner's message is the
    /// whole message, so it is not repeated as a cause.
    #[error("{error}")]
    Plan { name: String, error: PlanError },

    #[error("delete is disabled on registry `{name}`: it returned status 405 to DELETE")]
    DeleteDisabled { name: String },

    #[error("{failed} of {total} manifests could not be deleted")]
    RemovalIncomplete { failed: usize, total: usize },

    #[error("{}", update_failure(.name, .restore_error.is_none()))]
    UpdateFailed {
        name: String,
        volume: Option<String>,
        /// `--port` value that recreates the registry on its old address.
        port: String,
        restore_error: Option<String>,
        #[source]
        source: Box<Error>,
    },

    #[error("garbage collection of registry `{name}` exited with code {exit_code}")]
    GcFailed {
        name: String,
        exit_code: i64,
        output: String,
    },

    #[error(
        "container `{container}` on {runtime} is in the way of the garbage collection \
         and was not created by regctl"
    )]
    OneOffNameTaken {
        container: String,
        runtime: RuntimeKind,
    },

    #[error("registry `{name}` did not start again after garbage collection")]
    RestartFailed {
        name: String,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Compile(_)
            | Error::Usage(_)
            | Error::SecretFile { .. }
            | Error::EmptySecretFile { .. }
            | Error::IncompleteS3Keys { .. }
            | Error::HostPathMissing { .. }
            | Error::GcInMemory { .. }
            | Error::UpdateInMemory { .. } => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    }

    /// Text printed after the error and its causes, such as a container's
    /// last log lines.
    pub fn details(&self) -> Option<String> {
        match self {
            Error::NotReady {
                storage_error: Some(reason),
                logs,
                ..
            } => Some(format!(
                "the registry's storage check failed: {reason}\nthe registry logged:\n{}",
                indent(logs.trim_end())
            )),
            Error::NotReady { logs, .. } | Error::Exited { logs, .. } => {
                Some(format!("the registry logged:\n{}", indent(logs.trim_end())))
            }
            Error::GcFailed { output, .. } => Some(format!(
                "last output lines of the garbage collector:\n{}",
                indent(&last_lines(output, GC_OUTPUT_LINES))
            )),
            Error::UpdateFailed {
                restore_error: Some(restore_error),
                ..
            } => Some(format!(
                "restoring the previous container failed: {restore_error}"
            )),
            Error::UpdateFailed { source, .. } | Error::RestartFailed { source, .. } => {
                source.details()
            }
            _ => None,
        }
    }

    /// Returns what to do next, printed last.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Compile(error) => error.hint(),
            Error::Runtime(error) => runtime_hint(error),
            Error::NoRuntime { attempts } if denied_socket(attempts).is_some() => {
                let attempt = denied_socket(attempts)?;
                Some(permission_hint(attempt.endpoint.kind, &attempt.endpoint.url))
            }
            Error::NoRuntime { .. } => Some(
                "start Docker (`sudo systemctl start docker`) or Podman \
                 (`systemctl --user start podman.socket` rootless, \
                 `sudo systemctl start podman.socket` rootful), or point \
                 DOCKER_HOST or CONTAINER_HOST at a running engine"
                    .to_owned(),
            ),
            Error::EngineAtUrl { url, source } => engine_at_url_hint(url, source),
            Error::RegistryExists { name, .. } => Some(format!(
                "use `regctl start {name}`, or `regctl delete {name}` first, or choose another name"
            )),
            Error::ForeignContainer { .. } => {
                Some("regctl never touches containers it did not create; choose another name".to_owned())
            }
            Error::ForeignVolume { name, .. } => Some(format!(
                "choose another registry name, or remove volume `{name}` if its data is not needed"
            )),
            Error::RegistryNotFound { .. } => {
                Some("`regctl list` shows the registries regctl created".to_owned())
            }
            Error::NetworkNotFound { name, runtime } => Some(format!(
                "create it first (`{runtime} network create {name}`) or check `{runtime} network ls`"
            )),
            Error::ImageUnavailable { image, runtime, .. } => Some(format!(
                "load the image without network access with `{runtime} load -i FILE`, \
                 or pass another image with --image; then check `{runtime} image inspect {image}`"
            )),
            Error::PortInUse { .. } => {
                Some("choose another port with --port, or omit --port to let regctl pick one".to_owned())
            }
            Error::PrivilegedPort { first_unprivileged, .. } => Some(format!(
                "use a port of {first_unprivileged} or above, or lower \
                 `net.ipv4.ip_unprivileged_port_start` with sysctl"
            )),
            Error::SecretFile { path, source } => Some(match source.kind() {
                std::io::ErrorKind::PermissionDenied => {
                    format!("make `{path}` readable by your user, such as `chmod u+r {path}`")
                }
                _ => "check the path given to --s3-secret-key-file".to_owned(),
            }),
            Error::EmptySecretFile { .. } => {
                Some("write the secret access key into the file, on one line".to_owned())
            }
            Error::IncompleteS3Keys { missing } => Some(match *missing {
                "secret key" => "pass --s3-secret-key-file PATH or set AWS_SECRET_ACCESS_KEY".to_owned(),
                _ => "pass --s3-access-key KEY or set AWS_ACCESS_KEY_ID".to_owned(),
            }),
            Error::ConfigMissing { name } => Some(format!(
                "the container was changed outside regctl; recreate it with \
                 `regctl delete {name}` and `regctl create`"
            )),
            Error::UpdateInMemory { name } => Some(format!(
                "create a new registry instead: `regctl delete {name}`, then `regctl create` \
                 with the flags you want"
            )),
            Error::GcInMemory { .. } => Some(
                "in-memory data goes away when the registry stops; `regctl rmi` alone \
                 removes images from it"
                    .to_owned(),
            ),
            Error::HostPathMissing { path } => Some(format!(
                "create it first (`mkdir -p {path}`), or pass a volume name to --volume"
            )),
            Error::NotReady { .. } | Error::Exited { .. } => Some(
                "the registry's own messages are above; `create` removes what it made unless \
                 --keep-on-failure is given, which keeps the container for debugging"
                    .to_owned(),
            ),
            Error::RegistryNotRunning { name, .. } => {
                Some(format!("start it with `regctl start {name}`"))
            }
            Error::RepositoryNotFound { name, .. } => Some(format!(
                "`regctl images {name}` lists the repositories of the registry"
            )),
            Error::Plan { name, error } => plan_hint(name, error),
            Error::DeleteDisabled { name } => Some(format!(
                "enable delete with `regctl update {name} --delete-enabled`, then run the \
                 command again"
            )),
            Error::UpdateFailed {
                name,
                volume,
                port,
                restore_error: Some(_),
                ..
            } => {
                let kept = volume
                    .as_ref()
                    .map(|volume| format!("the data volume `{volume}` is kept; "))
                    .unwrap_or_default();
                Some(format!(
                    "{kept}recreate the registry with `regctl create {name} --port {port}` \
                     and the other flags it was created with"
                ))
            }
            Error::RestartFailed { name, .. } => Some(format!(
                "the garbage collection is done; start the registry with `regctl start {name}`"
            )),
            Error::OneOffNameTaken { container, runtime } => Some(format!(
                "regctl runs the collector in a container of that name; rename or remove \
                 `{container}` (`{runtime} rm {container}`) if it is not needed"
            )),
            Error::GcFailed { .. } => Some(
                "the output above shows why the collector failed; the storage stays as the \
                 collector left it"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

/// Returns the first engine address that denied access, if any.
fn denied_socket(attempts: &[Attempt]) -> Option<&Attempt> {
    attempts
        .iter()
        .find(|attempt| attempt.reason.contains("ermission denied"))
}

fn permission_hint(kind: RuntimeKind, socket: &str) -> String {
    match kind {
        RuntimeKind::Docker => format!(
            "your user cannot open {socket}: add it to the `docker` group \
             (`sudo usermod -aG docker $USER`, then log in again) or use rootless Docker"
        ),
        RuntimeKind::Podman => format!(
            "your user cannot open {socket}: use the rootless socket \
             (`systemctl --user start podman.socket`)"
        ),
    }
}

/// Checks whether an error or one of its causes reports a denied permission.
fn is_permission_denied(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.to_string().contains("ermission denied") {
            return true;
        }
        current = error.source();
    }
    false
}

/// Output lines of a failed garbage collection shown in the report.
const GC_OUTPUT_LINES: usize = 20;

fn update_failure(name: &str, restored: bool) -> String {
    if restored {
        format!("failed to update registry `{name}`; the previous container was restored")
    } else {
        format!("failed to update registry `{name}`, and the previous container was not restored")
    }
}

fn plan_hint(name: &str, error: &PlanError) -> Option<String> {
    match error {
        PlanError::TagNotFound { repository, .. } => Some(format!(
            "`regctl images {name} {repository}` lists its tags"
        )),
        PlanError::SharedDigest {
            repository, digest, ..
        } => Some(format!(
            "name every tag of the manifest, or remove `{repository}@{digest}` to delete it \
             with all its tags"
        )),
    }
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let start = lines.len().saturating_sub(count);
    lines[start..].join("\n")
}

fn runtime_hint(error: &RuntimeError) -> Option<String> {
    match error {
        RuntimeError::Unreachable {
            kind,
            socket,
            source,
        } => {
            let denied = is_permission_denied(source.as_ref());
            Some(match (kind, denied) {
                (_, true) => permission_hint(*kind, socket),
                (RuntimeKind::Docker, false) => {
                    "check that the Docker daemon runs: `docker version`".to_owned()
                }
                (RuntimeKind::Podman, false) => {
                    "check that the Podman API service runs: `podman system service` \
                     or `systemctl --user start podman.socket`"
                        .to_owned()
                }
            })
        }
        RuntimeError::ContainerExists { name } => Some(format!(
            "another process created `{name}` meanwhile; use `regctl list` to see it"
        )),
        _ => None,
    }
}

fn engine_at_url_hint(url: &str, error: &RuntimeError) -> Option<String> {
    // Once the kind is known, the backend's errors carry their own hints.
    let RuntimeError::Engine(inner) = error else {
        return runtime_hint(error);
    };
    let Some(DockerError::NoResponse { source, .. }) = inner.downcast_ref::<DockerError>() else {
        return None;
    };

    if crate::engines::error_chain(source).contains("ermission denied") {
        Some(format!(
            "your user cannot open {url}: run regctl as the user that owns the engine, \
             or pick another engine with --runtime"
        ))
    } else {
        Some(format!(
            "check that an engine listens at {url}: `podman system service {url}` \
             or `dockerd --host {url}` starts one there"
        ))
    }
}

fn format_attempts(attempts: &[Attempt]) -> String {
    attempts
        .iter()
        .map(|attempt| {
            format!(
                "\n  {} {}: {}",
                attempt.endpoint.kind, attempt.endpoint, attempt.reason
            )
        })
        .collect()
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}
