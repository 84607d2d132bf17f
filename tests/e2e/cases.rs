//! The behaviours every engine must show. Each body runs once per engine.

use std::net::TcpListener;

use reqwest::StatusCode;

use crate::harness::{ensure, ensure_eq, Case, Cleanup, Engine, TestResult};
use crate::oci::{delete_manifest, manifest_digest, ping, push_image};

pub fn all() -> Vec<Case> {
    vec![
        Case {
            name: "delete_enabled_answers_202",
            body: delete_enabled_answers_202,
        },
        Case {
            name: "delete_disabled_answers_405",
            body: delete_disabled_answers_405,
        },
        Case {
            name: "extra_env_reaches_container",
            body: extra_env_reaches_container,
        },
        Case {
            name: "list_shows_registry",
            body: list_shows_registry,
        },
        Case {
            name: "stop_start_keeps_image_and_port",
            body: stop_start_keeps_image_and_port,
        },
        Case {
            name: "delete_keeps_volume_by_default",
            body: delete_keeps_volume_by_default,
        },
        Case {
            name: "refuses_foreign_container",
            body: refuses_foreign_container,
        },
        Case {
            name: "taken_port_leaves_nothing",
            body: taken_port_leaves_nothing,
        },
        Case {
            name: "crashing_registry_leaves_nothing",
            body: crashing_registry_leaves_nothing,
        },
        Case {
            name: "network_attachment",
            body: network_attachment,
        },
        Case {
            name: "concurrent_creates_get_distinct_ports",
            body: concurrent_creates_get_distinct_ports,
        },
        Case {
            name: "default_network_per_engine",
            body: default_network_per_engine,
        },
        Case {
            name: "runtimes_lists_engine",
            body: runtimes_lists_engine,
        },
        Case {
            name: "low_port_needs_root",
            body: low_port_needs_root,
        },
    ]
}

/// Creates a registry and returns the push address it printed.
fn create(engine: &Engine, name: &str, extra: &[&str]) -> Result<String, libtest_mimic::Failed> {
    let mut args = vec!["create", name];
    args.extend_from_slice(extra);
    let run = engine.regctl_ok(&args)?;
    let endpoint = run.stdout.trim().to_owned();
    ensure(
        endpoint.starts_with("localhost:"),
        format!("create printed {endpoint:?}, expected localhost:PORT"),
    )?;
    Ok(endpoint)
}

fn list_entry(
    engine: &Engine,
    name: &str,
) -> Result<Option<serde_json::Value>, libtest_mimic::Failed> {
    let run = engine.regctl_ok(&["list", "-o", "json"])?;
    let rows: Vec<serde_json::Value> = serde_json::from_str(&run.stdout)?;
    Ok(rows.into_iter().find(|row| row["name"] == name))
}

fn delete_enabled_answers_202(engine: &Engine) -> TestResult {
    let name = engine.registry_name("del202");
    let _cleanup = Cleanup::new(engine, &[&name]);

    let run = engine.regctl_ok(&["create", &name, "--delete-enabled"])?;
    ensure(
        run.stderr.contains("warning: delete is enabled"),
        format!("no delete warning on stderr:\n{}", run.stderr),
    )?;
    let endpoint = run.stdout.trim();

    let digest = push_image(endpoint, "team/app", "v1")?;
    ensure_eq(
        manifest_digest(endpoint, "team/app", "v1")?,
        Some(digest.clone()),
        "pushed digest",
    )?;

    let (status, body) = delete_manifest(endpoint, "team/app", &digest)?;
    ensure_eq(
        status,
        StatusCode::ACCEPTED,
        &format!("DELETE status (body: {body})"),
    )?;
    ensure_eq(
        manifest_digest(endpoint, "team/app", &digest)?,
        None,
        "manifest after DELETE",
    )?;
    Ok(())
}

fn delete_disabled_answers_405(engine: &Engine) -> TestResult {
    let name = engine.registry_name("del405");
    let _cleanup = Cleanup::new(engine, &[&name]);

    let run = engine.regctl_ok(&["create", &name])?;
    ensure(
        !run.stderr.contains("delete is enabled"),
        "a delete warning without --delete-enabled",
    )?;
    let endpoint = run.stdout.trim();

    let digest = push_image(endpoint, "app", "v1")?;
    let (status, body) = delete_manifest(endpoint, "app", &digest)?;
    ensure_eq(status, StatusCode::METHOD_NOT_ALLOWED, "DELETE status")?;
    ensure(
        body.contains("UNSUPPORTED"),
        format!("405 body lacks UNSUPPORTED: {body}"),
    )?;
    ensure_eq(
        manifest_digest(endpoint, "app", "v1")?,
        Some(digest),
        "manifest after refused DELETE",
    )?;
    Ok(())
}

