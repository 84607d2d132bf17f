//! Test runner: expands each case into one trial per engine, and prints a
//! per-engine summary after the run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output};
use std::sync::{Arc, Mutex};

use libtest_mimic::{Arguments, Failed, Trial};

/// Variable that selects the engines, such as `docker,podman`.
pub const ENGINES_ENV: &str = "REGCTL_E2E_ENGINES";

/// Engines these tests know how to drive, in the order their trials run.
/// `scripts/engines/` starts each of them.
const KNOWN_ENGINES: &[&str] = &["docker", "docker26", "podman", "podman-rootless", "podman5"];

/// API sockets of the engines that run from the Debian 13 chroot, where
/// `scripts/engines/lib.sh` puts them.
const DOCKER26_SOCKET: &str = "/run/regctl/docker26.sock";
const PODMAN5_SOCKET: &str = "/run/regctl/podman5.sock";

/// The chroot, unless `REGCTL_CHROOT_DIR` names another, as in the scripts.
const DEFAULT_CHROOT_DIR: &str = "/var/cache/regctl/trixie";

/// The user that runs rootless Podman, created by
/// `scripts/engines/start-podman-rootless.sh`.
const ROOTLESS_USER: &str = "regctl-rootless";

/// Folder in the temporary directory for the copy of regctl that the
/// rootless user runs, because that user may not be allowed to enter the
/// folders of target/. The process id follows it.
const ROOTLESS_BINARY_DIR: &str = "regctl-e2e-rootless";

/// Variables that steer regctl's discovery, removed from every regctl run so
/// that only the engine's own settings apply.
const DISCOVERY_VARIABLES: &[&str] = &["DOCKER_HOST", "CONTAINER_HOST", "XDG_RUNTIME_DIR"];

pub type TestResult = Result<(), Failed>;

/// One behaviour, run once per engine.
pub struct Case {
    pub name: &'static str,
    pub body: fn(&Engine) -> TestResult,
}

/// A non-root user that regctl and the engine CLI run as.
#[derive(Debug, Clone)]
struct User {
    name: &'static str,
    home: String,
    runtime_dir: String,
}

