//! Storage drivers end to end: S3 against a real S3 server, a host path and
//! the in-memory driver.

use reqwest::StatusCode;

use crate::harness::{ensure, ensure_eq, Case, Cleanup, Engine, TestResult};
use crate::oci::{delete_manifest, manifest_digest, push_image};

/// Variable with the endpoint of the S3 server the tests use, such as
/// `http://172.17.0.1:9329`. It must be reachable from containers.
const S3_ENDPOINT_ENV: &str = "REGCTL_E2E_S3_ENDPOINT";

pub fn all() -> Vec<Case> {
    vec![
        Case {
            name: "s3_storage_round_trip",
            body: s3_storage_round_trip,
        },
        Case {
            name: "s3_bad_target_leaves_nothing",
            body: s3_bad_target_leaves_nothing,
        },
        Case {
            name: "s3_gc_and_update_keep_credentials",
            body: s3_gc_and_update_keep_credentials,
        },
        Case {
            name: "host_path_storage",
            body: host_path_storage,
        },
        Case {
            name: "inmemory_storage_is_lost_on_stop",
            body: inmemory_storage_is_lost_on_stop,
        },
    ]
}

/// Returns a temporary directory and the path of a secret file in it that
/// the engine's user can read, since a rootless engine runs regctl as
/// another user. The directory is removed when the first value drops.
fn secret_file_for(
    engine: &Engine,
) -> Result<(tempfile::TempDir, std::path::PathBuf), libtest_mimic::Failed> {
    let dir = tempfile::tempdir()?;
    if engine.rootless {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    }
    let file = dir.path().join("s3-secret");
    Ok((dir, file))
}

fn make_readable(engine: &Engine, path: &std::path::Path) -> TestResult {
    if engine.rootless {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}

fn s3_endpoint() -> Result<String, libtest_mimic::Failed> {
    std::env::var(S3_ENDPOINT_ENV).map_err(|_| {
        format!("{S3_ENDPOINT_ENV} is not set; start an S3 server with scripts/s3/start-moto.sh")
            .into()
    })
}

fn s3_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .expect("a plain HTTP client builds")
}

fn create_bucket(endpoint: &str, bucket: &str) -> TestResult {
    let status = s3_client()
        .put(format!("{endpoint}/{bucket}"))
        .send()?
        .status();
    ensure(
        status.is_success(),
        format!("creating bucket {bucket} returned {status}"),
    )
}

/// Number of objects in `bucket`, from a path-style ListObjectsV2.
fn object_count(endpoint: &str, bucket: &str) -> Result<usize, libtest_mimic::Failed> {
    let body = s3_client()
        .get(format!("{endpoint}/{bucket}?list-type=2&max-keys=1000"))
        .send()?
        .text()?;
    Ok(body.matches("<Key>").count())
}

fn s3_storage_round_trip(engine: &Engine) -> TestResult {
    let endpoint = s3_endpoint()?;
    let name = engine.registry_name("s3");
    let bucket = format!("{name}-bucket");
    let _cleanup = Cleanup::new(engine, &[&name]);
    create_bucket(&endpoint, &bucket)?;

    let sentinel = format!("sentinel-secret-{}", std::process::id());
    let (_secret_dir, secret_file) = secret_file_for(engine)?;
    std::fs::write(&secret_file, format!("{sentinel}\n"))?;
    make_readable(engine, &secret_file)?;

    let run = engine.regctl(&[
        "create",
        &name,
        "-vvv",
        "--delete-enabled",
        "--storage",
        "s3",
        "--s3-bucket",
        &bucket,
        "--s3-endpoint",
        &endpoint,
        "--s3-path-style",
        "--s3-access-key",
        "AKIAREGCTLTEST",
        "--s3-secret-key-file",
        secret_file.to_str().unwrap(),
    ]);
    ensure_eq(
        run.code,
        0,
        &format!("create exit code; stderr:\n{}", tail(&run.stderr)),
    )?;
    ensure(
        !run.stderr.contains(&sentinel),
        "the secret appeared on stderr at -vvv",
    )?;
    ensure(
        !run.stdout.contains(&sentinel),
        "the secret appeared on stdout",
    )?;
    let endpoint_address = run.stdout.trim().to_owned();

    let digest = push_image(&endpoint_address, "s3/app", "v1")?;
    let kept = push_image(&endpoint_address, "s3/app", "v2")?;
    let objects = object_count(&endpoint, &bucket)?;
    ensure(objects > 0, "the push left no object in the bucket")?;

    let (status, body) = delete_manifest(&endpoint_address, "s3/app", &digest)?;
    ensure_eq(
        status,
        StatusCode::ACCEPTED,
        &format!("DELETE status (body: {body})"),
    )?;

    engine.regctl_ok(&["stop", &name])?;
    engine.regctl_ok(&["start", &name])?;
    ensure_eq(
        manifest_digest(&endpoint_address, "s3/app", "v2")?,
        Some(kept),
        "v2 after restart",
    )?;
    ensure_eq(
        manifest_digest(&endpoint_address, "s3/app", "v1")?,
        None,
        "deleted v1 after restart",
    )?;

    let inspect = engine.cli(&["container", "inspect", &name]);
    ensure_eq(inspect.code, 0, "engine inspect exit code")?;
    ensure(
        !inspect.stdout.contains(&sentinel),
        "the secret appeared in the engine's inspect output",
    )?;
    ensure(
        !inspect.stdout.contains("AKIAREGCTLTEST"),
        "the access key appeared in the engine's inspect output",
    )?;

    for args in [vec!["inspect", name.as_str()], vec!["list", "-o", "yaml"]] {
        let output = engine.regctl_ok(&args)?;
        ensure(
            !output.stdout.contains(&sentinel),
            format!("the secret appeared in regctl {args:?}"),
        )?;
    }
    Ok(())
}

