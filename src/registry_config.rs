//! The registry configuration file that regctl writes into the container
//! for storage drivers other than the image's own filesystem one.
//!
//! Rendering is pure. Credentials reach the file only; the spec, labels,
//! environment and logs never see them.

use regctl_runtime::{
    ContainerFile, ContainerRuntime, RegistrySpec, S3Storage, StorageSpec, REGISTRY_PORT,
};
use serde_json::{json, Value};

use crate::error::Error;
use crate::secrets::S3Keys;

/// Path of regctl's configuration file inside the container. The directory
/// is regctl's own, so it can be closed to other users.
pub const CONFIG_PATH: &str = "/etc/regctl/config.yml";

/// Text that replaces each credential in dry runs and snapshots.
pub const REDACTED: &str = "[redacted]";

/// Permission bits of the file: only its owner, the registry's user, reads it.
const CONFIG_MODE: u32 = 0o600;

/// Renders the configuration for `spec`, or `None` when the image's own
/// file serves (filesystem storage).
pub fn render(spec: &RegistrySpec, keys: Option<&S3Keys>) -> Option<String> {
    let driver = match &spec.storage {
        StorageSpec::Filesystem { .. } => return None,
        StorageSpec::InMemory => json!({ "inmemory": {} }),
        StorageSpec::S3(s3) => json!({ "s3": s3_section(s3, keys) }),
    };

    let mut storage = driver;
    storage["delete"] = json!({ "enabled": spec.delete_enabled });
    storage["cache"] = json!({ "blobdescriptor": "inmemory" });
    // Clients then fetch blobs through the registry, so they need no route
    // to the storage server.
    storage["redirect"] = json!({ "disable": true });

    let config = json!({
        "version": "0.1",
        "log": { "fields": { "service": "registry" } },
        "storage": storage,
        "http": {
            "addr": format!(":{REGISTRY_PORT}"),
            "headers": { "X-Content-Type-Options": ["nosniff"] },
        },
        "health": {
            "storagedriver": { "enabled": true, "interval": "10s", "threshold": 3 },
        },
    });

    Some(serde_yaml::to_string(&config).expect("a JSON value serializes to YAML"))
}

/// Renders the configuration with every credential replaced by
/// [`REDACTED`], for dry runs and snapshots.
pub fn render_redacted(spec: &RegistrySpec, keys: Option<&S3Keys>) -> Option<String> {
    let redacted = keys.map(|_| S3Keys {
        access_key: REDACTED.to_owned(),
        secret_key: REDACTED.to_owned(),
    });
    render(spec, redacted.as_ref())
}

/// Builds the file to copy into the container, or `None` when the image's
/// own configuration serves.
///
/// NOTE: the file belongs to root, the user of the registry images regctl
/// was tested with (Distribution 2.8). An image that runs the registry as
/// another user cannot read it.
pub fn config_file(spec: &RegistrySpec, keys: Option<&S3Keys>) -> Option<ContainerFile> {
    render(spec, keys).map(|contents| ContainerFile {
        path: CONFIG_PATH.to_owned(),
        contents: contents.into_bytes(),
        mode: CONFIG_MODE,
        uid: 0,
        gid: 0,
    })
}

/// Reads regctl's configuration file back from the container of `spec`, so
/// a recreated or one-off container gets the same file, credentials
/// included, without regctl storing them anywhere. Returns `None` for a
/// registry that uses the image's own configuration.
pub async fn read_config_file(
    runtime: &dyn ContainerRuntime,
    spec: &RegistrySpec,
) -> Result<Option<ContainerFile>, Error> {
    if spec.command.is_none() {
        return Ok(None);
    }

    let contents = runtime
        .read_file(&spec.name, CONFIG_PATH)
        .await?
        .ok_or_else(|| Error::ConfigMissing {
            name: spec.name.clone(),
        })?;

    Ok(Some(ContainerFile {
        path: CONFIG_PATH.to_owned(),
        contents,
        mode: CONFIG_MODE,
        uid: 0,
        gid: 0,
    }))
}

fn s3_section(s3: &S3Storage, keys: Option<&S3Keys>) -> Value {
    let mut section = json!({
        "bucket": s3.bucket,
        "region": s3.region,
        "secure": s3.secure,
        "forcepathstyle": s3.path_style,
    });

    if let Some(endpoint) = &s3.endpoint {
        section["regionendpoint"] = json!(endpoint);
    }
    if let Some(root) = &s3.root_directory {
        section["rootdirectory"] = json!(root);
    }
    if let Some(keys) = keys {
        section["accesskey"] = json!(keys.access_key);
        section["secretkey"] = json!(keys.secret_key);
    }
    section
}
