//! The on-disk encodings of items and keys (inside SQLCipher files, still versioned):
//! see `docs/formats.md`, "Item encoding (v1)" and "Key encoding".

use crate::number::Number;
use crate::value::{AttributeValue, Item, MAX_DEPTH};

/// Version byte of the item encoding. DO NOT CHANGE.
pub const ITEM_FORMAT_V1: u8 = 1;

/// Type tags of the item encoding. DO NOT CHANGE.
mod tag {
    pub(super) const S: u8 = 0;
    pub(super) const N: u8 = 1;
    pub(super) const B: u8 = 2;
    pub(super) const FALSE: u8 = 3;
    pub(super) const TRUE: u8 = 4;
    pub(super) const NULL: u8 = 5;
    pub(super) const M: u8 = 6;
    pub(super) const L: u8 = 7;
    pub(super) const SS: u8 = 8;
    pub(super) const NS: u8 = 9;
    pub(super) const BS: u8 = 10;
}

/// The scalar types a key attribute may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarType {
    /// String.
    S,
    /// Number.
    N,
    /// Binary.
    B,
}

/// A stored record that does not decode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("stored record does not decode: {0}")]
pub struct CodecError(&'static str);

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(u8::try_from(v & 0x7F).unwrap_or(0) | 0x80);
        v >>= 7;
    }
    out.push(u8::try_from(v).unwrap_or(0));
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, u64::try_from(b.len()).unwrap_or(u64::MAX));
    out.extend_from_slice(b);
}

/// Numbers are stored as: sign byte (0 non-negative, 1 negative), exponent as a
/// zigzag varint, then the digits packed two per byte (high nibble first, 0xF pad).
fn put_number(out: &mut Vec<u8>, n: &Number) {
    let (digits, exp) = n.parts();
    out.push(u8::from(n.is_negative()));
    let zigzag = u64::try_from((exp << 1) ^ (exp >> 63)).unwrap_or(0);
    put_varint(out, zigzag);
    put_varint(out, u64::try_from(digits.len()).unwrap_or(0));
    for pair in digits.chunks(2) {
        let hi = pair[0];
        let lo = pair.get(1).copied().unwrap_or(0xF);
        out.push((hi << 4) | lo);
    }
}

fn put_value(out: &mut Vec<u8>, v: &AttributeValue) {
    match v {
        AttributeValue::S(s) => {
            out.push(tag::S);
            put_bytes(out, s.as_bytes());
        }
        AttributeValue::N(n) => {
            out.push(tag::N);
            put_number(out, n);
        }
        AttributeValue::B(b) => {
            out.push(tag::B);
            put_bytes(out, b);
        }
        AttributeValue::Bool(b) => out.push(if *b { tag::TRUE } else { tag::FALSE }),
        AttributeValue::Null => out.push(tag::NULL),
        AttributeValue::M(m) => {
            out.push(tag::M);
            put_map(out, m);
        }
        AttributeValue::L(l) => {
            out.push(tag::L);
            put_varint(out, u64::try_from(l.len()).unwrap_or(0));
            for x in l {
                put_value(out, x);
            }
        }
        AttributeValue::Ss(s) => {
            out.push(tag::SS);
            put_varint(out, u64::try_from(s.len()).unwrap_or(0));
            for x in s {
                put_bytes(out, x.as_bytes());
            }
        }
        AttributeValue::Ns(s) => {
            out.push(tag::NS);
            put_varint(out, u64::try_from(s.len()).unwrap_or(0));
            for x in s {
                put_number(out, x);
            }
        }
        AttributeValue::Bs(s) => {
            out.push(tag::BS);
            put_varint(out, u64::try_from(s.len()).unwrap_or(0));
            for x in s {
                put_bytes(out, x);
            }
        }
    }
}

fn put_map(out: &mut Vec<u8>, m: &Item) {
    put_varint(out, u64::try_from(m.len()).unwrap_or(0));
    for (k, v) in m {
        put_bytes(out, k.as_bytes());
        put_value(out, v);
    }
}

/// Encodes an item: `0x01 ‖ attribute count ‖ (name ‖ value)*`.
pub fn encode_item(item: &Item) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(ITEM_FORMAT_V1);
    put_map(&mut out, item);
    out
}