fn s3_bad_target_leaves_nothing(engine: &Engine) -> TestResult {
    let endpoint = s3_endpoint()?;
    let name = engine.registry_name("s3bad");
    let _cleanup = Cleanup::new(engine, &[&name]);

    let (_secret_dir, secret_file) = secret_file_for(engine)?;
    std::fs::write(&secret_file, "not-a-secret")?;
    make_readable(engine, &secret_file)?;

    // Port 1 on the container's own loopback refuses every connection.
    let cases = [
        (endpoint.as_str(), "regctl-no-such-bucket", "NoSuchBucket"),
        ("http://127.0.0.1:1", "some-bucket", "send request failed"),
    ];

    for (s3_endpoint, bucket, reason) in cases {
        let run = engine.regctl(&[
            "create",
            &name,
            "--storage",
            "s3",
            "--s3-bucket",
            bucket,
            "--s3-endpoint",
            s3_endpoint,
            "--s3-path-style",
            "--s3-access-key",
            "AKIAREGCTLTEST",
            "--s3-secret-key-file",
            secret_file.to_str().unwrap(),
            "--wait-timeout",
            "8",
        ]);
        ensure_eq(
            run.code,
            1,
            &format!("exit code with {s3_endpoint}/{bucket}"),
        )?;
        ensure(
            run.stderr.contains(reason),
            format!("stderr lacks `{reason}`:\n{}", run.stderr),
        )?;
        ensure(
            !engine.container_exists(&name),
            format!("a container was left after {reason}"),
        )?;
    }
    Ok(())
}

/// `rmi` and `gc` free objects in the bucket, and `gc` and `update` reuse
/// the configuration file with its credentials, which regctl keeps nowhere
/// but in the container.
fn s3_gc_and_update_keep_credentials(engine: &Engine) -> TestResult {
    let endpoint = s3_endpoint()?;
    let name = engine.registry_name("s3gc");
    let bucket = format!("{name}-bucket");
    let _cleanup = Cleanup::new(engine, &[&name]);
    create_bucket(&endpoint, &bucket)?;

    let (_secret_dir, secret_file) = secret_file_for(engine)?;
    std::fs::write(&secret_file, "s3-gc-secret")?;
    make_readable(engine, &secret_file)?;

    let run = engine.regctl_ok(&[
        "create",
        &name,
        "--delete-enabled",
        "--storage",
        "s3",
        "--s3-bucket",
        &bucket,
        "--s3-endpoint",
        &endpoint,
        "--s3-path-style",
        "--s3-access-key",
        "AKIAREGCTLTEST",
        "--s3-secret-key-file",
        secret_file.to_str().unwrap(),
    ])?;
    let address = run.stdout.trim().to_owned();

    push_image(&address, "gc/app", "v1")?;
    let kept = push_image(&address, "gc/app", "v2")?;
    let before = object_count(&endpoint, &bucket)?;

    engine.regctl_ok(&["rmi", &name, "gc/app:v1"])?;
    engine.regctl_ok(&["gc", &name])?;
    let after = object_count(&endpoint, &bucket)?;
    ensure(
        after < before,
        format!("objects in the bucket: {before} before gc, {after} after"),
    )?;
    ensure_eq(
        manifest_digest(&address, "gc/app", "v2")?,
        Some(kept.clone()),
        "v2 after gc",
    )?;

    // The recreated container must read the bucket, which needs the keys.
    engine.regctl_ok(&["update", &name, "--no-delete-enabled"])?;
    ensure_eq(
        manifest_digest(&address, "gc/app", "v2")?,
        Some(kept),
        "v2 after update",
    )?;
    let inspect = engine.cli(&["container", "inspect", &name]);
    ensure(
        !inspect.stdout.contains("s3-gc-secret"),
        "the secret appeared after update",
    )?;
    Ok(())
}

