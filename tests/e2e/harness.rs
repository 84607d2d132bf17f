//! Test runner: expands each case into one trial per engine, and prints a
//! per-engine summary after the run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Output};
use std::sync::{Arc, Mutex};

use libtest_mimic::{Arguments, Failed, Trial};

/// Variable that selects the engines, such as `docker,podman`.
pub const ENGINES_ENV: &str = "REGCTL_E2E_ENGINES";

/// Engines these tests know how to drive.
const KNOWN_ENGINES: &[&str] = &["docker", "podman"];

pub type TestResult = Result<(), Failed>;

/// One behaviour, run once per engine.
pub struct Case {
    pub name: &'static str,
    pub body: fn(&Engine) -> TestResult,
}

/// The engine a trial runs against, and helpers to drive it.
#[derive(Debug, Clone)]
pub struct Engine {
    /// `docker` or `podman`, both the regctl `--runtime` and the CLI name.
    pub name: &'static str,
    /// Short tag that keeps registry names of the two engines apart.
    pub tag: &'static str,
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

pub fn run(cases: Vec<Case>) -> ExitCode {
    let arguments = Arguments::from_args();
    let selected = match selected_engines() {
        Ok(selected) => selected,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };

    if selected.is_empty() {
        eprintln!(
            "note: end-to-end tests are ignored; set {ENGINES_ENV}=docker,podman to run them"
        );
    }

    let tallies: Arc<Mutex<BTreeMap<&'static str, Tally>>> = Arc::default();
    let mut trials = Vec::new();

    for engine_name in KNOWN_ENGINES {
        let engine = Engine {
            name: engine_name,
            tag: &engine_name[..1],
        };
        let runs = selected.contains(engine_name);

        for case in &cases {
            let engine = engine.clone();
            let body = case.body;
            let tallies = Arc::clone(&tallies);

            let trial = Trial::test(format!("{}::{}", engine.name, case.name), move || {
                let result = check_engine(&engine).and_then(|()| body(&engine));
                let mut tallies = tallies.lock().unwrap();
                let tally = tallies.entry(engine.name).or_default();
                match result {
                    Ok(()) => tally.passed += 1,
                    Err(_) => tally.failed += 1,
                }
                result
            })
            .with_ignored_flag(!runs);
            trials.push(trial);
        }
    }

    let conclusion = libtest_mimic::run(&arguments, trials);
    print_summary(&tallies.lock().unwrap(), &selected);
    conclusion.exit_code()
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
                    format!("{ENGINES_ENV} names unknown engine `{name}`; use docker or podman")
                })
        })
        .collect()
}

/// Fails the trial when its engine does not respond, so a selected engine
/// that is down shows as failures. regctl's own discovery is the check,
/// because its error lists every socket it tried.
fn check_engine(engine: &Engine) -> TestResult {
    let run = engine.regctl(&["list", "-o", "json"]);
    if run.code == 0 {
        Ok(())
    } else {
        Err(format!(
            "{} was selected in {ENGINES_ENV} but does not answer:\n{}",
            engine.name, run.stderr
        )
        .into())
    }
}

fn print_summary(tallies: &BTreeMap<&'static str, Tally>, selected: &[&'static str]) {
    println!("\nend-to-end tests per engine:");
    println!("  {:<8} {:>6} {:>6}", "engine", "passed", "failed");
    for engine in KNOWN_ENGINES {
        match tallies.get(engine) {
            Some(tally) => println!("  {engine:<8} {:>6} {:>6}", tally.passed, tally.failed),
            None if selected.contains(engine) => {
                println!("  {engine:<8} {:>6} {:>6}  (filtered out)", 0, 0)
            }
            None => println!("  {engine:<8} {:>6} {:>6}  (not selected)", 0, 0),
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
    /// Registry name unique to this engine and test, within the 63
    /// characters of a DNS label.
    pub fn registry_name(&self, test: &str) -> String {
        format!("e2e-{}-{test}-{}", self.tag, std::process::id())
    }

    /// Runs `regctl ARGS --runtime ENGINE` and returns what it did.
    pub fn regctl(&self, args: &[&str]) -> Run {
        let output = Command::new(regctl_binary())
            .args(args)
            .args(["--runtime", self.name])
            .env_remove("REGCTL_LOG")
            .output()
            .expect("the regctl binary runs");
        Run::from_output(output)
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
        let output = Command::new(self.name)
            .args(args)
            .output()
            .expect("the engine CLI runs");
        Run::from_output(output)
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
        Ok(PathBuf::from(run.stdout.trim()))
    }

    /// Removes a registry and its volume whatever state a test left, so a
    /// failed test does not leak containers into the next.
    pub fn cleanup(&self, name: &str) {
        let _ = self.cli(&["rm", "-f", "-v", name]);
        let _ = self.cli(&["volume", "rm", "-f", &format!("{name}-data")]);
    }
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
