//! End-to-end tests against real engines, a real registry and skopeo.
//!
//! `REGCTL_E2E_ENGINES=docker,podman` selects the engines; each test body
//! runs once per selected engine. Without the variable every test is listed
//! as ignored, never as passed. A selected engine that does not respond
//! makes its tests fail.

mod cases;
mod hardening;
mod harness;
mod oci;
mod removal;
mod storage;

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut cases = cases::all();
    cases.extend(storage::all());
    cases.extend(hardening::all());
    cases.extend(removal::all());
    harness::run(cases)
}
