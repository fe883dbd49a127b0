//! The material description (`*amzn-ddb-map-desc*`): `u32be(0)` then `LV(key) ‖ LV(value)`
//! entries until the end. Written sorted by key, as Python does; read in any order, since
//! Java writes hash-map order.

use crate::{FormatError, Reader, put_lv};
use std::collections::BTreeMap;

/// The only version of the format.
const VERSION: [u8; 4] = [0, 0, 0, 0];

/// Serializes a description (sorted by key: a `BTreeMap` iterates in order).
pub fn serialize(desc: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = VERSION.to_vec();
    for (k, v) in desc {
        put_lv(&mut out, k.as_bytes());
        put_lv(&mut out, v.as_bytes());
    }
    out
}

/// Parses a description; a version other than 0 or a partial entry is an error.
pub fn parse(bytes: &[u8]) -> Result<BTreeMap<String, String>, FormatError> {
    let mut r = Reader::new(bytes);
    if r.take(4)? != VERSION {
        return Err(FormatError::Unsupported(
            "material description version".into(),
        ));
    }
    let mut out = BTreeMap::new();
    while !r.is_empty() {
        let k = r.lv_str()?;
        let v = r.lv_str()?;
        out.insert(k, v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_example_round_trips() {
        let mut d = BTreeMap::new();
        d.insert(
            "amzn-ddb-map-sym-mode".to_owned(),
            "/CBC/PKCS5Padding".to_owned(),
        );
        let bytes = serialize(&d);
        let mut want = vec![0, 0, 0, 0, 0, 0, 0, 0x15];
        want.extend_from_slice(b"amzn-ddb-map-sym-mode");
        want.extend_from_slice(&[0, 0, 0, 0x11]);
        want.extend_from_slice(b"/CBC/PKCS5Padding");
        assert_eq!(bytes, want);
        assert_eq!(parse(&bytes).unwrap(), d);
    }

    #[test]
    fn empty_order_and_errors() {
        assert_eq!(serialize(&BTreeMap::new()), vec![0, 0, 0, 0]);
        // Entries in Java's arbitrary order parse to the same map.
        let mut unsorted = vec![0, 0, 0, 0];
        for (k, v) in [("b", "2"), ("a", "1")] {
            put_lv(&mut unsorted, k.as_bytes());
            put_lv(&mut unsorted, v.as_bytes());
        }
        let parsed = parse(&unsorted).unwrap();
        assert_eq!(parsed.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_ne!(serialize(&parsed), unsorted, "written sorted");
        assert_eq!(
            parse(&[0, 0, 0, 1]),
            Err(FormatError::Unsupported(
                "material description version".into()
            ))
        );
        // A key without its value.
        assert_eq!(
            parse(&[0, 0, 0, 0, 0, 0, 0, 1, b'k']),
            Err(FormatError::Truncated)
        );
    }
}