fn extra_env_reaches_container(engine: &Engine) -> TestResult {
    let name = engine.registry_name("env");
    let _cleanup = Cleanup::new(engine, &[&name]);

    create(
        engine,
        &name,
        &[
            "--extra-env",
            "REGISTRY_LOG_LEVEL=debug",
            "--extra-env",
            "E2E_MARKER=a = b",
        ],
    )?;

    let inspect = engine.inspect_json(&name)?;
    let env: Vec<&str> = inspect["Config"]["Env"]
        .as_array()
        .ok_or("inspect has no Config.Env")?
        .iter()
        .filter_map(|value| value.as_str())
        .collect();

    for expected in [
        "REGISTRY_LOG_LEVEL=debug",
        "E2E_MARKER=a = b",
        "REGISTRY_STORAGE_DELETE_ENABLED=false",
    ] {
        ensure(
            env.contains(&expected),
            format!("{expected} missing from {env:?}"),
        )?;
    }

    let labels = &inspect["Config"]["Labels"];
    ensure_eq(
        labels["io.regctl.managed"].as_str(),
        Some("true"),
        "managed label",
    )?;
    ensure_eq(
        labels["io.regctl.name"].as_str(),
        Some(name.as_str()),
        "name label",
    )?;
    ensure(labels["io.regctl.spec"].is_string(), "spec label missing")?;
    Ok(())
}

fn list_shows_registry(engine: &Engine) -> TestResult {
    let name = engine.registry_name("list");
    let _cleanup = Cleanup::new(engine, &[&name]);

    let endpoint = create(engine, &name, &["--delete-enabled"])?;

    let row = list_entry(engine, &name)?.ok_or("list does not show the registry")?;
    ensure_eq(row["runtime"].as_str(), Some(engine.kind), "runtime")?;
    ensure_eq(row["state"].as_str(), Some("running"), "state")?;
    ensure_eq(
        row["endpoint"].as_str(),
        Some(endpoint.as_str()),
        "endpoint",
    )?;
    ensure_eq(
        row["delete_enabled"].as_bool(),
        Some(true),
        "delete_enabled",
    )?;
    ensure_eq(row["storage"].as_str(), Some("filesystem"), "storage")?;
    ensure_eq(
        row["image"].as_str(),
        Some("docker.io/library/registry:2"),
        "image",
    )?;

    let table = engine.regctl_ok(&["list"])?.stdout;
    let line = table
        .lines()
        .find(|line| line.split_whitespace().next() == Some(name.as_str()))
        .ok_or_else(|| format!("table lacks {name}:\n{table}"))?;
    ensure(
        line.contains(&endpoint),
        format!("table row lacks the endpoint: {line}"),
    )?;

    let inspect = engine.regctl_ok(&["inspect", &name, "-o", "yaml"])?.stdout;
    ensure(
        inspect.contains(&format!("endpoint: {endpoint}")),
        format!("inspect lacks the endpoint:\n{inspect}"),
    )?;
    Ok(())
}

fn stop_start_keeps_image_and_port(engine: &Engine) -> TestResult {
    let name = engine.registry_name("restart");
    let _cleanup = Cleanup::new(engine, &[&name]);

    let endpoint = create(engine, &name, &[])?;
    let digest = push_image(&endpoint, "keep/me", "v1")?;

    engine.regctl_ok(&["stop", &name])?;
    let row = list_entry(engine, &name)?.ok_or("list lost the stopped registry")?;
    ensure_eq(row["state"].as_str(), Some("exited"), "state after stop")?;
    ensure(
        ping(&endpoint).is_err(),
        "the stopped registry still answers",
    )?;

    let started = engine.regctl_ok(&["start", &name])?;
    ensure_eq(
        started.stdout.trim(),
        endpoint.as_str(),
        "endpoint after start",
    )?;
    ensure_eq(ping(&endpoint)?, StatusCode::OK, "GET /v2/ after start")?;
    ensure_eq(
        manifest_digest(&endpoint, "keep/me", "v1")?,
        Some(digest),
        "image after restart",
    )?;
    Ok(())
}

