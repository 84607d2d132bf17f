//! Loading the S3 credentials from flags, files and the environment.

use std::fmt;
use std::path::Path;

use crate::cli::{StorageArgs, StorageKind};
use crate::error::Error;

/// Variable read when `--s3-access-key` is not given.
pub const ACCESS_KEY_ENV: &str = "AWS_ACCESS_KEY_ID";

/// Variable read when `--s3-secret-key-file` is not given.
pub const SECRET_KEY_ENV: &str = "AWS_SECRET_ACCESS_KEY";

/// An S3 access key and secret key. `Debug` shows neither.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Keys {
    pub access_key: String,
    pub secret_key: String,
}

impl fmt::Debug for S3Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("S3Keys { .. }")
    }
}

/// Loads the S3 keys for `--storage s3`: the access key from the flag or
/// `AWS_ACCESS_KEY_ID`, the secret key from the file or
/// `AWS_SECRET_ACCESS_KEY`. Returns `None` when neither is given, and an
/// error when only one is.
pub fn load_s3_keys(
    args: &StorageArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<S3Keys>, Error> {
    if args.storage != StorageKind::S3 {
        return Ok(None);
    }

    // NOTE: AWS_SESSION_TOKEN is not read, so temporary (STS or SSO)
    // credentials from the environment fail at the registry's first
    // request; only long-lived keys work.
    let non_empty = |value: Option<String>| value.filter(|value| !value.is_empty());
    let access_key =
        non_empty(args.s3_access_key.clone()).or_else(|| non_empty(env(ACCESS_KEY_ENV)));
    let secret_key = match &args.s3_secret_key_file {
        Some(path) => Some(read_secret_file(path)?),
        None => non_empty(env(SECRET_KEY_ENV)),
    };

    match (access_key, secret_key) {
        (Some(access_key), Some(secret_key)) => Ok(Some(S3Keys {
            access_key,
            secret_key,
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(Error::IncompleteS3Keys {
            missing: "secret key",
        }),
        (None, Some(_)) => Err(Error::IncompleteS3Keys {
            missing: "access key",
        }),
    }
}

/// Reads a secret from `path`, without its trailing line break.
fn read_secret_file(path: &Path) -> Result<String, Error> {
    let contents = std::fs::read_to_string(path).map_err(|source| Error::SecretFile {
        path: path.display().to_string(),
        source,
    })?;

    let secret = contents.trim_end_matches(['\n', '\r']).to_owned();
    if secret.is_empty() {
        return Err(Error::EmptySecretFile {
            path: path.display().to_string(),
        });
    }
    Ok(secret)
}
