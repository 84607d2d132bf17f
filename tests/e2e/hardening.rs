//! Bad input, injected faults and concurrent use against real engines:
//! every failure reports what happened, exits with the right code and leaves
//! nothing behind.

use std::process::Command;

use crate::harness::{ensure, ensure_eq, regctl_binary, Case, Cleanup, Engine, Run, TestResult};

/// Exit code of usage errors.
const USAGE: i32 = 2;

/// Exit code of failures at run time.
const FAILURE: i32 = 1;

/// Unprivileged user for the socket permission test, created on demand.
const UNPRIVILEGED_USER: &str = "regctl-noaccess";

pub fn all() -> Vec<Case> {
    vec![
        Case {
            name: "bad_inputs_leave_nothing",
            body: bad_inputs_leave_nothing,
        },
        Case {
            name: "unreadable_socket_names_the_fix",
            body: unreadable_socket_names_the_fix,
        },
        Case {
            name: "unpullable_image_leaves_nothing",
            body: unpullable_image_leaves_nothing,
        },
        Case {
            name: "port_taken_after_check",
            body: port_taken_after_check,
        },
        Case {
            name: "same_name_creates_race",
            body: same_name_creates_race,
        },
        Case {
            name: "delete_racing_gc",
            body: delete_racing_gc,
        },
        Case {
            name: "parallel_creates_get_distinct_ports",
            body: parallel_creates_get_distinct_ports,
        },
    ]
}

