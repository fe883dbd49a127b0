//! Canonical attribute serialization: the plaintext of an encrypted attribute and the
//! input of its signature hash. Every value is a two-byte tag (`00` then an ASCII letter)
//! and a body; sets are canonicalized and sorted, maps sorted by key, lists kept in order.
//!
//! Orders written here are Python's (unsigned bytes for binary sets, UTF-8 byte order for
//! strings and map keys); Java differs only for binary members with a byte >= 0x80 and for
//! supplementary-plane characters against U+E000..U+FFFF (reference §9.2).

use crate::{Attribute, FormatError, Reader, put_lv};
use std::collections::BTreeMap;

/// Exponents beyond this are refused (DynamoDB's own range is -130..=125), which also bounds
/// the length of a plain-notation number.
const MAX_EXPONENT: i64 = 1000;

/// Serializes one attribute value.
pub fn serialize(v: &Attribute) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::new();
    write(&mut out, v)?;
    Ok(out)
}

fn write(out: &mut Vec<u8>, v: &Attribute) -> Result<(), FormatError> {
    match v {
        Attribute::B(b) => {
            out.extend_from_slice(b"\0b");
            put_lv(out, b);
        }
        Attribute::N(n) => {
            out.extend_from_slice(b"\0n");
            put_lv(out, canonical_number(n)?.as_bytes());
        }
        Attribute::S(s) => {
            out.extend_from_slice(b"\0s");
            put_lv(out, s.as_bytes());
        }
        Attribute::Bs(members) => {
            out.extend_from_slice(b"\0B");
            write_set(out, members.iter().map(|m| Ok(m.clone())))?;
        }
        Attribute::Ns(members) => {
            out.extend_from_slice(b"\0N");
            write_set(
                out,
                members
                    .iter()
                    .map(|m| canonical_number(m).map(String::into_bytes)),
            )?;
        }
        Attribute::Ss(members) => {
            out.extend_from_slice(b"\0S");
            write_set(out, members.iter().map(|m| Ok(m.as_bytes().to_vec())))?;
        }
        Attribute::Bool(b) => {
            out.extend_from_slice(b"\0?");
            out.push(u8::from(*b));
        }
        Attribute::Null => out.extend_from_slice(&[0, 0]),
        Attribute::L(items) => {
            out.extend_from_slice(b"\0L");
            put_count(out, items.len());
            for item in items {
                write(out, item)?;
            }
        }
        Attribute::M(map) => {
            out.extend_from_slice(b"\0M");
            put_count(out, map.len());
            // BTreeMap<String, _> iterates in UTF-8 byte order.
            for (k, item) in map {
                out.extend_from_slice(b"\0s");
                put_lv(out, k.as_bytes());
                write(out, item)?;
            }
        }
    }
    Ok(())
}

fn put_count(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
}

/// Members as byte strings, sorted unsigned, each `LV`.
fn write_set(
    out: &mut Vec<u8>,
    members: impl Iterator<Item = Result<Vec<u8>, FormatError>>,
) -> Result<(), FormatError> {
    let mut encoded = members.collect::<Result<Vec<_>, _>>()?;
    encoded.sort();
    put_count(out, encoded.len());
    for m in &encoded {
        put_lv(out, m);
    }
    Ok(())
}

/// Reads one serialized value (trailing bytes are ignored, as both libraries do).
pub fn deserialize(bytes: &[u8]) -> Result<Attribute, FormatError> {
    read(&mut Reader::new(bytes), 0)
}

/// Nesting deeper than DynamoDB allows (32) is refused, so hostile input cannot recurse
/// without bound.
const MAX_DEPTH: usize = 32;