struct Reader<'a> {
    b: &'a [u8],
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, CodecError> {
        let (&first, rest) = self.b.split_first().ok_or(CodecError("truncated"))?;
        self.b = rest;
        Ok(first)
    }

    fn varint(&mut self) -> Result<u64, CodecError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            v |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CodecError("varint too long"))
    }

    fn len(&mut self) -> Result<usize, CodecError> {
        let n = usize::try_from(self.varint()?).map_err(|_| CodecError("length"))?;
        if n > self.b.len() {
            return Err(CodecError("length past end"));
        }
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&[u8], CodecError> {
        let n = self.len()?;
        let (a, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(a)
    }

    fn string(&mut self) -> Result<String, CodecError> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| CodecError("utf-8"))
    }

    fn number(&mut self) -> Result<Number, CodecError> {
        let negative = match self.byte()? {
            0 => false,
            1 => true,
            _ => return Err(CodecError("number sign")),
        };
        let z = self.varint()?;
        let exp = i64::try_from(z >> 1).map_err(|_| CodecError("exponent"))?
            ^ -i64::try_from(z & 1).unwrap_or(0);
        let count = usize::try_from(self.varint()?).map_err(|_| CodecError("digits"))?;
        if count > 64 {
            return Err(CodecError("too many digits"));
        }
        let mut digits = Vec::with_capacity(count);
        for _ in 0..count.div_ceil(2) {
            let b = self.byte()?;
            digits.push(b >> 4);
            if digits.len() < count {
                digits.push(b & 0xF);
            }
        }
        Number::from_normalized(negative, digits, exp).map_err(|_| CodecError("number"))
    }

    fn value(&mut self, depth: usize) -> Result<AttributeValue, CodecError> {
        if depth > MAX_DEPTH + 1 {
            return Err(CodecError("nesting"));
        }
        Ok(match self.byte()? {
            tag::S => AttributeValue::S(self.string()?),
            tag::N => AttributeValue::N(self.number()?),
            tag::B => AttributeValue::B(self.bytes()?.to_vec()),
            tag::FALSE => AttributeValue::Bool(false),
            tag::TRUE => AttributeValue::Bool(true),
            tag::NULL => AttributeValue::Null,
            tag::M => AttributeValue::M(self.map(depth + 1)?),
            tag::L => {
                let n = self.len()?;
                let mut l = Vec::with_capacity(n);
                for _ in 0..n {
                    l.push(self.value(depth + 1)?);
                }
                AttributeValue::L(l)
            }
            tag::SS => {
                let n = self.len()?;
                let mut s = Vec::with_capacity(n);
                for _ in 0..n {
                    s.push(self.string()?);
                }
                AttributeValue::Ss(s)
            }
            tag::NS => {
                let n = self.len()?;
                let mut s = Vec::with_capacity(n);
                for _ in 0..n {
                    s.push(self.number()?);
                }
                AttributeValue::Ns(s)
            }
            tag::BS => {
                let n = self.len()?;
                let mut s = Vec::with_capacity(n);
                for _ in 0..n {
                    s.push(self.bytes()?.to_vec());
                }
                AttributeValue::Bs(s)
            }
            _ => return Err(CodecError("unknown type tag")),
        })
    }

    fn map(&mut self, depth: usize) -> Result<Item, CodecError> {
        let n = self.len()?;
        let mut m = Item::new();
        for _ in 0..n {
            let k = self.string()?;
            let v = self.value(depth)?;
            m.insert(k, v);
        }
        Ok(m)
    }
}

/// Decodes an item; an unknown version, a truncation or trailing bytes fail.
pub fn decode_item(bytes: &[u8]) -> Result<Item, CodecError> {
    let mut r = Reader { b: bytes };
    if r.byte()? != ITEM_FORMAT_V1 {
        return Err(CodecError("unknown item format version"));
    }
    let item = r.map(0)?;
    if !r.b.is_empty() {
        return Err(CodecError("trailing bytes"));
    }
    Ok(item)
}

/// Leading byte of a number key: negative, zero, positive. DO NOT CHANGE.
const KEY_NEG: u8 = 0x40;
const KEY_ZERO: u8 = 0x80;
const KEY_POS: u8 = 0xC0;
/// Exponent bias: exponents run from -129 to 126. DO NOT CHANGE.
const EXP_BIAS: i64 = 129;

