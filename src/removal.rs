//! Selection of the manifests that `rmi` deletes: the pure part of the
//! command.
//!
//! Distribution 2.x deletes manifests by digest only, and deleting one
//! removes every tag that points at it. So a tag or glob selection removes a
//! digest only when every tag on it is selected, and `--keep` never removes
//! a digest that a kept tag points at.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::refs::{ImageRef, RefTarget};

/// Tags of one repository and the manifest digest each points at.
pub type TagDigests = BTreeMap<String, String>;

/// Image creation time per manifest digest; `None` when the image config
/// has none.
pub type CreationTimes = BTreeMap<String, Option<DateTime<Utc>>>;

/// One manifest to delete, with every tag that goes with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removal {
    pub repository: String,
    pub digest: String,
    pub tags: Vec<String>,
}

/// A selected tag that stays, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// One of the `--keep` newest tags.
    Newest { tag: String },
    /// Its digest also carries `others`, which are not being removed.
    SharedDigest {
        tag: String,
        digest: String,
        others: Vec<String>,
    },
}

/// Deletions and kept tags of `rmi` in one repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepositoryPlan {
    pub removals: Vec<Removal>,
    pub kept: Vec<Kept>,
    /// Glob patterns that matched no tag.
    pub unmatched: Vec<String>,
}

/// A reference that cannot be honoured; nothing is deleted then.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("tag `{repository}:{tag}` not found")]
    TagNotFound { repository: String, tag: String },

    #[error(
        "`{repository}:{tag}` points at manifest {digest}, which also carries tag(s) {}; \
         deleting it would remove them too",
        .others.join(", ")
    )]
    SharedDigest {
        repository: String,
        tag: String,
        digest: String,
        others: Vec<String>,
    },
}

/// Tags selected by the references of one repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub tags: BTreeSet<String>,
    /// Tags named one by one, as opposed to matched by a glob.
    pub named: BTreeSet<String>,
    /// Digests named by `repo@DIGEST`.
    pub digests: BTreeSet<String>,
    pub unmatched: Vec<String>,
}

/// Applies the references of `repository` to its tags. Fails on a named tag
/// that does not exist.
pub fn select(
    repository: &str,
    tags: &TagDigests,
    references: &[&ImageRef],
) -> Result<Selection, PlanError> {
    let mut selection = Selection::default();

    for reference in references {
        match &reference.target {
            RefTarget::Tag(tag) => {
                if !tags.contains_key(tag) {
                    return Err(PlanError::TagNotFound {
                        repository: repository.to_owned(),
                        tag: tag.clone(),
                    });
                }
                selection.tags.insert(tag.clone());
                selection.named.insert(tag.clone());
            }
            RefTarget::Digest(digest) => {
                selection.digests.insert(digest.clone());
            }
            RefTarget::TagGlob { pattern, .. } => {
                let matched: Vec<&String> = tags
                    .keys()
                    .filter(|tag| reference.matches_tag(tag))
                    .collect();
                if matched.is_empty() {
                    selection.unmatched.push(pattern.clone());
                }
                selection.tags.extend(matched.into_iter().cloned());
            }
        }
    }
    Ok(selection)
}

/// Splits the selected tags into the `keep` newest and the rest, by image
/// creation time. Tags without a known time count as oldest, and ties go
/// to the tag that sorts last, so the order is total.
pub fn newest_first(
    selected: &BTreeSet<String>,
    tags: &TagDigests,
    created: &CreationTimes,
    keep: usize,
) -> (Vec<String>, Vec<String>) {
    let time_of = |tag: &String| {
        tags.get(tag)
            .and_then(|digest| created.get(digest))
            .copied()
            .flatten()
    };

    let mut ordered: Vec<&String> = selected.iter().collect();
    // `Option` orders `None` first, so reversing puts unknown times last.
    ordered.sort_by(|a, b| (time_of(b), *b).cmp(&(time_of(a), *a)));

    let kept = ordered
        .iter()
        .take(keep)
        .map(|tag| (*tag).clone())
        .collect();
    let removed = ordered
        .iter()
        .skip(keep)
        .map(|tag| (*tag).clone())
        .collect();
    (kept, removed)
}

