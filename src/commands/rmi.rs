//! `regctl rmi`: delete manifests by tag, digest or tag glob.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;

use futures_util::{stream, StreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use tracing::{info, warn};

use crate::cli::RmiArgs;
use crate::commands::find_running_registry;
use crate::engines::error_chain;
use crate::error::Error;
use crate::output::print_rows;
use crate::refs::{ImageRef, RefTarget};
use crate::registry_client::{DeleteOutcome, RegistryClient, MAX_IN_FLIGHT};
use crate::removal::{
    self, CreationTimes, Kept, PlanError, Removal, RepositoryPlan, Selection, TagDigests,
};

const HEADERS: &[&str] = &["repository", "digest", "tags", "status"];

/// Outcome of the delete of one manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum RemovalStatus {
    /// A dry run would delete it.
    Planned,
    Deleted,
    /// It was gone before the delete arrived.
    NotFound,
    Failed,
}

impl RemovalStatus {
    fn as_str(self) -> &'static str {
        match self {
            RemovalStatus::Planned => "planned",
            RemovalStatus::Deleted => "deleted",
            RemovalStatus::NotFound => "not_found",
            RemovalStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Serialize)]
struct RemovalRow {
    repository: String,
    digest: String,
    /// Every tag that pointed at the manifest, and so went with it.
    tags: Vec<String>,
    status: RemovalStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Whether the registry returned 405, which means delete is disabled.
    #[serde(skip)]
    refused: bool,
}

impl RemovalRow {
    fn new(removal: Removal, status: RemovalStatus) -> Self {
        RemovalRow {
            repository: removal.repository,
            digest: removal.digest,
            tags: removal.tags,
            status,
            error: None,
            refused: false,
        }
    }
}

pub async fn run(args: &RmiArgs) -> Result<(), Error> {
    check_keep(args)?;
    let found = find_running_registry(&args.runtime.runtime, &args.name).await?;
    let client = RegistryClient::new(&found.spec);

    let removals = plan_all(&client, &args.name, &args.references, args.keep).await?;
    announce(&removals, args.dry_run);

    if args.dry_run {
        return print_plan(removals, found.spec.delete_enabled, args);
    }

    let rows = delete_all(&client, removals).await;
    report_deletions(&rows, args)
}

fn print_plan(removals: Vec<Removal>, delete_enabled: bool, args: &RmiArgs) -> Result<(), Error> {
    if !delete_enabled {
        warn!(
            "delete is disabled on `{}`, so a real run would fail; enable it with \
             `regctl update {} --delete-enabled`",
            args.name, args.name
        );
    }

    let rows: Vec<RemovalRow> = removals
        .into_iter()
        .map(|removal| RemovalRow::new(removal, RemovalStatus::Planned))
        .collect();
    print(&rows, args)
}

/// Prints the outcome of each delete, and fails when any failed. When the
/// registry refused every delete with 405, that is the error.
fn report_deletions(rows: &[RemovalRow], args: &RmiArgs) -> Result<(), Error> {
    let count = |status| rows.iter().filter(|row| row.status == status).count();
    let deleted = count(RemovalStatus::Deleted);
    let failed = count(RemovalStatus::Failed);

    if deleted == 0 && rows.iter().any(|row| row.refused) {
        return Err(Error::DeleteDisabled {
            name: args.name.clone(),
        });
    }

    for row in rows
        .iter()
        .filter(|row| row.status == RemovalStatus::Failed)
    {
        warn!(
            "failed to delete {}@{}: {}",
            row.repository,
            row.digest,
            row.error.as_deref().unwrap_or_default()
        );
    }
    print(rows, args)?;

    if deleted > 0 {
        info!(
            "deleted {deleted} manifest(s); run `regctl gc {}` to free their disk space",
            args.name
        );
    }
    if failed > 0 {
        return Err(Error::RemovalIncomplete {
            failed,
            total: rows.len(),
        });
    }
    Ok(())
}

/// `--keep` ranks tags, so a digest reference, which names no tag, makes
/// no sense with it.
fn check_keep(args: &RmiArgs) -> Result<(), Error> {
    if args.keep.is_none() {
        return Ok(());
    }

    let digest = args
        .references
        .iter()
        .find(|reference| matches!(reference.target, RefTarget::Digest(_)));
    match digest {
        Some(reference) => Err(Error::Usage(format!(
            "`--keep` ranks tags and cannot be combined with the digest reference \
             `{reference}`; give tags or tag globs, such as 'app:*'"
        ))),
        None => Ok(()),
    }
}

/// Plans every repository before anything is deleted, so a reference that
/// does not resolve deletes nothing.
async fn plan_all(
    client: &RegistryClient,
    name: &str,
    references: &[ImageRef],
    keep: Option<usize>,
) -> Result<Vec<Removal>, Error> {
    let mut by_repository: BTreeMap<&str, Vec<&ImageRef>> = BTreeMap::new();
    for reference in references {
        by_repository
            .entry(reference.repository.as_str())
            .or_default()
            .push(reference);
    }

    let mut removals = Vec::new();
    for (repository, references) in by_repository {
        let plan = plan_repository(client, name, repository, &references, keep).await?;
        report_kept(repository, &plan);
        removals.extend(plan.removals);
    }
    Ok(removals)
}

