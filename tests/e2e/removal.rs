//! Image removal and garbage collection: `images`, `rmi`, `update` and
//! `gc` against a real registry. Each body runs once per engine.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use libtest_mimic::Failed;
use reqwest::StatusCode;

use crate::harness::{ensure, ensure_eq, Case, Cleanup, Engine, TestResult};
use crate::oci::{
    blob_status, file_layer, manifest_digest, ping, pull_image, push_image, push_layered, retag,
    unique_bytes, ImageDigests,
};

/// Size of the layer that every test image shares.
const SHARED_LAYER_BYTES: usize = 64 * 1024;

/// Size of the layer that only one image has; large enough that its
/// removal shows in the volume's disk usage.
const UNIQUE_LAYER_BYTES: usize = 256 * 1024;

pub fn all() -> Vec<Case> {
    vec![
        Case {
            name: "gc_frees_unique_blobs_only",
            body: gc_frees_unique_blobs_only,
        },
        Case {
            name: "rmi_digest_removes_all_its_tags",
            body: rmi_digest_removes_all_its_tags,
        },
        Case {
            name: "rmi_glob_and_keep_pick_tags",
            body: rmi_glob_and_keep_pick_tags,
        },
        Case {
            name: "rmi_needs_delete_then_update_enables",
            body: rmi_needs_delete_then_update_enables,
        },
        Case {
            name: "images_follow_catalog_pages",
            body: images_follow_catalog_pages,
        },
    ]
}

/// Tags and digests per repository, as `images -o json` prints them.
type Listing = BTreeMap<String, BTreeMap<String, String>>;

fn create(engine: &Engine, name: &str, extra: &[&str]) -> Result<String, Failed> {
    let mut args = vec!["create", name];
    args.extend_from_slice(extra);
    Ok(engine.regctl_ok(&args)?.stdout.trim().to_owned())
}

fn images(engine: &Engine, name: &str) -> Result<Listing, Failed> {
    let run = engine.regctl_ok(&["images", name, "-o", "json"])?;
    listing(&run.stdout)
}

