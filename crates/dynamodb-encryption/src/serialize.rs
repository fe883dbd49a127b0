//! Canonical attribute serialization: the plaintext of an encrypted attribute and the
//! input of its signature hash. Every value is a two-byte tag (`00` then an ASCII letter)
//! and a body; sets are canonicalized and sorted, maps sorted by key, lists kept in order.
//!
//! The two libraries render a few values differently (reference §9.1, §9.2); a [`Dialect`]
//! picks one rendering. [`Dialect::Standard`] is what this crate writes: Java's canonical
//! numbers with Python's orders (unsigned bytes for binary sets, UTF-8 byte order for
//! strings and map keys).

use crate::{Attribute, FormatError, Reader, put_lv};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Exponents beyond this are refused (DynamoDB's own range is -130..=125), which also bounds
/// the length of a plain-notation number.
const MAX_EXPONENT: i64 = 1000;

/// Python's default decimal context keeps this many significant digits.
const PYTHON_PRECISION: usize = 28;

/// Which library's rendering a serialization follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dialect {
    /// Java's canonical numbers, Python's sort orders: what this crate writes. It equals both
    /// libraries' rendering for every value except those named in the other two variants.
    #[default]
    Standard,
    /// Python 3.3.0: negative zero stays `-0`, more than 28 significant digits are rounded.
    Python,
    /// Java: binary set members in signed-byte order, strings in UTF-16 code-unit order.
    Java,
}

impl Dialect {
    /// Orders two strings (set members, map keys, attribute names) as the library does.
    pub(crate) fn compare_str(self, a: &str, b: &str) -> Ordering {
        match self {
            Dialect::Java => a.encode_utf16().cmp(b.encode_utf16()),
            Dialect::Standard | Dialect::Python => a.cmp(b),
        }
    }

    fn compare_bytes(self, a: &[u8], b: &[u8]) -> Ordering {
        match self {
            // `ByteBuffer.compareTo` compares Java's signed bytes.
            Dialect::Java => a.iter().map(|&x| x as i8).cmp(b.iter().map(|&x| x as i8)),
            Dialect::Standard | Dialect::Python => a.cmp(b),
        }
    }

    fn number(self, n: &str) -> Result<String, FormatError> {
        match self {
            Dialect::Python => python_number(n),
            Dialect::Standard | Dialect::Java => canonical_number(n),
        }
    }
}

/// Serializes one attribute value in the standard rendering.
pub fn serialize(v: &Attribute) -> Result<Vec<u8>, FormatError> {
    serialize_as(v, Dialect::Standard)
}

/// Serializes one attribute value as the given library renders it.
pub fn serialize_as(v: &Attribute, dialect: Dialect) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::new();
    write(&mut out, v, dialect)?;
    Ok(out)
}

fn write(out: &mut Vec<u8>, v: &Attribute, dialect: Dialect) -> Result<(), FormatError> {
    match v {
        Attribute::B(b) => {
            out.extend_from_slice(b"\0b");
            put_lv(out, b);
        }
        Attribute::N(n) => {
            out.extend_from_slice(b"\0n");
            put_lv(out, dialect.number(n)?.as_bytes());
        }
        Attribute::S(s) => {
            out.extend_from_slice(b"\0s");
            put_lv(out, s.as_bytes());
        }
        Attribute::Bs(members) => {
            out.extend_from_slice(b"\0B");
            let mut sorted: Vec<&[u8]> = members.iter().map(Vec::as_slice).collect();
            sorted.sort_by(|a, b| dialect.compare_bytes(a, b));
            write_members(out, &sorted);
        }
        Attribute::Ns(members) => {
            out.extend_from_slice(b"\0N");
            // Canonical numbers are ASCII, so every library's string order is byte order.
            let mut encoded = members
                .iter()
                .map(|m| dialect.number(m))
                .collect::<Result<Vec<_>, _>>()?;
            encoded.sort();
            write_members(out, &encoded);
        }
        Attribute::Ss(members) => {
            out.extend_from_slice(b"\0S");
            let mut sorted: Vec<&str> = members.iter().map(String::as_str).collect();
            sorted.sort_by(|a, b| dialect.compare_str(a, b));
            write_members(out, &sorted);
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
                write(out, item, dialect)?;
            }
        }
        Attribute::M(map) => {
            out.extend_from_slice(b"\0M");
            put_count(out, map.len());
            let mut entries: Vec<(&String, &Attribute)> = map.iter().collect();
            entries.sort_by(|a, b| dialect.compare_str(a.0, b.0));
            for (k, item) in entries {
                out.extend_from_slice(b"\0s");
                put_lv(out, k.as_bytes());
                write(out, item, dialect)?;
            }
        }
    }
    Ok(())
}

fn put_count(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
}

/// A set's members, already in order, each `LV`.
fn write_members<T: AsRef<[u8]>>(out: &mut Vec<u8>, members: &[T]) {
    put_count(out, members.len());
    for m in members {
        put_lv(out, m.as_ref());
    }
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

/// A non-zero decimal: `digits × 10^scale`, `digits` without leading or trailing zeros.
struct Decimal {
    negative: bool,
    digits: String,
    scale: i64,
}

/// Parses a DynamoDB number; a zero comes back as `Err(written_negative)`.
fn parse_decimal(s: &str) -> Result<Result<Decimal, bool>, FormatError> {
    // The value itself stays out of the message: it may be plaintext.
    let bad = || FormatError::Invalid("number is not a decimal".into());
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
        return Ok(Err(negative));
    }
    let significant = digits.trim_end_matches('0');
    let frac_len = i64::try_from(frac_part.len()).map_err(|_| bad())?;
    let stripped = i64::try_from(digits.len() - significant.len()).map_err(|_| bad())?;
    Ok(Ok(Decimal {
        negative,
        digits: significant.to_owned(),
        scale: exponent - frac_len + stripped,
    }))
}

