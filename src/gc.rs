//! The pure part of `gc`: which command to run in the one-off container and
//! what its output means.
//!
//! The output format is that of `registry garbage-collect` in Distribution
//! 2.8.2: a summary and one line per blob on stdout, and a logrus line
//! "Deleting blob: PATH" on stderr for each blob removed.

use regctl_runtime::ImageCommand;
use serde::Serialize;

/// Configuration file of the registry 2.x images.
pub const REGISTRY_2_CONFIG: &str = "/etc/docker/registry/config.yml";

/// Configuration file of the Distribution 3.x images.
pub const DISTRIBUTION_3_CONFIG: &str = "/etc/distribution/config.yml";

/// Path of the registry binary in the upstream 2.x and 3.x images, used
/// when the image's entrypoint is a wrapper script.
const REGISTRY_BINARY: &str = "/bin/registry";

const ELIGIBLE_BLOB: &str = "blob eligible for deletion: ";
const ELIGIBLE_MANIFEST: &str = "manifest eligible for deletion: ";
const DELETING_BLOB: &str = "Deleting blob: ";
const SUMMARY_SUFFIX: &str = "manifests eligible for deletion";

/// Finds the configuration file the image serves with: the first argument
/// of its command or entrypoint that ends in `.yml` or `.yaml`.
///
/// Without one, the image tag decides: `3` and `3.x` tags get the
/// Distribution 3 path, every other tag the registry 2 path.
pub fn config_path(command: &ImageCommand, image: &str) -> String {
    let from_image = command
        .cmd
        .iter()
        .chain(&command.entrypoint)
        .find(|arg| arg.ends_with(".yml") || arg.ends_with(".yaml"));
    if let Some(path) = from_image {
        return path.clone();
    }

    let tag = image
        .rsplit('/')
        .next()
        .and_then(|last| last.split_once(':'))
        .map(|(_, tag)| tag);
    match tag {
        Some(tag) if tag == "3" || tag.starts_with("3.") => DISTRIBUTION_3_CONFIG.to_owned(),
        _ => REGISTRY_2_CONFIG.to_owned(),
    }
}

/// Picks the registry binary: the image's entrypoint when it is the binary
/// itself, as in `["/bin/registry"]`, and [`REGISTRY_BINARY`] when the
/// entrypoint is a wrapper such as the upstream `/entrypoint.sh`.
pub fn registry_program(command: &ImageCommand) -> String {
    match command.entrypoint.first() {
        Some(program) if program.rsplit('/').next() == Some("registry") => program.clone(),
        _ => REGISTRY_BINARY.to_owned(),
    }
}

/// Builds the argument vector of `registry garbage-collect`.
pub fn gc_command(
    program: &str,
    config: &str,
    dry_run: bool,
    delete_untagged: bool,
) -> Vec<String> {
    let mut command = vec![program.to_owned(), "garbage-collect".to_owned()];
    if dry_run {
        command.push("--dry-run".to_owned());
    }
    if delete_untagged {
        command.push("--delete-untagged".to_owned());
    }
    command.push(config.to_owned());
    command
}

/// Counts and digests that one garbage collection reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GcOutput {
    /// Blobs that some manifest references, from the summary line.
    pub blobs_marked: Option<u64>,
    /// Blobs that no manifest references.
    pub eligible_blobs: Vec<String>,
    /// Untagged manifests, listed with `--delete-untagged` only.
    pub eligible_manifests: Vec<String>,
    /// Blobs that a "Deleting blob" log line names.
    pub logged_deletions: Vec<String>,
}