/// Names of containers and volumes whose name contains `fragment`.
fn objects_named(engine: &Engine, fragment: &str) -> Vec<String> {
    let filter = format!("name={fragment}");
    let containers = engine.cli(&["ps", "--all", "--format", "{{.Names}}", "--filter", &filter]);
    let volumes = engine.cli(&["volume", "ls", "--quiet", "--filter", &filter]);
    containers
        .stdout
        .lines()
        .chain(volumes.stdout.lines())
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn bad_inputs_leave_nothing(engine: &Engine) -> TestResult {
    let name = engine.registry_name("bad");
    let long_name = format!("{name}-{}", "x".repeat(63));
    let missing_network = format!("{name}-no-such-network");
    let directory = tempfile::tempdir()?;
    let directory_path = directory.path().to_str().unwrap().to_owned();
    let n = name.as_str();

    let s3 = |extra: &[&'static str]| -> Vec<String> {
        let mut args = vec!["create", n, "--storage", "s3"];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect()
    };
    let create = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["create", n];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect()
    };
    let words =
        |items: &[&str]| -> Vec<String> { items.iter().map(|item| (*item).to_owned()).collect() };

    // Each case: arguments, expected exit code, text the error must contain.
    let cases: Vec<(Vec<String>, i32, String)> = vec![
        (words(&["create", "Bad Name"]), USAGE, "`Bad Name`".into()),
        (words(&["create", "a/b"]), USAGE, "`a/b`".into()),
        (words(&["create", "trail-"]), USAGE, "`trail-`".into()),
        (words(&["create", ".lead"]), USAGE, "`.lead`".into()),
        (
            words(&["create", "under_score"]),
            USAGE,
            "`under_score`".into(),
        ),
        (words(&["create", &long_name]), USAGE, "characters".into()),
        (create(&["--port", "0"]), USAGE, "`0`".into()),
        (create(&["--port", "65536"]), USAGE, "`65536`".into()),
        (create(&["--port", "http"]), USAGE, "`http`".into()),
        (
            create(&["--port", "999.1.1.1:5001"]),
            USAGE,
            "`999.1.1.1`".into(),
        ),
        (
            create(&["--port", "localhost:5001"]),
            USAGE,
            "`localhost`".into(),
        ),
        (
            create(&["--extra-env", "NOVALUE"]),
            USAGE,
            "`NOVALUE`".into(),
        ),
        (create(&["--extra-env", "9KEY=x"]), USAGE, "`9KEY`".into()),
        (create(&["--extra-env", "A-B=x"]), USAGE, "`A-B`".into()),
        (
            create(&["--extra-env", "A=1", "--extra-env", "A=2"]),
            USAGE,
            "`--extra-env A`".into(),
        ),
        (
            create(&[
                "--delete-enabled",
                "--extra-env",
                "REGISTRY_STORAGE_DELETE_ENABLED=false",
            ]),
            USAGE,
            "contradicts --delete-enabled".into(),
        ),
        (
            create(&["--extra-env", "REGISTRY_STORAGE=s3"]),
            USAGE,
            "`--extra-env REGISTRY_STORAGE`".into(),
        ),
        (
            create(&["--extra-env", "REGISTRY_HTTP_ADDR=:6000"]),
            USAGE,
            "REGISTRY_HTTP_ADDR=:6000".into(),
        ),
        (
            create(&["--image", "UPPER/case:1"]),
            USAGE,
            "`UPPER/case:1`".into(),
        ),
        (
            create(&["--image", "registry:"]),
            USAGE,
            "`registry:`".into(),
        ),
        (
            create(&["--image", "reg istry"]),
            USAGE,
            "`reg istry`".into(),
        ),
        (create(&["--wait-timeout", "-1"]), USAGE, "-1".into()),
        (create(&["--wait-timeout", "soon"]), USAGE, "soon".into()),
        (create(&["--storage", "tape"]), USAGE, "tape".into()),
        (
            create(&["--s3-bucket", "images"]),
            USAGE,
            "`--s3-bucket` requires `--storage s3`".into(),
        ),
        (create(&["--volume", "./data"]), USAGE, "`./data`".into()),
        (
            create(&["--storage", "inmemory", "--volume", "data"]),
            USAGE,
            "`--volume`".into(),
        ),
        (
            s3(&["--s3-region", "eu-west-1"]),
            USAGE,
            "requires `--s3-bucket`".into(),
        ),
        (
            s3(&["--s3-bucket", "images"]),
            USAGE,
            "requires `--s3-region`".into(),
        ),
        (s3(&["--s3-bucket", "ab"]), USAGE, "`ab`".into()),
        (
            s3(&["--s3-bucket", "Bad_Bucket"]),
            USAGE,
            "`Bad_Bucket`".into(),
        ),
        (
            s3(&["--s3-bucket", "192.168.1.1"]),
            USAGE,
            "`192.168.1.1`".into(),
        ),
        (
            s3(&["--s3-bucket", "images", "--s3-endpoint", "minio:9000"]),
            USAGE,
            "`minio:9000`".into(),
        ),
        (
            s3(&["--s3-bucket", "images", "--s3-endpoint", "ftp://host"]),
            USAGE,
            "`ftp://host`".into(),
        ),
        (
            s3(&["--s3-bucket", "images", "--s3-endpoint", "http://host/path"]),
            USAGE,
            "`http://host/path`".into(),
        ),
        (
            s3(&["--s3-bucket", "images", "--s3-region", "EU"]),
            USAGE,
            "`EU`".into(),
        ),
        (
            s3(&[
                "--s3-bucket",
                "images",
                "--s3-region",
                "eu-west-1",
                "--s3-root-directory",
                "rel",
            ]),
            USAGE,
            "`rel`".into(),
        ),
        (
            {
                let mut args = s3(&[
                    "--s3-bucket",
                    "images",
                    "--s3-region",
                    "eu-west-1",
                    "--s3-access-key",
                    "AKIA",
                ]);
                args.extend(words(&["--s3-secret-key-file", "/nonexistent/secret"]));
                args
            },
            USAGE,
            "`/nonexistent/secret`".into(),
        ),
        (
            {
                let mut args = s3(&[
                    "--s3-bucket",
                    "images",
                    "--s3-region",
                    "eu-west-1",
                    "--s3-access-key",
                    "AKIA",
                ]);
                args.extend(words(&["--s3-secret-key-file", &directory_path]));
                args
            },
            USAGE,
            format!("`{directory_path}`"),
        ),
        (
            create(&["--volume", "/nonexistent/regctl-data"]),
            USAGE,
            "`/nonexistent/regctl-data`".into(),
        ),
        (
            create(&["--network", &missing_network]),
            FAILURE,
            format!("`{missing_network}` not found"),
        ),
        (
            words(&["start", n]),
            FAILURE,
            format!("registry `{n}` not found"),
        ),
        (
            words(&["stop", n]),
            FAILURE,
            format!("registry `{n}` not found"),
        ),
        (
            words(&["inspect", n]),
            FAILURE,
            format!("registry `{n}` not found"),
        ),
        (
            words(&["delete", n]),
            FAILURE,
            format!("registry `{n}` not found"),
        ),
        (words(&["inspect", n, "-o", "toml"]), USAGE, "toml".into()),
        (words(&["list", "-o", "csv"]), USAGE, "csv".into()),
        (words(&["delete"]), USAGE, "required".into()),
    ];
    ensure(cases.len() >= 40, format!("only {} cases", cases.len()))?;

    for (args, code, expected) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = engine.regctl(&args);
        ensure_eq(
            run.code,
            *code,
            &format!("exit code of regctl {args:?}; stderr:\n{}", run.stderr),
        )?;
        ensure(
            run.stderr.contains(expected.as_str()),
            format!(
                "regctl {args:?}: stderr lacks {expected:?}:\n{}",
                run.stderr
            ),
        )?;
        ensure(
            run.stdout.is_empty(),
            format!("regctl {args:?} wrote to stdout: {}", run.stdout),
        )?;
        ensure_eq(
            objects_named(engine, n),
            Vec::<String>::new(),
            &format!("objects after {args:?}"),
        )?;
    }
    Ok(())
}

