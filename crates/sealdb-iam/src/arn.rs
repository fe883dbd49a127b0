//! ARNs: splitting them into their six parts and matching policy patterns part by part
//! (a wildcard in one of the first five parts does not reach into the next one).

use crate::policy::{Glob, glob_match};

/// An ARN split into its parts: `arn:partition:service:region:account:resource`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    /// Everything after the fifth colon (`table/Music/index/ByArtist`).
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits `text`; `None` when it is not an ARN.
    pub fn parse(text: &'a str) -> Option<Arn<'a>> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        Some(Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        })
    }
}

/// Matches a resolved pattern against an ARN (Resource element, `Arn*` operators).
/// `*` alone matches everything; any other pattern of fewer than six parts is not an
/// ARN pattern and matches nothing.
pub(crate) fn arn_matches(pattern: &[Glob], arn: &str) -> bool {
    let pattern_parts = split_pattern(pattern);
    if pattern_parts.len() < 6 {
        return !pattern.is_empty() && pattern.iter().all(|g| *g == Glob::Any);
    }
    let arn_parts: Vec<&str> = arn.splitn(6, ':').collect();
    arn_parts.len() == 6
        && pattern_parts
            .iter()
            .zip(&arn_parts)
            .all(|(p, a)| glob_match(p, a, false))
}

/// The pattern cut at its first five literal colons.
fn split_pattern(pattern: &[Glob]) -> Vec<&[Glob]> {
    let mut parts = Vec::with_capacity(6);
    let mut start = 0;
    for (i, g) in pattern.iter().enumerate() {
        if parts.len() == 5 {
            break;
        }
        if *g == Glob::Char(':') {
            parts.push(&pattern[start..i]);
            start = i + 1;
        }
    }
    parts.push(&pattern[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(s: &str) -> Vec<Glob> {
        s.chars()
            .map(|c| match c {
                '*' => Glob::Any,
                '?' => Glob::One,
                c => Glob::Char(c),
            })
            .collect()
    }

    #[test]
    fn parts() {
        let arn = Arn::parse("arn:aws:dynamodb:us-east-1:123456789012:table/T/index/I").unwrap();
        assert_eq!(arn.service, "dynamodb");
        assert_eq!(arn.account, "123456789012");
        assert_eq!(arn.resource, "table/T/index/I");
        assert_eq!(
            Arn::parse("arn:aws:iam::123456789012:user/a:b")
                .unwrap()
                .resource,
            "user/a:b"
        );
        assert!(Arn::parse("table/T").is_none());
    }

    #[test]
    fn part_by_part_matching() {
        let t = "arn:aws:dynamodb:us-east-1:123456789012:table/Music";
        assert!(arn_matches(&glob("*"), t));
        assert!(arn_matches(&glob("arn:aws:dynamodb:*:*:table/Music"), t));
        assert!(arn_matches(
            &glob("arn:aws:dynamodb:us-east-1:123456789012:table/*"),
            t
        ));
        assert!(arn_matches(
            &glob("arn:aws:dynamodb:*:*:table/*"),
            "arn:aws:dynamodb:us-east-1:123456789012:table/Music/index/ByArtist"
        ));
        assert!(!arn_matches(&glob("arn:aws:dynamodb:*:*:table/Musi"), t));
        assert!(!arn_matches(&glob("arn:aws:dynamodb:*:*:table/Music/*"), t));
        // A wildcard does not spill into the next part.
        assert!(!arn_matches(
            &glob("arn:aws:dynamo*:123456789012:table/Music"),
            t
        ));
        assert!(!arn_matches(&glob("arn:aws:kms:*:*:key/*"), t));
        assert!(arn_matches(
            &glob("arn:aws:iam::123456789012:user/a:b"),
            "arn:aws:iam::123456789012:user/a:b"
        ));
    }
}
