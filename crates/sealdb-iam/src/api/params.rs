//! The members of a Query-protocol request, read with IAM's constraints: names, paths,
//! lists (`X.member.N`), tags (`Tags.member.N.Key` / `.Value`) and paging.

use super::error::IamError;
use std::collections::BTreeMap;

/// The decoded form of one request.
pub struct Params {
    form: Vec<(String, String)>,
}

/// A name constraint: AWS's pattern text and the longest length.
pub struct NameRule {
    /// The member as AWS names it in validation messages (`userName`).
    pub member: &'static str,
    /// The longest name.
    pub max: usize,
    /// Extra characters allowed besides letters, digits and `_` (`+=,.@-`).
    pub extra: &'static str,
}

/// User, role and policy names: `[\w+=,.@-]+`.
pub const NAME_CHARS: &str = "+=,.@-";

impl Params {
    /// Wraps a decoded form.
    pub fn new(form: Vec<(String, String)>) -> Self {
        Params { form }
    }

    /// A member, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A required member (AWS's message when it is missing).
    pub fn required(&self, name: &str, member: &str) -> Result<&str, IamError> {
        self.get(name)
            .ok_or_else(|| IamError::constraint(member, None, "Member must not be null"))
    }

    /// A name member checked against `rule` (`[\w<extra>]+`, 1..=max).
    pub fn name(&self, name: &str, rule: &NameRule) -> Result<&str, IamError> {
        let v = self.required(name, rule.member)?;
        check_name(v, rule)?;
        Ok(v)
    }

    /// An optional name member.
    pub fn name_opt(&self, name: &str, rule: &NameRule) -> Result<Option<&str>, IamError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => check_name(v, rule).map(|()| Some(v)),
        }
    }

    /// `Path` (default `/`): starts and ends with `/`, printable ASCII, at most 512.
    pub fn path(&self, name: &str) -> Result<String, IamError> {
        let Some(p) = self.get(name) else {
            return Ok("/".to_owned());
        };
        let ok = p.len() <= 512
            && p.starts_with('/')
            && p.ends_with('/')
            && p.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if !ok {
            return Err(IamError::constraint(
                "path",
                Some(p),
                "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
            ));
        }
        Ok(p.to_owned())
    }

    /// A list member: `name.member.1`, `name.member.2`, … in order.
    pub fn list(&self, name: &str) -> Vec<&str> {
        let prefix = format!("{name}.member.");
        let mut items: Vec<(usize, &str)> = self
            .form
            .iter()
            .filter_map(|(k, v)| {
                let n = k.strip_prefix(&prefix)?.parse::<usize>().ok()?;
                Some((n, v.as_str()))
            })
            .collect();
        items.sort_by_key(|(n, _)| *n);
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// `Tags.member.N.Key` / `.Value`, checked as IAM checks tags.
    pub fn tags(&self, name: &str) -> Result<BTreeMap<String, String>, IamError> {
        let prefix = format!("{name}.member.");
        let mut by_index: BTreeMap<usize, (Option<&str>, Option<&str>)> = BTreeMap::new();
        for (k, v) in &self.form {
            let Some(rest) = k.strip_prefix(&prefix) else {
                continue;
            };
            let Some((n, field)) = rest.split_once('.') else {
                continue;
            };
            let Ok(n) = n.parse::<usize>() else { continue };
            let slot = by_index.entry(n).or_default();
            match field {
                "Key" => slot.0 = Some(v),
                "Value" => slot.1 = Some(v),
                _ => {}
            }
        }
        let mut tags = BTreeMap::new();
        for (key, value) in by_index.into_values() {
            let key = key.ok_or_else(|| {
                IamError::constraint("tags.member.key", None, "Member must not be null")
            })?;
            let value = value.unwrap_or("");
            if key.is_empty() || key.chars().count() > 128 {
                return Err(IamError::constraint(
                    "tags.member.key",
                    Some(key),
                    "Member must have length less than or equal to 128",
                ));
            }
            if value.chars().count() > 256 {
                return Err(IamError::constraint(
                    "tags.member.value",
                    Some(value),
                    "Member must have length less than or equal to 256",
                ));
            }
            if tags.insert(key.to_owned(), value.to_owned()).is_some() {
                return Err(IamError::InvalidInput(
                    "Duplicate tag keys found. Please note that Tag keys are case insensitive."
                        .to_owned(),
                ));
            }
        }
        if tags.len() > 50 {
            return Err(IamError::LimitExceeded(
                "The number of tags has reached the maximum limit.".to_owned(),
            ));
        }
        Ok(tags)
    }

    /// `MaxItems` (1..=1000, default 100) and `Marker`.
    pub fn paging(&self) -> Result<(usize, Option<&str>), IamError> {
        let max = match self.get("MaxItems") {
            None => 100,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => {
                    return Err(IamError::constraint(
                        "maxItems",
                        Some(v),
                        "Member must have value between 1 and 1000",
                    ));
                }
            },
        };
        Ok((max, self.get("Marker")))
    }

    /// An integer member.
    pub fn int(&self, name: &str, member: &str) -> Result<Option<i64>, IamError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| IamError::constraint(member, Some(v), "Member must be a number")),
        }
    }

    /// A boolean member (`true` / `false`).
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.get(name).map(|v| v.eq_ignore_ascii_case("true"))
    }
}