/// Parses the combined stdout and stderr of `registry garbage-collect`.
/// Lines it does not know are ignored.
pub fn parse_output(output: &str) -> GcOutput {
    let mut parsed = GcOutput::default();

    for line in output.lines().map(str::trim) {
        if let Some(digest) = line.strip_prefix(ELIGIBLE_BLOB) {
            parsed.eligible_blobs.push(digest.trim().to_owned());
        } else if let Some(digest) = line.strip_prefix(ELIGIBLE_MANIFEST) {
            parsed.eligible_manifests.push(digest.trim().to_owned());
        } else if let Some(digest) = deleted_blob(line) {
            parsed.logged_deletions.push(digest);
        } else if line.ends_with(SUMMARY_SUFFIX) {
            parsed.blobs_marked = blobs_marked(line);
        }
    }
    parsed
}

/// Reads the digest from `... msg="Deleting blob: /docker/registry/v2/blobs/sha256/0a/0a4b..." ...`,
/// whose last two path components are the algorithm's shard and the hex.
fn deleted_blob(line: &str) -> Option<String> {
    let (_, rest) = line.split_once(DELETING_BLOB)?;
    let path = rest.split(['"', ' ']).next()?;

    let mut components = path.trim_end_matches('/').rsplit('/');
    let hex = components.next()?;
    let _shard = components.next()?;
    let algorithm = components.next()?;
    Some(format!("{algorithm}:{hex}"))
}

/// Reads N from "N blobs marked, M blobs and K manifests eligible for
/// deletion".
fn blobs_marked(line: &str) -> Option<u64> {
    let (count, _) = line.split_once(" blobs marked")?;
    count.trim().parse().ok()
}

