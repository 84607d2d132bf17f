//! Disk usage of volumes, from `GET /system/df`.
//!
//! bollard 0.21 models only the response shape of API 1.52, where volumes
//! sit under `VolumeUsage.Items`. Daemons before that, such as Docker 20.10
//! (API 1.41), list them under `Volumes`, so this module sends the request
//! itself and reads both shapes from the raw JSON.

use std::time::Duration;

use regctl_runtime::RuntimeError;
use serde_json::Value;

use crate::error::DockerError;
use crate::DockerRuntime;

/// Seconds one disk usage request may take. The daemon walks every volume,
/// image and container to respond, so this is longer than a plain call.
const DISK_USAGE_TIMEOUT_SECONDS: u64 = 120;

impl DockerRuntime {
    pub(crate) async fn volume_disk_usage(&self, name: &str) -> Result<Option<u64>, RuntimeError> {
        let (client, base) = self.raw_client()?;

        // `type=volume` limits the walk to volumes from API 1.42 on; older
        // daemons ignore the parameter and compute everything.
        let url = format!(
            "{base}/v{}/system/df?type=volume",
            self.client.client_version()
        );
        let body = client
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(DockerError::DiskUsage)?
            .bytes()
            .await
            .map_err(DockerError::DiskUsage)?;

        let usage: Value = serde_json::from_slice(&body).map_err(DockerError::DiskUsageBody)?;
        Ok(volume_size(&usage, name))
    }

    /// Builds an HTTP client for the daemon's socket, and returns it with
    /// the base URL to send to.
    fn raw_client(&self) -> Result<(reqwest::Client, String), RuntimeError> {
        let builder = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(DISK_USAGE_TIMEOUT_SECONDS));

        let (builder, base) = if let Some(path) = self.url.strip_prefix("unix://") {
            // The host part is ignored on a Unix socket.
            (builder.unix_socket(path), "http://docker".to_owned())
        } else if let Some(address) = self.url.strip_prefix("tcp://") {
            (builder, format!("http://{address}"))
        } else {
            (builder, self.url.trim_end_matches('/').to_owned())
        };

        let client = builder.build().map_err(DockerError::DiskUsage)?;
        Ok((client, base))
    }
}

/// Finds the size of volume `name` in a `/system/df` response of any API
/// version. Returns `None` when the volume is missing or its size is
/// unknown, which the daemon reports as -1.
fn volume_size(usage: &Value, name: &str) -> Option<u64> {
    let volumes = usage
        .get("Volumes")
        .filter(|volumes| volumes.is_array())
        .or_else(|| usage.get("VolumeUsage")?.get("Items"))?
        .as_array()?;

    let volume = volumes
        .iter()
        .find(|volume| volume.get("Name").and_then(Value::as_str) == Some(name))?;

    let size = volume.get("UsageData")?.get("Size")?.as_i64()?;
    u64::try_from(size).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn size_from_api_1_41() {
        let usage = json!({
            "LayersSize": 0,
            "Volumes": [
                { "Name": "other", "UsageData": { "Size": 7, "RefCount": 0 } },
                { "Name": "reg-data", "UsageData": { "Size": 32970, "RefCount": 1 } }
            ]
        });

        assert_eq!(volume_size(&usage, "reg-data"), Some(32970));
    }

    #[test]
    fn size_from_api_1_52() {
        let usage = json!({
            "VolumeUsage": {
                "TotalSize": 40,
                "Items": [{ "Name": "reg-data", "UsageData": { "Size": 40, "RefCount": 1 } }]
            }
        });

        assert_eq!(volume_size(&usage, "reg-data"), Some(40));
    }

    #[test]
    fn unknown_size_is_none() {
        let usage = json!({
            "Volumes": [{ "Name": "reg-data", "UsageData": { "Size": -1, "RefCount": 1 } }]
        });

        assert_eq!(volume_size(&usage, "reg-data"), None);
        assert_eq!(volume_size(&usage, "missing"), None);
        assert_eq!(volume_size(&json!({ "Volumes": null }), "reg-data"), None);
    }
}