fn read(r: &mut Reader<'_>, depth: usize) -> Result<Attribute, FormatError> {
    if depth > MAX_DEPTH {
        return Err(FormatError::Invalid("nesting too deep".into()));
    }
    let tag = r.take(2)?;
    if tag[0] != 0 {
        return Err(FormatError::Unsupported(format!("type tag {tag:02x?}")));
    }
    Ok(match tag[1] {
        b'b' => Attribute::B(r.lv()?.to_vec()),
        b'n' => Attribute::N(r.lv_str()?),
        b's' => Attribute::S(r.lv_str()?),
        b'B' => {
            let n = r.u32()?;
            Attribute::Bs(
                (0..n)
                    .map(|_| Ok(r.lv()?.to_vec()))
                    .collect::<Result<_, _>>()?,
            )
        }
        b'N' => {
            let n = r.u32()?;
            Attribute::Ns((0..n).map(|_| r.lv_str()).collect::<Result<_, _>>()?)
        }
        b'S' => {
            let n = r.u32()?;
            Attribute::Ss((0..n).map(|_| r.lv_str()).collect::<Result<_, _>>()?)
        }
        b'?' => match r.take(1)?[0] {
            0 => Attribute::Bool(false),
            1 => Attribute::Bool(true),
            other => return Err(FormatError::Invalid(format!("boolean byte {other}"))),
        },
        0 => Attribute::Null,
        b'L' => {
            let n = r.u32()?;
            let mut items = Vec::new();
            for _ in 0..n {
                items.push(read(r, depth + 1)?);
            }
            Attribute::L(items)
        }
        b'M' => {
            let n = r.u32()?;
            let mut map = BTreeMap::new();
            for _ in 0..n {
                let Attribute::S(k) = read(r, depth + 1)? else {
                    return Err(FormatError::Invalid("map key is not a string".into()));
                };
                // Duplicate keys: the last one wins, as in both libraries.
                map.insert(k, read(r, depth + 1)?);
            }
            Attribute::M(map)
        }
        other => return Err(FormatError::Unsupported(format!("type tag {other:#04x}"))),
    })
}

