//! `regctl images`: the repositories of a registry, with their tags and
//! digests.

use serde::Serialize;

use crate::cli::DocumentFormat;
use crate::cli::{ImagesArgs, OutputFormat};
use crate::commands::find_running_registry;
use crate::error::Error;
use crate::output::{print_document, print_table};
use crate::registry_client::RegistryClient;

const HEADERS: &[&str] = &["repository", "tag", "digest"];

/// One repository and its tags, sorted by tag.
#[derive(Debug, Serialize)]
struct RepositoryView {
    repository: String,
    tags: Vec<TagView>,
}

#[derive(Debug, Serialize)]
struct TagView {
    tag: String,
    digest: String,
}

pub async fn run(args: &ImagesArgs) -> Result<(), Error> {
    let found = find_running_registry(&args.runtime.runtime, &args.name).await?;
    let client = RegistryClient::new(&found.spec);

    let listed = args.repositories.is_empty();
    let repositories = if listed {
        client.catalog(args.page_size).await?
    } else {
        args.repositories.clone()
    };

    let mut views = Vec::with_capacity(repositories.len());
    for repository in repositories {
        // A repository from the catalog whose tags vanished meanwhile shows
        // as empty; one named on the command line must exist.
        let tags = match client.tags(&repository).await? {
            Some(tags) => tags,
            None if listed => Vec::new(),
            None => {
                return Err(Error::RepositoryNotFound {
                    name: args.name.clone(),
                    repository,
                })
            }
        };

        let digests = client.tag_digests(&repository, tags).await?;
        let tags = digests
            .into_iter()
            .map(|(tag, digest)| TagView { tag, digest })
            .collect();
        views.push(RepositoryView { repository, tags });
    }
    views.sort_by(|a, b| a.repository.cmp(&b.repository));

    print(&views, args.output)
}

/// Prints one table row per tag, and a row without tag for a repository
/// that has none left.
fn print(views: &[RepositoryView], format: OutputFormat) -> Result<(), Error> {
    match format {
        OutputFormat::Json => print_document(&views, DocumentFormat::Json),
        OutputFormat::Yaml => print_document(&views, DocumentFormat::Yaml),
        OutputFormat::Table => {
            let mut rows = Vec::new();
            for view in views {
                if view.tags.is_empty() {
                    rows.push(vec![
                        view.repository.clone(),
                        "<none>".to_owned(),
                        String::new(),
                    ]);
                }
                for tag in &view.tags {
                    rows.push(vec![
                        view.repository.clone(),
                        tag.tag.clone(),
                        tag.digest.clone(),
                    ]);
                }
            }
            print_table(HEADERS, rows)
        }
    }
}
