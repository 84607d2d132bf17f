//! Test images built on the fly as OCI layouts, pushed with skopeo, and the
//! registry API calls the tests assert on.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use libtest_mimic::Failed;
use reqwest::blocking::Client;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

/// Media types a manifest request accepts, so the registry returns the
/// digest of the manifest as pushed.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
    application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json";

fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

fn write_blob(layout: &Path, bytes: &[u8]) -> Result<String, Failed> {
    let digest = digest_of(bytes);
    let path = layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    std::fs::write(path, bytes).map_err(|error| format!("writing a blob: {error}"))?;
    Ok(digest)
}

/// Builds a one-layer tar that contains `content` as `/hello.txt`.
fn layer_tar(content: &str) -> Result<Vec<u8>, Failed> {
    file_layer("hello.txt", content.as_bytes())
}

/// Builds a layer tar that contains `content` as the file `name`.
pub fn file_layer(name: &str, content: &[u8]) -> Result<Vec<u8>, Failed> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, name, content)
        .map_err(|error| format!("building a layer: {error}"))?;
    builder
        .into_inner()
        .map_err(|error| format!("building a layer: {error}").into())
}

/// `size` bytes that differ for every `seed` and do not compress, from a
/// SHA-256 chain.
pub fn unique_bytes(seed: &str, size: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(size + 32);
    let mut block = Sha256::digest(seed.as_bytes());
    while bytes.len() < size {
        bytes.extend_from_slice(&block);
        block = Sha256::digest(block);
    }
    bytes.truncate(size);
    bytes
}

/// Digests of the blobs of one image, as pushed.
#[derive(Debug, Clone)]
pub struct ImageDigests {
    pub manifest: String,
    pub config: String,
    pub layers: Vec<String>,
}

/// Writes an OCI image layout with one image tagged `tag` into `layout`,
/// and returns the manifest digest. `content` makes the image unique.
pub fn build_image(layout: &Path, tag: &str, content: &str) -> Result<String, Failed> {
    let layer = layer_tar(content)?;
    Ok(build_layered_image(layout, tag, &[layer], None)?.manifest)
}

/// Writes an OCI image layout with one image of `layers`, tagged `tag`,
/// into `layout`. `created` becomes the `created` field of the config.
pub fn build_layered_image(
    layout: &Path,
    tag: &str,
    layers: &[Vec<u8>],
    created: Option<&str>,
) -> Result<ImageDigests, Failed> {
    std::fs::create_dir_all(layout.join("blobs/sha256"))
        .map_err(|error| format!("creating {}: {error}", layout.display()))?;

    let mut layer_digests = Vec::with_capacity(layers.len());
    for layer in layers {
        layer_digests.push(write_blob(layout, layer)?);
    }

    let mut config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": { "type": "layers", "diff_ids": layer_digests },
    });
    if let Some(created) = created {
        config["created"] = created.into();
    }
    let config = serde_json::to_vec(&config)?;
    let config_digest = write_blob(layout, &config)?;

    let layer_descriptors: Vec<serde_json::Value> = layers
        .iter()
        .zip(&layer_digests)
        .map(|(layer, digest)| {
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": digest,
                "size": layer.len(),
            })
        })
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": layer_descriptors,
    }))?;
    let manifest_digest = write_blob(layout, &manifest)?;

    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest.len(),
            "annotations": { "org.opencontainers.image.ref.name": tag },
        }],
    });
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&index)?)?;
    std::fs::File::create(layout.join("oci-layout"))?
        .write_all(br#"{"imageLayoutVersion":"1.0.0"}"#)?;

    Ok(ImageDigests {
        manifest: manifest_digest,
        config: config_digest,
        layers: layer_digests,
    })
}

/// Pushes a fresh one-layer image to `endpoint/repository:tag` with skopeo
/// and returns its manifest digest.
pub fn push_image(endpoint: &str, repository: &str, tag: &str) -> Result<String, Failed> {
    let dir = tempfile::tempdir()?;
    let content = format!(
        "{endpoint}/{repository}:{tag} {:?}",
        std::time::SystemTime::now()
    );
    let digest = build_image(dir.path(), tag, &content)?;
    copy_layout(dir.path(), tag, endpoint, repository)?;
    Ok(digest)
}

