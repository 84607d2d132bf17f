use std::path::PathBuf;

use url::Url;

use crate::PodmanError;

/// Address of the libpod API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiAddress {
    /// Path of a Unix socket.
    Unix(PathBuf),
    /// `host:port`, the form podman-api's TCP transport takes.
    Tcp(String),
}

/// Parses `unix:///path` or `tcp://host:port`, the two forms that
/// `CONTAINER_HOST` and discovery produce and that need no TLS or SSH.
pub(crate) fn parse_api_url(url: &str) -> Result<ApiAddress, PodmanError> {
    let invalid = |reason: String| PodmanError::InvalidUrl {
        url: redact_password(url),
        reason,
    };

    // A Unix socket path is taken verbatim, because `Url` would
    // percent-decode it and reject paths that are not valid URL paths.
    if let Some(path) = url.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(invalid(
                "the socket path must be absolute, as in unix:///run/podman/podman.sock".to_owned(),
            ));
        }
        return Ok(ApiAddress::Unix(PathBuf::from(path)));
    }

    let parsed = Url::parse(url).map_err(|error| invalid(error.to_string()))?;
    if parsed.scheme() != "tcp" {
        return Err(invalid(format!(
            "unsupported scheme `{}`, expected unix:// or tcp://",
            parsed.scheme()
        )));
    }

    let host = parsed
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| invalid("the host is missing, as in tcp://127.0.0.1:8080".to_owned()))?;
    let port = parsed
        .port()
        .ok_or_else(|| invalid("the port is missing, as in tcp://127.0.0.1:8080".to_owned()))?;

    let has_extra_parts = !parsed.username().is_empty()
        || parsed.password().is_some()
        || !matches!(parsed.path(), "" | "/")
        || parsed.query().is_some()
        || parsed.fragment().is_some();
    if has_extra_parts {
        return Err(invalid(
            "expected only a host and a port after tcp://".to_owned(),
        ));
    }

    Ok(ApiAddress::Tcp(format!("{host}:{port}")))
}

/// Hides a password in `url`, because the URL ends up in error messages.
fn redact_password(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // `set_password` fails only for URLs without a host, which
            // cannot contain a password.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason_of(url: &str) -> String {
        match parse_api_url(url) {
            Err(PodmanError::InvalidUrl { reason, .. }) => reason,
            other => panic!("expected InvalidUrl for {url}, got {other:?}"),
        }
    }

    #[test]
    fn unix_socket_path() {
        assert_eq!(
            parse_api_url("unix:///run/podman/podman.sock").unwrap(),
            ApiAddress::Unix(PathBuf::from("/run/podman/podman.sock"))
        );
    }

    #[test]
    fn unix_path_is_taken_verbatim() {
        assert_eq!(
            parse_api_url("unix:///tmp/a dir/podman%20x.sock").unwrap(),
            ApiAddress::Unix(PathBuf::from("/tmp/a dir/podman%20x.sock"))
        );
    }

    #[test]
    fn unix_relative_path_is_invalid() {
        assert!(reason_of("unix://run/podman.sock").contains("absolute"));
        assert!(reason_of("unix://").contains("absolute"));
    }

    #[test]
    fn tcp_host_and_port() {
        assert_eq!(
            parse_api_url("tcp://127.0.0.1:8080").unwrap(),
            ApiAddress::Tcp("127.0.0.1:8080".to_owned())
        );
        assert_eq!(
            parse_api_url("tcp://localhost:8080/").unwrap(),
            ApiAddress::Tcp("localhost:8080".to_owned())
        );
        assert_eq!(
            parse_api_url("tcp://[::1]:8080").unwrap(),
            ApiAddress::Tcp("[::1]:8080".to_owned())
        );
    }

    #[test]
    fn tcp_without_port_is_invalid() {
        assert!(reason_of("tcp://127.0.0.1").contains("port is missing"));
    }

    #[test]
    fn tcp_with_path_is_invalid() {
        assert!(reason_of("tcp://127.0.0.1:8080/v4").contains("only a host and a port"));
    }

    #[test]
    fn other_schemes_are_invalid() {
        assert!(reason_of("ssh://core@example.com:22/run/podman.sock").contains("`ssh`"));
        assert!(reason_of("http://127.0.0.1:8080").contains("`http`"));
    }

    #[test]
    fn text_without_scheme_is_invalid() {
        assert!(!reason_of("/run/podman/podman.sock").is_empty());
        assert!(!reason_of("").is_empty());
    }

    #[test]
    fn error_names_the_url() {
        let error = parse_api_url("ftp://127.0.0.1:21").unwrap_err();
        assert!(error.to_string().contains("`ftp://127.0.0.1:21`"));
    }

    #[test]
    fn error_hides_the_password() {
        let error = parse_api_url("tcp://admin:hunter2@127.0.0.1:8080").unwrap_err();
        let message = error.to_string();
        assert!(!message.contains("hunter2"), "{message}");
        assert!(message.contains("admin:***@127.0.0.1:8080"), "{message}");
    }
}
