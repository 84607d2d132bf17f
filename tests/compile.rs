//! The flag compiler: what it derives, and the flag combinations it rejects.

use clap::Parser;
use regctl::cli::{Cli, Command, CreateArgs};
use regctl::compile::{compile_create, CompileError};
use regctl_runtime::{RegistrySpec, S3Credentials, StorageSpec};

fn parse(args: &[&str]) -> CreateArgs {
    let argv = ["regctl", "create"].iter().chain(args);
    let cli = Cli::try_parse_from(argv).expect("the arguments parse");
    let Command::Create(create) = cli.command else {
        unreachable!("`create` parses to Command::Create");
    };
    *create
}

fn compile(args: &[&str]) -> Result<RegistrySpec, CompileError> {
    compile_create(&parse(args))
}

fn env_value<'a>(spec: &'a RegistrySpec, key: &str) -> Option<&'a str> {
    spec.env
        .iter()
        .find(|var| var.key == key)
        .map(|var| var.value.as_str())
}

#[test]
fn delete_setting_follows_the_flag() {
    let off = compile(&[]).unwrap();
    let on = compile(&["--delete-enabled"]).unwrap();

    assert!(!off.delete_enabled);
    assert_eq!(
        env_value(&off, "REGISTRY_STORAGE_DELETE_ENABLED"),
        Some("false")
    );
    assert!(on.delete_enabled);
    assert_eq!(
        env_value(&on, "REGISTRY_STORAGE_DELETE_ENABLED"),
        Some("true")
    );
}

#[test]
fn defaults() {
    let spec = compile(&[]).unwrap();

    assert_eq!(spec.name, "regctl-registry");
    assert_eq!(spec.image, "docker.io/library/registry:2");
    assert_eq!(spec.port.host_ip.to_string(), "127.0.0.1");
    assert_eq!(spec.port.host_port, None);
    assert_eq!(spec.data_volume(), Some("regctl-registry-data"));
    assert_eq!(spec.network, None);
}

#[test]
fn env_is_sorted_and_unique() {
    let spec = compile(&["--extra-env", "Z=1", "--extra-env", "A=2"]).unwrap();
    let keys: Vec<&str> = spec.env.iter().map(|var| var.key.as_str()).collect();

    let mut sorted = keys.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(keys, sorted);
}

#[test]
fn extra_env_is_verbatim() {
    let spec = compile(&["--extra-env", "MESSAGE=a = b ", "--extra-env", "EMPTY="]).unwrap();

    assert_eq!(env_value(&spec, "MESSAGE"), Some("a = b "));
    assert_eq!(env_value(&spec, "EMPTY"), Some(""));
}

#[test]
fn network_alias_is_the_name() {
    let spec = compile(&["kind-registry", "--network", "kind"]).unwrap();
    let network = spec.network.unwrap();

    assert_eq!(network.name, "kind");
    assert_eq!(network.aliases, ["kind-registry"]);
}

