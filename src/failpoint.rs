//! Fault injection for the end-to-end tests, compiled into debug builds
//! only. Release builds ignore `REGCTL_FAILPOINT`.

use std::net::IpAddr;

/// Variable that names the fault to inject.
#[cfg(debug_assertions)]
const FAILPOINT_ENV: &str = "REGCTL_FAILPOINT";

/// With `REGCTL_FAILPOINT=take-port-after-check`, binds the host port that
/// `create` just found free and keeps it until the process exits, once per
/// process. The engine then fails to publish the port, as when another
/// process takes it between the check and the start.
#[cfg(debug_assertions)]
pub fn take_port_after_check(ip: IpAddr, port: u16) {
    use std::sync::atomic::{AtomicBool, Ordering};

    static FIRED: AtomicBool = AtomicBool::new(false);

    let enabled = std::env::var(FAILPOINT_ENV).is_ok_and(|value| value == "take-port-after-check");
    if !enabled || FIRED.swap(true, Ordering::SeqCst) {
        return;
    }

    match std::net::TcpListener::bind((ip, port)) {
        Ok(listener) => {
            tracing::debug!("failpoint: holding {ip}:{port}");
            std::mem::forget(listener);
        }
        Err(error) => tracing::debug!("failpoint: cannot bind {ip}:{port}: {error}"),
    }
}

#[cfg(not(debug_assertions))]
pub fn take_port_after_check(_ip: IpAddr, _port: u16) {}