fn check_name(v: &str, rule: &NameRule) -> Result<(), IamError> {
    let chars_ok = v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || rule.extra.contains(c));
    if v.is_empty() || v.len() > rule.max {
        return Err(IamError::constraint(
            rule.member,
            Some(v),
            &format!(
                "Member must have length {} {}",
                if v.is_empty() {
                    "greater than or equal to"
                } else {
                    "less than or equal to"
                },
                if v.is_empty() { 1 } else { rule.max }
            ),
        ));
    }
    if !chars_ok {
        return Err(IamError::constraint(
            rule.member,
            Some(v),
            &format!(
                "Member must satisfy regular expression pattern: [\\w{}]+",
                rule.extra
            ),
        ));
    }
    Ok(())
}

/// One page of `items` (sorted by key) after `marker`, and the marker of the next page.
pub fn page<T: Clone>(
    items: &[(String, T)],
    max: usize,
    marker: Option<&str>,
) -> (Vec<T>, Option<String>) {
    let start = marker.map_or(0, |m| items.partition_point(|(k, _)| k.as_str() <= m));
    let rest = items.get(start..).unwrap_or_default();
    let shown: Vec<T> = rest.iter().take(max).map(|(_, v)| v.clone()).collect();
    let next = if rest.len() > max {
        rest.get(max - 1).map(|(k, _)| k.clone())
    } else {
        None
    };
    (shown, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Params {
        Params::new(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn lists_tags_names_paging() {
        let params = p(&[
            ("ActionNames.member.2", "b"),
            ("ActionNames.member.1", "a"),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "db"),
            ("UserName", "bad name"),
        ]);
        assert_eq!(params.list("ActionNames"), vec!["a", "b"]);
        assert_eq!(
            params.tags("Tags").unwrap().get("team").map(String::as_str),
            Some("db")
        );
        let rule = NameRule {
            member: "userName",
            max: 64,
            extra: NAME_CHARS,
        };
        let e = params.name("UserName", &rule).unwrap_err();
        assert_eq!(e.code(), "ValidationError");
        assert!(e.message().contains("Value 'bad name' at 'userName'"));
        let items: Vec<(String, u32)> = (0..5).map(|i| (format!("k{i}"), i)).collect();
        let (first, next) = page(&items, 2, None);
        assert_eq!(first, vec![0, 1]);
        let (second, next) = page(&items, 2, next.as_deref());
        assert_eq!(second, vec![2, 3]);
        let (last, next) = page(&items, 2, next.as_deref());
        assert_eq!((last, next), (vec![4], None));
    }
}
