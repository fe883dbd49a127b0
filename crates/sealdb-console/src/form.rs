//! `application/x-www-form-urlencoded` bodies and query strings.

/// The fields of a form (or query string), in order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// Parses a form body or query string; malformed escapes decode as replacement
    /// characters rather than failing (the values then fail the service's validation).
    pub(crate) fn parse(body: &[u8]) -> Form {
        Form {
            fields: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (multiple selects), in order.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of `name`, trimmed, if not empty.
    pub(crate) fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Every field, in order.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether a checkbox `name` is ticked.
    pub(crate) fn checked(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v == "on" || v == "true")
    }

    /// A form with one field set (tests and redisplay).
    #[cfg(test)]
    pub(crate) fn with(mut self, name: &str, value: &str) -> Form {
        self.fields.push((name.to_owned(), value.to_owned()));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_decoded() {
        let f = Form::parse(b"a=1&b=%3Cscript%3E&c=x+y&a=2&empty=");
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.get("b"), Some("<script>"));
        assert_eq!(f.get("c"), Some("x y"));
        assert_eq!(f.non_empty("empty"), None);
        assert_eq!(f.get("missing"), None);
        assert!(Form::default().with("x", "on").checked("x"));
    }
}