fn listing(json: &str) -> Result<Listing, Failed> {
    let rows: Vec<serde_json::Value> = serde_json::from_str(json)?;
    let mut listing = Listing::new();

    for row in rows {
        let repository = row["repository"].as_str().ok_or("row without repository")?;
        let tags = row["tags"]
            .as_array()
            .ok_or("row without tags")?
            .iter()
            .map(|tag| {
                (
                    tag["tag"].as_str().unwrap_or_default().to_owned(),
                    tag["digest"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        listing.insert(repository.to_owned(), tags);
    }
    Ok(listing)
}

fn tag_set(listing: &Listing, repository: &str) -> BTreeSet<String> {
    listing
        .get(repository)
        .map(|tags| tags.keys().cloned().collect())
        .unwrap_or_default()
}

fn set(tags: &[&str]) -> BTreeSet<String> {
    tags.iter().map(|tag| (*tag).to_owned()).collect()
}

/// Rows of a JSON document that `rmi` or `gc` printed.
fn rows(json: &str) -> Result<Vec<serde_json::Value>, Failed> {
    serde_json::from_str(json)
        .map_err(|error| format!("stdout is not JSON ({error}):\n{json}").into())
}

fn strings(value: &serde_json::Value) -> BTreeSet<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Bytes of the regular files below `path`.
fn dir_size(path: &Path) -> Result<u64, Failed> {
    let mut total = 0;
    for entry in std::fs::read_dir(path).map_err(|error| format!("{}: {error}", path.display()))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            total += dir_size(&entry.path())?;
        } else if kind.is_file() {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

/// Builds the layer that every image of `name`'s test shares.
fn shared_layer(name: &str) -> Result<Vec<u8>, Failed> {
    file_layer(
        "shared.bin",
        &unique_bytes(&format!("{name} shared"), SHARED_LAYER_BYTES),
    )
}

fn unique_layer(name: &str, image: &str) -> Result<Vec<u8>, Failed> {
    file_layer(
        "unique.bin",
        &unique_bytes(&format!("{name} {image}"), UNIQUE_LAYER_BYTES),
    )
}

/// Pushes `repository:tag` as a shared and a unique layer.
fn push_two_layers(
    endpoint: &str,
    name: &str,
    repository: &str,
    tag: &str,
    created: &str,
) -> Result<ImageDigests, Failed> {
    let layers = [
        shared_layer(name)?,
        unique_layer(name, &format!("{repository}:{tag}"))?,
    ];
    push_layered(endpoint, repository, tag, &layers, created)
}

fn gc_frees_unique_blobs_only(engine: &Engine) -> TestResult {
    let name = engine.registry_name("gc");
    // `gc` removes its one-off container itself; the cleanup covers a
    // failure in the middle of the test.
    let one_off = format!("{name}_gc");
    let _cleanup = Cleanup::new(engine, &[&name, &one_off]);
    let endpoint = create(engine, &name, &["--delete-enabled"])?;

    let created = "2024-01-01T00:00:00Z";
    let removed = push_two_layers(&endpoint, &name, "app", "v1", created)?;
    let kept = push_two_layers(&endpoint, &name, "app", "v2", created)?;
    let other = push_two_layers(&endpoint, &name, "tools", "v1", created)?;
    let shared = removed.layers[0].clone();
    let removed_unique = removed.layers[1].clone();
    ensure_eq(&kept.layers[0], &shared, "shared layer of app:v2")?;
    ensure_eq(&other.layers[0], &shared, "shared layer of tools:v1")?;

    engine.regctl_ok(&["rmi", &name, "app:v1"])?;
    let volume_dir = engine.volume_mountpoint(&format!("{name}-data"))?;
    let size_before = dir_size(&volume_dir)?;

    // A dry run reports the unique blobs of app:v1 and deletes nothing.
    let dry = engine.regctl_ok(&["gc", &name, "--dry-run", "-o", "json"])?;
    let dry = rows(&dry.stdout)?;
    let eligible = strings(&dry[0]["eligible_blobs"]);
    for digest in [&removed.manifest, &removed.config, &removed_unique] {
        ensure(
            eligible.contains(digest),
            format!("{digest} not eligible: {eligible:?}"),
        )?;
    }
    ensure_eq(eligible.len(), 3, "eligible blobs of the dry run")?;
    ensure(
        strings(&dry[0]["deleted_blobs"]).is_empty(),
        "the dry run deleted blobs",
    )?;
    ensure_eq(
        blob_status(&endpoint, "app", &removed_unique)?,
        StatusCode::OK,
        "unique layer after the dry run",
    )?;
    ensure_eq(
        dir_size(&volume_dir)?,
        size_before,
        "volume size after the dry run",
    )?;

    let run = engine.regctl_ok(&["gc", &name, "-o", "json"])?;
    let report = rows(&run.stdout)?;
    let deleted = strings(&report[0]["deleted_blobs"]);
    ensure_eq(&deleted, &eligible, "deleted blobs")?;
    ensure(
        run.stderr.contains("deleted 3 blob(s)"),
        format!("stderr lacks the summary:\n{}", run.stderr),
    )?;

    // The registry is back on the same address, without the unique blobs.
    ensure_eq(ping(&endpoint)?, StatusCode::OK, "GET /v2/ after gc")?;
    ensure_eq(
        blob_status(&endpoint, "app", &removed_unique)?,
        StatusCode::NOT_FOUND,
        "unique layer of app:v1 after gc",
    )?;
    for (repository, digest) in [
        ("app", &shared),
        ("tools", &shared),
        ("app", &kept.layers[1]),
        ("tools", &other.layers[1]),
    ] {
        ensure_eq(
            blob_status(&endpoint, repository, digest)?,
            StatusCode::OK,
            &format!("blob {digest} of {repository} after gc"),
        )?;
    }
    pull_image(&endpoint, "app", "v2")?;
    pull_image(&endpoint, "tools", "v1")?;

    // Both the engine's measure and the files on the host shrank by at
    // least the unique layer.
    let freed = report[0]["bytes_freed"]
        .as_u64()
        .ok_or_else(|| format!("no bytes_freed in {}", report[0]))?;
    ensure(
        freed >= UNIQUE_LAYER_BYTES as u64,
        format!("gc reported {freed} bytes freed"),
    )?;
    let size_after = dir_size(&volume_dir)?;
    ensure(
        size_after + UNIQUE_LAYER_BYTES as u64 <= size_before,
        format!("volume files went from {size_before} to {size_after} bytes"),
    )?;

    let listing = images(engine, &name)?;
    ensure_eq(tag_set(&listing, "app"), set(&["v2"]), "tags of app")?;
    ensure_eq(tag_set(&listing, "tools"), set(&["v1"]), "tags of tools")?;
    Ok(())
}

fn rmi_digest_removes_all_its_tags(engine: &Engine) -> TestResult {
    let name = engine.registry_name("rmid");
    let _cleanup = Cleanup::new(engine, &[&name]);
    let endpoint = create(engine, &name, &["--delete-enabled"])?;

    let digest = push_image(&endpoint, "app", "v1")?;
    retag(&endpoint, "app", "v1", "latest")?;
    let other = push_image(&endpoint, "app", "v2")?;

    // A tag alone cannot go, because its manifest carries another tag.
    let refused = engine.regctl(&["rmi", &name, "app:v1"]);
    ensure_eq(refused.code, 1, "exit code of rmi on a shared manifest")?;
    ensure(
        refused.stderr.contains("also carries tag(s) latest"),
        format!("stderr:\n{}", refused.stderr),
    )?;
    ensure(
        refused.stderr.contains(&format!("app@{digest}")),
        format!("no digest hint:\n{}", refused.stderr),
    )?;
    ensure_eq(
        tag_set(&images(engine, &name)?, "app"),
        set(&["latest", "v1", "v2"]),
        "tags after the refused rmi",
    )?;

    let run = engine.regctl_ok(&["rmi", &name, &format!("app@{digest}"), "-o", "json"])?;
    let removed = rows(&run.stdout)?;
    ensure_eq(removed.len(), 1, "rows of rmi by digest")?;
    ensure_eq(
        removed[0]["digest"].as_str(),
        Some(digest.as_str()),
        "digest",
    )?;
    ensure_eq(
        strings(&removed[0]["tags"]),
        set(&["latest", "v1"]),
        "tags listed",
    )?;
    ensure_eq(removed[0]["status"].as_str(), Some("deleted"), "status")?;
    ensure(
        run.stderr.contains("(tags latest, v1)"),
        format!("stderr does not list the tags:\n{}", run.stderr),
    )?;

    let listing = images(engine, &name)?;
    ensure_eq(
        tag_set(&listing, "app"),
        set(&["v2"]),
        "tags after rmi by digest",
    )?;
    ensure_eq(
        listing["app"].get("v2"),
        Some(&other),
        "digest of the remaining tag",
    )?;
    ensure_eq(
        manifest_digest(&endpoint, "app", &digest)?,
        None,
        "manifest by digest",
    )?;
    Ok(())
}

fn rmi_glob_and_keep_pick_tags(engine: &Engine) -> TestResult {
    let name = engine.registry_name("keep");
    let _cleanup = Cleanup::new(engine, &[&name]);
    let endpoint = create(engine, &name, &["--delete-enabled"])?;

    // Creation times disagree with the tag names on purpose.
    for (tag, created) in [
        ("pr-1", "2024-02-01T00:00:00Z"),
        ("pr-2", "2024-01-01T00:00:00Z"),
        ("pr-3", "2024-01-15T00:00:00Z"),
        ("pr-10", "2024-03-01T00:00:00Z"),
        ("main", "2024-04-01T00:00:00Z"),
    ] {
        push_two_layers(&endpoint, &name, "app", tag, created)?;
    }
    let all = set(&["main", "pr-1", "pr-10", "pr-2", "pr-3"]);

    let dry = engine.regctl_ok(&[
        "rmi",
        &name,
        "app:pr-*",
        "--keep",
        "2",
        "--dry-run",
        "-o",
        "json",
    ])?;
    let planned: BTreeSet<String> = rows(&dry.stdout)?
        .iter()
        .flat_map(|row| strings(&row["tags"]))
        .collect();
    ensure_eq(
        planned,
        set(&["pr-2", "pr-3"]),
        "tags a dry run plans to delete",
    )?;
    ensure_eq(
        tag_set(&images(engine, &name)?, "app"),
        all.clone(),
        "tags after the dry run",
    )?;

    engine.regctl_ok(&["rmi", &name, "app:pr-*", "--keep", "2"])?;
    ensure_eq(
        tag_set(&images(engine, &name)?, "app"),
        set(&["main", "pr-1", "pr-10"]),
        "tags after --keep 2",
    )?;

    let unmatched = engine.regctl_ok(&["rmi", &name, "app:release-*"])?;
    ensure(
        unmatched
            .stderr
            .contains("no tag of `app` matches `release-*`"),
        format!("stderr:\n{}", unmatched.stderr),
    )?;

    engine.regctl_ok(&["rmi", &name, "app:pr-*"])?;
    ensure_eq(
        tag_set(&images(engine, &name)?, "app"),
        set(&["main"]),
        "tags after removing every pr-* tag",
    )?;

    let digest_with_keep = engine.regctl(&[
        "rmi",
        &name,
        "app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "--keep",
        "1",
    ]);
    ensure_eq(
        digest_with_keep.code,
        2,
        "exit code of --keep with a digest",
    )?;
    Ok(())
}

fn rmi_needs_delete_then_update_enables(engine: &Engine) -> TestResult {
    let name = engine.registry_name("upd");
    let _cleanup = Cleanup::new(engine, &[&name]);
    let endpoint = create(engine, &name, &[])?;

    push_image(&endpoint, "app", "v1")?;
    let other = push_image(&endpoint, "other", "v1")?;
    let before = images(engine, &name)?;

    let refused = engine.regctl(&["rmi", &name, "app:v1"]);
    ensure_eq(refused.code, 1, "exit code of rmi with delete disabled")?;
    ensure(
        refused.stderr.contains("delete is disabled on registry"),
        format!("stderr:\n{}", refused.stderr),
    )?;
    ensure(
        refused
            .stderr
            .contains(&format!("regctl update {name} --delete-enabled")),
        format!("no update hint:\n{}", refused.stderr),
    )?;
    ensure_eq(
        images(engine, &name)?,
        before.clone(),
        "images after the refused rmi",
    )?;

    let update = engine.regctl_ok(&["update", &name, "--delete-enabled"])?;
    ensure_eq(
        update.stdout.trim(),
        endpoint.as_str(),
        "endpoint after update",
    )?;
    ensure(
        update.stderr.contains("warning: delete is enabled"),
        format!("no delete warning:\n{}", update.stderr),
    )?;
    let env = engine.inspect_json(&name)?["Config"]["Env"].to_string();
    ensure(
        env.contains("REGISTRY_STORAGE_DELETE_ENABLED=true"),
        format!("container env: {env}"),
    )?;
    ensure_eq(images(engine, &name)?, before, "images after update")?;

    engine.regctl_ok(&["rmi", &name, "app:v1"])?;
    let listing = images(engine, &name)?;
    ensure(tag_set(&listing, "app").is_empty(), "app:v1 is still there")?;
    ensure_eq(
        listing["other"].get("v1"),
        Some(&other),
        "other:v1 after rmi",
    )?;

    engine.regctl_ok(&["update", &name, "--no-delete-enabled"])?;
    let refused_again = engine.regctl(&["rmi", &name, "other:v1"]);
    ensure_eq(refused_again.code, 1, "exit code after --no-delete-enabled")?;
    ensure_eq(
        manifest_digest(&endpoint, "other", "v1")?,
        Some(other),
        "other:v1 after the second refused rmi",
    )?;
    Ok(())
}

fn images_follow_catalog_pages(engine: &Engine) -> TestResult {
    let name = engine.registry_name("cat");
    let _cleanup = Cleanup::new(engine, &[&name]);
    let endpoint = create(engine, &name, &[])?;

    let mut expected = Listing::new();
    for repository in ["alpha", "beta", "team/gamma"] {
        let digest = push_image(&endpoint, repository, "v1")?;
        expected.insert(
            repository.to_owned(),
            BTreeMap::from([("v1".to_owned(), digest)]),
        );
    }

    // One repository per page makes the catalog send a `Link` header twice.
    let paged = engine.regctl_ok(&["images", &name, "--page-size", "1", "-o", "json"])?;
    ensure_eq(
        listing(&paged.stdout)?,
        expected.clone(),
        "images with one repository per page",
    )?;

    let one = engine.regctl_ok(&["images", &name, "beta", "-o", "json"])?;
    let one = listing(&one.stdout)?;
    ensure_eq(
        one.keys().cloned().collect::<Vec<_>>(),
        vec!["beta".to_owned()],
        "images of one repository",
    )?;

    let table = engine.regctl_ok(&["images", &name])?.stdout;
    ensure(
        table.contains("team/gamma") && table.contains(&expected["alpha"]["v1"]),
        format!("table:\n{table}"),
    )?;

    let missing = engine.regctl(&["images", &name, "missing"]);
    ensure_eq(missing.code, 1, "exit code for a missing repository")?;
    ensure(
        missing.stderr.contains("repository `missing` not found"),
        format!("stderr:\n{}", missing.stderr),
    )?;

    engine.regctl_ok(&["stop", &name])?;
    let stopped = engine.regctl(&["images", &name]);
    ensure_eq(stopped.code, 1, "exit code on a stopped registry")?;
    ensure(
        stopped.stderr.contains(&format!("regctl start {name}")),
        format!("stderr:\n{}", stopped.stderr),
    )?;
    Ok(())
}