/// Java's canonical number: plain notation, no exponent, no `+`, no leading or trailing
/// zeros, `0` for any zero (including negative zero).
pub fn canonical_number(s: &str) -> Result<String, FormatError> {
    let bad = || FormatError::Invalid(format!("number {s:?}"));
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => {
            let e = &rest[i + 1..];
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            // Long exponent strings saturate and are then refused by the range check.
            let value: i64 = e.parse().unwrap_or(if e.starts_with('-') {
                i64::MIN
            } else {
                i64::MAX
            });
            (&rest[..i], value)
        }
        None => (rest, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part
            .bytes()
            .chain(frac_part.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    if !(-MAX_EXPONENT..=MAX_EXPONENT).contains(&exponent) {
        return Err(bad());
    }
    let all: String = format!("{int_part}{frac_part}");
    let digits = all.trim_start_matches('0');
    if digits.is_empty() {
        return Ok("0".into());
    }
    let significant = digits.trim_end_matches('0');
    // value = significant × 10^scale
    let frac_len = i64::try_from(frac_part.len()).map_err(|_| bad())?;
    let stripped = i64::try_from(digits.len() - significant.len()).map_err(|_| bad())?;
    let scale = exponent - frac_len + stripped;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    let len = i64::try_from(significant.len()).map_err(|_| bad())?;
    if scale >= 0 {
        out.push_str(significant);
        out.extend(std::iter::repeat_n(
            '0',
            usize::try_from(scale).map_err(|_| bad())?,
        ));
    } else if len + scale > 0 {
        let point = usize::try_from(len + scale).map_err(|_| bad())?;
        out.push_str(&significant[..point]);
        out.push('.');
        out.push_str(&significant[point..]);
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n(
            '0',
            usize::try_from(-(len + scale)).map_err(|_| bad())?,
        ));
        out.push_str(significant);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn reference_examples() {
        let m: BTreeMap<String, Attribute> = [
            ("k".to_owned(), Attribute::Bool(true)),
            ("a".to_owned(), Attribute::Null),
        ]
        .into_iter()
        .collect();
        let cases = [
            (Attribute::N("55.00".into()), "00 6E 00 00 00 02 35 35"),
            (Attribute::S(String::new()), "00 73 00 00 00 00"),
            (Attribute::B(vec![1, 2]), "00 62 00 00 00 02 01 02"),
            (
                Attribute::Ss(vec!["b".into(), "a".into()]),
                "00 53 00 00 00 02 00 00 00 01 61 00 00 00 01 62",
            ),
            (
                Attribute::Bs(vec![vec![2], vec![1, 0]]),
                "00 42 00 00 00 02 00 00 00 02 01 00 00 00 00 01 02",
            ),
            (
                Attribute::L(vec![Attribute::S("x".into()), Attribute::N("1".into())]),
                "00 4C 00 00 00 02 00 73 00 00 00 01 78 00 6E 00 00 00 01 31",
            ),
            (
                Attribute::M(m),
                "00 4D 00 00 00 02 00 73 00 00 00 01 61 00 00 00 73 00 00 00 01 6B 00 3F 01",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(serialize(&v).unwrap(), hex(want), "{v:?}");
        }
    }

    #[test]
    fn numbers_canonicalize_as_java_does() {
        let cases = [
            ("55", "55"),
            ("55.00", "55"),
            ("+55", "55"),
            ("055", "55"),
            ("55.34000", "55.34"),
            ("1E+2", "100"),
            ("1e2", "100"),
            ("1.5E-5", "0.000015"),
            ("0.000", "0"),
            ("-0", "0"),
            ("-0.0", "0"),
            ("-12.50", "-12.5"),
            (".5", "0.5"),
            ("120", "120"),
            ("0.00120", "0.0012"),
        ];
        for (input, want) in cases {
            assert_eq!(canonical_number(input).unwrap(), want, "{input}");
        }
        let tiny = canonical_number("9.9E-130").unwrap();
        assert_eq!(tiny, format!("0.{}99", "0".repeat(129)));
        for bad in ["", "-", "1e", "1.2.3", "abc", "1e99999999999999999999", "١"] {
            assert!(canonical_number(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn round_trip_and_hostile_input() {
        let v = Attribute::M(
            [(
                "l".to_owned(),
                Attribute::L(vec![
                    Attribute::Ns(vec!["2".into(), "10".into()]),
                    Attribute::Bool(false),
                    Attribute::Null,
                    Attribute::B(vec![0xff]),
                ]),
            )]
            .into_iter()
            .collect(),
        );
        let bytes = serialize(&v).unwrap();
        // Number sets come back canonical and sorted (as byte strings: "10" < "2").
        let Attribute::M(back) = deserialize(&bytes).unwrap() else {
            panic!("not a map")
        };
        let Attribute::L(items) = &back["l"] else {
            panic!("not a list")
        };
        assert_eq!(items[0], Attribute::Ns(vec!["10".into(), "2".into()]));
        assert_eq!(items[3], Attribute::B(vec![0xff]));
        for cut in 0..bytes.len() {
            assert!(deserialize(&bytes[..cut]).is_err(), "prefix of {cut} bytes");
        }
        assert!(
            deserialize(&[1, b's', 0, 0, 0, 0]).is_err(),
            "non-zero tag byte"
        );
        assert!(deserialize(&[0, b'?', 2]).is_err(), "boolean byte 2");
        // A list nested past DynamoDB's depth limit is refused, not recursed into.
        let mut deep = Vec::new();
        for _ in 0..100 {
            deep.extend_from_slice(&[0, b'L', 0, 0, 0, 1]);
        }
        deep.extend_from_slice(&[0, 0]);
        assert!(deserialize(&deep).is_err());
        // A huge declared length fails as truncated rather than allocating.
        assert_eq!(
            deserialize(&[0, b'b', 0xff, 0xff, 0xff, 0xff]),
            Err(FormatError::Truncated)
        );
    }
}
