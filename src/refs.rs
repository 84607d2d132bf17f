//! Image references relative to one registry, as `rmi` takes them:
//! `repo:tag`, `repo@sha256:HEX`, or a tag glob such as `repo:pr-*`.

use std::fmt;

use globset::{Glob, GlobMatcher};

/// Maximum length of a repository name that Distribution accepts.
const MAX_REPOSITORY_LENGTH: usize = 255;

/// Maximum length of a tag that the distribution specification allows.
const MAX_TAG_LENGTH: usize = 128;

/// Characters that make the tag part of a reference a glob.
const GLOB_CHARS: &[char] = &['*', '?', '[', '{'];

/// One reference to images in a repository of the registry.
#[derive(Debug, Clone)]
pub struct ImageRef {
    pub repository: String,
    pub target: RefTarget,
}

/// Target of a reference within its repository.
#[derive(Debug, Clone)]
pub enum RefTarget {
    Tag(String),
    /// A manifest digest such as `sha256:...`.
    Digest(String),
    /// Every tag the pattern matches.
    TagGlob {
        pattern: String,
        matcher: GlobMatcher,
    },
}

impl ImageRef {
    /// Parses `repo:tag`, `repo@DIGEST` or `repo:GLOB`. Each error names the
    /// value and describes what a valid one looks like.
    pub fn parse(value: &str) -> Result<Self, String> {
        if let Some((repository, digest)) = value.split_once('@') {
            if repository.contains(':') {
                return Err(format!(
                    "`{value}` has both a tag and a digest; give one, as in repo:tag or repo@sha256:..."
                ));
            }
            check_repository(repository, value)?;
            check_digest(digest, value)?;
            return Ok(ImageRef {
                repository: repository.to_owned(),
                target: RefTarget::Digest(digest.to_owned()),
            });
        }

        let Some((repository, tag)) = value.rsplit_once(':') else {
            return Err(format!(
                "`{value}` has no tag or digest; use {value}:TAG, {value}@sha256:... \
                 or '{value}:*' for every tag"
            ));
        };
        check_repository(repository, value)?;

        let target = if tag.contains(GLOB_CHARS) {
            let glob = Glob::new(tag)
                .map_err(|error| format!("`{value}`: `{tag}` is not a valid glob: {error}"))?;
            RefTarget::TagGlob {
                pattern: tag.to_owned(),
                matcher: glob.compile_matcher(),
            }
        } else {
            check_tag(tag, value)?;
            RefTarget::Tag(tag.to_owned())
        };

        Ok(ImageRef {
            repository: repository.to_owned(),
            target,
        })
    }

    /// Returns whether this reference selects `tag`. A digest reference
    /// selects no tag by name.
    pub fn matches_tag(&self, tag: &str) -> bool {
        match &self.target {
            RefTarget::Tag(wanted) => wanted == tag,
            RefTarget::Digest(_) => false,
            RefTarget::TagGlob { matcher, .. } => matcher.is_match(tag),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            RefTarget::Tag(tag) => write!(f, "{}:{tag}", self.repository),
            RefTarget::Digest(digest) => write!(f, "{}@{digest}", self.repository),
            RefTarget::TagGlob { pattern, .. } => write!(f, "{}:{pattern}", self.repository),
        }
    }
}

/// Checks a repository name against the distribution grammar: path
/// components of lowercase letters and digits, joined inside a component
/// by `.`, `_`, `__` or runs of `-`, and separated by `/`.
pub fn check_repository(repository: &str, value: &str) -> Result<(), String> {
    let invalid = |reason: &str| {
        Err(format!(
            "`{value}`: `{repository}` is not a valid repository name; {reason}"
        ))
    };

    if repository.is_empty() {
        return invalid("it is empty");
    }
    if repository.len() > MAX_REPOSITORY_LENGTH {
        return invalid("it is longer than 255 characters");
    }

    for component in repository.split('/') {
        if !is_path_component(component) {
            return invalid(
                "use lowercase letters and digits, joined by `.`, `_`, `__` or `-`, \
                 and separated by `/`",
            );
        }
    }
    Ok(())
}

fn is_path_component(component: &str) -> bool {
    let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes = component.as_bytes();

    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alphanumeric(char::from(*first)) || !alphanumeric(char::from(*last)) {
        return false;
    }

    // Between alphanumeric runs: one `.`, one or two `_`, or any number
    // of `-`.
    component
        .split(alphanumeric)
        .filter(|separator| !separator.is_empty())
        .all(|separator| {
            matches!(separator, "." | "_" | "__") || separator.chars().all(|c| c == '-')
        })
}

