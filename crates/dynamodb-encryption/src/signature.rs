//! What an item signature covers (reference §5.1): SHA-256 of `TABLE>name<TABLE`, then for
//! each signed attribute in name order the hashes of its name, of `ENCRYPTED` or
//! `PLAINTEXT`, and of its serialized value as stored. The concatenation is handed to the
//! signature primitive, which hashes it again itself.

use crate::{
    Action, Attribute, FormatError,
    serialize::{Dialect, serialize_as},
};
use aws_lc_rs::digest::{SHA256, digest};
use std::collections::BTreeMap;

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// The string to sign for `item` (as stored: encrypted attributes already replaced by their
/// ciphertext, the signature and material-description attributes not in it) in table
/// `table` (`None` renders as Python's `None`). Names are taken in UTF-8 byte order, which
/// is Python's.
pub fn string_to_sign(
    table: Option<&str>,
    item: &BTreeMap<String, Attribute>,
    action: impl Fn(&str) -> Action,
) -> Result<Vec<u8>, FormatError> {
    string_to_sign_as(table, item, action, Dialect::Standard)
}

/// [`string_to_sign`] as one library renders it: values per [`Dialect`], and attribute
/// names in that library's string order.
pub fn string_to_sign_as(
    table: Option<&str>,
    item: &BTreeMap<String, Attribute>,
    action: impl Fn(&str) -> Action,
    dialect: Dialect,
) -> Result<Vec<u8>, FormatError> {
    let table = table.unwrap_or("None");
    let mut out = Vec::with_capacity(32 * (1 + 3 * item.len()));
    out.extend_from_slice(&sha256(format!("TABLE>{table}<TABLE").as_bytes()));
    let mut names: Vec<(&String, &Attribute)> = item.iter().collect();
    names.sort_by(|a, b| dialect.compare_str(a.0, b.0));
    for (name, value) in names {
        let marker: &[u8] = match action(name) {
            Action::DoNothing => continue,
            Action::EncryptAndSign => b"ENCRYPTED",
            Action::SignOnly => b"PLAINTEXT",
        };
        out.extend_from_slice(&sha256(name.as_bytes()));
        out.extend_from_slice(&sha256(marker));
        out.extend_from_slice(&sha256(&serialize_as(value, dialect)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_hashes_match_the_reference() {
        let hex = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(sha256(b"ENCRYPTED")),
            "394115ac4eb09aa49429348816b2038127b0f9e3a520372ae100ca19fb08fd50"
        );
        assert_eq!(
            hex(sha256(b"PLAINTEXT")),
            "cb40e7dadc86161b9798de48512f332d21c141fcc1e28a086fde4a3375aab1b5"
        );
        let only_table = string_to_sign(
            Some("ExampleTableName"),
            &[("a".to_owned(), Attribute::N("55".into()))]
                .into_iter()
                .collect(),
            |_| Action::DoNothing,
        )
        .unwrap();
        assert_eq!(
            hex(only_table.try_into().unwrap()),
            "f6c81a0f6c85100988a65014c094be29eb0846fd57c3443f0d59f354d66aa7f5"
        );
    }
}