/// Plans the deletions of one repository.
///
/// `created` maps digests to image creation times and is read only when
/// `keep` is set.
pub fn plan(
    repository: &str,
    tags: &TagDigests,
    selection: &Selection,
    keep: Option<usize>,
    created: &CreationTimes,
) -> Result<RepositoryPlan, PlanError> {
    let mut result = RepositoryPlan {
        unmatched: selection.unmatched.clone(),
        ..RepositoryPlan::default()
    };

    let (newest, candidates) = match keep {
        Some(keep) => newest_first(&selection.tags, tags, created, keep),
        None => (Vec::new(), selection.tags.iter().cloned().collect()),
    };
    result
        .kept
        .extend(newest.iter().map(|tag| Kept::Newest { tag: tag.clone() }));

    let removing: BTreeSet<&String> = candidates.iter().collect();
    let mut digests: BTreeSet<String> = selection.digests.clone();

    for tag in &candidates {
        let digest = &tags[tag];
        let others: Vec<String> = tags_of(tags, digest)
            .into_iter()
            .filter(|other| !removing.contains(other))
            .collect();

        if others.is_empty() || selection.digests.contains(digest) {
            digests.insert(digest.clone());
        } else if selection.named.contains(tag) && keep.is_none() {
            return Err(PlanError::SharedDigest {
                repository: repository.to_owned(),
                tag: tag.clone(),
                digest: digest.clone(),
                others,
            });
        } else {
            result.kept.push(Kept::SharedDigest {
                tag: tag.clone(),
                digest: digest.clone(),
                others,
            });
        }
    }

    result.removals = digests
        .into_iter()
        .map(|digest| Removal {
            repository: repository.to_owned(),
            tags: tags_of(tags, &digest),
            digest,
        })
        .collect();
    Ok(result)
}

