//! DynamoDB numbers, exactly: up to 38 significant decimal digits, magnitudes from
//! 1E-130 to 9.9999999999999999999999999999999999999E+125, no floats anywhere.
//!
//! A number is kept normalised as `±0.d₁d₂…dₙ × 10^exp` with no leading or trailing
//! zero digits, so equal values have equal representations and ordering is a simple
//! comparison of (sign, exponent, digits).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// Most significant digits a number may have.
pub const MAX_DIGITS: usize = 38;
/// Largest exponent (in the `0.d × 10^exp` form): below 10^126.
const MAX_EXP: i64 = 126;
/// Smallest exponent: 1E-130 is `0.1 × 10^-129`.
const MIN_EXP: i64 = -129;

/// Why a number is not acceptable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NumberError {
    /// The text is not a number.
    NotNumeric,
    /// Larger in magnitude than DynamoDB stores.
    Overflow,
    /// Smaller in magnitude (but not zero) than DynamoDB stores.
    Underflow,
    /// More than 38 significant digits.
    Precision,
}

impl NumberError {
    /// AWS's ValidationException text.
    pub fn message(&self) -> String {
        match self {
            NumberError::NotNumeric => "A value provided cannot be converted into a number".into(),
            NumberError::Overflow => {
                "Number overflow. Attempting to store a number with magnitude larger than supported range".into()
            }
            NumberError::Underflow => {
                "Number underflow. Attempting to store a number with magnitude smaller than supported range".into()
            }
            NumberError::Precision => {
                "Attempting to store more than 38 significant digits in a Number".into()
            }
        }
    }
}

/// An exact DynamoDB number.
#[derive(Clone, Debug)]
pub struct Number {
    negative: bool,
    /// Significant digits, each 0-9, first and last non-zero; empty for zero.
    digits: Vec<u8>,
    /// Value is `0.digits × 10^exp`; 0 for zero.
    exp: i64,
}

impl Number {
    /// Zero.
    pub fn zero() -> Number {
        Number {
            negative: false,
            digits: Vec::new(),
            exp: 0,
        }
    }

    /// Parses DynamoDB's number syntax: an optional sign, digits with an optional
    /// decimal point, an optional exponent (`e`/`E`, optional sign, digits).
    pub fn parse(s: &str) -> Result<Number, NumberError> {
        let b = s.as_bytes();
        let mut i = 0;
        let mut negative = false;
        if let Some(&c) = b.first()
            && (c == b'+' || c == b'-')
        {
            negative = c == b'-';
            i = 1;
        }
        let mut digits = Vec::with_capacity(b.len());
        let mut int_len: i64 = 0;
        let mut seen_point = false;
        let mut any_digit = false;
        while i < b.len() {
            match b[i] {
                d @ b'0'..=b'9' => {
                    digits.push(d - b'0');
                    any_digit = true;
                    if !seen_point {
                        int_len += 1;
                    }
                }
                b'.' if !seen_point => seen_point = true,
                b'e' | b'E' => break,
                _ => return Err(NumberError::NotNumeric),
            }
            i += 1;
        }
        if !any_digit {
            return Err(NumberError::NotNumeric);
        }
        let mut exp10: i64 = 0;
        if i < b.len() {
            // At an exponent marker.
            i += 1;
            let mut exp_negative = false;
            if let Some(&c) = b.get(i)
                && (c == b'+' || c == b'-')
            {
                exp_negative = c == b'-';
                i += 1;
            }
            if i >= b.len() {
                return Err(NumberError::NotNumeric);
            }
            while i < b.len() {
                let c = b[i];
                if !c.is_ascii_digit() {
                    return Err(NumberError::NotNumeric);
                }
                // Saturate: anything this large is out of range anyway.
                exp10 = exp10.saturating_mul(10).saturating_add(i64::from(c - b'0'));
                exp10 = exp10.min(1_000_000_000);
                i += 1;
            }
            if exp_negative {
                exp10 = -exp10;
            }
        }
        Number::from_parts(negative, digits, int_len.saturating_add(exp10))
    }