fn delete_keeps_volume_by_default(engine: &Engine) -> TestResult {
    let name = engine.registry_name("vol");
    let volume = format!("{name}-data");
    let _cleanup = Cleanup::new(engine, &[&name]);

    let endpoint = create(engine, &name, &[])?;
    let digest = push_image(&endpoint, "data/kept", "v1")?;

    engine.regctl_ok(&["delete", &name])?;
    ensure(
        !engine.container_exists(&name),
        "container left after delete",
    )?;
    ensure(
        engine.volume_exists(&volume),
        "volume removed without --volumes",
    )?;

    // A new registry of the same name reuses the volume and so the data.
    let endpoint = create(engine, &name, &[])?;
    ensure_eq(
        manifest_digest(&endpoint, "data/kept", "v1")?,
        Some(digest),
        "image after recreate",
    )?;

    engine.regctl_ok(&["delete", &name, "--volumes"])?;
    ensure(
        !engine.container_exists(&name),
        "container left after delete --volumes",
    )?;
    ensure(
        !engine.volume_exists(&volume),
        "volume left after delete --volumes",
    )?;
    Ok(())
}

fn refuses_foreign_container(engine: &Engine) -> TestResult {
    let name = engine.registry_name("foreign");
    let _cleanup = Cleanup::new(engine, &[&name]);

    let created = engine.cli(&["create", "--name", &name, "docker.io/library/registry:2"]);
    ensure_eq(
        created.code,
        0,
        &format!("{} create: {}", engine.name, created.stderr),
    )?;

    for args in [
        vec!["stop", name.as_str()],
        vec!["start", name.as_str()],
        vec!["delete", name.as_str(), "--volumes"],
        vec!["inspect", name.as_str()],
        vec!["create", name.as_str()],
    ] {
        let run = engine.regctl(&args);
        ensure_eq(run.code, 1, &format!("exit code of regctl {args:?}"))?;
        ensure(
            run.stderr.contains("was not created by regctl"),
            format!("regctl {args:?} said:\n{}", run.stderr),
        )?;
        ensure(
            engine.container_exists(&name),
            format!("regctl {args:?} removed the container"),
        )?;
    }

    ensure(
        !engine.volume_exists(&format!("{name}-data")),
        "create left a volume behind",
    )?;
    Ok(())
}

fn taken_port_leaves_nothing(engine: &Engine) -> TestResult {
    let name = engine.registry_name("port");
    let _cleanup = Cleanup::new(engine, &[&name]);

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port().to_string();

    let run = engine.regctl(&["create", &name, "--port", &port]);
    ensure_eq(run.code, 1, "exit code")?;
    ensure(
        run.stderr
            .contains(&format!("host port {port} on 127.0.0.1 is already in use")),
        format!("stderr:\n{}", run.stderr),
    )?;
    ensure(!engine.container_exists(&name), "a container was left")?;
    ensure(
        !engine.volume_exists(&format!("{name}-data")),
        "a volume was left",
    )?;
    Ok(())
}

fn crashing_registry_leaves_nothing(engine: &Engine) -> TestResult {
    let name = engine.registry_name("crash");
    let _cleanup = Cleanup::new(engine, &[&name]);

    // Distribution exits at start on a log level it does not know.
    let run = engine.regctl(&[
        "create",
        &name,
        "--extra-env",
        "REGISTRY_LOG_LEVEL=chatty",
        "--wait-timeout",
        "20",
    ]);
    ensure_eq(run.code, 1, "exit code")?;
    ensure(
        run.stderr.contains("the registry logged:"),
        format!("no log lines in:\n{}", run.stderr),
    )?;
    ensure(
        run.stderr.contains("chatty"),
        format!("logs lack the cause:\n{}", run.stderr),
    )?;
    ensure(!engine.container_exists(&name), "a container was left")?;
    ensure(
        !engine.volume_exists(&format!("{name}-data")),
        "a volume was left",
    )?;

    let kept = engine.regctl(&[
        "create",
        &name,
        "--extra-env",
        "REGISTRY_LOG_LEVEL=chatty",
        "--wait-timeout",
        "20",
        "--keep-on-failure",
    ]);
    ensure_eq(kept.code, 1, "exit code with --keep-on-failure")?;
    ensure(
        engine.container_exists(&name),
        "--keep-on-failure removed the container",
    )?;
    Ok(())
}

