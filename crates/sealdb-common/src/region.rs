//! Regions: which ones a server answers, and what a region name looks like.
//!
//! A region is a namespace on one endpoint: the region of a request is its SigV4
//! credential scope. Only the `aws` partition is served (its ARNs are `arn:aws:…`);
//! regions of other partitions (China, GovCloud, ISO) have other ARN partitions and
//! accounts of their own on AWS, and are refused like any region the server does not
//! answer.

use std::collections::BTreeSet;

/// The regions of the `aws` partition in botocore's endpoint data
/// (`botocore/data/endpoints.json`, the botocore pinned in `tests/python/requirements.txt`).
pub const AWS_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// The region IAM is signed for (IAM is global; its endpoint is in us-east-1).
pub const IAM_SIGNING_REGION: &str = "us-east-1";

/// The regions a server answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegionSet {
    /// Every well-formed region name (`--regions '*'`).
    Any,
    /// Exactly these.
    Listed(BTreeSet<String>),
}

impl Default for RegionSet {
    /// Every region of the `aws` partition.
    fn default() -> Self {
        RegionSet::Listed(AWS_REGIONS.iter().map(|r| (*r).to_owned()).collect())
    }
}

impl RegionSet {
    /// Parses `--regions`: `*`, or a comma-separated list of region names.
    pub fn parse(text: &str) -> Result<RegionSet, String> {
        let text = text.trim();
        if text == "*" {
            return Ok(RegionSet::Any);
        }
        let mut set = BTreeSet::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !is_region_name(name) {
                return Err(format!(
                    "'{name}' is not a region name (e.g. us-east-1, eu-west-1)"
                ));
            }
            set.insert(name.to_owned());
        }
        if set.is_empty() {
            return Err("--regions names no region".to_owned());
        }
        Ok(RegionSet::Listed(set))
    }

    /// Whether requests scoped to `region` are answered.
    pub fn answers(&self, region: &str) -> bool {
        match self {
            RegionSet::Any => is_region_name(region),
            RegionSet::Listed(set) => set.contains(region),
        }
    }
}

/// `<letters>-<letters>[-<letters>…]-<digits>`, all lower case, at most 32 characters:
/// the shape of every AWS region name. It is also what keeps a region name safe as a
/// directory name.
pub fn is_region_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 32 {
        return false;
    }
    let parts: Vec<&str> = name.split('-').collect();
    let Some((last, words)) = parts.split_last() else {
        return false;
    };
    words.len() >= 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names() {
        for ok in AWS_REGIONS {
            assert!(is_region_name(ok), "{ok}");
        }
        for bad in [
            "",
            "us",
            "us-east",
            "us-1",
            "US-EAST-1",
            "us-east-1/..",
            "../us-east-1",
            "us--east-1",
            "us-east-x",
            "us_east-1",
        ] {
            assert!(!is_region_name(bad), "{bad}");
        }
    }

    #[test]
    fn sets() {
        let all = RegionSet::default();
        assert!(all.answers("eu-west-1") && all.answers("us-west-2"));
        assert!(!all.answers("cn-north-1") && !all.answers("xx-yy-9"));
        let any = RegionSet::parse("*").unwrap();
        assert!(any.answers("xx-yy-9") && !any.answers("nowhere"));
        let two = RegionSet::parse("us-east-1, eu-west-1").unwrap();
        assert!(two.answers("eu-west-1") && !two.answers("us-west-2"));
        assert!(RegionSet::parse("us-east-1,bad").is_err());
        assert!(RegionSet::parse(" , ").is_err());
    }
}