async fn plan_repository(
    client: &RegistryClient,
    name: &str,
    repository: &str,
    references: &[&ImageRef],
    keep: Option<usize>,
) -> Result<RepositoryPlan, Error> {
    let plan_error = |error: PlanError| Error::Plan {
        name: name.to_owned(),
        error,
    };

    let tags = client
        .tags(repository)
        .await?
        .ok_or_else(|| Error::RepositoryNotFound {
            name: name.to_owned(),
            repository: repository.to_owned(),
        })?;
    let index = client.tag_digests(repository, tags).await?;

    let selection = removal::select(repository, &index, references).map_err(plan_error)?;
    check_digests(client, name, repository, &selection, &index).await?;

    let created = match keep {
        Some(_) => creation_times(client, repository, &selection, &index).await?,
        None => BTreeMap::new(),
    };
    removal::plan(repository, &index, &selection, keep, &created).map_err(plan_error)
}

/// Fails on a digest reference that the repository does not have. A digest
/// that no tag points at is looked up directly.
async fn check_digests(
    client: &RegistryClient,
    name: &str,
    repository: &str,
    selection: &Selection,
    index: &TagDigests,
) -> Result<(), Error> {
    let tagged: BTreeSet<&String> = index.values().collect();

    for digest in &selection.digests {
        if tagged.contains(digest) {
            continue;
        }
        if client.manifest_digest(repository, digest).await?.is_none() {
            return Err(Error::ManifestNotFound {
                name: name.to_owned(),
                reference: format!("{repository}@{digest}"),
            });
        }
    }
    Ok(())
}

/// Reads the image creation time of each selected digest, [`MAX_IN_FLIGHT`]
/// at a time.
async fn creation_times(
    client: &RegistryClient,
    repository: &str,
    selection: &Selection,
    index: &TagDigests,
) -> Result<CreationTimes, Error> {
    let digests: BTreeSet<String> = selection
        .tags
        .iter()
        .filter_map(|tag| index.get(tag).cloned())
        .collect();

    let results: Vec<_> = stream::iter(digests)
        .map(|digest| async move {
            let created = client.image_created(repository, &digest).await?;
            Ok::<_, Error>((digest, created))
        })
        .buffer_unordered(MAX_IN_FLIGHT)
        .collect()
        .await;

    let mut created = BTreeMap::new();
    for result in results {
        let (digest, time) = result?;
        if time.is_none() {
            warn!("image {repository}@{digest} has no creation time; ranking it as oldest");
        }
        created.insert(digest, time);
    }
    Ok(created)
}

fn report_kept(repository: &str, plan: &RepositoryPlan) {
    for pattern in &plan.unmatched {
        warn!("no tag of `{repository}` matches `{pattern}`");
    }

    for kept in &plan.kept {
        match kept {
            Kept::Newest { tag } => info!("keeping `{repository}:{tag}`, one of the newest"),
            Kept::SharedDigest {
                tag,
                digest,
                others,
            } => warn!(
                "keeping `{repository}:{tag}`, because its manifest {digest} also carries \
                 tag(s) {}, which are not being deleted",
                others.join(", ")
            ),
        }
    }
}

/// Lists on stderr every tag that goes with each manifest, before anything
/// is deleted.
fn announce(removals: &[Removal], dry_run: bool) {
    let verb = if dry_run { "would delete" } else { "deleting" };

    if removals.is_empty() {
        info!("nothing to delete");
    }
    for removal in removals {
        let tags = if removal.tags.is_empty() {
            "no tags".to_owned()
        } else {
            format!("tags {}", removal.tags.join(", "))
        };
        info!("{verb} {}@{} ({tags})", removal.repository, removal.digest);
    }
}

/// Deletes the manifests, [`MAX_IN_FLIGHT`] at a time, with a progress bar
/// on a terminal.
async fn delete_all(client: &RegistryClient, removals: Vec<Removal>) -> Vec<RemovalRow> {
    let bar = progress_bar(removals.len());

    let mut rows: Vec<RemovalRow> = stream::iter(removals)
        .map(|removal| {
            let bar = &bar;
            async move {
                let outcome = client
                    .delete_manifest(&removal.repository, &removal.digest)
                    .await;
                bar.inc(1);
                row_for(removal, outcome)
            }
        })
        .buffer_unordered(MAX_IN_FLIGHT)
        .collect()
        .await;
    bar.finish_and_clear();

    rows.sort_by(|a, b| (&a.repository, &a.digest).cmp(&(&b.repository, &b.digest)));
    rows
}

fn row_for(removal: Removal, outcome: Result<DeleteOutcome, Error>) -> RemovalRow {
    let refused = matches!(outcome, Ok(DeleteOutcome::Disabled));
    let (status, error) = match outcome {
        Ok(DeleteOutcome::Deleted) => (RemovalStatus::Deleted, None),
        Ok(DeleteOutcome::NotFound) => (RemovalStatus::NotFound, None),
        Ok(DeleteOutcome::Disabled) => (
            RemovalStatus::Failed,
            Some("the registry answered 405: delete is disabled".to_owned()),
        ),
        Err(error) => (RemovalStatus::Failed, Some(error_chain(&error))),
    };
    RemovalRow {
        error,
        refused,
        ..RemovalRow::new(removal, status)
    }
}

/// Creates a progress bar on stderr when it is a terminal, and a hidden one
/// otherwise.
fn progress_bar(total: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }

    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} manifests deleted ({elapsed})")
            .expect("the progress template is valid"),
    );
    bar
}

fn print(rows: &[RemovalRow], args: &RmiArgs) -> Result<(), Error> {
    print_rows(rows, args.output, HEADERS, |row| {
        vec![
            row.repository.clone(),
            row.digest.clone(),
            row.tags.join(","),
            row.status.as_str().to_owned(),
        ]
    })
}