/// The order-preserving encoding of a key value: byte order of encodings is DynamoDB's
/// order of values (strings and binary by unsigned bytes: the raw bytes; numbers by
/// value). `None` for a non-scalar value.
pub fn encode_key(v: &AttributeValue) -> Option<Vec<u8>> {
    match v {
        AttributeValue::S(s) => Some(s.as_bytes().to_vec()),
        AttributeValue::B(b) => Some(b.clone()),
        AttributeValue::N(n) => Some(encode_number_key(n)),
        _ => None,
    }
}

fn encode_number_key(n: &Number) -> Vec<u8> {
    if n.is_zero() {
        return vec![KEY_ZERO];
    }
    let (digits, exp) = n.parts();
    let biased = u8::try_from(exp + EXP_BIAS).unwrap_or(0);
    let mut out = Vec::with_capacity(digits.len() + 3);
    if n.is_negative() {
        // Larger magnitudes sort first: invert the exponent and digits, and end with a
        // terminator above every inverted digit so that a shorter magnitude sorts after.
        out.push(KEY_NEG);
        out.push(255 - biased);
        out.extend(digits.iter().map(|d| b'9' - d));
        out.push(0xFF);
    } else {
        out.push(KEY_POS);
        out.push(biased);
        out.extend(digits.iter().map(|d| b'0' + d));
    }
    out
}

/// Decodes a key encoding of the given type.
pub fn decode_key(t: ScalarType, bytes: &[u8]) -> Result<AttributeValue, CodecError> {
    match t {
        ScalarType::S => String::from_utf8(bytes.to_vec())
            .map(AttributeValue::S)
            .map_err(|_| CodecError("key utf-8")),
        ScalarType::B => Ok(AttributeValue::B(bytes.to_vec())),
        ScalarType::N => {
            let (&kind, rest) = bytes.split_first().ok_or(CodecError("empty number key"))?;
            let n = match kind {
                KEY_ZERO if rest.is_empty() => Number::zero(),
                KEY_POS => {
                    let (&e, d) = rest.split_first().ok_or(CodecError("number key"))?;
                    let digits = d.iter().map(|c| c.wrapping_sub(b'0')).collect();
                    Number::from_normalized(false, digits, i64::from(e) - EXP_BIAS)
                        .map_err(|_| CodecError("number key"))?
                }
                KEY_NEG => {
                    let (&e, d) = rest.split_first().ok_or(CodecError("number key"))?;
                    let d = d.strip_suffix(&[0xFF]).ok_or(CodecError("number key"))?;
                    let digits = d.iter().map(|c| b'9'.wrapping_sub(*c)).collect();
                    Number::from_normalized(true, digits, i64::from(255 - e) - EXP_BIAS)
                        .map_err(|_| CodecError("number key"))?
                }
                _ => return Err(CodecError("number key")),
            };
            Ok(AttributeValue::N(n))
        }
    }
}

/// The stable 64-bit hash of an encoded partition key: the first 8 bytes, big-endian,
/// of SHA-256(type letter ‖ encoding). Fixes Scan order and parallel-scan segments, so
/// it must never change.
pub fn partition_hash(t: ScalarType, encoded_pk: &[u8]) -> u64 {
    let letter: &[u8] = match t {
        ScalarType::S => b"S",
        ScalarType::N => b"N",
        ScalarType::B => b"B",
    };
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(letter);
    ctx.update(encoded_pk);
    let d = ctx.finish();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d.as_ref()[..8]);
    u64::from_be_bytes(first)
}