/// The engine a trial runs against, and helpers to drive it.
#[derive(Debug, Clone)]
pub struct Engine {
    /// Name in `REGCTL_E2E_ENGINES` and in trial names, such as `docker26`.
    pub name: &'static str,
    /// `docker` or `podman`: what regctl reports as the runtime.
    pub kind: &'static str,
    /// Short tag that keeps registry names of the engines apart.
    pub tag: &'static str,
    /// Value of regctl's `--runtime`.
    pub runtime: String,
    /// API address of the engine, as regctl reports it.
    pub socket: String,
    /// Whether the engine runs without root.
    pub rootless: bool,
    /// Variables that make regctl's `auto` discovery find this engine.
    pub discovery_env: Vec<(&'static str, String)>,
    /// Program and leading arguments of the engine CLI.
    cli: Vec<String>,
    /// The user that runs regctl and the CLI, or `None` for root.
    user: Option<User>,
    /// Host directory that the engine sees as `/`: the chroot for the
    /// engines that run from one, `/` otherwise.
    pub root: PathBuf,
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

type Tallies = Arc<Mutex<BTreeMap<&'static str, Tally>>>;

pub fn run(cases: Vec<Case>) -> ExitCode {
    let mut arguments = Arguments::from_args();
    let selected = match selected_engines() {
        Ok(selected) => selected,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };

    if selected.is_empty() {
        eprintln!(
            "note: end-to-end tests are ignored; set {ENGINES_ENV}={} to run them",
            KNOWN_ENGINES.join(",")
        );
    }

    // One trial at a time unless --test-threads sets another number. A registry
    // on an engine that another engine's `auto` discovery cannot see (a
    // socket given by URL, another user's rootless engine) does not count
    // when regctl picks a free port. So a registry that a parallel trial
    // stops for a moment could find its port taken by another engine.
    arguments.test_threads.get_or_insert(1);

    let tallies: Tallies = Arc::default();
    let mut trials = Vec::new();
    // --include-ignored and --ignored would run the placeholder trials of
    // unselected engines and count them as passed, so those are left out.
    let runs_ignored = arguments.include_ignored || arguments.ignored;
    for engine_name in KNOWN_ENGINES {
        let engine = selected
            .contains(engine_name)
            .then(|| Arc::new(Engine::new(engine_name)));
        if engine.is_none() && runs_ignored {
            continue;
        }
        for case in &cases {
            trials.push(trial(
                engine_name,
                case,
                engine.clone(),
                Arc::clone(&tallies),
            ));
        }
    }

    let conclusion = libtest_mimic::run(&arguments, trials);
    let _ = std::fs::remove_dir_all(rootless_binary_dir());
    print_summary(&tallies.lock().unwrap(), &selected);
    conclusion.exit_code()
}

/// Builds the trial of one case on one engine: ignored when the engine is
/// not selected, failed when the engine cannot be set up or does not
/// respond.
fn trial(
    engine_name: &'static str,
    case: &Case,
    engine: Option<Arc<Result<Engine, String>>>,
    tallies: Tallies,
) -> Trial {
    let name = format!("{engine_name}::{}", case.name);
    let Some(engine) = engine else {
        return Trial::test(name, || Ok(())).with_ignored_flag(true);
    };

    let body = case.body;
    Trial::test(name, move || {
        let result = match engine.as_ref() {
            Ok(engine) => check_engine(engine).and_then(|()| body(engine)),
            Err(message) => Err(Failed::from(message.as_str())),
        };

        let mut tallies = tallies.lock().unwrap();
        let tally = tallies.entry(engine_name).or_default();
        match result {
            Ok(()) => tally.passed += 1,
            Err(_) => tally.failed += 1,
        }
        result
    })
}

fn selected_engines() -> Result<Vec<&'static str>, String> {
    let Ok(value) = std::env::var(ENGINES_ENV) else {
        return Ok(Vec::new());
    };

    value
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            KNOWN_ENGINES
                .iter()
                .find(|known| **known == name)
                .copied()
                .ok_or_else(|| {
                    format!(
                        "{ENGINES_ENV} names unknown engine `{name}`; use any of {}",
                        KNOWN_ENGINES.join(", ")
                    )
                })
        })
        .collect()
}

/// Fails the trial when its engine does not respond, so a selected engine
/// that is down shows as failures. regctl itself is the check, because its
/// error lists every socket it tried.
fn check_engine(engine: &Engine) -> TestResult {
    let run = engine.regctl(&["list", "-o", "json"]);
    if run.code == 0 {
        Ok(())
    } else {
        Err(format!(
            "{} was selected in {ENGINES_ENV} but does not respond:\n{}",
            engine.name, run.stderr
        )
        .into())
    }
}

fn print_summary(tallies: &BTreeMap<&'static str, Tally>, selected: &[&'static str]) {
    println!("\nend-to-end tests per engine:");
    println!("  {:<16} {:>6} {:>6}", "engine", "passed", "failed");
    for engine in KNOWN_ENGINES {
        match tallies.get(engine) {
            Some(tally) => println!("  {engine:<16} {:>6} {:>6}", tally.passed, tally.failed),
            None if selected.contains(engine) => {
                println!("  {engine:<16} {:>6} {:>6}  (filtered out)", 0, 0)
            }
            None => println!("  {engine:<16} {:>6} {:>6}  (not selected)", 0, 0),
        }
    }
}

/// Path of the regctl binary that cargo built for these tests.
pub fn regctl_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_regctl"))
}

