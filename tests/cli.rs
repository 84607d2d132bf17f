//! The binary's exit codes and messages for input it rejects before it
//! talks to an engine, and its offline dry run.

use assert_cmd::Command;

fn regctl() -> Command {
    let mut command = Command::cargo_bin("regctl").expect("the regctl binary is built");
    // Every case here fails or ends before discovery. The variables make a
    // regression show as a failure rather than as a call to a host engine.
    command
        .env_remove("REGCTL_RUNTIME")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("CONTAINER_HOST", "unix:///nonexistent/podman.sock");
    command
}

/// Runs `regctl ARGS` and returns its exit code and stderr.
fn run_failing(args: &[&str]) -> (i32, String) {
    let output = regctl().args(args).output().expect("regctl runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.stdout.is_empty(), "{args:?} wrote to stdout");
    (output.status.code().expect("regctl exited"), stderr)
}

#[test]
fn usage_errors_exit_2_and_name_the_value() {
    let cases: &[(&[&str], &str)] = &[
        (&["create", "Bad Name"], "`Bad Name`"),
        (&["create", "a/b"], "`a/b`"),
        (&["create", "--", "-lead"], "`-lead`"),
        (&["create", &"x".repeat(64)], "64 characters"),
        (&["create", "--port", "0"], "`0`"),
        (&["create", "--port", "65536"], "`65536`"),
        (&["create", "--port", "http"], "`http`"),
        (&["create", "--port", "999.1.1.1:5001"], "`999.1.1.1`"),
        (
            &["create", "--extra-env", "NOVALUE"],
            "`NOVALUE` has no `=`",
        ),
        (&["create", "--extra-env", "9KEY=x"], "`9KEY`"),
        (
            &["create", "--extra-env", "A=1", "--extra-env", "A=2"],
            "`--extra-env A`",
        ),
        (
            &[
                "create",
                "--delete-enabled",
                "--extra-env",
                "REGISTRY_STORAGE_DELETE_ENABLED=false",
            ],
            "contradicts --delete-enabled",
        ),
        (&["create", "--image", "UPPER/case:1"], "`UPPER/case:1`"),
        (&["create", "--runtime", "containerd"], "containerd"),
        (
            &["list", "--runtime", "unix://run/podman.sock"],
            "`unix://run/podman.sock` is not a valid engine address",
        ),
        (
            &["list", "--runtime", "tcp://127.0.0.1"],
            "`tcp://127.0.0.1` is not a valid engine address: the port is missing",
        ),
        (
            &["runtimes", "--runtime", "docker"],
            "unexpected argument '--runtime'",
        ),
        (&["create", "--wait-timeout", "-1"], "-1"),
        (&["create", "--wait-timeout", "soon"], "soon"),
        (&["create", "--storage", "tape"], "tape"),
        (
            &["create", "--volume", "./data"],
            "`./data` is a relative path",
        ),
        (
            &["create", "--storage", "s3", "--s3-bucket", "Bad_Bucket"],
            "`Bad_Bucket`",
        ),
        (
            &[
                "create",
                "--storage",
                "s3",
                "--s3-bucket",
                "ok-bucket",
                "--s3-endpoint",
                "minio:9000",
            ],
            "`minio:9000`",
        ),
        (
            &[
                "create",
                "--storage",
                "s3",
                "--s3-bucket",
                "ok-bucket",
                "--s3-region",
                "EU",
            ],
            "`EU`",
        ),
        (
            &[
                "create",
                "--storage",
                "s3",
                "--s3-bucket",
                "ok-bucket",
                "--s3-root-directory",
                "rel",
            ],
            "`rel`",
        ),
        (
            &[
                "create",
                "--storage",
                "s3",
                "--s3-bucket",
                "ok-bucket",
                "--s3-region",
                "eu-west-1",
                "--s3-access-key",
                "AKIA",
                "--s3-secret-key-file",
                "/nonexistent/secret",
            ],
            "`/nonexistent/secret`",
        ),
    ];

    for (args, expected) in cases {
        let (code, stderr) = run_failing(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn removal_usage_errors_exit_2() {
    let zero_digest = format!("app@sha256:{}", "0".repeat(64));
    let cases: &[(&[&str], &str)] = &[
        (&["rmi", "reg"], "<REF>"),
        (&["rmi", "reg", "app"], "`app` has no tag or digest"),
        (&["rmi", "reg", "App:v1"], "`App:v1`"),
        (&["rmi", "reg", "app:["], "not a valid glob"),
        (&["rmi", "reg", "app:.v1"], "not a valid tag"),
        (&["rmi", "reg", "app@sha256:abc"], "not a valid digest"),
        (&["rmi", "reg", "app:v1", "--keep", "-1"], "-1"),
        (
            &["rmi", "reg", &zero_digest, "--keep", "1"],
            "cannot be combined with the digest reference",
        ),
        (&["images", "reg", "Bad/Repo"], "`Bad/Repo`"),
        (&["images", "reg", "--page-size", "0"], "0"),
        (&["images", "reg", "--page-size", "1001"], "1001"),
        (&["update", "reg"], "--delete-enabled"),
        (
            &["update", "reg", "--delete-enabled", "--no-delete-enabled"],
            "cannot be used with",
        ),
        (&["gc"], "<NAME>"),
    ];

    for (args, expected) in cases {
        let (code, stderr) = run_failing(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn unknown_runtime_from_env_is_a_usage_error() {
    let output = regctl()
        .args(["list"])
        .env("REGCTL_RUNTIME", "lxc")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("lxc"), "{stderr}");
}

#[test]
fn unreachable_runtime_url_names_it_and_hints() {
    let url = "unix:///nonexistent/engine.sock";
    let (code, stderr) = run_failing(&["list", "--runtime", url]);

    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: failed to connect to the container engine at {url}"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("caused by: no response to GET /version at {url}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("hint: check that an engine listens at {url}")),
        "{stderr}"
    );
}

#[test]
fn delete_enabled_warns_on_stderr() {
    let output = regctl()
        .args([
            "create",
            "--delete-enabled",
            "--dry-run",
            "--runtime",
            "docker",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("warning: delete is enabled"), "{stderr}");
    assert!(
        stderr.contains("anyone who can reach its port can delete images"),
        "{stderr}"
    );
}

#[test]
fn dry_run_prints_spec_and_request_offline() {
    for (runtime, image_field) in [("docker", "Image"), ("podman", "image")] {
        let output = regctl()
            .args([
                "create",
                "dev",
                "--port",
                "5077",
                "--dry-run",
                "--runtime",
                runtime,
                "-o",
                "json",
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );

        let document: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is JSON");
        assert_eq!(document["runtime"], runtime);
        assert_eq!(document["spec"]["name"], "dev");
        assert_eq!(document["spec"]["port"]["host_port"], 5077);
        assert_eq!(
            document["request"][image_field], "docker.io/library/registry:2",
            "{runtime}: {stdout}"
        );
    }
}

#[test]
fn dry_run_yaml() {
    let output = regctl()
        .args(["create", "--dry-run", "--runtime", "podman", "-o", "yaml"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);

    assert!(output.status.success());
    let document: serde_yaml::Value = serde_yaml::from_str(&stdout).expect("stdout is YAML");
    assert_eq!(document["runtime"], "podman");
}

#[test]
fn one_s3_key_alone_is_a_usage_error() {
    let output = regctl()
        .args([
            "create",
            "--storage",
            "s3",
            "--s3-bucket",
            "ok-bucket",
            "--s3-region",
            "eu-west-1",
            "--s3-access-key",
            "AKIA",
        ])
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("an S3 secret key is missing"), "{stderr}");
    assert!(
        stderr.contains("hint: pass --s3-secret-key-file"),
        "{stderr}"
    );
}

#[test]
fn dry_run_redacts_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "sentinel-dry-run-secret\n").unwrap();

    let output = regctl()
        .args([
            "create",
            "--storage",
            "s3",
            "--s3-bucket",
            "ok-bucket",
            "--s3-region",
            "eu-west-1",
            "--s3-secret-key-file",
            secret.to_str().unwrap(),
            "--dry-run",
            "--runtime",
            "docker",
            "-vv",
        ])
        .env("AWS_ACCESS_KEY_ID", "sentinel-dry-run-access")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert!(output.status.success(), "{stderr}");
    for sentinel in ["sentinel-dry-run-secret", "sentinel-dry-run-access"] {
        assert!(!stdout.contains(sentinel), "{sentinel} on stdout");
        assert!(!stderr.contains(sentinel), "{sentinel} on stderr");
    }
    let document: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let config = document["files"][0]["contents"].as_str().unwrap();
    assert!(config.contains("secretkey: '[redacted]'"), "{config}");
    assert_eq!(document["spec"]["storage"]["credentials"], "static");
}