/// Appends the body of one component of a multi-attribute key: its key encoding with
/// every `0x00` written as `0x00 0xFF`. Byte-wise, so a prefix of a value gives a prefix
/// of the body (`begins_with` on a component is a byte range).
pub fn put_component_body(out: &mut Vec<u8>, encoded: &[u8]) {
    for &b in encoded {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
}

/// Appends one component of a multi-attribute key: its body and the terminator
/// `0x00 0x00`. The terminator sorts below every continuation (any byte above `0x00`, or
/// an escaped `0x00 0xFF`), so the concatenation of components orders as the tuple of
/// values does, the first component first (`docs/formats.md`, "Key encoding").
pub fn put_component(out: &mut Vec<u8>, encoded: &[u8]) {
    put_component_body(out, encoded);
    out.extend_from_slice(&[0, 0]);
}

/// The encoding of a multi-attribute key from its components' key encodings.
pub fn encode_composite<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        put_component(&mut out, p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::item_from_json;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn item_round_trip_and_fail_closed() {
        let item = item_from_json(&json!({
            "s": {"S": "héllo"}, "n": {"N": "-1.50e-3"}, "b": {"B": "AP8H"}, "t": {"BOOL": true},
            "f": {"BOOL": false}, "z": {"NULL": true}, "m": {"M": {"x": {"N": "1"}, "y": {"L": []}}},
            "l": {"L": [{"S": "a"}, {"N": "2"}]}, "ss": {"SS": ["a", "b"]},
            "ns": {"NS": ["1", "99999999999999999999999999999999999999"]}, "bs": {"BS": ["AA==", "/w=="]}
        }))
        .unwrap();
        let enc = encode_item(&item);
        assert_eq!(decode_item(&enc).unwrap(), item);
        for cut in 0..enc.len() {
            assert!(decode_item(&enc[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = enc.clone();
        bad[0] = 2;
        assert!(decode_item(&bad).is_err());
        let mut longer = enc.clone();
        longer.push(0);
        assert!(decode_item(&longer).is_err());
    }

    fn num(s: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(s).unwrap())
    }

    #[test]
    fn number_keys_sort_by_value_and_decode() {
        let sorted = [
            "-1e125",
            "-100",
            "-10",
            "-9.5",
            "-1.5",
            "-1",
            "-0.123",
            "-0.12",
            "-0.001",
            "-1e-130",
            "0",
            "1e-130",
            "0.001",
            "0.12",
            "0.123",
            "1",
            "1.5",
            "9.5",
            "10",
            "100",
            "9.9999999999999999999999999999999999999e125",
        ];
        let enc: Vec<Vec<u8>> = sorted
            .iter()
            .map(|s| encode_key(&num(s)).unwrap())
            .collect();
        for (i, w) in enc.windows(2).enumerate() {
            assert!(w[0] < w[1], "{} < {}", sorted[i], sorted[i + 1]);
        }
        for (s, e) in sorted.iter().zip(&enc) {
            assert_eq!(decode_key(ScalarType::N, e).unwrap(), num(s));
        }
    }

    #[test]
    fn hash_is_stable() {
        // Pinned: a change here would reorder every existing table's Scan.
        assert_eq!(
            partition_hash(ScalarType::S, b"user#1"),
            0x548e_255b_edf0_e5d9
        );
        assert_ne!(
            partition_hash(ScalarType::S, b"a"),
            partition_hash(ScalarType::B, b"a")
        );
    }

    #[test]
    fn composite_keys_order_as_tuples() {
        let key = |parts: &[&AttributeValue]| {
            let enc: Vec<Vec<u8>> = parts.iter().map(|v| encode_key(v).unwrap()).collect();
            encode_composite(enc.iter().map(Vec::as_slice))
        };
        let s = |x: &str| AttributeValue::S(x.into());
        let b = |x: &[u8]| AttributeValue::B(x.to_vec());
        // Ascending as (S, N, B) tuples: a shorter first component sorts first whatever
        // follows it, and 0x00 bytes inside a value do not end the component.
        let sorted = [
            key(&[&s("a"), &num("9"), &b(&[0xFF])]),
            key(&[&s("a"), &num("10"), &b(&[])]),
            key(&[&s("a"), &num("10"), &b(&[0])]),
            key(&[&s("a"), &num("10"), &b(&[0, 0])]),
            key(&[&s("a"), &num("10"), &b(&[1])]),
            key(&[&s("a\u{0}"), &num("-5"), &b(&[])]),
            key(&[&s("ab"), &num("-5"), &b(&[])]),
        ];
        for (i, w) in sorted.windows(2).enumerate() {
            assert!(w[0] < w[1], "{i}");
        }
    }

    proptest! {
        #[test]
        fn number_key_order_matches_value_order(a in "-?[0-9]{1,12}(\\.[0-9]{1,8})?", b in "-?[0-9]{1,12}(\\.[0-9]{1,8})?") {
            let (x, y) = (Number::parse(&a).unwrap(), Number::parse(&b).unwrap());
            let (ex, ey) = (encode_number_key(&x), encode_number_key(&y));
            prop_assert_eq!(x.cmp(&y), ex.cmp(&ey));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_item(&bytes);
            let _ = decode_key(ScalarType::N, &bytes);
        }
    }
}
