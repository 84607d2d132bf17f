//! The pure compiler from `create` flags to a [`RegistrySpec`].
//!
//! Nothing here performs I/O: port allocation, image pulls and engine calls
//! happen later, in [`crate::commands::create`], on the compiled spec.

use std::collections::BTreeMap;

use regctl_runtime::{
    EnvVar, NetworkSpec, PortSpec, RegistrySpec, S3Credentials, S3Storage, StorageSpec,
    VolumeSource, DATA_DIR, REGISTRY_PORT,
};

use crate::cli::{CreateArgs, StorageArgs, StorageKind};
use crate::registry_config::CONFIG_PATH;
use crate::validate::{EnvArg, VolumeArg, DEFAULT_HOST_IP};

/// Registry setting that turns on the DELETE API.
pub const DELETE_ENABLED_KEY: &str = "REGISTRY_STORAGE_DELETE_ENABLED";

/// Root directory of the filesystem storage driver.
const FILESYSTEM_ROOT_KEY: &str = "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY";

/// Listen address of the registry, which the published port depends on.
const HTTP_ADDR_KEY: &str = "REGISTRY_HTTP_ADDR";

/// Region the registry's S3 client needs when a custom endpoint makes the
/// region meaningless.
const DEFAULT_S3_REGION: &str = "us-east-1";

/// Registry settings of the S3 driver that flags set, with the flag that
/// sets each. The S3 part of the configuration lives in a file, so these
/// keys in the environment would silently replace flag values.
const S3_FLAG_KEYS: &[(&str, &str)] = &[
    ("REGISTRY_STORAGE_S3_BUCKET", "--s3-bucket"),
    ("REGISTRY_STORAGE_S3_REGION", "--s3-region"),
    ("REGISTRY_STORAGE_S3_REGIONENDPOINT", "--s3-endpoint"),
    ("REGISTRY_STORAGE_S3_SECURE", "--s3-endpoint"),
    ("REGISTRY_STORAGE_S3_FORCEPATHSTYLE", "--s3-path-style"),
    ("REGISTRY_STORAGE_S3_ROOTDIRECTORY", "--s3-root-directory"),
];

