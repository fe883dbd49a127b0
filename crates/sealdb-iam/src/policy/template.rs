//! Policy strings with variables (`${aws:username}`, `${aws:PrincipalTag/team, 'none'}`,
//! `${*}`), and the `*` / `?` wildcard match they are compared with.

use crate::context::ConditionKeys;
use crate::policy::PolicyError;

/// One piece of a policy string.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    /// Text as written; `*` and `?` in it are wildcards where the comparison allows them.
    Text(String),
    /// `${*}`, `${?}`, `${$}`: the character itself, never a wildcard.
    Escaped(char),
    /// `${key}` or `${key, 'default'}`.
    Variable {
        key: String,
        default: Option<String>,
    },
}

/// A policy string after variable parsing (2012-10-17) or as plain text (2008-10-17).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Template {
    source: String,
    pieces: Vec<Piece>,
}

/// One token of a wildcard pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Glob {
    Char(char),
    /// `*`: any run of characters, empty included.
    Any,
    /// `?`: exactly one character.
    One,
}

impl Template {
    /// A string in which `${...}` are policy variables (policy version 2012-10-17).
    pub(crate) fn with_variables(source: &str) -> Result<Template, PolicyError> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        while let Some(start) = rest.find("${") {
            text.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                // An unterminated "${" is just text, as in AWS.
                text.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let inner = &after[..end];
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(parse_variable(inner)?);
            rest = &after[end + 1..];
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Template {
            source: source.to_owned(),
            pieces,
        })
    }

    /// A string taken literally except for wildcards (policy version 2008-10-17).
    pub(crate) fn plain(source: &str) -> Template {
        Template {
            source: source.to_owned(),
            pieces: vec![Piece::Text(source.to_owned())],
        }
    }

    /// The string with variables replaced, for exact comparisons; `None` when a variable
    /// has no value in the request and no default (then the value matches nothing).
    pub(crate) fn resolve(&self, keys: &ConditionKeys) -> Option<String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Escaped(c) => out.push(*c),
                Piece::Variable { key, default } => {
                    out.push_str(variable_value(keys, key, default)?)
                }
            }
        }
        Some(out)
    }

    /// The string as a wildcard pattern with variables replaced by literal text.
    pub(crate) fn resolve_glob(&self, keys: &ConditionKeys) -> Option<Vec<Glob>> {
        let mut out = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.extend(t.chars().map(glob_char)),
                Piece::Escaped(c) => out.push(Glob::Char(*c)),
                Piece::Variable { key, default } => {
                    out.extend(variable_value(keys, key, default)?.chars().map(Glob::Char))
                }
            }
        }
        Some(out)
    }
}

fn glob_char(c: char) -> Glob {
    match c {
        '*' => Glob::Any,
        '?' => Glob::One,
        c => Glob::Char(c),
    }
}

/// A single-valued key's value, else the default; multivalued keys cannot be variables.
fn variable_value<'a>(
    keys: &'a ConditionKeys,
    key: &str,
    default: &'a Option<String>,
) -> Option<&'a str> {
    keys.get_single(key).or(default.as_deref())
}

/// The inside of `${...}`: `*`, `?`, `$`, `key`, or `key, 'default'` ('' is a quote).
fn parse_variable(inner: &str) -> Result<Piece, PolicyError> {
    match inner {
        "*" => return Ok(Piece::Escaped('*')),
        "?" => return Ok(Piece::Escaped('?')),
        "$" => return Ok(Piece::Escaped('$')),
        _ => {}
    }
    let (key, default) = match inner.split_once(',') {
        None => (inner.trim(), None),
        Some((key, default)) => (key.trim(), Some(parse_default(default.trim())?)),
    };
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(PolicyError::syntax());
    }
    Ok(Piece::Variable {
        key: key.to_owned(),
        default,
    })
}

fn parse_default(quoted: &str) -> Result<String, PolicyError> {
    let body = quoted
        .strip_prefix('\'')
        .and_then(|q| q.strip_suffix('\''))
        .ok_or_else(PolicyError::syntax)?;
    // Inside the quotes a quote is written twice.
    let mut out = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' && chars.next() != Some('\'') {
            return Err(PolicyError::syntax());
        }
        out.push(c);
    }
    Ok(out)
}