fn host_path_storage(engine: &Engine) -> TestResult {
    let name = engine.registry_name("bind");
    let _cleanup = Cleanup::new(engine, &[&name]);
    // The rootless user must reach the directory to bind-mount it.
    let dir = tempfile::tempdir()?;
    let path = dir.path().to_str().unwrap().to_owned();

    // regctl checks the path on its own machine, and an engine in a chroot
    // mounts the path inside the chroot, so the directory exists in both.
    let engine_dir = engine.host_path(&path);
    std::fs::create_dir_all(&engine_dir)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&engine_dir, std::fs::Permissions::from_mode(0o777))?;
    }

    let endpoint = engine
        .regctl_ok(&["create", &name, "--volume", &path])?
        .stdout;
    push_image(endpoint.trim(), "bind/app", "v1")?;

    let repository = engine_dir.join("docker/registry/v2/repositories/bind/app");
    ensure(
        repository.is_dir(),
        format!("{} does not exist", repository.display()),
    )?;

    let run = engine.regctl_ok(&["delete", &name, "--volumes"])?;
    ensure(
        run.stderr.contains("kept host path"),
        format!("stderr:\n{}", run.stderr),
    )?;
    ensure(
        repository.is_dir(),
        "delete --volumes removed data under the host path",
    )?;

    let missing = engine.regctl(&["create", &name, "--volume", "/nonexistent/regctl-data"]);
    ensure_eq(missing.code, 2, "exit code for a missing host path")?;
    ensure(
        missing
            .stderr
            .contains("host path `/nonexistent/regctl-data` does not exist"),
        format!("stderr:\n{}", missing.stderr),
    )?;
    ensure(!engine.container_exists(&name), "a container was left")?;
    Ok(())
}

fn inmemory_storage_is_lost_on_stop(engine: &Engine) -> TestResult {
    let name = engine.registry_name("mem");
    let _cleanup = Cleanup::new(engine, &[&name]);

    let run = engine.regctl_ok(&["create", &name, "--storage", "inmemory"])?;
    ensure(
        run.stderr
            .contains("every image is lost when the container stops"),
        format!("no in-memory warning:\n{}", run.stderr),
    )?;
    let endpoint = run.stdout.trim();

    let digest = push_image(endpoint, "mem/app", "v1")?;
    ensure_eq(
        manifest_digest(endpoint, "mem/app", "v1")?,
        Some(digest),
        "pushed image",
    )?;

    engine.regctl_ok(&["stop", &name])?;
    engine.regctl_ok(&["start", &name])?;
    ensure_eq(
        manifest_digest(endpoint, "mem/app", "v1")?,
        None,
        "image after restart",
    )?;

    // Docker mounts an anonymous volume for the image's `VOLUME` line and
    // Podman, set to ignore it, mounts nothing. Either way no volume may
    // outlive the registry.
    let mounts = engine.inspect_json(&name)?["Mounts"].clone();
    let volumes: Vec<String> = mounts
        .as_array()
        .ok_or("inspect has no Mounts")?
        .iter()
        .filter_map(|mount| mount["Name"].as_str().map(str::to_owned))
        .collect();
    ensure(
        !volumes.iter().any(|volume| volume.contains(&name)),
        format!("a named volume was mounted: {volumes:?}"),
    )?;

    engine.regctl_ok(&["delete", &name])?;
    for volume in &volumes {
        ensure(
            !engine.volume_exists(volume),
            format!("volume {volume} outlived the registry"),
        )?;
    }
    Ok(())
}

/// Returns the last lines of a long output, for failure messages.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
