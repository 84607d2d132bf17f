//! Host port checks and allocation, and the lock that makes allocation safe
//! between concurrent regctl processes.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;

use fs2::FileExt;

use crate::error::Error;

/// First port tried when `--port` is omitted. 5000 is skipped because
/// macOS AirPlay and many other local services take it.
pub const FIRST_AUTO_PORT: u16 = 5001;

/// Last port tried when `--port` is omitted.
pub const LAST_AUTO_PORT: u16 = 5999;

/// Exclusive lock held by `create` from its name check until the container
/// started, so two processes cannot pick the same name, volume or port.
/// Released on drop.
pub struct CreateLock {
    file: File,
}

impl CreateLock {
    /// Blocks until no other regctl process holds the lock.
    pub async fn acquire() -> Result<CreateLock, Error> {
        let path = lock_path();
        let display = path.display().to_string();

        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| Error::Lock {
                path: display.clone(),
                source,
            })?;

        let file = tokio::task::spawn_blocking(move || file.lock_exclusive().map(|()| file))
            .await
            .expect("the lock task does not panic")
            .map_err(|source| Error::Lock {
                path: display,
                source,
            })?;

        Ok(CreateLock { file })
    }
}

impl Drop for CreateLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first only makes
        // the release independent of when the descriptor is closed.
        let _ = fs2::FileExt::unlock(&self.file);
    }
}

/// The lock lives in the user's runtime directory when there is one, so a
/// rootless user never collides with root's lock file.
fn lock_path() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("regctl-create.lock"),
        _ => std::env::temp_dir().join("regctl-create.lock"),
    }
}

/// Checks whether a process on this host could bind `ip:port` now.
pub fn is_free(ip: IpAddr, port: u16) -> bool {
    TcpListener::bind(SocketAddr::new(ip, port)).is_ok()
}

/// Picks the first port from [`FIRST_AUTO_PORT`] that is free on `ip` and
/// not recorded by another registry, which may be stopped and so not bound.
pub fn allocate(ip: IpAddr, taken: &BTreeSet<u16>) -> Result<u16, Error> {
    (FIRST_AUTO_PORT..=LAST_AUTO_PORT)
        .find(|port| !taken.contains(port) && is_free(ip, *port))
        .ok_or(Error::NoFreePort {
            ip,
            first: FIRST_AUTO_PORT,
            last: LAST_AUTO_PORT,
        })
}

/// First port a rootless engine may bind, from
/// `net.ipv4.ip_unprivileged_port_start` (1024 when unreadable).
pub fn first_unprivileged_port() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocate_skips_taken_and_bound_ports() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let bound = listener.local_addr().unwrap().port();

        let first = allocate(ip, &BTreeSet::new()).unwrap();
        let taken = BTreeSet::from([first]);
        let second = allocate(ip, &taken).unwrap();

        assert_ne!(first, second);
        assert!(second > first);
        assert!(!is_free(ip, bound));
    }
}