/// Blobs that a garbage collection deleted.
///
/// A run that exited 0 deleted every eligible blob, because the collector
/// stops at the first failed deletion. A failed run deleted those that its
/// log names, which a log level above `info` hides.
pub fn deleted_blobs(parsed: &GcOutput, dry_run: bool, exit_code: i64) -> Vec<String> {
    if dry_run {
        Vec::new()
    } else if exit_code == 0 {
        parsed.eligible_blobs.clone()
    } else {
        parsed.logged_deletions.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Output of `registry garbage-collect` from Debian's docker-registry
    /// 2.8.2 after one of two images that share a layer was deleted.
    const REAL_RUN: &str = "\
app
app: marking manifest sha256:03d8b8051dd071d3cc02f5c936bf40126d1b40730521c5a5b3b634cfb66f229b 
app: marking blob sha256:80dd76a6ed0599e6fffbfde231bc46513b29974e1827f9e80e8dfbfa57387870
app: marking blob sha256:d75b00e28d6ef77d32e45b276229a37d9a1a142878fc020451f5bf8401011eaf
app: marking blob sha256:7605384e2bce086a0330a5f67565d94dd9626a73c81662113e715e5b14137274

4 blobs marked, 3 blobs and 0 manifests eligible for deletion
blob eligible for deletion: sha256:0a4bd9ae004828e60bfd981d723363403be324f0c829e3937b6cd8296c623abd
blob eligible for deletion: sha256:48f9adc8a45d1210e75fd7835044ce3fd8e0dc21c39e1c21e2b0319dc37d6591
blob eligible for deletion: sha256:ea3406e90aec9414df8c4d29c03e6949c1e6e735815eb4684775391fc4974d50
time=\"2026-12-04T20:04:35.292653933Z\" level=info msg=\"Deleting blob: /docker/registry/v2/blobs/sha256/0a/0a4bd9ae004828e60bfd981d723363403be324f0c829e3937b6cd8296c623abd\" go.version=go1.19.8 instance.id=e8a2b640 service=registry
time=\"2026-12-04T20:04:35.293377202Z\" level=info msg=\"Deleting blob: /docker/registry/v2/blobs/sha256/48/48f9adc8a45d1210e75fd7835044ce3fd8e0dc21c39e1c21e2b0319dc37d6591\" go.version=go1.19.8 instance.id=e8a2b640 service=registry
";

    fn command(entrypoint: &[&str], cmd: &[&str]) -> ImageCommand {
        ImageCommand {
            entrypoint: entrypoint.iter().map(|arg| (*arg).to_owned()).collect(),
            cmd: cmd.iter().map(|arg| (*arg).to_owned()).collect(),
        }
    }

    #[test]
    fn config_path_from_debian_image() {
        let image = command(&["/bin/registry"], &["serve", REGISTRY_2_CONFIG]);

        assert_eq!(config_path(&image, "registry:2"), REGISTRY_2_CONFIG);
    }

    #[test]
    fn config_path_from_upstream_images() {
        let two = command(&["/entrypoint.sh"], &[REGISTRY_2_CONFIG]);
        let three = command(&["/entrypoint.sh"], &[DISTRIBUTION_3_CONFIG]);

        assert_eq!(config_path(&two, "registry:2"), REGISTRY_2_CONFIG);
        assert_eq!(config_path(&three, "registry:3"), DISTRIBUTION_3_CONFIG);
    }

    #[test]
    fn config_path_from_tag_without_command() {
        let empty = ImageCommand::default();

        assert_eq!(
            config_path(&empty, "docker.io/library/registry:3.0.0"),
            DISTRIBUTION_3_CONFIG
        );
        assert_eq!(config_path(&empty, "registry:3"), DISTRIBUTION_3_CONFIG);
        assert_eq!(config_path(&empty, "registry:2.8.3"), REGISTRY_2_CONFIG);
        assert_eq!(
            config_path(&empty, "localhost:5000/registry"),
            REGISTRY_2_CONFIG
        );
    }

    #[test]
    fn program_follows_entrypoint() {
        let debian = command(&["/bin/registry"], &[]);
        let upstream = command(&["/entrypoint.sh"], &[]);

        assert_eq!(registry_program(&debian), "/bin/registry");
        assert_eq!(registry_program(&upstream), REGISTRY_BINARY);
        assert_eq!(registry_program(&ImageCommand::default()), REGISTRY_BINARY);
    }

    #[test]
    fn command_flags() {
        assert_eq!(
            gc_command("/bin/registry", "/c.yml", false, false),
            ["/bin/registry", "garbage-collect", "/c.yml"]
        );
        assert_eq!(
            gc_command("/bin/registry", "/c.yml", true, true),
            [
                "/bin/registry",
                "garbage-collect",
                "--dry-run",
                "--delete-untagged",
                "/c.yml"
            ]
        );
    }

    #[test]
    fn parses_real_output() {
        let parsed = parse_output(REAL_RUN);

        assert_eq!(parsed.blobs_marked, Some(4));
        assert_eq!(parsed.eligible_blobs.len(), 3);
        assert_eq!(
            parsed.eligible_blobs[0],
            "sha256:0a4bd9ae004828e60bfd981d723363403be324f0c829e3937b6cd8296c623abd"
        );
        assert_eq!(
            parsed.logged_deletions,
            [
                "sha256:0a4bd9ae004828e60bfd981d723363403be324f0c829e3937b6cd8296c623abd",
                "sha256:48f9adc8a45d1210e75fd7835044ce3fd8e0dc21c39e1c21e2b0319dc37d6591"
            ]
        );
        assert!(parsed.eligible_manifests.is_empty());
    }

    #[test]
    fn parses_untagged_manifests() {
        let parsed = parse_output(
            "manifest eligible for deletion: sha256:aa\n\
             1 blobs marked, 0 blobs and 1 manifests eligible for deletion\n",
        );

        assert_eq!(parsed.eligible_manifests, ["sha256:aa"]);
        assert_eq!(parsed.blobs_marked, Some(1));
    }

    #[test]
    fn empty_output() {
        assert_eq!(parse_output(""), GcOutput::default());
    }

    #[test]
    fn deleted_blobs_by_outcome() {
        let parsed = parse_output(REAL_RUN);

        assert!(deleted_blobs(&parsed, true, 0).is_empty());
        assert_eq!(deleted_blobs(&parsed, false, 0).len(), 3);
        assert_eq!(deleted_blobs(&parsed, false, 1).len(), 2);
    }
}