/// Variables that contain S3 credentials, for the registry's configuration
/// or for the AWS SDK's credential chain. In the environment they would also
/// land in the spec label and in `inspect`, so regctl takes them only
/// through its S3 flags, which write them into the configuration file.
const CREDENTIAL_KEYS: &[&str] = &[
    "REGISTRY_STORAGE_S3_ACCESSKEY",
    "REGISTRY_STORAGE_S3_SECRETKEY",
    "REGISTRY_STORAGE_S3_SESSIONTOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// Storage drivers of Distribution 2.x and 3.x. A second driver in the
/// environment makes the registry panic with "multiple storage drivers
/// specified".
const STORAGE_DRIVERS: &[&str] = &[
    "AZURE",
    "FILESYSTEM",
    "GCS",
    "INMEMORY",
    "OSS",
    "S3",
    "SWIFT",
];

/// A combination of `create` flags that cannot work. Each one is a usage
/// error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    #[error("`--extra-env {key}` is given more than once")]
    DuplicateEnv { key: String },

    #[error("`--extra-env {key}={value}` contradicts {flag}, which sets {key}={compiled}")]
    ContradictsFlag {
        key: String,
        value: String,
        flag: &'static str,
        compiled: String,
    },

    #[error("`--extra-env {key}` selects a second storage driver beside `{driver}`")]
    SecondStorageDriver { key: String, driver: &'static str },

    #[error("`--extra-env {key}={value}` moves the registry off port {REGISTRY_PORT}, which regctl publishes")]
    HttpAddress { key: String, value: String },

    #[error("the network name is empty")]
    EmptyNetwork,

    #[error("`{flag}` requires `--storage s3`")]
    RequiresS3 { flag: &'static str },

    #[error("`--volume` does not apply to `--storage {storage}`")]
    VolumeWithoutFilesystem { storage: &'static str },

    #[error("`--storage s3` requires `--s3-bucket`")]
    MissingBucket,

    #[error("`--storage s3` requires `--s3-region` unless `--s3-endpoint` is given")]
    MissingRegion,

    #[error("`--extra-env {key}` overrides {flag}")]
    OverridesFlag { key: String, flag: &'static str },

    #[error("`--extra-env {key}` would put an S3 credential into the container's environment")]
    SecretInEnv { key: String },
}

impl CompileError {
    /// What to do instead, printed after the error.
    pub fn hint(&self) -> Option<String> {
        match self {
            CompileError::DuplicateEnv { .. } => Some("pass each variable once".to_owned()),
            CompileError::ContradictsFlag { key, .. } if key == DELETE_ENABLED_KEY => Some(
                "use --delete-enabled to enable delete, or leave it out to keep delete disabled"
                    .to_owned(),
            ),
            CompileError::ContradictsFlag { flag, .. } => {
                Some(format!("drop the --extra-env value and use {flag}"))
            }
            CompileError::SecondStorageDriver { .. } => Some(
                "the registry accepts exactly one storage driver; drop the --extra-env value"
                    .to_owned(),
            ),
            CompileError::HttpAddress { .. } => Some(format!(
                "keep the registry on :{REGISTRY_PORT} and choose the host side with --port"
            )),
            CompileError::EmptyNetwork => {
                Some("pass an existing network, such as `kind`".to_owned())
            }
            CompileError::RequiresS3 { .. } => {
                Some("add `--storage s3`, or drop the S3 flags".to_owned())
            }
            CompileError::VolumeWithoutFilesystem { .. } => {
                Some("use `--storage filesystem` with `--volume`, or drop `--volume`".to_owned())
            }
            CompileError::MissingBucket => {
                Some("name the bucket with `--s3-bucket BUCKET`".to_owned())
            }
            CompileError::MissingRegion => Some(
                "pass `--s3-region REGION` for AWS, or `--s3-endpoint URL` for another S3 server"
                    .to_owned(),
            ),
            CompileError::OverridesFlag { flag, .. } => {
                Some(format!("drop the --extra-env value and use {flag}"))
            }
            CompileError::SecretInEnv { .. } => Some(
                "pass the access key with --s3-access-key and the secret key with \
                 --s3-secret-key-file; regctl keeps both out of the environment"
                    .to_owned(),
            ),
        }
    }
}

/// A variable that a flag compiles to, with the flag named in errors.
struct CompiledVar {
    value: String,
    flag: &'static str,
}

/// Compiles `create` flags into the spec of one registry.
pub fn compile_create(args: &CreateArgs) -> Result<RegistrySpec, CompileError> {
    let storage = compile_storage(&args.name, &args.storage)?;
    let driver = storage_driver(&storage);

    let compiled = compiled_env(args, driver);
    let env = merge_extra_env(&compiled, &args.extra_env, driver)?;

    // The image's configuration file names the filesystem driver. Any other
    // driver gets a file of regctl's, so exactly one driver reaches the
    // registry whatever the image's file contains.
    let command =
        (driver != "filesystem").then(|| vec!["serve".to_owned(), CONFIG_PATH.to_owned()]);

    let network = match &args.network {
        Some(name) if name.trim().is_empty() => return Err(CompileError::EmptyNetwork),
        Some(name) => Some(NetworkSpec {
            name: name.clone(),
            aliases: vec![args.name.clone()],
        }),
        None => None,
    };

    let port = PortSpec {
        host_ip: args
            .port
            .and_then(|port| port.host_ip)
            .unwrap_or(DEFAULT_HOST_IP),
        host_port: args.port.map(|port| port.host_port),
    };

    Ok(RegistrySpec {
        name: args.name.clone(),
        image: args.image.clone(),
        port,
        delete_enabled: args.delete_enabled,
        storage,
        env,
        network,
        command,
    })
}

fn storage_driver(storage: &StorageSpec) -> &'static str {
    match storage {
        StorageSpec::Filesystem { .. } => "filesystem",
        StorageSpec::InMemory => "inmemory",
        StorageSpec::S3(_) => "s3",
    }
}

/// Derives the storage of the spec, after checking that the storage flags
/// fit `--storage`.
fn compile_storage(name: &str, args: &StorageArgs) -> Result<StorageSpec, CompileError> {
    if args.storage != StorageKind::S3 {
        if let Some(flag) = first_s3_flag(args) {
            return Err(CompileError::RequiresS3 { flag });
        }
    }

    match args.storage {
        StorageKind::Filesystem => {
            let source = match &args.volume {
                Some(VolumeArg::HostPath(path)) => VolumeSource::Bind { path: path.clone() },
                Some(VolumeArg::Named(volume)) => VolumeSource::Volume {
                    name: volume.clone(),
                },
                None => VolumeSource::Volume {
                    name: data_volume_name(name),
                },
            };
            Ok(StorageSpec::Filesystem { source })
        }
        StorageKind::InMemory if args.volume.is_some() => {
            Err(CompileError::VolumeWithoutFilesystem {
                storage: "inmemory",
            })
        }
        StorageKind::InMemory => Ok(StorageSpec::InMemory),
        StorageKind::S3 if args.volume.is_some() => {
            Err(CompileError::VolumeWithoutFilesystem { storage: "s3" })
        }
        StorageKind::S3 => compile_s3(args).map(StorageSpec::S3),
    }
}

fn first_s3_flag(args: &StorageArgs) -> Option<&'static str> {
    [
        (args.s3_bucket.is_some(), "--s3-bucket"),
        (args.s3_region.is_some(), "--s3-region"),
        (args.s3_endpoint.is_some(), "--s3-endpoint"),
        (args.s3_path_style, "--s3-path-style"),
        (args.s3_root_directory.is_some(), "--s3-root-directory"),
        (args.s3_access_key.is_some(), "--s3-access-key"),
        (args.s3_secret_key_file.is_some(), "--s3-secret-key-file"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
}

fn compile_s3(args: &StorageArgs) -> Result<S3Storage, CompileError> {
    let bucket = args.s3_bucket.clone().ok_or(CompileError::MissingBucket)?;

    let region = match (&args.s3_region, &args.s3_endpoint) {
        (Some(region), _) => region.clone(),
        (None, Some(_)) => DEFAULT_S3_REGION.to_owned(),
        (None, None) => return Err(CompileError::MissingRegion),
    };

    // Keys from the environment are found later, when secrets are loaded.
    let credentials = if args.s3_access_key.is_some() || args.s3_secret_key_file.is_some() {
        S3Credentials::Static
    } else {
        S3Credentials::Chain
    };

    let insecure = args
        .s3_endpoint
        .as_deref()
        .is_some_and(|endpoint| endpoint.starts_with("http://"));

    Ok(S3Storage {
        bucket,
        region,
        endpoint: args.s3_endpoint.clone(),
        secure: !insecure,
        path_style: args.s3_path_style,
        root_directory: args.s3_root_directory.clone(),
        credentials,
    })
}

/// Name of the volume that keeps a registry's data across recreation.
pub fn data_volume_name(registry: &str) -> String {
    format!("{registry}-data")
}

fn compiled_env(args: &CreateArgs, driver: &'static str) -> BTreeMap<String, CompiledVar> {
    // Delete is written out even when off, so the container shows its
    // setting and an --extra-env value cannot turn it on unnoticed.
    let mut env = BTreeMap::from([(
        DELETE_ENABLED_KEY.to_owned(),
        CompiledVar {
            value: args.delete_enabled.to_string(),
            flag: "--delete-enabled",
        },
    )]);

    if driver == "filesystem" {
        env.insert(
            FILESYSTEM_ROOT_KEY.to_owned(),
            CompiledVar {
                value: DATA_DIR.to_owned(),
                flag: "the filesystem storage",
            },
        );
    }
    env
}

/// Adds `--extra-env` values to the compiled variables. An extra value equal
/// to a compiled one is accepted, a different one is an error.
fn merge_extra_env(
    compiled: &BTreeMap<String, CompiledVar>,
    extra: &[EnvArg],
    driver: &'static str,
) -> Result<Vec<EnvVar>, CompileError> {
    let mut env: BTreeMap<String, String> = compiled
        .iter()
        .map(|(key, var)| (key.clone(), var.value.clone()))
        .collect();
    let mut seen = BTreeMap::new();

    for EnvArg { key, value } in extra {
        if seen.insert(key.as_str(), ()).is_some() {
            return Err(CompileError::DuplicateEnv { key: key.clone() });
        }

        if let Some(var) = compiled.get(key) {
            if !var.value.eq_ignore_ascii_case(value) {
                return Err(CompileError::ContradictsFlag {
                    key: key.clone(),
                    value: value.clone(),
                    flag: var.flag,
                    compiled: var.value.clone(),
                });
            }
            continue;
        }

        if CREDENTIAL_KEYS.contains(&key.as_str()) {
            return Err(CompileError::SecretInEnv { key: key.clone() });
        }
        check_storage_key(key, driver)?;
        if driver == "s3" {
            check_s3_key(key)?;
        }
        check_http_addr(key, value)?;
        env.insert(key.clone(), value.clone());
    }

    Ok(env
        .into_iter()
        .map(|(key, value)| EnvVar { key, value })
        .collect())
}

/// Rejects keys that would configure a storage driver other than `driver`
/// (lowercase, as the registry names it), or replace the storage section as
/// a whole.
fn check_storage_key(key: &str, driver: &'static str) -> Result<(), CompileError> {
    let second_driver = |key: &str| CompileError::SecondStorageDriver {
        key: key.to_owned(),
        driver,
    };

    if key == "REGISTRY_STORAGE" {
        return Err(second_driver(key));
    }

    let Some(rest) = key.strip_prefix("REGISTRY_STORAGE_") else {
        return Ok(());
    };

    let names_other_driver = STORAGE_DRIVERS.iter().any(|other| {
        !other.eq_ignore_ascii_case(driver)
            && (rest == *other || rest.starts_with(&format!("{other}_")))
    });
    if names_other_driver {
        return Err(second_driver(key));
    }

    Ok(())
}

/// Rejects S3 settings that a flag owns.
fn check_s3_key(key: &str) -> Result<(), CompileError> {
    match S3_FLAG_KEYS.iter().find(|(owned, _)| *owned == key) {
        Some((_, flag)) => Err(CompileError::OverridesFlag {
            key: key.to_owned(),
            flag,
        }),
        None => Ok(()),
    }
}

fn check_http_addr(key: &str, value: &str) -> Result<(), CompileError> {
    if key == HTTP_ADDR_KEY && !value.ends_with(&format!(":{REGISTRY_PORT}")) {
        return Err(CompileError::HttpAddress {
            key: key.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(())
}

/// Returns `spec` with the DELETE API switched to `delete_enabled`, for
/// `update`. Both places that carry the setting change, the spec field and
/// the environment variable, and everything else stays, so the recreated
/// container keeps its port, volume, network and extra environment.
pub fn compile_update(spec: &RegistrySpec, delete_enabled: bool) -> RegistrySpec {
    let mut updated = spec.clone();
    updated.delete_enabled = delete_enabled;

    let value = delete_enabled.to_string();
    match updated
        .env
        .binary_search_by(|var| var.key.as_str().cmp(DELETE_ENABLED_KEY))
    {
        Ok(index) => updated.env[index].value = value,
        Err(index) => updated.env.insert(
            index,
            EnvVar {
                key: DELETE_ENABLED_KEY.to_owned(),
                value,
            },
        ),
    }
    updated
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn compiled(args: &[&str]) -> RegistrySpec {
        let argv = ["regctl", "create"].iter().chain(args);
        let Command::Create(create) = Cli::try_parse_from(argv).unwrap().command else {
            unreachable!("`create` parses to Command::Create");
        };
        let mut spec = compile_create(&create).unwrap();
        spec.port.host_port = Some(5001);
        spec
    }

    fn env_value<'a>(spec: &'a RegistrySpec, key: &str) -> Option<&'a str> {
        spec.env
            .iter()
            .find(|var| var.key == key)
            .map(|var| var.value.as_str())
    }

    #[test]
    fn update_enables_delete() {
        let spec = compiled(&[]);
        let updated = compile_update(&spec, true);

        assert!(updated.delete_enabled);
        assert_eq!(env_value(&updated, DELETE_ENABLED_KEY), Some("true"));
    }

    #[test]
    fn update_disables_delete() {
        let spec = compiled(&["--delete-enabled"]);
        let updated = compile_update(&spec, false);

        assert!(!updated.delete_enabled);
        assert_eq!(env_value(&updated, DELETE_ENABLED_KEY), Some("false"));
    }

    #[test]
    fn update_keeps_everything_else() {
        let spec = compiled(&[
            "team",
            "--port",
            "0.0.0.0:5099",
            "--network",
            "kind",
            "--extra-env",
            "REGISTRY_LOG_LEVEL=debug",
            "--extra-env",
            "A_FIRST=1",
        ]);
        let mut updated = compile_update(&spec, true);

        assert_eq!(updated.env.len(), spec.env.len());
        updated.delete_enabled = spec.delete_enabled;
        updated.env = spec.env.clone();
        assert_eq!(updated, spec);
    }

    #[test]
    fn update_keeps_env_sorted() {
        let spec = compiled(&["--extra-env", "A_FIRST=1", "--extra-env", "Z_LAST=2"]);
        let updated = compile_update(&spec, true);

        let keys: Vec<&str> = updated.env.iter().map(|var| var.key.as_str()).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn update_adds_missing_env_entry() {
        let mut spec = compiled(&["--extra-env", "A_FIRST=1", "--extra-env", "Z_LAST=2"]);
        spec.env.retain(|var| var.key != DELETE_ENABLED_KEY);
        let updated = compile_update(&spec, true);

        let keys: Vec<&str> = updated.env.iter().map(|var| var.key.as_str()).collect();
        assert_eq!(
            keys,
            ["A_FIRST", DELETE_ENABLED_KEY, FILESYSTEM_ROOT_KEY, "Z_LAST"]
        );
        assert_eq!(env_value(&updated, DELETE_ENABLED_KEY), Some("true"));
    }

    #[test]
    fn update_to_same_setting_changes_nothing() {
        let spec = compiled(&["--delete-enabled"]);

        assert_eq!(compile_update(&spec, true), spec);
    }
}