/// Result of one regctl run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from_output(output: Output) -> Self {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Engine {
    /// Describes engine `name`, one of [`KNOWN_ENGINES`]. Fails when its
    /// rootless user is missing.
    fn new(name: &'static str) -> Result<Engine, String> {
        let chroot_dir =
            std::env::var("REGCTL_CHROOT_DIR").unwrap_or_else(|_| DEFAULT_CHROOT_DIR.to_owned());
        let docker26 = format!("unix://{DOCKER26_SOCKET}");
        let podman5 = format!("unix://{PODMAN5_SOCKET}");
        let strings = |items: &[&str]| items.iter().map(|item| (*item).to_owned()).collect();

        let engine = |kind, tag, runtime: &str, socket: &str, cli| Engine {
            name,
            kind,
            tag,
            runtime: runtime.to_owned(),
            socket: socket.to_owned(),
            rootless: false,
            discovery_env: Vec::new(),
            cli,
            user: None,
            root: PathBuf::from("/"),
        };

        Ok(match name {
            "docker" => engine(
                "docker",
                "d",
                "docker",
                "unix:///var/run/docker.sock",
                strings(&["docker", "--host", "unix:///var/run/docker.sock"]),
            ),
            "docker26" => Engine {
                discovery_env: vec![("DOCKER_HOST", docker26.clone())],
                root: PathBuf::from(&chroot_dir),
                ..engine(
                    "docker",
                    "d26",
                    &docker26,
                    &docker26,
                    strings(&["docker", "--host", &docker26]),
                )
            },
            "podman" => engine(
                "podman",
                "p",
                "podman",
                "unix:///run/podman/podman.sock",
                strings(&["podman"]),
            ),
            // The engine's own CLI in the chroot, run locally: it shares the
            // service's storage and has the service's version.
            "podman5" => Engine {
                discovery_env: vec![("CONTAINER_HOST", podman5.clone())],
                root: PathBuf::from(&chroot_dir),
                ..engine(
                    "podman",
                    "p5",
                    &podman5,
                    &podman5,
                    strings(&[
                        "chroot",
                        &chroot_dir,
                        "env",
                        "PODMAN_IGNORE_CGROUPSV1_WARNING=1",
                        "podman",
                    ]),
                )
            },
            // `--runtime podman`, so regctl finds the rootless socket through
            // XDG_RUNTIME_DIR as it does on a developer's machine.
            "podman-rootless" => {
                let user = User::lookup(ROOTLESS_USER)?;
                let socket = format!("unix://{}/podman/podman.sock", user.runtime_dir);
                Engine {
                    rootless: true,
                    discovery_env: vec![("XDG_RUNTIME_DIR", user.runtime_dir.clone())],
                    user: Some(user),
                    ..engine("podman", "pr", "podman", &socket, strings(&["podman"]))
                }
            }
            other => return Err(format!("unknown engine `{other}`")),
        })
    }

    /// Registry name unique to this engine and test, within the 63
    /// characters of a DNS label.
    pub fn registry_name(&self, test: &str) -> String {
        format!("e2e-{}-{test}-{}", self.tag, std::process::id())
    }

    /// Runs `regctl ARGS --runtime RUNTIME` and returns what it did.
    pub fn regctl(&self, args: &[&str]) -> Run {
        let mut command = self.regctl_command(&[]);
        command.args(args).args(["--runtime", &self.runtime]);
        Run::from_output(command.output().expect("the regctl binary runs"))
    }

    /// Runs `regctl ARGS --runtime RUNTIME` with `env` set.
    pub fn regctl_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.regctl_command(env);
        command.args(args).args(["--runtime", &self.runtime]);
        Run::from_output(command.output().expect("the regctl binary runs"))
    }

    /// Runs `regctl ARGS` without `--runtime`, with this engine's discovery
    /// variables and `env` set.
    pub fn regctl_discovering(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut pairs: Vec<(&str, &str)> = self
            .discovery_env
            .iter()
            .map(|(key, value)| (*key, value.as_str()))
            .collect();
        pairs.extend_from_slice(env);

        let mut command = self.regctl_command(&pairs);
        command.args(args);
        Run::from_output(command.output().expect("the regctl binary runs"))
    }

    /// Builds the regctl command with `env` set, as root or as the engine's
    /// user.
    fn regctl_command(&self, env: &[(&str, &str)]) -> Command {
        match &self.user {
            Some(user) => {
                let binary = rootless_binary().expect("regctl is copied for the rootless user");
                user.command(env, &binary)
            }
            None => {
                let mut command = Command::new(regctl_binary());
                for variable in DISCOVERY_VARIABLES
                    .iter()
                    .chain(&["REGCTL_LOG", "REGCTL_RUNTIME"])
                {
                    command.env_remove(variable);
                }
                command.envs(env.iter().copied());
                command
            }
        }
    }

    /// Runs `regctl ARGS` and fails unless it exits 0.
    pub fn regctl_ok(&self, args: &[&str]) -> Result<Run, Failed> {
        let run = self.regctl(args);
        if run.code == 0 {
            Ok(run)
        } else {
            Err(format!(
                "`regctl {}` exited {}:\n{}",
                args.join(" "),
                run.code,
                run.stderr
            )
            .into())
        }
    }

    /// Runs the engine's own CLI, such as `docker inspect NAME`.
    pub fn cli(&self, args: &[&str]) -> Run {
        let (program, leading) = self.cli.split_first().expect("the CLI has a program");
        let mut command = match &self.user {
            Some(user) => {
                let mut command = user.command(&[], Path::new(program));
                command.args(leading);
                command
            }
            None => {
                let mut command = Command::new(program);
                command.args(leading);
                command
            }
        };
        let output = command.args(args).output().expect("the engine CLI runs");
        Run::from_output(output)
    }

    /// The engine version and API version that its CLI reports, such as
    /// `("26.1.5+dfsg1", "1.45")`.
    pub fn cli_version(&self) -> Result<(String, String), Failed> {
        // The Podman CLIs here are local, so the client is the engine.
        let format = match self.kind {
            "docker" => "{{.Server.Version}} {{.Server.APIVersion}}",
            _ => "{{.Client.Version}} {{.Client.APIVersion}}",
        };
        let run = self.cli(&["version", "--format", format]);
        let words: Vec<&str> = run.stdout.split_whitespace().collect();
        match words[..] {
            [version, api_version] if run.code == 0 => {
                Ok((version.to_owned(), api_version.to_owned()))
            }
            _ => Err(format!(
                "{} version exited {} and printed {:?}: {}",
                self.name, run.code, run.stdout, run.stderr
            )
            .into()),
        }
    }

    /// Creates a network with the engine CLI.
    pub fn create_network(&self, name: &str) -> Run {
        // Podman 5 would name the bridge podmanN, as the host's Podman does
        // in the same network namespace, so it gets a name of its own.
        match self.name {
            "podman5" => self.cli(&[
                "network",
                "create",
                "--interface-name",
                "regctl-p5net0",
                name,
            ]),
            _ => self.cli(&["network", "create", name]),
        }
    }

    /// Parsed JSON of `docker inspect` or `podman inspect` of a container.
    pub fn inspect_json(&self, name: &str) -> Result<serde_json::Value, Failed> {
        let run = self.cli(&["container", "inspect", name]);
        if run.code != 0 {
            return Err(format!("{} inspect {name} failed: {}", self.name, run.stderr).into());
        }
        let list: serde_json::Value = serde_json::from_str(&run.stdout)
            .map_err(|error| format!("inspect output is not JSON: {error}"))?;
        Ok(list[0].clone())
    }

    pub fn container_exists(&self, name: &str) -> bool {
        self.cli(&["container", "inspect", name]).code == 0
    }

    pub fn volume_exists(&self, name: &str) -> bool {
        self.cli(&["volume", "inspect", name]).code == 0
    }

    /// Host directory that contains a volume's data.
    pub fn volume_mountpoint(&self, name: &str) -> Result<PathBuf, Failed> {
        let run = self.cli(&["volume", "inspect", "--format", "{{.Mountpoint}}", name]);
        if run.code != 0 {
            return Err(
                format!("{} volume inspect {name} failed: {}", self.name, run.stderr).into(),
            );
        }
        Ok(self.host_path(run.stdout.trim()))
    }

    /// Host path of `path` as the engine sees it.
    pub fn host_path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// Removes a registry and its volume whatever state a test left, so a
    /// failed test does not leak containers into the next.
    pub fn cleanup(&self, name: &str) {
        let _ = self.cli(&["rm", "-f", "-v", name]);
        let _ = self.cli(&["volume", "rm", "-f", &format!("{name}-data")]);
    }
}

