//! The pure compiler from `create` flags to a [`RegistrySpec`].
//!
//! Nothing here performs I/O: port allocation, image pulls and engine calls
//! happen later, in [`crate::commands::create`], on the compiled spec.

use std::collections::BTreeMap;

use regctl_runtime::{
    EnvVar, NetworkSpec, PortSpec, RegistrySpec, StorageSpec, VolumeSource, DATA_DIR, REGISTRY_PORT,
};

use crate::cli::CreateArgs;
use crate::validate::{EnvArg, DEFAULT_HOST_IP};

/// Registry setting that turns on the DELETE API.
pub const DELETE_ENABLED_KEY: &str = "REGISTRY_STORAGE_DELETE_ENABLED";

/// Root directory of the filesystem storage driver.
const FILESYSTEM_ROOT_KEY: &str = "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY";

/// Listen address of the registry, which the published port depends on.
const HTTP_ADDR_KEY: &str = "REGISTRY_HTTP_ADDR";

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
    let storage = StorageSpec::Filesystem {
        source: VolumeSource::Volume {
            name: data_volume_name(&args.name),
        },
    };

    let compiled = compiled_env(args);
    let env = merge_extra_env(&compiled, &args.extra_env, "filesystem")?;

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
    })
}

/// Name of the volume that keeps a registry's data across recreation.
pub fn data_volume_name(registry: &str) -> String {
    format!("{registry}-data")
}

fn compiled_env(args: &CreateArgs) -> BTreeMap<String, CompiledVar> {
    // Delete is written out even when off, so the container shows its
    // setting and an --extra-env value cannot turn it on unnoticed.
    BTreeMap::from([
        (
            DELETE_ENABLED_KEY.to_owned(),
            CompiledVar {
                value: args.delete_enabled.to_string(),
                flag: "--delete-enabled",
            },
        ),
        (
            FILESYSTEM_ROOT_KEY.to_owned(),
            CompiledVar {
                value: DATA_DIR.to_owned(),
                flag: "the filesystem storage",
            },
        ),
    ])
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

        check_storage_key(key, driver)?;
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