/// Plain notation: no exponent, no leading zeros, no trailing `.`.
fn render_plain(d: &Decimal) -> Result<String, FormatError> {
    let bad = || FormatError::Invalid("number out of range".into());
    let mut out = String::new();
    if d.negative {
        out.push('-');
    }
    let len = i64::try_from(d.digits.len()).map_err(|_| bad())?;
    if d.scale >= 0 {
        out.push_str(&d.digits);
        out.extend(std::iter::repeat_n(
            '0',
            usize::try_from(d.scale).map_err(|_| bad())?,
        ));
    } else if len + d.scale > 0 {
        let point = usize::try_from(len + d.scale).map_err(|_| bad())?;
        out.push_str(&d.digits[..point]);
        out.push('.');
        out.push_str(&d.digits[point..]);
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n(
            '0',
            usize::try_from(-(len + d.scale)).map_err(|_| bad())?,
        ));
        out.push_str(&d.digits);
    }
    Ok(out)
}

/// Java's canonical number: plain notation, no exponent, no `+`, no leading or trailing
/// zeros, `0` for any zero (including negative zero).
pub fn canonical_number(s: &str) -> Result<String, FormatError> {
    match parse_decimal(s)? {
        Ok(d) => render_plain(&d),
        Err(_) => Ok("0".into()),
    }
}

/// Python 3.3.0's rendering: as Java's, except that negative zero stays `-0` and values
/// with more than 28 significant digits are rounded half-even to 28 (its decimal context).
pub fn python_number(s: &str) -> Result<String, FormatError> {
    let d = match parse_decimal(s)? {
        Ok(d) => d,
        Err(negative) => return Ok(if negative { "-0" } else { "0" }.into()),
    };
    if d.digits.len() <= PYTHON_PRECISION {
        return render_plain(&d);
    }
    let out_of_range = || FormatError::Invalid("number out of range".into());
    let (kept, rest) = d.digits.split_at(PYTHON_PRECISION);
    let first_dropped = rest.as_bytes()[0];
    let rest_nonzero = rest.bytes().skip(1).any(|b| b != b'0');
    let last_kept_odd = kept.as_bytes()[PYTHON_PRECISION - 1] % 2 == 1;
    let round_up = first_dropped > b'5' || first_dropped == b'5' && (rest_nonzero || last_kept_odd);
    let mut kept = kept.as_bytes().to_vec();
    let mut carry = round_up;
    for digit in kept.iter_mut().rev() {
        if !carry {
            break;
        }
        if *digit == b'9' {
            *digit = b'0';
        } else {
            *digit += 1;
            carry = false;
        }
    }
    if carry {
        kept.insert(0, b'1');
    }
    // `kept` is ASCII digits; value = kept × 10^(scale + dropped digits).
    let kept: String = kept.into_iter().map(char::from).collect();
    let digits = kept.trim_end_matches('0');
    let shift =
        i64::try_from(rest.len() + kept.len() - digits.len()).map_err(|_| out_of_range())?;
    render_plain(&Decimal {
        negative: d.negative,
        digits: digits.to_owned(),
        scale: d.scale + shift,
    })
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
            assert!(python_number(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn python_renders_negative_zero_and_rounds_to_28_digits() {
        assert_eq!(python_number("-0.0").unwrap(), "-0");
        assert_eq!(python_number("0.00").unwrap(), "0");
        assert_eq!(python_number("55.00").unwrap(), "55");
        assert_eq!(
            python_number("12345678901234567890123456789012345678").unwrap(),
            "12345678901234567890123456790000000000"
        );
        // Half-even: an exact half rounds to the even neighbour; a carry moves the point.
        let halfway = format!("{}25", "1".repeat(27));
        assert_eq!(
            python_number(&halfway).unwrap(),
            format!("{}20", "1".repeat(27))
        );
        let nines = format!("0.{}", "9".repeat(30));
        assert_eq!(python_number(&nines).unwrap(), "1");
        assert_eq!(canonical_number(&nines).unwrap(), nines);
    }

    #[test]
    fn dialects_order_sets_and_map_keys_as_each_library() {
        let bs = Attribute::Bs(vec![vec![0x80], vec![0x01], vec![0x01, 0x00], vec![0x7f]]);
        let members = |bytes: Vec<u8>| -> Vec<Vec<u8>> {
            let Attribute::Bs(m) = deserialize(&bytes).unwrap() else {
                panic!("not a binary set")
            };
            m
        };
        assert_eq!(
            members(serialize(&bs).unwrap()),
            [vec![0x01], vec![0x01, 0x00], vec![0x7f], vec![0x80]]
        );
        assert_eq!(
            members(serialize_as(&bs, Dialect::Java).unwrap()),
            [vec![0x80], vec![0x01], vec![0x01, 0x00], vec![0x7f]]
        );
        // U+1F600 (surrogates D83D DE00) sorts before U+FF61 in UTF-16 order, after it in
        // code-point order.
        let ss = Attribute::Ss(vec!["\u{1F600}".into(), "\u{FF61}".into()]);
        let Attribute::Ss(java) = deserialize(&serialize_as(&ss, Dialect::Java).unwrap()).unwrap()
        else {
            panic!("not a string set")
        };
        assert_eq!(java, ["\u{1F600}", "\u{FF61}"]);
        let Attribute::Ss(python) = deserialize(&serialize(&ss).unwrap()).unwrap() else {
            panic!("not a string set")
        };
        assert_eq!(python, ["\u{FF61}", "\u{1F600}"]);
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