/// Pushes an image of `layers`, created at `created` (RFC 3339), to
/// `endpoint/repository:tag` and returns the digests of its blobs.
pub fn push_layered(
    endpoint: &str,
    repository: &str,
    tag: &str,
    layers: &[Vec<u8>],
    created: &str,
) -> Result<ImageDigests, Failed> {
    let dir = tempfile::tempdir()?;
    let digests = build_layered_image(dir.path(), tag, layers, Some(created))?;
    copy_layout(dir.path(), tag, endpoint, repository)?;
    Ok(digests)
}

fn copy_layout(layout: &Path, tag: &str, endpoint: &str, repository: &str) -> Result<(), Failed> {
    skopeo(&[
        "copy",
        "--quiet",
        // Without --preserve-digests skopeo compresses the uncompressed
        // layer, which changes the manifest digest.
        "--preserve-digests",
        "--dest-tls-verify=false",
        &format!("oci:{}:{tag}", layout.display()),
        &format!("docker://{endpoint}/{repository}:{tag}"),
    ])
}

/// Tags `source_tag` of `repository` also as `tag`, registry to registry.
pub fn retag(endpoint: &str, repository: &str, source_tag: &str, tag: &str) -> Result<(), Failed> {
    skopeo(&[
        "copy",
        "--quiet",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{endpoint}/{repository}:{source_tag}"),
        &format!("docker://{endpoint}/{repository}:{tag}"),
    ])
}

/// Copies `repository:tag` out of the registry into a fresh OCI layout,
/// which reads every blob of the image.
pub fn pull_image(endpoint: &str, repository: &str, tag: &str) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    skopeo(&[
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        &format!("docker://{endpoint}/{repository}:{tag}"),
        &format!("oci:{}:{tag}", dir.path().display()),
    ])
}

fn skopeo(args: &[&str]) -> Result<(), Failed> {
    let output = Command::new("skopeo")
        .args(args)
        .output()
        .map_err(|error| format!("cannot run skopeo: {error}"))?;

    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "skopeo {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        )
        .into())
    }
}

fn client() -> Client {
    Client::builder()
        .no_proxy()
        .build()
        .expect("a plain HTTP client builds")
}

fn base_url(endpoint: &str) -> String {
    format!("http://{}", endpoint.replace("localhost", "127.0.0.1"))
}

/// Digest the registry reports for `repository:reference`, or `None` on 404.
pub fn manifest_digest(
    endpoint: &str,
    repository: &str,
    reference: &str,
) -> Result<Option<String>, Failed> {
    let response = client()
        .head(format!(
            "{}/v2/{repository}/manifests/{reference}",
            base_url(endpoint)
        ))
        .header("Accept", MANIFEST_ACCEPT)
        .send()?;

    match response.status() {
        StatusCode::OK => Ok(response
            .headers()
            .get("Docker-Content-Digest")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)),
        StatusCode::NOT_FOUND => Ok(None),
        status => Err(format!("HEAD manifest answered {status}").into()),
    }
}

/// Sends `DELETE /v2/REPOSITORY/manifests/DIGEST`; returns the status and
/// the body.
pub fn delete_manifest(
    endpoint: &str,
    repository: &str,
    digest: &str,
) -> Result<(StatusCode, String), Failed> {
    let response = client()
        .delete(format!(
            "{}/v2/{repository}/manifests/{digest}",
            base_url(endpoint)
        ))
        .send()?;
    let status = response.status();
    Ok((status, response.text()?))
}

/// Status of `GET /v2/`.
pub fn ping(endpoint: &str) -> Result<StatusCode, Failed> {
    Ok(client()
        .get(format!("{}/v2/", base_url(endpoint)))
        .send()?
        .status())
}

/// Status of `HEAD /v2/REPOSITORY/blobs/DIGEST`: 200 while the blob is
/// stored, 404 once garbage collection removed it.
pub fn blob_status(endpoint: &str, repository: &str, digest: &str) -> Result<StatusCode, Failed> {
    Ok(client()
        .head(format!(
            "{}/v2/{repository}/blobs/{digest}",
            base_url(endpoint)
        ))
        .send()?
        .status())
}
