//! Podman backend of regctl: a [`ContainerRuntime`](regctl_runtime::ContainerRuntime)
//! on the libpod API, through podman-api.
//!
//! Every request uses the libpod API version 4.3.1, the version podman-api
//! 0.11 was generated from. The podman-api client stays inside this crate:
//! callers see [`PodmanRuntime`], [`create_request`] and [`PodmanError`].

mod address;
mod containers;
mod error;
mod inspect;
mod one_off;
mod request;
mod runtime;

pub use error::{ApiError, PodmanError};
pub use request::create_request;
pub use runtime::PodmanRuntime;