/// Runs regctl as an unprivileged user with a clean environment, so an
/// engine name tries only the rootful sockets and a URL only itself.
fn regctl_unprivileged(engine: &Engine, args: &[&str]) -> Result<Run, libtest_mimic::Failed> {
    let exists = Command::new("id")
        .arg(UNPRIVILEGED_USER)
        .output()?
        .status
        .success();
    if !exists {
        let created = Command::new("useradd")
            .args([
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                UNPRIVILEGED_USER,
            ])
            .output()?;
        ensure(
            created.status.success(),
            format!(
                "useradd failed: {}",
                String::from_utf8_lossy(&created.stderr)
            ),
        )?;
    }

    let output = Command::new("runuser")
        .args([
            "-u",
            UNPRIVILEGED_USER,
            "--",
            "env",
            "-i",
            "PATH=/usr/bin:/bin",
        ])
        .arg(regctl_binary())
        .args(args)
        .args(["--runtime", &engine.runtime])
        .output()?;
    Ok(Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

fn unreadable_socket_names_the_fix(engine: &Engine) -> TestResult {
    let run = regctl_unprivileged(engine, &["list"])?;

    ensure_eq(
        run.code,
        FAILURE,
        &format!("exit code; stderr:\n{}", run.stderr),
    )?;
    let socket = match (engine.runtime.strip_prefix("unix://"), engine.kind) {
        (Some(path), _) => path,
        (None, "docker") => "/var/run/docker.sock",
        (None, _) => "/run/podman/podman.sock",
    };
    ensure(
        run.stderr.contains(socket),
        format!("stderr lacks {socket}:\n{}", run.stderr),
    )?;
    ensure(
        run.stderr.contains("ermission denied"),
        format!("stderr lacks the cause:\n{}", run.stderr),
    )?;
    // An engine named by URL has no group or rootless socket to suggest.
    let fix = match (engine.runtime.starts_with("unix://"), engine.kind) {
        (true, _) => "run regctl as the user that owns the engine",
        (false, "docker") => "`docker` group",
        (false, _) => "rootless socket",
    };
    ensure(
        run.stderr.contains(fix),
        format!("stderr lacks the fix {fix:?}:\n{}", run.stderr),
    )
}

fn unpullable_image_leaves_nothing(engine: &Engine) -> TestResult {
    let name = engine.registry_name("pull");
    let _cleanup = Cleanup::new(engine, &[&name]);

    // Port 1 on loopback refuses the connection at once.
    let image = "localhost:1/regctl/missing:1";
    let run = engine.regctl(&["create", &name, "--image", image]);

    ensure_eq(run.code, FAILURE, "exit code")?;
    ensure(
        run.stderr.contains(&format!(
            "image `{image}` is not present on {} and could not be pulled",
            engine.kind
        )),
        format!("stderr:\n{}", run.stderr),
    )?;
    ensure(
        run.stderr
            .contains(&format!("{} load -i FILE", engine.kind)),
        format!("no hint:\n{}", run.stderr),
    )?;
    ensure_eq(
        objects_named(engine, &name),
        Vec::<String>::new(),
        "objects left",
    )
}

fn port_taken_after_check(engine: &Engine) -> TestResult {
    let name = engine.registry_name("race");
    let _cleanup = Cleanup::new(engine, &[&name]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port()
        .to_string();

    let explicit = run_with_failpoint(engine, &["create", &name, "--port", &port]);
    ensure_eq(
        explicit.code,
        FAILURE,
        &format!("exit code; stderr:\n{}", explicit.stderr),
    )?;
    ensure(
        explicit
            .stderr
            .contains(&format!("host port {port} on 127.0.0.1 is already in use")),
        format!("stderr:\n{}", explicit.stderr),
    )?;
    ensure_eq(
        objects_named(engine, &name),
        Vec::<String>::new(),
        "objects left",
    )?;

    // Without --port, create moves on to another free port.
    let automatic = run_with_failpoint(engine, &["create", &name]);
    ensure_eq(
        automatic.code,
        0,
        &format!("exit code; stderr:\n{}", automatic.stderr),
    )?;
    ensure(
        automatic.stdout.starts_with("localhost:"),
        format!("stdout: {}", automatic.stdout),
    )
}

fn run_with_failpoint(engine: &Engine, args: &[&str]) -> Run {
    engine.regctl_with_env(args, &[("REGCTL_FAILPOINT", "take-port-after-check")])
}

/// Starts `count` creates at once and returns their results.
fn concurrent_creates(engine: &Engine, names: &[String]) -> Vec<Run> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| scope.spawn(move || engine.regctl(&["create", name])))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    })
}