/// Wildcard match of `pattern` against `text` (`*` any run, `?` one character).
pub(crate) fn glob_match(pattern: &[Glob], text: &str, ignore_case: bool) -> bool {
    let text: Vec<char> = text.chars().collect();
    let same = |p: char, t: char| {
        if ignore_case {
            p == t || p.to_lowercase().eq(t.to_lowercase())
        } else {
            p == t
        }
    };
    let (mut p, mut t) = (0usize, 0usize);
    // The last `*` seen and the text position it is currently matched up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Glob::Char(c)) if same(*c, text[t]) => {
                p += 1;
                t += 1;
            }
            Some(Glob::One) => {
                p += 1;
                t += 1;
            }
            Some(Glob::Any) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..]
        .iter()
        .all(|g| *g == Glob::Any)
}

/// Wildcard match of a plain string pattern (no variables).
pub(crate) fn glob_match_str(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let pattern: Vec<Glob> = pattern.chars().map(glob_char).collect();
    glob_match(&pattern, text, ignore_case)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> ConditionKeys {
        let mut keys = ConditionKeys::new();
        keys.set("aws:username", "alice");
        keys.set("aws:PrincipalTag/team", "blue");
        keys.set_multi("aws:TagKeys", ["a", "b"]);
        keys
    }

    #[test]
    fn wildcards() {
        assert!(glob_match_str("*", "", false));
        assert!(glob_match_str("dynamodb:Get*", "dynamodb:GetItem", false));
        assert!(glob_match_str("dynamodb:get*", "dynamodb:GetItem", true));
        assert!(!glob_match_str("dynamodb:get*", "dynamodb:GetItem", false));
        assert!(glob_match_str("a?c", "abc", false));
        assert!(!glob_match_str("a?c", "ac", false));
        assert!(glob_match_str("*a*b*c*", "xxaxxbxxcxx", false));
        assert!(!glob_match_str("*a*b*c*", "xxaxxcxxbxx", false));
        assert!(glob_match_str("a*", "a", false));
        assert!(!glob_match_str("a", "ab", false));
        assert!(glob_match_str("**x", "x", false));
    }

    #[test]
    fn variables_resolve_with_defaults_and_escapes() {
        let t = Template::with_variables("home/${aws:username}/*").unwrap();
        assert_eq!(t.resolve(&keys()).as_deref(), Some("home/alice/*"));
        let t = Template::with_variables("${AWS:PrincipalTag/team}").unwrap();
        assert_eq!(t.resolve(&keys()).as_deref(), Some("blue"));
        let t = Template::with_variables("${aws:PrincipalTag/none, 'it''s default'}").unwrap();
        assert_eq!(t.resolve(&keys()).as_deref(), Some("it's default"));
        let t = Template::with_variables("${aws:missing}").unwrap();
        assert_eq!(t.resolve(&keys()), None);
        // Multivalued keys are not variables.
        let t = Template::with_variables("${aws:TagKeys}").unwrap();
        assert_eq!(t.resolve(&keys()), None);
        // ${*} is a literal star, never a wildcard.
        let t = Template::with_variables("a${*}b${?}${$}").unwrap();
        assert_eq!(t.resolve(&keys()).as_deref(), Some("a*b?$"));
        let g = t.resolve_glob(&keys()).unwrap();
        assert!(glob_match(&g, "a*b?$", false));
        assert!(!glob_match(&g, "axxb?$", false));
    }

    #[test]
    fn variable_values_are_literal_in_patterns() {
        let mut k = ConditionKeys::new();
        k.set("aws:username", "a*");
        let g = Template::with_variables("${aws:username}")
            .unwrap()
            .resolve_glob(&k)
            .unwrap();
        assert!(glob_match(&g, "a*", false));
        assert!(!glob_match(&g, "abc", false));
    }

    #[test]
    fn plain_text_has_no_variables() {
        let t = Template::plain("${aws:username}");
        assert_eq!(t.resolve(&keys()).as_deref(), Some("${aws:username}"));
    }

    #[test]
    fn malformed_variables_are_refused() {
        assert!(Template::with_variables("${}").is_err());
        assert!(Template::with_variables("${a b}").is_err());
        assert!(Template::with_variables("${a, default}").is_err());
        assert!(Template::with_variables("${a, 'x'y'}").is_err());
    }
}
