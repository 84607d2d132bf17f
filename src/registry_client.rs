//! A client for the Distribution HTTP API of one regctl registry, with what
//! `images` and `rmi` need: catalog, tags, manifests, blobs and deletes.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::{stream, StreamExt};
use regctl_runtime::RegistrySpec;
use reqwest::header::{HeaderMap, ACCEPT, LINK};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;
use crate::readiness::base_url;

/// Manifest media types a request accepts: Docker v2 manifest and manifest
/// list, OCI manifest and index. Without them the registry may convert the
/// manifest and report the digest of the conversion, not of what was pushed.
pub const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.oci.image.index.v1+json";

/// Header that carries the digest of a manifest.
const DIGEST_HEADER: &str = "Docker-Content-Digest";

/// Requests in flight at once for per-tag and per-manifest work.
pub const MAX_IN_FLIGHT: usize = 8;

/// Seconds one request may take; the registry runs on this host.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Result of `DELETE /v2/REPO/manifests/DIGEST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    /// The manifest was already gone.
    NotFound,
    /// The registry returned 405, so delete is disabled.
    Disabled,
}

/// Client of one registry's API at `http://HOST:PORT/v2/`.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    http: reqwest::Client,
    base: Url,
}

#[derive(Deserialize)]
struct Catalog {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TagList {
    /// `null` once every tag of the repository was deleted.
    #[serde(default)]
    tags: Option<Vec<String>>,
}

impl RegistryClient {
    /// Builds a client for the registry of `spec`, reached on loopback when
    /// it is published on every interface.
    pub fn new(spec: &RegistrySpec) -> Self {
        let port = spec.port.host_port.unwrap_or_default();
        let base = Url::parse(&base_url(spec.port.host_ip, port))
            .expect("an IP address and a port form a valid URL");
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("a plain HTTP client builds");
        RegistryClient { http, base }
    }

    /// Lists every repository, following the catalog's `Link` header with
    /// `page_size` repositories per request.
    pub async fn catalog(&self, page_size: u32) -> Result<Vec<String>, Error> {
        let mut url = self.url("/v2/_catalog")?;
        url.query_pairs_mut()
            .append_pair("n", &page_size.to_string());

        let mut repositories = Vec::new();
        let mut next = Some(url);
        while let Some(url) = next {
            let response = self.send(Method::GET, url.clone(), None).await?;
            next = next_page(&url, response.headers())?;
            let page: Catalog = json(response, &url).await?;
            repositories.extend(page.repositories.unwrap_or_default());
        }
        Ok(repositories)
    }

    /// Lists the tags of `repository`, or `None` when the registry does not
    /// know it. Follows the `Link` header where the registry paginates, as
    /// Distribution 3 does.
    pub async fn tags(&self, repository: &str) -> Result<Option<Vec<String>>, Error> {
        let mut tags = Vec::new();
        let mut next = Some(self.url(&format!("/v2/{repository}/tags/list"))?);

        while let Some(url) = next {
            let response = self.http.get(url.clone()).send().await;
            let response = response.map_err(|source| request_error("GET", &url, source))?;
            if response.status() == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let response = check_status(response, "GET", &url).await?;
            next = next_page(&url, response.headers())?;
            let page: TagList = json(response, &url).await?;
            tags.extend(page.tags.unwrap_or_default());
        }
        Ok(Some(tags))
    }

    /// Resolves `reference`, a tag or digest, to the manifest digest with
    /// `HEAD`, or `None` when it does not exist.
    pub async fn manifest_digest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<String>, Error> {
        let url = self.url(&format!("/v2/{repository}/manifests/{reference}"))?;
        let request = self.http.head(url.clone()).header(ACCEPT, MANIFEST_ACCEPT);
        let response = request
            .send()
            .await
            .map_err(|source| request_error("HEAD", &url, source))?;

        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = check_status(response, "HEAD", &url).await?;
        let digest = response
            .headers()
            .get(DIGEST_HEADER)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| Error::RegistryDigestMissing {
                url: url.to_string(),
            })?;
        Ok(Some(digest.to_owned()))
    }

    /// Resolves `tags` of `repository` to digests, [`MAX_IN_FLIGHT`] at a
    /// time. A tag deleted meanwhile is left out.
    pub async fn tag_digests(
        &self,
        repository: &str,
        tags: Vec<String>,
    ) -> Result<BTreeMap<String, String>, Error> {
        let results: Vec<Result<(String, Option<String>), Error>> = stream::iter(tags)
            .map(|tag| async move {
                let digest = self.manifest_digest(repository, &tag).await?;
                Ok((tag, digest))
            })
            .buffer_unordered(MAX_IN_FLIGHT)
            .collect()
            .await;

        let mut digests = BTreeMap::new();
        for result in results {
            if let (tag, Some(digest)) = result? {
                digests.insert(tag, digest);
            }
        }
        Ok(digests)
    }