fn same_name_creates_race(engine: &Engine) -> TestResult {
    let name = engine.registry_name("same");
    let _cleanup = Cleanup::new(engine, &[&name]);

    let runs = concurrent_creates(engine, &vec![name.clone(); 10]);

    let succeeded = runs.iter().filter(|run| run.code == 0).count();
    ensure_eq(succeeded, 1, "creates that succeeded")?;
    for run in runs.iter().filter(|run| run.code != 0) {
        ensure_eq(run.code, FAILURE, "exit code of a losing create")?;
        ensure(
            run.stderr.contains("already exists"),
            format!("stderr:\n{}", run.stderr),
        )?;
    }

    let volume = format!("{name}-data");
    let mut objects = objects_named(engine, &name);
    objects.sort();
    ensure_eq(
        objects,
        vec![name.clone(), volume],
        "objects after the race",
    )
}

fn parallel_creates_get_distinct_ports(engine: &Engine) -> TestResult {
    let names: Vec<String> = (0..10)
        .map(|index| engine.registry_name(&format!("par{index}")))
        .collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let _cleanup = Cleanup::new(engine, &name_refs);

    let runs = concurrent_creates(engine, &names);

    let mut endpoints = Vec::new();
    for run in &runs {
        ensure_eq(run.code, 0, &format!("exit code; stderr:\n{}", run.stderr))?;
        endpoints.push(run.stdout.trim().to_owned());
    }
    endpoints.sort();
    endpoints.dedup();
    ensure_eq(endpoints.len(), 10, "distinct endpoints")
}

/// Upper bound for one regctl command in the race below. It only turns a
/// hang into a failure; no result depends on how long a command took.
const HANG_LIMIT: std::time::Duration = std::time::Duration::from_secs(180);

/// `delete` and `gc` on the same registry at once: both end, whichever
/// wins, no one-off container stays, and the data volume still serves the
/// image to a new registry of the same name.
fn delete_racing_gc(engine: &Engine) -> TestResult {
    let name = engine.registry_name("race-gc");
    let _cleanup = Cleanup::new(engine, &[&name]);

    let endpoint = engine
        .regctl_ok(&["create", &name, "--delete-enabled"])?
        .stdout;
    let digest = crate::oci::push_image(endpoint.trim(), "race/app", "v1")?;

    let (gc, delete) = std::thread::scope(|scope| {
        let gc = scope.spawn(|| run_bounded(engine, &["gc", &name]));
        let delete = scope.spawn(|| run_bounded(engine, &["delete", &name]));
        (gc.join().unwrap(), delete.join().unwrap())
    });
    let gc = gc?;
    let delete = delete?;

    // Each command either succeeds or fails with a message of its own.
    for (command, run) in [("gc", &gc), ("delete", &delete)] {
        ensure(
            run.code == 0 || (run.code == FAILURE && run.stderr.contains("error: ")),
            format!("{command} exited {}:\n{}", run.code, run.stderr),
        )?;
    }
    ensure(
        !engine.container_exists(&format!("{name}_gc")),
        "the gc one-off container was left",
    )?;

    // Whatever state the race left, the registry goes and its data stays.
    if engine.container_exists(&name) {
        engine.regctl_ok(&["delete", &name])?;
    }
    let endpoint = engine.regctl_ok(&["create", &name])?.stdout;
    ensure_eq(
        crate::oci::manifest_digest(endpoint.trim(), "race/app", "v1")?,
        Some(digest),
        "image after the race",
    )
}

/// Runs regctl in a thread and fails when it has not ended after
/// [`HANG_LIMIT`].
fn run_bounded(engine: &Engine, args: &[&str]) -> Result<Run, libtest_mimic::Failed> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let owned: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    let engine = engine.clone();

    std::thread::spawn(move || {
        let args: Vec<&str> = owned.iter().map(String::as_str).collect();
        let _ = sender.send(engine.regctl(&args));
    });

    receiver.recv_timeout(HANG_LIMIT).map_err(|_| {
        format!(
            "regctl {args:?} did not end within {} s",
            HANG_LIMIT.as_secs()
        )
        .into()
    })
}