impl User {
    /// Reads the user's home from the passwd database, and its runtime
    /// folder, /run/user/UID, as the setup script creates it.
    fn lookup(name: &'static str) -> Result<User, String> {
        let missing = |detail: String| {
            format!(
                "user {name} not found ({detail}); run scripts/engines/start-podman-rootless.sh"
            )
        };
        let output = Command::new("getent")
            .args(["passwd", name])
            .output()
            .map_err(|error| missing(error.to_string()))?;
        let entry = String::from_utf8_lossy(&output.stdout).into_owned();

        // name:password:UID:GID:comment:home:shell
        let fields: Vec<&str> = entry.trim().split(':').collect();
        if !output.status.success() || fields.len() < 7 {
            return Err(missing(format!("getent printed {entry:?}")));
        }
        Ok(User {
            name,
            home: fields[5].to_owned(),
            runtime_dir: format!("/run/user/{}", fields[2]),
        })
    }

    /// `PROGRAM` run as this user with a clean environment, as after a
    /// login, plus `env`. Root's variables such as DOCKER_HOST do not leak
    /// in.
    fn command(&self, env: &[(&str, &str)], program: &Path) -> Command {
        let mut command = Command::new("runuser");
        command
            .args(["-u", self.name, "--", "env", "-i"])
            .arg("PATH=/usr/local/bin:/usr/bin:/bin")
            .arg(format!("HOME={}", self.home))
            .arg(format!("USER={}", self.name))
            .arg(format!("XDG_RUNTIME_DIR={}", self.runtime_dir))
            .args(env.iter().map(|(key, value)| format!("{key}={value}")))
            .arg(program)
            // The test's folder may be closed to the user.
            .current_dir("/");
        command
    }
}

