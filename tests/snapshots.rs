//! Snapshots of the compiled spec and of each backend's create request, for
//! a range of `create` flag combinations. Files live in `snapshots/`.

use clap::Parser;
use regctl::cli::{Cli, Command};
use regctl::compile::compile_create;
use regctl::registry_config;
use regctl::secrets::S3Keys;
use regctl_runtime::{RegistrySpec, S3Credentials, StorageSpec};

fn compile(args: &[&str]) -> RegistrySpec {
    let argv = ["regctl", "create"].iter().chain(args);
    let cli = Cli::try_parse_from(argv).expect("the arguments parse");
    let Command::Create(create) = cli.command else {
        unreachable!("`create` parses to Command::Create");
    };
    compile_create(&create).expect("the arguments compile")
}

/// Settings shared by every snapshot: snapshots under `snapshots/`, maps
/// sorted, and the regctl version redacted so a release changes no file.
fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_sort_maps(true);
    settings.add_filter(
        r#""io\.regctl\.version": "[^"]*""#,
        r#""io.regctl.version": "[version]""#,
    );
    settings
}

/// Snapshots the spec, then the Docker and the Podman request, each with its
/// backend as the suffix, then the configuration file regctl writes into the
/// container, if any, with credentials redacted.
fn assert_case(case: &str, args: &[&str]) {
    let spec = compile(args);
    let keys = S3Keys {
        access_key: SENTINEL.to_owned(),
        secret_key: SENTINEL.to_owned(),
    };
    let static_keys =
        matches!(&spec.storage, StorageSpec::S3(s3) if s3.credentials == S3Credentials::Static);
    let config = registry_config::render_redacted(&spec, static_keys.then_some(&keys));
    let docker = regctl_docker::create_request(&spec).expect("the Docker request renders");
    let podman = regctl_podman::create_request(&spec).expect("the Podman request renders");

    let mut settings = settings();
    settings.set_info(&redacted_args(args));
    settings.set_snapshot_suffix("spec");
    settings.bind(|| insta::assert_json_snapshot!(case, spec));

    settings.set_snapshot_suffix("docker");
    settings.bind(|| insta::assert_json_snapshot!(case, docker));

    settings.set_snapshot_suffix("podman");
    settings.bind(|| insta::assert_json_snapshot!(case, podman));

    if let Some(config) = config {
        assert!(
            !config.contains(SENTINEL),
            "a credential reached the snapshot"
        );
        settings.set_snapshot_suffix("config");
        settings.bind(|| insta::assert_snapshot!(case, config));
    }
}

/// Replaces the value of each credential flag, so the recorded arguments
/// carry no key either.
fn redacted_args(args: &[&str]) -> Vec<String> {
    let mut redacted = Vec::with_capacity(args.len());
    let mut hide_next = false;
    for arg in args {
        redacted.push(if hide_next {
            registry_config::REDACTED.to_owned()
        } else {
            (*arg).to_owned()
        });
        hide_next = *arg == "--s3-access-key";
    }
    redacted
}

/// Stands for both S3 keys; no snapshot may contain it.
const SENTINEL: &str = "sentinel-credential-7f3a";

#[test]
fn inmemory() {
    assert_case("inmemory", &["--storage", "inmemory"]);
}

#[test]
fn named_volume() {
    assert_case("named_volume", &["--volume", "shared-cache"]);
}

#[test]
fn host_path() {
    assert_case("host_path", &["--volume", "/srv/registry"]);
}

#[test]
fn s3_aws() {
    assert_case(
        "s3_aws",
        &[
            "--storage",
            "s3",
            "--s3-bucket",
            "team-images",
            "--s3-region",
            "eu-west-1",
        ],
    );
}

#[test]
fn s3_compatible_server() {
    assert_case(
        "s3_compatible_server",
        &[
            "--storage",
            "s3",
            "--s3-bucket",
            "registry",
            "--s3-endpoint",
            "http://10.88.0.1:9000",
            "--s3-path-style",
            "--s3-root-directory",
            "/ci/cache",
            "--s3-access-key",
            "AKIAEXAMPLE",
            "--delete-enabled",
        ],
    );
}

#[test]
fn s3_https_endpoint_with_region() {
    assert_case(
        "s3_https_endpoint_with_region",
        &[
            "--storage",
            "s3",
            "--s3-bucket",
            "images.example",
            "--s3-endpoint",
            "https://s3.example.com",
            "--s3-region",
            "auto",
            "--s3-secret-key-file",
            "/run/secrets/s3",
            "--extra-env",
            "REGISTRY_STORAGE_S3_CHUNKSIZE=10485760",
        ],
    );
}

#[test]
fn defaults() {
    assert_case("defaults", &[]);
}

#[test]
fn delete_enabled() {
    assert_case("delete_enabled", &["--delete-enabled"]);
}

#[test]
fn explicit_port() {
    assert_case("explicit_port", &["--port", "5050"]);
}

#[test]
fn all_interfaces() {
    assert_case("all_interfaces", &["--port", "0.0.0.0:5051"]);
}

#[test]
fn ipv6_loopback() {
    assert_case("ipv6_loopback", &["--port", "[::1]:5052"]);
}

#[test]
fn extra_env() {
    assert_case(
        "extra_env",
        &[
            "--extra-env",
            "REGISTRY_LOG_LEVEL=debug",
            "--extra-env",
            "OTEL_TRACES_EXPORTER=none",
            "--extra-env",
            "EMPTY=",
        ],
    );
}

#[test]
fn extra_env_repeating_a_flag() {
    assert_case(
        "extra_env_repeating_a_flag",
        &[
            "--delete-enabled",
            "--extra-env",
            "REGISTRY_STORAGE_DELETE_ENABLED=true",
        ],
    );
}

#[test]
fn kind_network() {
    assert_case("kind_network", &["kind-registry", "--network", "kind"]);
}

#[test]
fn custom_image() {
    assert_case(
        "custom_image",
        &[
            "ci-cache",
            "--image",
            "registry.example.com/mirror/registry:2.8.3",
        ],
    );
}

#[test]
fn everything() {
    assert_case(
        "everything",
        &[
            "team-registry",
            "--port",
            "0.0.0.0:5099",
            "--delete-enabled",
            "--network",
            "k3d-dev",
            "--extra-env",
            "REGISTRY_HTTP_SECRET=not-a-real-secret",
            "--image",
            "docker.io/library/registry:2.8.3",
        ],
    );
}
