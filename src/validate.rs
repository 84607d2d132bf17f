//! Parsers for single argument values. Each error names the value and shows
//! what a valid one looks like. clap prints it as a usage error (exit 2).

use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use oci_spec::distribution::Reference;
use url::Url;

use crate::cli::RuntimeChoice;

use crate::refs::{check_repository, ImageRef};

/// Longest DNS label, and so the longest registry name: the name is also the
/// registry's alias on a network.
const MAX_NAME_LENGTH: usize = 63;

/// `--port` as given: an optional host IP and a host port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortArg {
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
}

/// One `--extra-env KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvArg {
    pub key: String,
    pub value: String,
}

/// Host IP used when `--port` names none: loopback, so the registry, which
/// has no authentication, is not exposed to the network.
pub const DEFAULT_HOST_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Checks that `name` is a DNS label: lowercase letters, digits and `-`, at
/// most 63 characters, starting and ending with a letter or digit.
pub fn parse_registry_name(name: &str) -> Result<String, String> {
    if name.is_empty() {
        return Err("the registry name is empty".to_owned());
    }

    if name.len() > MAX_NAME_LENGTH {
        return Err(format!(
            "`{name}` has {} characters; a registry name is a DNS label of at most {MAX_NAME_LENGTH}",
            name.len()
        ));
    }

    let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if let Some(bad) = name.chars().find(|c| !valid_char(*c)) {
        return Err(format!(
            "`{name}` contains {bad:?}; use lowercase letters, digits and `-`, \
             because the name is also a DNS alias"
        ));
    }

    if name.starts_with('-') || name.ends_with('-') {
        return Err(format!(
            "`{name}` starts or ends with `-`; start and end the name with a letter or digit"
        ));
    }

    Ok(name.to_owned())
}

/// Parses `[HOST_IP:]HOST_PORT`, with IPv6 addresses in brackets such as
/// `[::1]:5001`.
pub fn parse_port(value: &str) -> Result<PortArg, String> {
    let (host_ip, port) = match value.rsplit_once(':') {
        Some((ip, port)) => (Some(parse_host_ip(ip, value)?), port),
        None => (None, value),
    };

    let host_port: u16 = port
        .parse()
        .map_err(|_| format!("`{value}`: `{port}` is not a port number; expected 1 to 65535"))?;

    if host_port == 0 {
        return Err(format!(
            "`{value}`: port 0 is not allowed; omit --port to let regctl pick a free port"
        ));
    }

    Ok(PortArg { host_ip, host_port })
}

fn parse_host_ip(ip: &str, value: &str) -> Result<IpAddr, String> {
    let unbracketed = ip
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(ip);

    IpAddr::from_str(unbracketed).map_err(|_| {
        format!(
            "`{value}`: `{ip}` is not an IP address; expected [HOST_IP:]HOST_PORT \
             such as 127.0.0.1:5001 or [::1]:5001"
        )
    })
}

/// Parses `KEY=VALUE`, where KEY matches `[A-Za-z_][A-Za-z0-9_]*`. The value
/// is kept verbatim and may be empty or contain `=`.
pub fn parse_env_var(value: &str) -> Result<EnvArg, String> {
    let Some((key, env_value)) = value.split_once('=') else {
        // The whole argument may be a secret, so only its key-like head is shown.
        return Err(format!(
            "`{}` has no `=`; expected KEY=VALUE",
            truncate_for_message(value)
        ));
    };

    let mut chars = key.chars();
    let valid_head = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let valid_tail = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_head || !valid_tail {
        return Err(format!(
            "`{key}` is not a valid variable name; use letters, digits and `_`, \
             not starting with a digit"
        ));
    }

    Ok(EnvArg {
        key: key.to_owned(),
        value: env_value.to_owned(),
    })
}

/// Checks that `value` parses as an image reference, such as
/// `docker.io/library/registry:2` or `registry@sha256:...`.
pub fn parse_image(value: &str) -> Result<String, String> {
    let expected = "expected a reference such as docker.io/library/registry:2";
    let reference = Reference::from_str(value).map_err(|error| {
        format!("`{value}` is not a valid image reference ({error}); {expected}")
    })?;

    // oci-spec 0.8 accepts an uppercase first path component, which the
    // engines reject with "repository name must be lowercase".
    if reference
        .repository()
        .chars()
        .any(|c| c.is_ascii_uppercase())
    {
        return Err(format!(
            "`{value}` is not a valid image reference: the repository must be lowercase; {expected}"
        ));
    }

    Ok(value.to_owned())
}

/// `--volume` as given: a named volume or an absolute host path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeArg {
    Named(String),
    HostPath(String),
}