    /// Builds a number from raw digits (leading/trailing zeros allowed) with value
    /// `0.digits × 10^exp`, normalising and range-checking it.
    fn from_parts(
        negative: bool,
        mut digits: Vec<u8>,
        mut exp: i64,
    ) -> Result<Number, NumberError> {
        let lead = digits.iter().take_while(|d| **d == 0).count();
        if lead == digits.len() {
            return Ok(Number::zero());
        }
        digits.drain(..lead);
        exp = exp.saturating_sub(i64::try_from(lead).unwrap_or(i64::MAX));
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if exp > MAX_EXP {
            return Err(NumberError::Overflow);
        }
        if exp < MIN_EXP {
            return Err(NumberError::Underflow);
        }
        if digits.len() > MAX_DIGITS {
            return Err(NumberError::Precision);
        }
        Ok(Number {
            negative,
            digits,
            exp,
        })
    }

    /// True for zero.
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// True for a value below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The significant digits (0-9 each) and the exponent of `0.digits × 10^exp`.
    pub fn parts(&self) -> (&[u8], i64) {
        (&self.digits, self.exp)
    }

    /// Builds a number from normalised parts (used by decoders); range-checked.
    pub fn from_normalized(
        negative: bool,
        digits: Vec<u8>,
        exp: i64,
    ) -> Result<Number, NumberError> {
        if digits.iter().any(|d| *d > 9) {
            return Err(NumberError::NotNumeric);
        }
        Number::from_parts(negative && !digits.iter().all(|d| *d == 0), digits, exp)
    }

    /// Storage size as DynamoDB counts it: about one byte per two significant digits,
    /// plus one.
    pub fn size_bytes(&self) -> usize {
        self.digits.len().div_ceil(2) + 1
    }

    /// Exact sum.
    pub fn checked_add(&self, other: &Number) -> Result<Number, NumberError> {
        add_signed(self, other.negative, other)
    }

    /// Exact difference.
    pub fn checked_sub(&self, other: &Number) -> Result<Number, NumberError> {
        add_signed(self, !other.negative, other)
    }

    fn cmp_magnitude(&self, other: &Number) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        self.exp
            .cmp(&other.exp)
            .then_with(|| self.digits.cmp(&other.digits))
    }
}

/// Coefficient digits aligned to a common lowest power of ten.
fn aligned(n: &Number, low: i64) -> Vec<u8> {
    // n = digits × 10^(exp - len); pad with zeros down to 10^low.
    let len = i64::try_from(n.digits.len()).unwrap_or(0);
    let pad = usize::try_from(n.exp - len - low).unwrap_or(0);
    let mut v = n.digits.clone();
    v.extend(std::iter::repeat_n(0, pad));
    v
}

fn add_signed(a: &Number, b_negative: bool, b: &Number) -> Result<Number, NumberError> {
    if b.is_zero() {
        return Ok(a.clone());
    }
    if a.is_zero() {
        let mut r = b.clone();
        r.negative = b_negative;
        return Ok(r);
    }
    let low_a = a.exp - i64::try_from(a.digits.len()).unwrap_or(0);
    let low_b = b.exp - i64::try_from(b.digits.len()).unwrap_or(0);
    let low = low_a.min(low_b);
    let (x, y) = (aligned(a, low), aligned(b, low));
    let width = x.len().max(y.len());
    let pad = |v: Vec<u8>| -> Vec<u8> {
        let mut p = vec![0; width - v.len()];
        p.extend(v);
        p
    };
    let (x, y) = (pad(x), pad(y));
    let (negative, digits) = if a.negative == b_negative {
        let mut out = vec![0u8; width + 1];
        let mut carry = 0u8;
        for i in (0..width).rev() {
            let s = x[i] + y[i] + carry;
            out[i + 1] = s % 10;
            carry = s / 10;
        }
        out[0] = carry;
        (a.negative, out)
    } else {
        // Subtract the smaller magnitude from the larger.
        let a_bigger = x >= y;
        let (big, small) = if a_bigger { (&x, &y) } else { (&y, &x) };
        let mut out = vec![0u8; width];
        let mut borrow = 0i8;
        for i in (0..width).rev() {
            let mut d =
                i8::try_from(big[i]).unwrap_or(0) - i8::try_from(small[i]).unwrap_or(0) - borrow;
            if d < 0 {
                d += 10;
                borrow = 1;
            } else {
                borrow = 0;
            }
            out[i] = u8::try_from(d).unwrap_or(0);
        }
        (if a_bigger { a.negative } else { b_negative }, out)
    };
    // digits × 10^low = 0.digits × 10^(low + len).
    let exp = low + i64::try_from(digits.len()).unwrap_or(0);
    Number::from_parts(negative, digits, exp)
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Number {}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        let sign = |n: &Number| -> i8 {
            if n.is_zero() {
                0
            } else if n.negative {
                -1
            } else {
                1
            }
        };
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal => {}
            o => return o,
        }
        let m = self.cmp_magnitude(other);
        if self.negative { m.reverse() } else { m }
    }
}