fn check_tag(tag: &str, value: &str) -> Result<(), String> {
    let mut chars = tag.chars();
    let valid_head = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let valid_tail = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));

    if valid_head && valid_tail && tag.len() <= MAX_TAG_LENGTH {
        Ok(())
    } else {
        Err(format!(
            "`{value}`: `{tag}` is not a valid tag; use up to 128 letters, digits, `_`, `.` \
             and `-`, not starting with `.` or `-`"
        ))
    }
}

/// Accepts `sha256:` with 64 and `sha512:` with 128 lowercase hex digits,
/// the algorithms Distribution verifies.
fn check_digest(digest: &str, value: &str) -> Result<(), String> {
    let hex_length = match digest.split_once(':') {
        Some(("sha256", hex)) => Some((hex, 64)),
        Some(("sha512", hex)) => Some((hex, 128)),
        _ => None,
    };

    let valid = hex_length.is_some_and(|(hex, length)| {
        hex.len() == length
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    });

    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{value}`: `{digest}` is not a valid digest; expected sha256: and 64 lowercase \
             hex digits"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0a4bd9ae004828e60bfd981d723363403be324f0c829e3937b6cd8296c623abd";

    fn parse(value: &str) -> ImageRef {
        ImageRef::parse(value).unwrap_or_else(|error| panic!("{value}: {error}"))
    }

    #[test]
    fn tag_reference() {
        let reference = parse("team/app:v1.2");

        assert_eq!(reference.repository, "team/app");
        assert!(matches!(&reference.target, RefTarget::Tag(tag) if tag == "v1.2"));
        assert_eq!(reference.to_string(), "team/app:v1.2");
    }

    #[test]
    fn digest_reference() {
        let reference = parse(&format!("app@{DIGEST}"));

        assert_eq!(reference.repository, "app");
        assert!(matches!(&reference.target, RefTarget::Digest(digest) if digest == DIGEST));
        assert!(!reference.matches_tag("v1"));
    }

    #[test]
    fn glob_reference_matches_tags() {
        let reference = parse("app:pr-*");

        assert!(matches!(reference.target, RefTarget::TagGlob { .. }));
        assert!(reference.matches_tag("pr-1"));
        assert!(reference.matches_tag("pr-"));
        assert!(!reference.matches_tag("main"));
        assert!(!reference.matches_tag("xpr-1"));
        assert_eq!(reference.to_string(), "app:pr-*");
    }

    #[test]
    fn glob_classes_and_alternatives() {
        let classes = parse("app:v[12].*");
        let alternatives = parse("app:{main,dev}");
        let any = parse("app:*");

        assert!(classes.matches_tag("v1.0"));
        assert!(!classes.matches_tag("v3.0"));
        assert!(alternatives.matches_tag("dev"));
        assert!(!alternatives.matches_tag("main2"));
        assert!(any.matches_tag("latest"));
    }

    #[test]
    fn plain_tag_matches_only_itself() {
        let reference = parse("app:v1");

        assert!(reference.matches_tag("v1"));
        assert!(!reference.matches_tag("v10"));
    }

    #[test]
    fn repository_grammar() {
        for valid in ["a", "a.b", "a_b", "a__b", "a---b", "team/app", "x/y/z-1"] {
            assert!(check_repository(valid, valid).is_ok(), "{valid}");
        }
        for invalid in [
            "", "A", "a..b", "a___b", "-a", "a-", "a//b", "/a", "a/", "a b",
        ] {
            assert!(check_repository(invalid, invalid).is_err(), "{invalid:?}");
        }
    }

    #[test]
    fn errors_name_the_value() {
        let cases = [
            ("app", "has no tag or digest"),
            ("App:v1", "not a valid repository name"),
            ("app:-v1", "not a valid tag"),
            ("app:[", "not a valid glob"),
            ("app@sha256:abc", "not a valid digest"),
            ("app@md5:0a4bd9ae", "not a valid digest"),
            ("app:v1@sha256:abc", "both a tag and a digest"),
        ];

        for (value, expected) in cases {
            let error = ImageRef::parse(value).unwrap_err();
            assert!(error.contains(&format!("`{value}`")), "{error}");
            assert!(error.contains(expected), "{value}: {error}");
        }
    }

    #[test]
    fn uppercase_digest_is_invalid() {
        let upper = format!("app@{}", DIGEST.to_uppercase().replace("SHA256", "sha256"));

        assert!(ImageRef::parse(&upper).is_err());
    }
}