/// Parses `--volume`: an absolute path is a bind mount, anything else must be
/// a volume name as Docker and Podman accept it (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`).
pub fn parse_volume(value: &str) -> Result<VolumeArg, String> {
    if value.starts_with('/') {
        if value.split('/').any(|part| part == "..") {
            return Err(format!(
                "`{value}` contains `..`; give the host path without it"
            ));
        }
        return Ok(VolumeArg::HostPath(value.to_owned()));
    }

    if value.contains('/') || value.starts_with('.') || value.starts_with('~') {
        return Err(format!(
            "`{value}` is a relative path; give an absolute host path such as /srv/registry, \
             or a volume name"
        ));
    }

    let mut chars = value.chars();
    let valid_head = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let valid_tail = chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !valid_head || !valid_tail {
        return Err(format!(
            "`{value}` is not a valid volume name; use letters, digits, `_`, `.` and `-`, \
             starting with a letter or digit"
        ));
    }

    Ok(VolumeArg::Named(value.to_owned()))
}

/// Checks an S3 bucket name against the rules S3 applies to new buckets:
/// 3 to 63 lowercase letters, digits, `.` and `-`, starting and ending with
/// a letter or digit, no `..`, and not shaped like an IPv4 address.
pub fn parse_bucket(value: &str) -> Result<String, String> {
    let rules = "use 3 to 63 lowercase letters, digits, `.` and `-`, \
                 starting and ending with a letter or digit";

    let valid_chars = value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    let valid_ends = value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric());

    if !(3..=63).contains(&value.len()) || !valid_chars || !valid_ends {
        return Err(format!("`{value}` is not a valid S3 bucket name; {rules}"));
    }
    if value.contains("..") {
        return Err(format!(
            "`{value}` is not a valid S3 bucket name: it contains `..`"
        ));
    }
    if value.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(format!(
            "`{value}` is not a valid S3 bucket name: it is shaped like an IP address"
        ));
    }
    Ok(value.to_owned())
}

/// Checks an S3 region name such as `eu-west-1`.
pub fn parse_region(value: &str) -> Result<String, String> {
    let valid = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "`{value}` is not a valid S3 region; use lowercase letters, digits and `-`, such as eu-west-1"
        ))
    }
}