#[test]
fn rejected_combinations() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--extra-env", "A=1", "--extra-env", "A=2"],
            "`--extra-env A` is given more than once",
        ),
        (
            &["--delete-enabled", "--extra-env", "REGISTRY_STORAGE_DELETE_ENABLED=false"],
            "`--extra-env REGISTRY_STORAGE_DELETE_ENABLED=false` contradicts --delete-enabled",
        ),
        (
            &["--extra-env", "REGISTRY_STORAGE_DELETE_ENABLED=true"],
            "contradicts --delete-enabled",
        ),
        (
            &["--extra-env", "REGISTRY_STORAGE_S3_BUCKET=b"],
            "`--extra-env REGISTRY_STORAGE_S3_BUCKET` selects a second storage driver beside `filesystem`",
        ),
        (
            &["--extra-env", "REGISTRY_STORAGE=s3"],
            "selects a second storage driver",
        ),
        (
            &["--extra-env", "REGISTRY_STORAGE_INMEMORY="],
            "selects a second storage driver",
        ),
        (
            &["--extra-env", "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/data"],
            "contradicts the filesystem storage",
        ),
        (
            &["--extra-env", "REGISTRY_HTTP_ADDR=:6000"],
            "moves the registry off port 5000",
        ),
        (&["--network", " "], "the network name is empty"),
        (&["--s3-bucket", "images"], "`--s3-bucket` requires `--storage s3`"),
        (&["--storage", "inmemory", "--s3-path-style"], "`--s3-path-style` requires `--storage s3`"),
        (
            &["--storage", "inmemory", "--volume", "data"],
            "`--volume` does not apply to `--storage inmemory`",
        ),
        (
            &["--storage", "s3", "--s3-bucket", "images", "--s3-region", "eu-west-1", "--volume", "/srv"],
            "`--volume` does not apply to `--storage s3`",
        ),
        (&["--storage", "s3", "--s3-region", "eu-west-1"], "`--storage s3` requires `--s3-bucket`"),
        (&["--storage", "s3", "--s3-bucket", "images"], "requires `--s3-region` unless `--s3-endpoint`"),
        (
            &["--storage", "inmemory", "--extra-env", "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/x"],
            "selects a second storage driver beside `inmemory`",
        ),
        (
            &[
                "--storage", "s3", "--s3-bucket", "images", "--s3-region", "eu-west-1",
                "--extra-env", "REGISTRY_STORAGE_S3_BUCKET=other",
            ],
            "`--extra-env REGISTRY_STORAGE_S3_BUCKET` overrides --s3-bucket",
        ),
        (
            &[
                "--storage", "s3", "--s3-bucket", "images", "--s3-region", "eu-west-1",
                "--extra-env", "REGISTRY_STORAGE_S3_SECRETKEY=x",
            ],
            "would put an S3 credential into the container's environment",
        ),
        (
            &[
                "--storage", "s3", "--s3-bucket", "images", "--s3-region", "eu-west-1",
                "--extra-env", "REGISTRY_STORAGE_GCS_BUCKET=x",
            ],
            "selects a second storage driver beside `s3`",
        ),
        (
            &["--extra-env", "AWS_SECRET_ACCESS_KEY=x"],
            "`--extra-env AWS_SECRET_ACCESS_KEY` would put an S3 credential",
        ),
        (
            &["--storage", "inmemory", "--extra-env", "AWS_SESSION_TOKEN=x"],
            "`--extra-env AWS_SESSION_TOKEN` would put an S3 credential",
        ),
    ];

    for (args, expected) in cases {
        let error = compile(args).expect_err(&format!("{args:?} compiled"));
        let message = error.to_string();
        assert!(message.contains(expected), "{args:?}: {message}");
        assert!(error.hint().is_some(), "{args:?} has no hint");
    }
}

#[test]
fn storage_keys_of_the_same_driver_pass() {
    let spec = compile(&[
        "--extra-env",
        "REGISTRY_STORAGE_FILESYSTEM_MAXTHREADS=50",
        "--extra-env",
        "REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR=inmemory",
        "--extra-env",
        "REGISTRY_HTTP_ADDR=0.0.0.0:5000",
    ])
    .unwrap();

    assert_eq!(
        env_value(&spec, "REGISTRY_STORAGE_FILESYSTEM_MAXTHREADS"),
        Some("50")
    );
    assert_eq!(
        env_value(&spec, "REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR"),
        Some("inmemory")
    );
}

#[test]
fn exactly_one_storage_driver() {
    let cases: &[&[&str]] = &[
        &[],
        &["--storage", "inmemory"],
        &["--volume", "/srv/registry"],
        &[
            "--storage",
            "s3",
            "--s3-bucket",
            "images",
            "--s3-region",
            "eu-west-1",
        ],
    ];

    for args in cases {
        let spec = compile(args).unwrap();
        let filesystem_env =
            env_value(&spec, "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY").is_some();
        let own_config = spec.command.is_some();

        // Filesystem storage uses the image's configuration and sets its root
        // through the environment; every other driver gets regctl's file and
        // no filesystem variable.
        assert_eq!(
            filesystem_env,
            spec.storage_driver() == "filesystem",
            "{args:?}"
        );
        assert_eq!(
            own_config,
            spec.storage_driver() != "filesystem",
            "{args:?}"
        );
    }
}

#[test]
fn s3_endpoint_defaults() {
    let spec = compile(&[
        "--storage",
        "s3",
        "--s3-bucket",
        "images",
        "--s3-endpoint",
        "http://127.0.0.1:9000",
    ])
    .unwrap();
    let StorageSpec::S3(s3) = spec.storage else {
        panic!("not S3: {:?}", spec.storage);
    };

    assert_eq!(s3.region, "us-east-1");
    assert!(!s3.secure);
    assert_eq!(s3.credentials, S3Credentials::Chain);
}

#[test]
fn host_path_is_a_bind_mount() {
    let spec = compile(&["--volume", "/srv/registry"]).unwrap();

    assert_eq!(spec.bind_path(), Some("/srv/registry"));
    assert_eq!(spec.data_volume(), None);
}
