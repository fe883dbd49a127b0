//! Reading IAM's Query-protocol XML replies, and building its parameters.

/// The `<member>` records of the list element `list` in an IAM reply, each as
/// (field, text) pairs of its child elements.
pub(crate) fn records(xml: &str, list: &str) -> Vec<Vec<(String, String)>> {
    let Ok(doc) = roxmltree::Document::parse(xml) else {
        return Vec::new();
    };
    doc.descendants()
        .filter(|n| n.tag_name().name() == list)
        .flat_map(|l| l.children().filter(|m| m.tag_name().name() == "member"))
        .map(|m| {
            m.children()
                .filter(roxmltree::Node::is_element)
                .map(|c| {
                    (
                        c.tag_name().name().to_owned(),
                        c.text().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .collect()
}

/// The texts of the `<member>`s of `list` (lists of names).
pub(crate) fn texts(xml: &str, list: &str) -> Vec<String> {
    let Ok(doc) = roxmltree::Document::parse(xml) else {
        return Vec::new();
    };
    doc.descendants()
        .filter(|n| n.tag_name().name() == list)
        .flat_map(|l| l.children().filter(|m| m.tag_name().name() == "member"))
        .map(|m| m.text().unwrap_or("").to_owned())
        .collect()
}

/// The text of the first element named `name`.
pub(crate) fn field(xml: &str, name: &str) -> String {
    roxmltree::Document::parse(xml)
        .ok()
        .and_then(|d| {
            d.descendants()
                .find(|n| n.tag_name().name() == name)
                .and_then(|n| n.text().map(str::to_owned))
        })
        .unwrap_or_default()
}

pub(crate) fn get<'a>(record: &'a [(String, String)], name: &str) -> &'a str {
    record
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

pub(crate) fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// IAM returns policy documents URL-encoded, as AWS does.
pub(crate) fn percent_decoded(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"<ListUsersResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListUsersResult><Users><member><UserName>ana</UserName><Arn>arn:aws:iam::000000000000:user/ana</Arn></member><member><UserName>&lt;b&gt;</UserName></member></Users><IsTruncated>false</IsTruncated></ListUsersResult></ListUsersResponse>"#;

    #[test]
    fn iam_lists_are_read_from_the_xml() {
        let users = records(LIST, "Users");
        assert_eq!(users.len(), 2);
        assert_eq!(get(&users[0], "Arn"), "arn:aws:iam::000000000000:user/ana");
        assert_eq!(get(&users[1], "UserName"), "<b>");
        assert_eq!(field(LIST, "IsTruncated"), "false");
        assert_eq!(
            texts(
                "<R><PolicyNames><member>a</member><member>b</member></PolicyNames></R>",
                "PolicyNames"
            ),
            vec!["a", "b"]
        );
        assert!(records("not xml", "Users").is_empty());
    }

    #[test]
    fn policy_documents_are_url_decoded() {
        assert_eq!(percent_decoded("%7B%22a%22%3A%201%7D"), "{\"a\": 1}");
    }
}