/// Checks an S3 endpoint: an http or https URL with a host, an optional
/// port, and nothing else.
pub fn parse_endpoint(value: &str) -> Result<String, String> {
    let expected = "expected a URL such as http://10.88.0.1:9000 or https://s3.example.com";
    let url = url::Url::parse(value)
        .map_err(|error| format!("`{value}` is not a URL ({error}); {expected}"))?;

    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "`{value}` uses scheme `{}`; {expected}",
            url.scheme()
        ));
    }
    if url.host_str().map_or(true, str::is_empty) {
        return Err(format!("`{value}` has no host; {expected}"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "the S3 endpoint contains credentials; pass them with --s3-access-key and \
             --s3-secret-key-file"
                .to_owned(),
        );
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{value}` has a path or query; {expected}"));
    }

    Ok(value.trim_end_matches('/').to_owned())
}

/// Checks an S3 key prefix: absolute, without `..` or empty components.
pub fn parse_root_directory(value: &str) -> Result<String, String> {
    let trimmed = value.trim_end_matches('/');
    let valid = trimmed.starts_with('/')
        && trimmed
            .split('/')
            .skip(1)
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if valid {
        Ok(trimmed.to_owned())
    } else {
        Err(format!(
            "`{value}` is not a valid root directory; use an absolute prefix such as /registry"
        ))
    }
}

/// Parses an `rmi` reference: `REPO:TAG`, `REPO@DIGEST` or `REPO:GLOB`.
pub fn parse_image_ref(value: &str) -> Result<ImageRef, String> {
    ImageRef::parse(value)
}

/// Checks a repository name such as `team/app`.
pub fn parse_repository(value: &str) -> Result<String, String> {
    check_repository(value, value)?;
    Ok(value.to_owned())
}

/// Parses `--runtime`: `auto`, `docker`, `podman`, or the API address of
/// one engine as `unix:///PATH` or `tcp://HOST:PORT`.
pub fn parse_runtime(value: &str) -> Result<RuntimeChoice, String> {
    match value {
        "auto" => return Ok(RuntimeChoice::Auto),
        "docker" => return Ok(RuntimeChoice::Docker),
        "podman" => return Ok(RuntimeChoice::Podman),
        _ => {}
    }

    if !value.contains("://") {
        return Err(format!(
            "`{value}` is not a runtime; expected auto, docker, podman, or an engine address \
             such as unix:///run/podman/podman.sock or tcp://127.0.0.1:2375"
        ));
    }

    parse_engine_url(value)
        .map(RuntimeChoice::Url)
        .map_err(|reason| {
            format!(
                "`{}` is not a valid engine address: {reason}",
                redact_password(value)
            )
        })
}

/// Checks an engine address and returns it in the form the backends take.
fn parse_engine_url(value: &str) -> Result<String, String> {
    // The socket path is taken verbatim: `Url` would percent-decode it.
    if let Some(path) = value.strip_prefix("unix://") {
        if !path.starts_with('/') || path.len() < 2 {
            return Err(
                "the socket path must be absolute, as in unix:///run/podman/podman.sock".to_owned(),
            );
        }
        return Ok(value.to_owned());
    }

    let example = "as in tcp://127.0.0.1:2375";
    let url = Url::parse(value).map_err(|error| error.to_string())?;
    if url.scheme() != "tcp" {
        return Err(format!(
            "unsupported scheme `{}`; use unix:// or tcp://",
            url.scheme()
        ));
    }

    let host = url
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| format!("the host is missing, {example}"))?;
    let port = url
        .port()
        .ok_or_else(|| format!("the port is missing, {example}"))?;

    let has_extra_parts = !url.username().is_empty()
        || url.password().is_some()
        || !matches!(url.path(), "" | "/")
        || url.query().is_some()
        || url.fragment().is_some();
    if has_extra_parts {
        return Err(format!("expected only a host and a port, {example}"));
    }

    Ok(format!("tcp://{host}:{port}"))
}

/// Hides a password in `value`, because the value ends up in error messages.
fn redact_password(value: &str) -> String {
    match Url::parse(value) {
        Ok(mut url) if url.password().is_some() => {
            // `set_password` fails only for URLs without a host, which
            // cannot contain a password.
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => value.to_owned(),
    }
}

fn truncate_for_message(value: &str) -> String {
    const SHOWN: usize = 40;
    if value.chars().count() <= SHOWN {
        value.to_owned()
    } else {
        let head: String = value.chars().take(SHOWN).collect();
        format!("{head}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_accepts_dns_labels() {
        for name in ["a", "regctl-registry", "kind-registry-2", &"a".repeat(63)] {
            assert_eq!(parse_registry_name(name).as_deref(), Ok(name));
        }
    }

    #[test]
    fn name_rejects_non_dns_labels() {
        let long = "a".repeat(64);
        for name in [
            "",
            "has space",
            "a/b",
            "-lead",
            ".lead",
            "trail-",
            "Upper",
            "a_b",
            "a.b",
            &long,
        ] {
            assert!(parse_registry_name(name).is_err(), "{name:?} was accepted");
        }
    }

    #[test]
    fn port_forms() {
        assert_eq!(
            parse_port("5001"),
            Ok(PortArg {
                host_ip: None,
                host_port: 5001
            })
        );
        assert_eq!(
            parse_port("0.0.0.0:80"),
            Ok(PortArg {
                host_ip: Some("0.0.0.0".parse().unwrap()),
                host_port: 80
            })
        );
        assert_eq!(
            parse_port("[::1]:5001"),
            Ok(PortArg {
                host_ip: Some("::1".parse().unwrap()),
                host_port: 5001
            })
        );
    }

    #[test]
    fn port_errors_name_the_value() {
        for value in [
            "0",
            "65536",
            "abc",
            "300.1.1.1:5000",
            "localhost:5000",
            "-1",
            "",
        ] {
            let error = parse_port(value).unwrap_err();
            assert!(error.contains(&format!("`{value}`")), "{error}");
        }
    }

    #[test]
    fn env_keeps_value_verbatim() {
        assert_eq!(
            parse_env_var("A_B=x=y "),
            Ok(EnvArg {
                key: "A_B".into(),
                value: "x=y ".into()
            })
        );
        assert_eq!(
            parse_env_var("_K="),
            Ok(EnvArg {
                key: "_K".into(),
                value: String::new()
            })
        );
    }

    #[test]
    fn env_rejects_bad_keys() {
        assert!(parse_env_var("NOEQUALS").unwrap_err().contains("no `=`"));
        assert!(parse_env_var("1A=x").unwrap_err().contains("`1A`"));
        assert!(parse_env_var("A-B=x").unwrap_err().contains("`A-B`"));
        assert!(parse_env_var("=x").is_err());
    }

    #[test]
    fn volume_forms() {
        assert_eq!(parse_volume("data"), Ok(VolumeArg::Named("data".into())));
        assert_eq!(
            parse_volume("my_vol.2-x"),
            Ok(VolumeArg::Named("my_vol.2-x".into()))
        );
        assert_eq!(
            parse_volume("/srv/reg"),
            Ok(VolumeArg::HostPath("/srv/reg".into()))
        );
        for value in [
            "./data",
            "data/x",
            "~/data",
            "..",
            "-x",
            "a b",
            "/srv/../etc",
            "",
        ] {
            let error = parse_volume(value).unwrap_err();
            assert!(error.contains(&format!("`{value}`")), "{error}");
        }
    }

    #[test]
    fn runtime_names() {
        assert_eq!(parse_runtime("auto"), Ok(RuntimeChoice::Auto));
        assert_eq!(parse_runtime("docker"), Ok(RuntimeChoice::Docker));
        assert_eq!(parse_runtime("podman"), Ok(RuntimeChoice::Podman));
    }

    #[test]
    fn runtime_urls() {
        for (value, expected) in [
            (
                "unix:///run/podman/podman.sock",
                "unix:///run/podman/podman.sock",
            ),
            (
                "unix:///tmp/a dir/x%20y.sock",
                "unix:///tmp/a dir/x%20y.sock",
            ),
            ("tcp://127.0.0.1:2375", "tcp://127.0.0.1:2375"),
            ("tcp://127.0.0.1:2375/", "tcp://127.0.0.1:2375"),
            ("tcp://localhost:8080", "tcp://localhost:8080"),
            ("tcp://[::1]:2375", "tcp://[::1]:2375"),
        ] {
            assert_eq!(
                parse_runtime(value),
                Ok(RuntimeChoice::Url(expected.to_owned())),
                "{value}"
            );
        }
    }

    #[test]
    fn runtime_errors_name_the_value() {
        for (value, reason) in [
            ("containerd", "is not a runtime"),
            ("Docker", "is not a runtime"),
            ("", "is not a runtime"),
            ("/run/podman/podman.sock", "is not a runtime"),
            ("unix://run/podman.sock", "must be absolute"),
            ("unix://", "must be absolute"),
            ("unix:///", "must be absolute"),
            ("tcp://127.0.0.1", "the port is missing"),
            ("tcp://:2375", "tcp://:2375"),
            ("tcp://127.0.0.1:99999", "invalid port"),
            ("tcp://127.0.0.1:2375/v1.41", "only a host and a port"),
            ("tcp://127.0.0.1:2375?tls=1", "only a host and a port"),
            ("http://127.0.0.1:2375", "unsupported scheme `http`"),
            (
                "ssh://core@host/run/podman.sock",
                "unsupported scheme `ssh`",
            ),
        ] {
            let error = parse_runtime(value).unwrap_err();
            assert!(error.contains(&format!("`{value}`")), "{error}");
            assert!(error.contains(reason), "{value}: {error}");
        }
    }

    #[test]
    fn bucket_names() {
        for good in ["abc", "my-bucket.2", &"a".repeat(63)] {
            assert!(parse_bucket(good).is_ok(), "{good}");
        }
        let long = "a".repeat(64);
        for bad in [
            "ab",
            &long,
            "My-Bucket",
            "-abc",
            "abc-",
            "a..b",
            "a_b",
            "192.168.1.1",
            "",
        ] {
            let error = parse_bucket(bad).unwrap_err();
            assert!(error.contains(&format!("`{bad}`")), "{error}");
        }
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            parse_endpoint("http://10.88.0.1:9000/").as_deref(),
            Ok("http://10.88.0.1:9000")
        );
        assert!(parse_endpoint("https://s3.example.com").is_ok());
        for bad in [
            "10.88.0.1:9000",
            "ftp://host",
            "not a url",
            "http://host/path",
            "http://",
        ] {
            let error = parse_endpoint(bad).unwrap_err();
            assert!(error.contains(&format!("`{bad}`")), "{bad}: {error}");
        }
        let error = parse_endpoint("http://user:sentinel@host").unwrap_err();
        assert!(!error.contains("sentinel"), "{error}");
    }

    #[test]
    fn root_directories() {
        assert_eq!(parse_root_directory("/registry/"), Ok("/registry".into()));
        for bad in ["registry", "/a//b", "/a/../b", ""] {
            assert!(parse_root_directory(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn runtime_error_hides_the_password() {
        let error = parse_runtime("tcp://admin:hunter2@127.0.0.1:2375").unwrap_err();
        assert!(!error.contains("hunter2"), "{error}");
        assert!(error.contains("admin:***@127.0.0.1:2375"), "{error}");
    }

    #[test]
    fn image_references() {
        assert!(parse_image("docker.io/library/registry:2").is_ok());
        assert!(parse_image("registry:2").is_ok());
        assert!(parse_image("localhost:5001/registry@sha256:0000000000000000000000000000000000000000000000000000000000000000").is_ok());
        assert!(parse_image("Registry:2").is_err());
        assert!(parse_image("UPPER/case:1").is_err());
        assert!(parse_image("registry:").is_err());
        assert!(parse_image("").is_err());
    }
}
