use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Port the Distribution registry listens on inside its container.
pub const REGISTRY_PORT: u16 = 5000;

/// Directory where the registry's filesystem driver keeps its data.
pub const DATA_DIR: &str = "/var/lib/registry";

/// Everything a backend needs to create one registry container.
///
/// The spec is stored in a label of the container it created, so `start`,
/// `list` and later recreations read it back.
///
/// NOTE: `--extra-env` values are part of `env` and so of that label. A
/// secret passed that way is visible to anyone who can inspect the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrySpec {
    /// Container name, also the DNS alias on an attached network.
    pub name: String,
    /// Image reference of the registry.
    pub image: String,
    /// Host address the registry port is published on.
    pub port: PortSpec,
    /// Whether `REGISTRY_STORAGE_DELETE_ENABLED=true` is set.
    pub delete_enabled: bool,
    /// Where the registry stores blobs and manifests.
    pub storage: StorageSpec,
    /// Environment of the container, sorted by key, with unique keys.
    pub env: Vec<EnvVar>,
    /// Existing network to attach the container to, in place of the
    /// engine's default network.
    pub network: Option<NetworkSpec>,
    /// Arguments that replace the image's command, such as `serve` with the
    /// configuration file that regctl writes into the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
}

/// Published port of the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSpec {
    pub host_ip: IpAddr,
    /// Host port. `None` until `create` allocates a free one, and always
    /// `Some` in a spec that reached an engine.
    pub host_port: Option<u16>,
}

/// Storage driver of the registry. Exactly one reaches the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "driver", rename_all = "lowercase")]
pub enum StorageSpec {
    /// The registry's `filesystem` driver, rooted at [`DATA_DIR`].
    Filesystem { source: VolumeSource },
    /// The `inmemory` driver: data is lost when the container stops.
    InMemory,
    /// The `s3` driver (`s3-aws` in Distribution 2.x).
    S3(S3Storage),
}

/// Source of the filesystem mounted at [`DATA_DIR`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum VolumeSource {
    /// A named volume that regctl creates and labels.
    Volume { name: String },
    /// An absolute host path, bind-mounted. regctl never deletes it.
    Bind { path: String },
}

/// S3 settings without credentials. The keys themselves never enter the
/// spec, because the spec is stored in a container label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Storage {
    pub bucket: String,
    pub region: String,
    /// Custom endpoint such as `http://10.88.0.1:9000`, for S3-compatible
    /// servers; `None` for AWS.
    pub endpoint: Option<String>,
    /// Whether the registry talks to the endpoint over TLS.
    pub secure: bool,
    /// Whether bucket names go into the path rather than the host name.
    pub path_style: bool,
    /// Key prefix of every object the registry writes.
    pub root_directory: Option<String>,
    pub credentials: S3Credentials,
}

/// Where the registry's S3 credentials come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum S3Credentials {
    /// An access key and secret key, written into the configuration file.
    Static,
    /// The AWS SDK's default chain inside the container (environment,
    /// instance profile and so on).
    Chain,
}

/// One environment variable of the registry container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVar {
    pub key: String,
    pub value: String,
}

/// Network attachment, with the registry's DNS aliases on that network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSpec {
    pub name: String,
    pub aliases: Vec<String>,
}

impl RegistrySpec {
    /// Named volume that contains the registry's data, if any.
    pub fn data_volume(&self) -> Option<&str> {
        match &self.storage {
            StorageSpec::Filesystem {
                source: VolumeSource::Volume { name },
            } => Some(name),
            _ => None,
        }
    }

    /// Host path bind-mounted at [`DATA_DIR`], if any.
    pub fn bind_path(&self) -> Option<&str> {
        match &self.storage {
            StorageSpec::Filesystem {
                source: VolumeSource::Bind { path },
            } => Some(path),
            _ => None,
        }
    }

    /// Short name of the storage driver, as the registry's configuration
    /// calls it.
    pub fn storage_driver(&self) -> &'static str {
        match self.storage {
            StorageSpec::Filesystem { .. } => "filesystem",
            StorageSpec::InMemory => "inmemory",
            StorageSpec::S3(_) => "s3",
        }
    }

    /// Environment as `KEY=VALUE` strings, the form both engines take.
    pub fn env_strings(&self) -> Vec<String> {
        self.env
            .iter()
            .map(|var| format!("{}={}", var.key, var.value))
            .collect()
    }

    /// Address to push to from the host, such as `localhost:5001`.
    ///
    /// A registry published on every interface or on loopback is reached as
    /// `localhost`, because engines treat `localhost` registries as insecure
    /// by default and so push over plain HTTP.
    pub fn endpoint(&self) -> Option<String> {
        let port = self.port.host_port?;
        let ip = self.port.host_ip;
        if ip.is_loopback() || ip.is_unspecified() {
            Some(format!("localhost:{port}"))
        } else if ip.is_ipv6() {
            Some(format!("[{ip}]:{port}"))
        } else {
            Some(format!("{ip}:{port}"))
        }
    }
}
