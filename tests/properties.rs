//! Property tests of the flag compiler over random command lines.

use clap::Parser;
use proptest::prelude::*;
use regctl::cli::{Cli, Command};
use regctl::compile::{compile_create, DELETE_ENABLED_KEY};

/// Access key planted in every generated command line. The spec is stored
/// in a container label, so it must never contain it.
const SENTINEL_ACCESS_KEY: &str = "AKIASENTINEL0PROPTEST";

fn env_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("REGISTRY_STORAGE_DELETE_ENABLED".to_owned()),
        Just("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY".to_owned()),
        Just("REGISTRY_STORAGE".to_owned()),
        Just("REGISTRY_STORAGE_S3_BUCKET".to_owned()),
        Just("REGISTRY_STORAGE_S3_SECRETKEY".to_owned()),
        Just("REGISTRY_STORAGE_INMEMORY".to_owned()),
        Just("REGISTRY_HTTP_ADDR".to_owned()),
        Just("REGISTRY_LOG_LEVEL".to_owned()),
        "[A-Za-z_][A-Za-z0-9_]{0,12}",
        "[A-Za-z0-9_-]{1,6}",
    ]
}

fn env_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("TRUE".to_owned()),
        Just(":5000".to_owned()),
        Just(":6000".to_owned()),
        Just("/var/lib/registry".to_owned()),
        ".{0,12}",
    ]
}

fn words(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

/// Generates one optional flag of `create` other than the storage flags, as argv
/// words. Valid values are the most likely, so most lines compile.
fn flag() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        2 => Just(words(&["--delete-enabled"])),
        6 => (env_key(), env_value())
            .prop_map(|(key, value)| vec!["--extra-env".to_owned(), format!("{key}={value}")]),
        1 => ".{0,10}".prop_map(|value| vec!["--extra-env".to_owned(), value]),
        2 => prop_oneof![Just("5001".to_owned()), Just("0.0.0.0:5002".to_owned()), ".{0,8}"]
            .prop_map(|port| vec!["--port".to_owned(), port]),
        1 => prop_oneof![Just("kind".to_owned()), Just(" ".to_owned())]
            .prop_map(|network| vec!["--network".to_owned(), network]),
        1 => prop_oneof![Just("registry:2".to_owned()), ".{0,10}"]
            .prop_map(|image| vec!["--image".to_owned(), image]),
        1 => Just(words(&["--s3-path-style"])),
        1 => prop_oneof![Just("data".to_owned()), Just("/srv/registry".to_owned()), ".{0,8}"]
            .prop_map(|volume| vec!["--volume".to_owned(), volume]),
    ]
}

/// Storage flags: mostly a consistent set for one driver, sometimes not.
fn storage_flags() -> impl Strategy<Value = Vec<String>> {
    let s3 = (
        prop_oneof![4 => Just("images".to_owned()), 1 => "[a-z0-9.-]{0,8}"],
        prop_oneof![
            Just(words(&["--s3-region", "eu-west-1"])),
            Just(words(&["--s3-endpoint", "http://127.0.0.1:9000"])),
            ".{0,12}".prop_map(|endpoint| vec!["--s3-endpoint".to_owned(), endpoint]),
            Just(Vec::new()),
        ],
        prop::bool::ANY,
        prop::bool::ANY,
    )
        .prop_map(|(bucket, target, root, access_key)| {
            let mut flags = words(&["--storage", "s3", "--s3-bucket"]);
            flags.push(bucket);
            flags.extend(target);
            if root {
                flags.extend(words(&["--s3-root-directory", "/prefix"]));
            }
            if access_key {
                flags.extend(words(&["--s3-access-key", SENTINEL_ACCESS_KEY]));
            }
            flags
        });

    prop_oneof![
        3 => Just(Vec::new()),
        2 => Just(words(&["--storage", "inmemory"])),
        4 => s3,
        1 => Just(words(&["--storage", "tape"])),
        1 => Just(words(&["--s3-bucket", "images"])),
    ]
}

fn command_line() -> impl Strategy<Value = Vec<String>> {
    (
        prop_oneof![
            Just(None),
            Just(Some("dev".to_owned())),
            "[a-z0-9-]{0,10}".prop_map(Some)
        ],
        storage_flags(),
        prop::collection::vec(flag(), 0..6),
    )
        .prop_map(|(name, storage, flags)| {
            let mut argv = vec!["regctl".to_owned(), "create".to_owned()];
            argv.extend(name.map(|name| format!("--name-placeholder={name}")));
            argv.extend(storage);
            argv.extend(flags.into_iter().flatten());
            argv
        })
}

/// Replaces the name placeholder with a positional argument after `--`,
/// so a generated name starting with `-` stays a name.
fn finish(argv: Vec<String>) -> Vec<String> {
    let mut flags = Vec::new();
    let mut name = None;
    for word in argv {
        match word.strip_prefix("--name-placeholder=") {
            Some(value) => name = Some(value.to_owned()),
            None => flags.push(word),
        }
    }
    if let Some(name) = name {
        flags.push("--".to_owned());
        flags.push(name);
    }
    flags
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn compiler_invariants(argv in command_line()) {
        let argv = finish(argv);

        // Parsing and compiling may reject the input, but never panic.
        let Ok(cli) = Cli::try_parse_from(&argv) else { return Ok(()); };
        let Command::Create(args) = cli.command else { unreachable!() };
        let Ok(spec) = compile_create(&args) else { return Ok(()); };

        let keys: Vec<&str> = spec.env.iter().map(|var| var.key.as_str()).collect();
        let mut unique = keys.clone();
        unique.sort_unstable();
        unique.dedup();
        prop_assert_eq!(&keys, &unique, "env keys are sorted and unique");

        let delete = spec.env.iter().find(|var| var.key == DELETE_ENABLED_KEY);
        prop_assert_eq!(
            delete.map(|var| var.value.to_ascii_lowercase()),
            Some(args.delete_enabled.to_string()),
            "the delete variable matches the flag"
        );

        let drivers = ["FILESYSTEM", "INMEMORY", "S3", "AZURE", "GCS", "SWIFT", "OSS"];
        let driver_keys: Vec<&str> = drivers
            .iter()
            .copied()
            .filter(|driver| {
                keys.iter().any(|key| {
                    key.strip_prefix("REGISTRY_STORAGE_")
                        .is_some_and(|rest| rest == *driver || rest.starts_with(&format!("{driver}_")))
                })
            })
            .collect();
        let file_driver = spec.command.is_some().then(|| spec.storage_driver().to_ascii_uppercase());
        let mut all_drivers: Vec<String> = driver_keys.iter().map(|driver| (*driver).to_owned()).collect();
        if let Some(driver) = file_driver {
            if !all_drivers.contains(&driver) {
                all_drivers.push(driver);
            }
        }
        prop_assert_eq!(all_drivers.len(), 1, "exactly one storage driver: {:?}", all_drivers);
        prop_assert!(!keys.contains(&"REGISTRY_STORAGE"), "no variable replaces the storage section");

        let json = serde_json::to_string(&spec).unwrap();
        prop_assert!(!json.contains(SENTINEL_ACCESS_KEY), "the access key reached the spec");
    }
}