fn network_attachment(engine: &Engine) -> TestResult {
    let name = engine.registry_name("net");
    let network = format!("{name}-net");
    let _cleanup = Cleanup::new(engine, &[&name]);

    let missing = engine.regctl(&["create", &name, "--network", &network]);
    ensure_eq(missing.code, 1, "exit code for a missing network")?;
    ensure(
        missing
            .stderr
            .contains(&format!("network `{network}` not found")),
        format!("stderr:\n{}", missing.stderr),
    )?;
    ensure(
        !engine.volume_exists(&format!("{name}-data")),
        "a volume was left",
    )?;

    let created = engine.create_network(&network);
    ensure_eq(
        created.code,
        0,
        &format!("network create: {}", created.stderr),
    )?;

    let result = (|| -> TestResult {
        let endpoint = create(engine, &name, &["--network", &network])?;
        ensure_eq(
            ping(&endpoint)?,
            StatusCode::OK,
            "GET /v2/ on a user network",
        )?;

        let inspect = engine.inspect_json(&name)?;
        let attached = &inspect["NetworkSettings"]["Networks"][&network];
        ensure(
            attached.is_object(),
            format!("not attached to {network}: {inspect}"),
        )?;
        let aliases = attached["Aliases"].to_string();
        ensure(
            aliases.contains(&format!("\"{name}\"")),
            format!("aliases {aliases} lack {name}"),
        )?;

        // Docker 26 (API 1.45) moved the container's short id from
        // Aliases to DNSNames. Docker 20.10 and Podman keep it in Aliases.
        let short_id = &inspect["Id"].as_str().unwrap_or_default()[..12];
        let id_field = if engine.name == "docker26" {
            "DNSNames"
        } else {
            "Aliases"
        };
        let names = attached[id_field].to_string();
        ensure(
            names.contains(&format!("\"{short_id}\"")),
            format!("{id_field} {names} lack the short id {short_id}"),
        )?;

        // Leaving a network runs the engine's network teardown, which
        // fails on Podman 5 without aardvark-dns.
        engine.regctl_ok(&["delete", &name, "--volumes"])?;
        ensure(
            !engine.container_exists(&name),
            "container left after delete",
        )
    })();

    engine.cleanup(&name);
    let _ = engine.cli(&["network", "rm", &network]);
    result
}

fn concurrent_creates_get_distinct_ports(engine: &Engine) -> TestResult {
    let first = engine.registry_name("par1");
    let second = engine.registry_name("par2");
    let _cleanup = Cleanup::new(engine, &[&first, &second]);

    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| engine.regctl(&["create", &first]));
        let b = scope.spawn(|| engine.regctl(&["create", &second]));
        (a.join().unwrap(), b.join().unwrap())
    });

    ensure_eq(a.code, 0, &format!("first create: {}", a.stderr))?;
    ensure_eq(b.code, 0, &format!("second create: {}", b.stderr))?;
    ensure(
        a.stdout.trim() != b.stdout.trim(),
        format!("both registries got {}", a.stdout.trim()),
    )?;
    ensure_eq(ping(a.stdout.trim())?, StatusCode::OK, "first registry")?;
    ensure_eq(ping(b.stdout.trim())?, StatusCode::OK, "second registry")?;
    Ok(())
}

/// Origin that `regctl runtimes` reports for the engine's address.
fn expected_origin(engine: &Engine) -> &'static str {
    let variables: Vec<&str> = engine.discovery_env.iter().map(|(key, _)| *key).collect();
    if variables.contains(&"DOCKER_HOST") {
        "DOCKER_HOST"
    } else if variables.contains(&"CONTAINER_HOST") {
        "CONTAINER_HOST"
    } else if engine.rootless {
        "rootless"
    } else {
        "rootful"
    }
}

fn runtimes_lists_engine(engine: &Engine) -> TestResult {
    let run = engine.regctl_discovering(&["runtimes", "-o", "json"], &[]);
    ensure_eq(run.code, 0, &format!("exit code (stderr: {})", run.stderr))?;
    let rows: Vec<serde_json::Value> = serde_json::from_str(&run.stdout)?;

    let row = rows
        .iter()
        .find(|row| row["socket"] == engine.socket.as_str())
        .ok_or_else(|| format!("runtimes lacks {}:\n{}", engine.socket, run.stdout))?;
    let (version, api_version) = engine.cli_version()?;
    ensure_eq(row["runtime"].as_str(), Some(engine.kind), "runtime")?;
    ensure_eq(row["version"].as_str(), Some(version.as_str()), "version")?;
    ensure_eq(
        row["api_version"].as_str(),
        Some(api_version.as_str()),
        "api_version",
    )?;
    ensure_eq(row["rootless"].as_bool(), Some(engine.rootless), "rootless")?;
    ensure_eq(
        row["origin"].as_str(),
        Some(expected_origin(engine)),
        "origin",
    )?;

    // `auto` takes Docker before Podman, so a Podman engine is picked only
    // when no Docker engine responds.
    let auto: Vec<&serde_json::Value> = rows.iter().filter(|row| row["auto"] == true).collect();
    ensure_eq(auto.len(), 1, "rows with auto: true")?;
    let first_docker = rows.iter().find(|row| row["runtime"] == "docker");
    let expected_auto = match first_docker {
        Some(docker) if engine.kind == "podman" => docker["socket"].as_str(),
        _ => Some(engine.socket.as_str()),
    };
    ensure_eq(
        auto[0]["socket"].as_str(),
        expected_auto,
        "socket that auto picks",
    )?;
    ensure(
        std::ptr::eq(auto[0], &rows[0]),
        "the auto row is not the first",
    )?;

    let table = engine.regctl_discovering(&["runtimes"], &[]).stdout;
    let line = table
        .lines()
        .find(|line| line.contains(&engine.socket))
        .ok_or_else(|| format!("table lacks {}:\n{table}", engine.socket))?;
    let mode = if engine.rootless {
        "rootless"
    } else {
        "rootful"
    };
    ensure(
        line.contains(&version) && line.contains(mode),
        format!("table row lacks {version} or {mode}: {line}"),
    )
}

