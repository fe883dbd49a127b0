//! The XML of IAM and STS results (the front door adds the `…Response` envelope and
//! `ResponseMetadata`): a small writer that escapes every text, and the timestamp and
//! policy-document forms IAM uses.

/// Builds one `…Result` element.
#[derive(Default)]
pub struct Xml {
    out: String,
}

impl Xml {
    /// An empty document.
    pub fn new() -> Self {
        Xml::default()
    }

    /// `<name>`.
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// `</name>`.
    pub fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// `<name>text</name>`, with the text escaped.
    pub fn text(&mut self, name: &str, text: &str) -> &mut Self {
        self.open(name);
        push_escaped(&mut self.out, text);
        self.close(name)
    }

    /// `text` when there is one.
    pub fn text_opt(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.text(name, t);
        }
        self
    }

    /// A timestamp as IAM writes it (`2026-12-02T01:02:03Z`).
    pub fn time(&mut self, name: &str, epoch_secs: i64) -> &mut Self {
        self.text(name, &iso8601(epoch_secs))
    }

    /// `true` / `false`.
    pub fn bool(&mut self, name: &str, value: bool) -> &mut Self {
        self.text(name, if value { "true" } else { "false" })
    }

    /// A list: `<name><member>…</member>…</name>`, each member written by `each`.
    pub fn list<T>(
        &mut self,
        name: &str,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Xml, T),
    ) -> &mut Self {
        self.open(name);
        for item in items {
            self.open("member");
            each(self, item);
            self.close("member");
        }
        self.close(name)
    }

    /// The list-paging members: `IsTruncated`, and `Marker` when truncated.
    pub fn paging(&mut self, next_marker: Option<&str>) -> &mut Self {
        self.bool("IsTruncated", next_marker.is_some());
        self.text_opt("Marker", next_marker)
    }

    /// A fragment already written by another `Xml`.
    pub fn raw(&mut self, fragment: &str) -> &mut Self {
        self.out.push_str(fragment);
        self
    }

    /// The finished text.
    pub fn finish(self) -> String {
        self.out
    }
}

fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            _ => out.push(c),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn iso8601(epoch_secs: i64) -> String {
    let days = epoch_secs.div_euclid(86_400);
    let rem = epoch_secs.rem_euclid(86_400);
    let (y, m, d) = sealdb_common::clock::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A policy document as IAM returns it: URL-encoded (RFC 3986 unreserved characters kept).
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_escaped_lists_and_times() {
        let mut x = Xml::new();
        x.open("R")
            .text("Name", "a<b&\"c\"")
            .list("Names", ["x", "y"], |x, n| {
                x.text("N", n);
            })
            .paging(None)
            .close("R");
        assert_eq!(
            x.finish(),
            "<R><Name>a&lt;b&amp;&quot;c&quot;</Name><Names><member><N>x</N></member><member><N>y</N></member></Names><IsTruncated>false</IsTruncated></R>"
        );
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_780_000_000), "2026-05-28T20:26:40Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(url_encode("{\"A\": 1}"), "%7B%22A%22%3A%201%7D");
    }
}