    /// Reads the creation time of the image behind `digest` from the
    /// `created` field of its config blob. For an image index, the first
    /// image in it decides. Returns `None` when the field is missing or
    /// does not parse as RFC 3339.
    pub async fn image_created(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Option<DateTime<Utc>>, Error> {
        let mut manifest = self.manifest(repository, digest).await?;

        if let Some(child) = manifest["manifests"][0]["digest"].as_str() {
            manifest = self.manifest(repository, child).await?;
        }
        let Some(config) = manifest["config"]["digest"].as_str() else {
            return Ok(None);
        };

        let url = self.url(&format!("/v2/{repository}/blobs/{config}"))?;
        let response = self.send(Method::GET, url.clone(), None).await?;
        let config: Value = json(response, &url).await?;

        Ok(config["created"]
            .as_str()
            .and_then(|created| DateTime::parse_from_rfc3339(created).ok())
            .map(|created| created.with_timezone(&Utc)))
    }

    async fn manifest(&self, repository: &str, digest: &str) -> Result<Value, Error> {
        let url = self.url(&format!("/v2/{repository}/manifests/{digest}"))?;
        let response = self
            .send(Method::GET, url.clone(), Some(MANIFEST_ACCEPT))
            .await?;
        json(response, &url).await
    }

    /// Deletes the manifest `digest` of `repository`, and with it every tag
    /// that points at it.
    pub async fn delete_manifest(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<DeleteOutcome, Error> {
        let url = self.url(&format!("/v2/{repository}/manifests/{digest}"))?;
        let response = self
            .http
            .delete(url.clone())
            .send()
            .await
            .map_err(|source| request_error("DELETE", &url, source))?;

        match response.status() {
            StatusCode::NOT_FOUND => Ok(DeleteOutcome::NotFound),
            StatusCode::METHOD_NOT_ALLOWED => Ok(DeleteOutcome::Disabled),
            _ => {
                check_status(response, "DELETE", &url).await?;
                Ok(DeleteOutcome::Deleted)
            }
        }
    }

    fn url(&self, path: &str) -> Result<Url, Error> {
        self.base.join(path).map_err(|source| Error::RegistryUrl {
            path: path.to_owned(),
            source,
        })
    }

    /// Sends a request and fails on any status but 2xx.
    async fn send(
        &self,
        method: Method,
        url: Url,
        accept: Option<&str>,
    ) -> Result<Response, Error> {
        let mut request: RequestBuilder = self.http.request(method.clone(), url.clone());
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }

        let response = request
            .send()
            .await
            .map_err(|source| request_error(method.as_str(), &url, source))?;
        check_status(response, method.as_str(), &url).await
    }
}

/// Resolves the next page from a `Link: <URL>; rel="next"` header against
/// the current URL. `None` on the last page, and when the header points
/// back at the current page.
fn next_page(current: &Url, headers: &HeaderMap) -> Result<Option<Url>, Error> {
    let Some(target) = headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(next_link)
    else {
        return Ok(None);
    };

    let next = current.join(target).map_err(|source| Error::RegistryUrl {
        path: target.to_owned(),
        source,
    })?;
    Ok((next != *current).then_some(next))
}

/// Finds the target of the `rel="next"` link in a `Link` header value.
pub fn next_link(header: &str) -> Option<&str> {
    header.split(',').find_map(|link| {
        let (target, params) = link.trim().split_once(';')?;
        let is_next = params.split(';').any(|param| {
            let param = param.trim().replace(' ', "");
            param == "rel=\"next\"" || param == "rel=next"
        });
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then_some(target)
    })
}

fn request_error(method: &str, url: &Url, source: reqwest::Error) -> Error {
    Error::RegistryRequest {
        method: method.to_owned(),
        url: url.to_string(),
        source,
    }
}

/// Passes a 2xx response through, and turns any other into an error that
/// carries the registry's first error code and message.
async fn check_status(response: Response, method: &str, url: &Url) -> Result<Response, Error> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }

    let body = response.text().await.unwrap_or_default();
    Err(Error::RegistryStatus {
        method: method.to_owned(),
        url: url.to_string(),
        status: status.as_u16(),
        message: error_message(&body),
    })
}

/// Reads `{"errors":[{"code":..., "message":...}]}`, the error body of the
/// distribution API, and falls back to the raw body.
fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let first = parsed.as_ref().map(|value| &value["errors"][0]);

    match first.map(|error| (error["code"].as_str(), error["message"].as_str())) {
        Some((Some(code), Some(message))) => format!("{code}: {message}"),
        Some((Some(code), None)) => code.to_owned(),
        _ => body.trim().chars().take(200).collect(),
    }
}

async fn json<T: serde::de::DeserializeOwned>(response: Response, url: &Url) -> Result<T, Error> {
    let bytes = response
        .bytes()
        .await
        .map_err(|source| request_error("GET", url, source))?;
    serde_json::from_slice(&bytes).map_err(|source| Error::RegistryBody {
        url: url.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_of_distribution_2() {
        let header = r#"</v2/_catalog?last=a&n=1>; rel="next""#;

        assert_eq!(next_link(header), Some("/v2/_catalog?last=a&n=1"));
    }

    #[test]
    fn next_link_among_others() {
        let header = r#"<https://a.example/first>; rel="first", </v2/t?last=b>; rel=next"#;

        assert_eq!(next_link(header), Some("/v2/t?last=b"));
    }

    #[test]
    fn no_next_link() {
        assert_eq!(next_link(r#"</v2/_catalog?n=1>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
        assert_eq!(next_link(""), None);
    }

    #[test]
    fn error_message_of_distribution_body() {
        let body =
            r#"{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}"#;

        assert_eq!(
            error_message(body),
            "UNSUPPORTED: The operation is unsupported."
        );
        assert_eq!(error_message("plain text\n"), "plain text");
    }

    #[test]
    fn next_page_resolves_relative_link() {
        let current = Url::parse("http://127.0.0.1:5001/v2/_catalog?n=1").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            LINK,
            r#"</v2/_catalog?last=a&n=1>; rel="next""#.parse().unwrap(),
        );

        let next = next_page(&current, &headers).unwrap().unwrap();
        assert_eq!(
            next.as_str(),
            "http://127.0.0.1:5001/v2/_catalog?last=a&n=1"
        );

        headers.insert(LINK, r#"</v2/_catalog?n=1>; rel="next""#.parse().unwrap());
        assert_eq!(next_page(&current, &headers).unwrap(), None);
    }
}