/// Finds a port below the first unprivileged one that nothing listens on.
fn free_privileged_port() -> Result<(u16, u16), libtest_mimic::Failed> {
    let sysctl = "/proc/sys/net/ipv4/ip_unprivileged_port_start";
    let first_unprivileged: u16 = std::fs::read_to_string(sysctl)?.trim().parse()?;

    // The test runs as root, so it can bind any port to check it.
    let port = (1..first_unprivileged)
        .rev()
        .find(|port| TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .ok_or_else(|| {
            format!(
                "no free port below {first_unprivileged} (from {sysctl}) to test with; \
                 a value of 0 or 1 leaves no privileged port"
            )
        })?;
    Ok((port, first_unprivileged))
}

/// Checks that a host port below `net.ipv4.ip_unprivileged_port_start`
/// works on a rootful engine, and is rejected before anything is created on
/// a rootless one, which could not bind it.
fn low_port_needs_root(engine: &Engine) -> TestResult {
    let name = engine.registry_name("lowport");
    let _cleanup = Cleanup::new(engine, &[&name]);
    let (port, first_unprivileged) = free_privileged_port()?;

    let run = engine.regctl(&["create", &name, "--port", &format!("127.0.0.1:{port}")]);

    if !engine.rootless {
        ensure_eq(run.code, 0, &format!("exit code (stderr: {})", run.stderr))?;
        let endpoint = run.stdout.trim();
        ensure_eq(endpoint, format!("localhost:{port}").as_str(), "endpoint")?;
        ensure_eq(ping(endpoint)?, StatusCode::OK, "GET /v2/ on a low port")?;
        return Ok(());
    }

    ensure_eq(run.code, 1, "exit code")?;
    ensure(
        run.stderr.contains(&format!(
            "host port {port} is below {first_unprivileged}, which rootless podman cannot bind"
        )),
        format!("stderr lacks the port:\n{}", run.stderr),
    )?;
    ensure(
        run.stderr.contains("net.ipv4.ip_unprivileged_port_start"),
        format!("stderr lacks the sysctl:\n{}", run.stderr),
    )?;
    ensure(!engine.container_exists(&name), "a container was left")?;
    ensure(
        !engine.volume_exists(&format!("{name}-data")),
        "a volume was left",
    )
}

/// Without --network, each engine attaches the registry to its own default:
/// Docker's `bridge`, rootful Podman's `podman`, and for rootless Podman 4.3
/// slirp4netns, which is no named network at all. Port publishing works on
/// each.
fn default_network_per_engine(engine: &Engine) -> TestResult {
    let name = engine.registry_name("defnet");
    let _cleanup = Cleanup::new(engine, &[&name]);
    let endpoint = create(engine, &name, &[])?;
    ensure_eq(ping(&endpoint)?, StatusCode::OK, "GET /v2/")?;

    // Docker 20.10 records the network mode regctl leaves unset as
    // `default`; Docker 26 (API 1.44 and later) stores `bridge` instead.
    let (networks, mode): (&[&str], &str) = match (engine.name, engine.rootless) {
        ("docker", _) => (&["bridge"], "default"),
        ("docker26", _) => (&["bridge"], "bridge"),
        (_, false) => (&["podman"], "bridge"),
        (_, true) => (&[], "slirp4netns"),
    };

    let inspect = engine.regctl_ok(&["inspect", &name, "-o", "json"])?.stdout;
    let document: serde_json::Value = serde_json::from_str(&inspect)?;
    ensure_eq(
        document["container"]["networks"].clone(),
        serde_json::json!(networks),
        "networks in regctl inspect",
    )?;

    let cli_inspect = engine.inspect_json(&name)?;
    ensure_eq(
        cli_inspect["HostConfig"]["NetworkMode"].as_str(),
        Some(mode),
        "HostConfig.NetworkMode",
    )
}