/// Tags that point at `digest`, sorted.
pub fn tags_of(tags: &TagDigests, digest: &str) -> Vec<String> {
    tags.iter()
        .filter(|(_, tagged)| *tagged == digest)
        .map(|(tag, _)| tag.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> String {
        format!("sha256:{}", format!("{n:x}").repeat(64).get(..64).unwrap())
    }

    fn tags(pairs: &[(&str, u8)]) -> TagDigests {
        pairs
            .iter()
            .map(|(tag, n)| ((*tag).to_owned(), digest(*n)))
            .collect()
    }

    fn refs(values: &[&str]) -> Vec<ImageRef> {
        values
            .iter()
            .map(|value| ImageRef::parse(value).unwrap())
            .collect()
    }

    fn day(n: u32) -> Option<DateTime<Utc>> {
        Some(
            DateTime::parse_from_rfc3339(&format!("2024-01-{n:02}T00:00:00Z"))
                .unwrap()
                .with_timezone(&Utc),
        )
    }

    fn run(
        index: &TagDigests,
        values: &[&str],
        keep: Option<usize>,
        created: &CreationTimes,
    ) -> Result<RepositoryPlan, PlanError> {
        let references = refs(values);
        let borrowed: Vec<&ImageRef> = references.iter().collect();
        let selection = select("app", index, &borrowed)?;
        plan("app", index, &selection, keep, created)
    }

    /// Tags that go with the planned removals, sorted.
    fn removed_tags(plan: &RepositoryPlan) -> Vec<String> {
        let mut tags: Vec<String> = plan
            .removals
            .iter()
            .flat_map(|removal| removal.tags.clone())
            .collect();
        tags.sort();
        tags
    }

    #[test]
    fn named_tag_removes_its_digest() {
        let index = tags(&[("v1", 1), ("v2", 2)]);
        let plan = run(&index, &["app:v1"], None, &BTreeMap::new()).unwrap();

        assert_eq!(
            plan.removals,
            [Removal {
                repository: "app".to_owned(),
                digest: digest(1),
                tags: vec!["v1".to_owned()],
            }]
        );
        assert!(plan.kept.is_empty());
    }

    #[test]
    fn missing_named_tag_is_an_error() {
        let index = tags(&[("v1", 1)]);
        let error = run(&index, &["app:v9"], None, &BTreeMap::new()).unwrap_err();

        assert_eq!(
            error,
            PlanError::TagNotFound {
                repository: "app".to_owned(),
                tag: "v9".to_owned()
            }
        );
    }

    #[test]
    fn digest_removes_every_tag_on_it() {
        let index = tags(&[("latest", 1), ("v1", 1), ("v2", 2)]);
        let reference = format!("app@{}", digest(1));
        let plan = run(&index, &[&reference], None, &BTreeMap::new()).unwrap();

        assert_eq!(plan.removals.len(), 1);
        assert_eq!(plan.removals[0].tags, ["latest", "v1"]);
    }

    #[test]
    fn untagged_digest_is_removed_without_tags() {
        let index = tags(&[("v1", 1)]);
        let reference = format!("app@{}", digest(7));
        let plan = run(&index, &[&reference], None, &BTreeMap::new()).unwrap();

        assert_eq!(plan.removals[0].digest, digest(7));
        assert!(plan.removals[0].tags.is_empty());
    }

    #[test]
    fn named_tag_on_shared_digest_is_an_error() {
        let index = tags(&[("latest", 1), ("v1", 1)]);
        let error = run(&index, &["app:v1"], None, &BTreeMap::new()).unwrap_err();

        assert_eq!(
            error,
            PlanError::SharedDigest {
                repository: "app".to_owned(),
                tag: "v1".to_owned(),
                digest: digest(1),
                others: vec!["latest".to_owned()],
            }
        );
    }

    #[test]
    fn naming_every_tag_of_a_digest_removes_it() {
        let index = tags(&[("latest", 1), ("v1", 1)]);
        let plan = run(&index, &["app:v1", "app:latest"], None, &BTreeMap::new()).unwrap();

        assert_eq!(removed_tags(&plan), ["latest", "v1"]);
    }

    #[test]
    fn glob_selects_matching_tags() {
        let index = tags(&[("main", 1), ("pr-1", 2), ("pr-2", 3), ("pr-10", 4)]);
        let plan = run(&index, &["app:pr-*"], None, &BTreeMap::new()).unwrap();

        assert_eq!(removed_tags(&plan), ["pr-1", "pr-10", "pr-2"]);
        assert!(plan.unmatched.is_empty());
    }

    #[test]
    fn glob_skips_digest_shared_with_unselected_tag() {
        let index = tags(&[("main", 2), ("pr-1", 1), ("pr-2", 2)]);
        let plan = run(&index, &["app:pr-*"], None, &BTreeMap::new()).unwrap();

        assert_eq!(removed_tags(&plan), ["pr-1"]);
        assert_eq!(
            plan.kept,
            [Kept::SharedDigest {
                tag: "pr-2".to_owned(),
                digest: digest(2),
                others: vec!["main".to_owned()],
            }]
        );
    }

    #[test]
    fn unmatched_glob_is_reported() {
        let index = tags(&[("main", 1)]);
        let plan = run(&index, &["app:pr-*"], None, &BTreeMap::new()).unwrap();

        assert!(plan.removals.is_empty());
        assert_eq!(plan.unmatched, ["pr-*"]);
    }

    #[test]
    fn keep_uses_creation_time_not_name() {
        let index = tags(&[("pr-1", 1), ("pr-2", 2), ("pr-10", 3), ("main", 4)]);
        let created = BTreeMap::from([
            (digest(1), day(2)),
            (digest(2), day(1)),
            (digest(3), day(3)),
            (digest(4), day(9)),
        ]);
        let plan = run(&index, &["app:pr-*"], Some(2), &created).unwrap();

        assert_eq!(removed_tags(&plan), ["pr-2"]);
        assert_eq!(
            plan.kept,
            [
                Kept::Newest {
                    tag: "pr-10".to_owned()
                },
                Kept::Newest {
                    tag: "pr-1".to_owned()
                },
            ]
        );
    }

    #[test]
    fn keep_zero_removes_every_selected_tag() {
        let index = tags(&[("a", 1), ("b", 2)]);
        let created = BTreeMap::from([(digest(1), day(1)), (digest(2), day(2))]);
        let plan = run(&index, &["app:*"], Some(0), &created).unwrap();

        assert_eq!(removed_tags(&plan), ["a", "b"]);
    }

    #[test]
    fn keep_more_than_selected_removes_nothing() {
        let index = tags(&[("a", 1), ("b", 2)]);
        let created = BTreeMap::from([(digest(1), day(1)), (digest(2), day(2))]);
        let plan = run(&index, &["app:*"], Some(5), &created).unwrap();

        assert!(plan.removals.is_empty());
        assert_eq!(plan.kept.len(), 2);
    }

    #[test]
    fn keep_never_removes_digest_of_kept_tag() {
        let index = tags(&[("old", 1), ("new", 2), ("new-alias", 2)]);
        let created = BTreeMap::from([(digest(1), day(1)), (digest(2), day(5))]);
        let plan = run(&index, &["app:*"], Some(1), &created).unwrap();

        // Equal times rank `new-alias` above `new`, so `new` is the one
        // that shares the kept digest.
        assert_eq!(removed_tags(&plan), ["old"]);
        assert!(plan.kept.contains(&Kept::Newest {
            tag: "new-alias".to_owned()
        }));
        assert!(plan.kept.contains(&Kept::SharedDigest {
            tag: "new".to_owned(),
            digest: digest(2),
            others: vec!["new-alias".to_owned()],
        }));
    }

    #[test]
    fn unknown_creation_time_counts_as_oldest() {
        let index = tags(&[("dated", 1), ("undated", 2)]);
        let created = BTreeMap::from([(digest(1), day(1)), (digest(2), None)]);
        let (kept, removed) = newest_first(
            &BTreeSet::from(["dated".to_owned(), "undated".to_owned()]),
            &index,
            &created,
            1,
        );

        assert_eq!(kept, ["dated"]);
        assert_eq!(removed, ["undated"]);
    }

    #[test]
    fn equal_times_order_by_tag() {
        let index = tags(&[("v1", 1), ("v2", 2)]);
        let created = BTreeMap::from([(digest(1), day(1)), (digest(2), day(1))]);
        let (kept, _) = newest_first(
            &BTreeSet::from(["v1".to_owned(), "v2".to_owned()]),
            &index,
            &created,
            1,
        );

        assert_eq!(kept, ["v2"]);
    }
}