fn rootless_binary_dir() -> PathBuf {
    std::env::temp_dir().join(format!("{ROOTLESS_BINARY_DIR}-{}", std::process::id()))
}

/// Copies the regctl binary to a folder in the temporary directory that
/// every user can read, once, and returns the copy's path.
fn rootless_binary() -> Result<PathBuf, String> {
    static COPY: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    COPY.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;

        let dir = rootless_binary_dir();
        let copy = dir.join("regctl");
        let result = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)))
            .and_then(|()| std::fs::copy(regctl_binary(), &copy))
            .and_then(|_| std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)));
        result
            .map(|()| copy)
            .map_err(|error| format!("cannot copy regctl to {}: {error}", dir.display()))
    })
    .clone()
}

/// Removes a registry when dropped, so every exit path of a test cleans up.
pub struct Cleanup<'a> {
    engine: &'a Engine,
    names: Vec<String>,
}

impl<'a> Cleanup<'a> {
    pub fn new(engine: &'a Engine, names: &[&str]) -> Self {
        Cleanup {
            engine,
            names: names.iter().map(|name| (*name).to_owned()).collect(),
        }
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for name in &self.names {
            self.engine.cleanup(name);
        }
    }
}

/// Fails with `message` unless `condition` holds.
pub fn ensure(condition: bool, message: impl Into<String>) -> TestResult {
    if condition {
        Ok(())
    } else {
        Err(message.into().into())
    }
}

/// Fails unless `actual == expected`, showing both.
pub fn ensure_eq<T: PartialEq + std::fmt::Debug>(actual: T, expected: T, what: &str) -> TestResult {
    if actual == expected {
        Ok(())
    } else {
        Err(format!("{what}: expected {expected:?}, got {actual:?}").into())
    }
}
