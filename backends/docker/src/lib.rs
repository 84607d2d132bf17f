//! Docker backend of regctl, through the `bollard` client.
//!
//! The bollard client stays inside this crate: callers see only
//! [`regctl_runtime::ContainerRuntime`] and [`RuntimeError`].

mod convert;
mod detect;
mod disk_usage;
mod error;
mod one_off;
mod request;
mod runtime;

pub use detect::detect_kind;
pub use error::DockerError;
pub use request::create_request;
pub use runtime::DockerRuntime;