impl Hash for Number {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.negative.hash(state);
        self.digits.hash(state);
        self.exp.hash(state);
    }
}

impl std::str::FromStr for Number {
    type Err = NumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Number::parse(s)
    }
}

/// The plain decimal form DynamoDB returns (no exponent, no needless zeros).
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let mut s = String::with_capacity(self.digits.len() + 8);
        if self.negative {
            s.push('-');
        }
        let digit = |d: &u8| char::from(b'0' + d);
        let len = i64::try_from(self.digits.len()).unwrap_or(0);
        if self.exp <= 0 {
            s.push_str("0.");
            for _ in 0..(-self.exp) {
                s.push('0');
            }
            s.extend(self.digits.iter().map(digit));
        } else if self.exp >= len {
            s.extend(self.digits.iter().map(digit));
            for _ in 0..(self.exp - len) {
                s.push('0');
            }
        } else {
            let split = usize::try_from(self.exp).unwrap_or(0);
            s.extend(self.digits[..split].iter().map(digit));
            s.push('.');
            s.extend(self.digits[split..].iter().map(digit));
        }
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap()
    }

    #[test]
    fn canonical_forms() {
        for (input, shown) in [
            ("0", "0"),
            ("-0", "0"),
            ("0.000", "0"),
            ("00042", "42"),
            ("1.50", "1.5"),
            ("1.0", "1"),
            ("1.5E2", "150"),
            ("1e3", "1000"),
            ("+7", "7"),
            ("-.5", "-0.5"),
            ("5.", "5"),
            ("0.001", "0.001"),
            ("1E-130", &format!("0.{}1", "0".repeat(129))),
            ("123.456e-2", "1.23456"),
            ("-1e2", "-100"),
        ] {
            assert_eq!(n(input).to_string(), shown, "{input}");
        }
        assert_eq!(n("1e100").to_string(), format!("1{}", "0".repeat(100)));
    }

    #[test]
    fn limits() {
        assert_eq!(Number::parse("abc"), Err(NumberError::NotNumeric));
        assert_eq!(Number::parse(""), Err(NumberError::NotNumeric));
        assert_eq!(Number::parse("1e"), Err(NumberError::NotNumeric));
        assert_eq!(Number::parse("1.2.3"), Err(NumberError::NotNumeric));
        assert_eq!(Number::parse(" 1"), Err(NumberError::NotNumeric));
        assert_eq!(Number::parse("NaN"), Err(NumberError::NotNumeric));
        assert_eq!(Number::parse("1E126"), Err(NumberError::Overflow));
        assert!(Number::parse("9.9999999999999999999999999999999999999E+125").is_ok());
        assert_eq!(Number::parse("1E-131"), Err(NumberError::Underflow));
        assert!(Number::parse("1E-130").is_ok());
        assert!(Number::parse(&"1".repeat(38)).is_ok());
        assert_eq!(Number::parse(&"1".repeat(39)), Err(NumberError::Precision));
        // Trailing zeros are not significant.
        assert!(Number::parse(&format!("1{}", "0".repeat(60))).is_ok());
        assert_eq!(
            Number::parse("1e999999999999999999"),
            Err(NumberError::Overflow)
        );
        assert_eq!(
            Number::parse("0e999999999999999999").unwrap(),
            Number::zero()
        );
    }

    #[test]
    fn exact_arithmetic() {
        assert_eq!(n("0.1").checked_add(&n("0.2")).unwrap(), n("0.3"));
        assert_eq!(
            n("10.5").checked_add(&n("0.2")).unwrap().to_string(),
            "10.7"
        );
        assert_eq!(n("1").checked_sub(&n("3")).unwrap().to_string(), "-2");
        assert_eq!(n("-1.5").checked_add(&n("1.5")).unwrap().to_string(), "0");
        assert_eq!(n("999").checked_add(&n("1")).unwrap().to_string(), "1000");
        assert_eq!(
            n("1e125").checked_add(&n("1e-125")),
            Err(NumberError::Precision)
        );
        assert_eq!(
            n("9.9999999999999999999999999999999999999E+125").checked_add(&n("1E+125")),
            Err(NumberError::Overflow)
        );
    }

    #[test]
    fn ordering() {
        let sorted = [
            "-100", "-1.5", "-1", "-0.001", "0", "0.001", "0.12", "0.123", "1", "2", "10",
        ];
        for w in sorted.windows(2) {
            assert!(n(w[0]) < n(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(n("1.0"), n("1"));
    }

    /// A slow reference: scale both to integers (as decimal strings) and add with i128
    /// when they fit.
    fn reference_sum(a: i64, ascale: u32, b: i64, bscale: u32) -> String {
        let scale = ascale.max(bscale);
        let x = i128::from(a) * 10i128.pow(scale - ascale);
        let y = i128::from(b) * 10i128.pow(scale - bscale);
        let sum = x + y;
        let neg = sum < 0;
        let mut digits = sum.unsigned_abs().to_string();
        let scale = usize::try_from(scale).unwrap();
        while digits.len() <= scale {
            digits.insert(0, '0');
        }
        let split = digits.len() - scale;
        let text = format!(
            "{}{}.{}",
            if neg { "-" } else { "" },
            &digits[..split],
            &digits[split..]
        );
        Number::parse(&text).unwrap().to_string()
    }

    proptest! {
        #[test]
        fn add_matches_reference(a in -1_000_000_000i64..1_000_000_000, ascale in 0u32..9,
                                 b in -1_000_000_000i64..1_000_000_000, bscale in 0u32..9) {
            let fmt = |v: i64, s: u32| -> String {
                let neg = v < 0;
                let mut d = v.unsigned_abs().to_string();
                let s = usize::try_from(s).unwrap();
                while d.len() <= s { d.insert(0, '0'); }
                let split = d.len() - s;
                format!("{}{}.{}", if neg { "-" } else { "" }, &d[..split], &d[split..])
            };
            let x = n(&fmt(a, ascale));
            let y = n(&fmt(b, bscale));
            prop_assert_eq!(x.checked_add(&y).unwrap().to_string(), reference_sum(a, ascale, b, bscale));
            prop_assert_eq!(x.checked_add(&y).unwrap().checked_sub(&y).unwrap(), x);
        }

        #[test]
        fn parse_display_round_trip(s in "[+-]?[0-9]{1,20}(\\.[0-9]{0,15})?([eE][+-]?[0-9]{1,2})?") {
            if let Ok(v) = Number::parse(&s) {
                prop_assert_eq!(Number::parse(&v.to_string()).unwrap(), v.clone());
                prop_assert_eq!(v.to_string(), Number::parse(&v.to_string()).unwrap().to_string());
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,60}") {
            let _ = Number::parse(&s);
        }
    }
}
