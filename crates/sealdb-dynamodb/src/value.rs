//! Attribute values and items, their DynamoDB JSON form, equality and size rules.

use crate::number::Number;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};

/// Deepest nesting of maps and lists DynamoDB accepts.
pub const MAX_DEPTH: usize = 32;

/// One DynamoDB attribute value.
#[derive(Clone, Debug)]
pub enum AttributeValue {
    /// String.
    S(String),
    /// Number.
    N(Number),
    /// Binary.
    B(Vec<u8>),
    /// Boolean.
    Bool(bool),
    /// Null.
    Null,
    /// Map.
    M(Item),
    /// List.
    L(Vec<AttributeValue>),
    /// String set (non-empty, no duplicates; order as given).
    Ss(Vec<String>),
    /// Number set.
    Ns(Vec<Number>),
    /// Binary set.
    Bs(Vec<Vec<u8>>),
}

/// An item: attribute name → value.
pub type Item = BTreeMap<String, AttributeValue>;

/// Why a value was refused; `serialization` says which wire error it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueError {
    message: String,
    serialization: bool,
}

impl ValueError {
    fn validation(message: impl Into<String>) -> ValueError {
        ValueError {
            message: message.into(),
            serialization: false,
        }
    }

    fn serialization(message: impl Into<String>) -> ValueError {
        ValueError {
            message: message.into(),
            serialization: true,
        }
    }

    /// The message text.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// True when AWS answers this with a `SerializationException` (a JSON member of the
    /// wrong type), false for a `ValidationException`.
    pub fn is_serialization(&self) -> bool {
        self.serialization
    }
}

fn invalid(msg: impl std::fmt::Display) -> ValueError {
    ValueError::validation(format!("One or more parameter values were invalid: {msg}"))
}

fn wrong_type(member: &str) -> ValueError {
    ValueError::serialization(format!(
        "Unexpected value type in payload for member {member}"
    ))
}

fn decode_b64(s: &str) -> Result<Vec<u8>, ValueError> {
    B64.decode(s).map_err(|_| {
        ValueError::serialization(
            "Base64 encoded length is expected a multiple of 4 bytes but found invalid data",
        )
    })
}

fn check_duplicates<T: std::hash::Hash + Eq>(
    items: &[T],
    shown: impl Fn() -> String,
) -> Result<(), ValueError> {
    let mut seen = HashSet::with_capacity(items.len());
    if items.iter().all(|i| seen.insert(i)) {
        Ok(())
    } else {
        Err(invalid(format!(
            "Input collection {} contains duplicates.",
            shown()
        )))
    }
}

impl AttributeValue {
    /// Parses DynamoDB JSON (`{"S": "x"}`, `{"N": "1"}`, `{"B": "<base64>"}`, …).
    pub fn from_json(v: &Value) -> Result<AttributeValue, ValueError> {
        from_json_depth(v, 0)
    }

    /// The DynamoDB JSON form.
    pub fn to_json(&self) -> Value {
        let mut m = Map::with_capacity(1);
        let (k, v) = match self {
            AttributeValue::S(s) => ("S", Value::from(s.as_str())),
            AttributeValue::N(n) => ("N", Value::from(n.to_string())),
            AttributeValue::B(b) => ("B", Value::from(B64.encode(b))),
            AttributeValue::Bool(b) => ("BOOL", Value::Bool(*b)),
            AttributeValue::Null => ("NULL", Value::Bool(true)),
            AttributeValue::M(item) => ("M", item_to_json(item)),
            AttributeValue::L(l) => (
                "L",
                Value::Array(l.iter().map(AttributeValue::to_json).collect()),
            ),
            AttributeValue::Ss(s) => (
                "SS",
                Value::Array(s.iter().map(|x| Value::from(x.as_str())).collect()),
            ),
            AttributeValue::Ns(s) => (
                "NS",
                Value::Array(s.iter().map(|x| Value::from(x.to_string())).collect()),
            ),
            AttributeValue::Bs(s) => (
                "BS",
                Value::Array(s.iter().map(|x| Value::from(B64.encode(x))).collect()),
            ),
        };
        m.insert(k.to_owned(), v);
        Value::Object(m)
    }

    /// The type's AWS name.
    pub fn type_name(&self) -> &'static str {
        match self {
            AttributeValue::S(_) => "S",
            AttributeValue::N(_) => "N",
            AttributeValue::B(_) => "B",
            AttributeValue::Bool(_) => "BOOL",
            AttributeValue::Null => "NULL",
            AttributeValue::M(_) => "M",
            AttributeValue::L(_) => "L",
            AttributeValue::Ss(_) => "SS",
            AttributeValue::Ns(_) => "NS",
            AttributeValue::Bs(_) => "BS",
        }
    }

    /// Size of the value as DynamoDB counts it toward the item size limit.
    pub fn size_bytes(&self) -> usize {
        match self {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.size_bytes(),
            AttributeValue::B(b) => b.len(),
            AttributeValue::Bool(_) | AttributeValue::Null => 1,
            // Maps and lists: 3 bytes of overhead plus 1 byte per element.
            AttributeValue::M(m) => {
                3 + m
                    .iter()
                    .map(|(k, v)| k.len() + v.size_bytes() + 1)
                    .sum::<usize>()
            }
            AttributeValue::L(l) => 3 + l.iter().map(|v| v.size_bytes() + 1).sum::<usize>(),
            AttributeValue::Ss(s) => s.iter().map(String::len).sum(),
            AttributeValue::Ns(s) => s.iter().map(Number::size_bytes).sum(),
            AttributeValue::Bs(s) => s.iter().map(Vec::len).sum(),
        }
    }
}

fn set_members<'a>(v: &'a Value, member: &str) -> Result<&'a Vec<Value>, ValueError> {
    v.as_array().ok_or_else(|| wrong_type(member))
}

fn from_json_depth(v: &Value, depth: usize) -> Result<AttributeValue, ValueError> {
    if depth > MAX_DEPTH {
        return Err(ValueError::validation(
            "Nesting Levels have exceeded supported limits",
        ));
    }
    let Value::Object(m) = v else {
        return Err(ValueError::serialization(
            "Unexpected value type in payload for member AttributeValue",
        ));
    };
    let present: Vec<(&String, &Value)> = m.iter().filter(|(_, v)| !v.is_null()).collect();
    let (k, val) = match present.as_slice() {
        [] => {
            return Err(ValueError::validation(
                "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
            ));
        }
        [one] => *one,
        _ => {
            return Err(ValueError::validation(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
            ));
        }
    };
    Ok(match k.as_str() {
        "S" => AttributeValue::S(val.as_str().ok_or_else(|| wrong_type("S"))?.to_owned()),
        "N" => {
            let s = val.as_str().ok_or_else(|| wrong_type("N"))?;
            AttributeValue::N(Number::parse(s).map_err(|e| ValueError::validation(e.message()))?)
        }
        "B" => AttributeValue::B(decode_b64(val.as_str().ok_or_else(|| wrong_type("B"))?)?),
        "BOOL" => AttributeValue::Bool(val.as_bool().ok_or_else(|| wrong_type("BOOL"))?),
        "NULL" => match val.as_bool() {
            Some(true) => AttributeValue::Null,
            Some(false) => {
                return Err(invalid(
                    "Null attribute value types must have the value of true",
                ));
            }
            None => return Err(wrong_type("NULL")),
        },
        "M" => {
            let Value::Object(inner) = val else {
                return Err(wrong_type("M"));
            };
            let mut item = Item::new();
            for (name, v) in inner {
                check_name(name)?;
                item.insert(name.clone(), from_json_depth(v, depth + 1)?);
            }
            AttributeValue::M(item)
        }
        "L" => AttributeValue::L(
            set_members(val, "L")?
                .iter()
                .map(|v| from_json_depth(v, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        "SS" => {
            let list = set_members(val, "SS")?;
            if list.is_empty() {
                return Err(invalid("An string set  may not be empty"));
            }
            let s: Vec<String> = list
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| wrong_type("SS"))
                })
                .collect::<Result<_, _>>()?;
            check_duplicates(&s, || format!("[{}]", s.join(", ")))?;
            AttributeValue::Ss(s)
        }
        "NS" => {
            let list = set_members(val, "NS")?;
            if list.is_empty() {
                return Err(invalid("An number set  may not be empty"));
            }
            let raw: Vec<&str> = list
                .iter()
                .map(|v| v.as_str().ok_or_else(|| wrong_type("NS")))
                .collect::<Result<_, _>>()?;
            let nums: Vec<Number> = raw
                .iter()
                .map(|s| Number::parse(s).map_err(|e| ValueError::validation(e.message())))
                .collect::<Result<_, _>>()?;
            check_duplicates(&nums, || format!("[{}]", raw.join(", ")))?;
            AttributeValue::Ns(nums)
        }
        "BS" => {
            let list = set_members(val, "BS")?;
            if list.is_empty() {
                return Err(invalid("Binary sets should not be empty"));
            }
            let raw: Vec<&str> = list
                .iter()
                .map(|v| v.as_str().ok_or_else(|| wrong_type("BS")))
                .collect::<Result<_, _>>()?;
            let bins: Vec<Vec<u8>> = raw
                .iter()
                .map(|s| decode_b64(s))
                .collect::<Result<_, _>>()?;
            check_duplicates(&bins, || format!("[{}]", raw.join(", ")))?;
            AttributeValue::Bs(bins)
        }
        _ => {
            return Err(ValueError::validation(
                "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
            ));
        }
    })
}

fn same_set<T: std::hash::Hash + Eq>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len() && {
        let set: HashSet<&T> = a.iter().collect();
        b.iter().all(|x| set.contains(x))
    }
}

/// DynamoDB equality: numbers by value, sets regardless of order, maps and lists deeply.
impl PartialEq for AttributeValue {
    fn eq(&self, other: &Self) -> bool {
        use AttributeValue as A;
        match (self, other) {
            (A::S(a), A::S(b)) => a == b,
            (A::N(a), A::N(b)) => a == b,
            (A::B(a), A::B(b)) => a == b,
            (A::Bool(a), A::Bool(b)) => a == b,
            (A::Null, A::Null) => true,
            (A::M(a), A::M(b)) => a == b,
            (A::L(a), A::L(b)) => a == b,
            (A::Ss(a), A::Ss(b)) => same_set(a, b),
            (A::Ns(a), A::Ns(b)) => same_set(a, b),
            (A::Bs(a), A::Bs(b)) => same_set(a, b),
            _ => false,
        }
    }
}

/// Parses an item (a JSON object of attribute name → value).
pub fn item_from_json(v: &Value) -> Result<Item, ValueError> {
    let Value::Object(m) = v else {
        return Err(wrong_type("Item"));
    };
    let mut item = Item::new();
    for (name, v) in m {
        check_name(name)?;
        item.insert(name.clone(), AttributeValue::from_json(v)?);
    }
    Ok(item)
}

/// AWS: an attribute name (at any depth) is less than 64 KB.
fn check_name(name: &str) -> Result<(), ValueError> {
    if name.len() > 65535 {
        return Err(ValueError::validation(
            "Attribute name is too large, must be less than 65536 bytes",
        ));
    }
    Ok(())
}

/// The JSON form of an item.
pub fn item_to_json(item: &Item) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}

/// An item's size as DynamoDB counts it toward the 400 KB limit: the UTF-8 length of
/// every attribute name plus the size of every value.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size_bytes()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<AttributeValue, ValueError> {
        AttributeValue::from_json(&v)
    }

    #[test]
    fn round_trips_every_type() {
        let item = json!({
            "s": {"S": "héllo"}, "n": {"N": "1.50"}, "b": {"B": "AP8H"}, "t": {"BOOL": true},
            "z": {"NULL": true}, "m": {"M": {"x": {"N": "1"}}}, "l": {"L": [{"S": "a"}, {"N": "2"}]},
            "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.0"]}, "bs": {"BS": ["AA==", "/w=="]}
        });
        let parsed = item_from_json(&item).unwrap();
        let back = item_to_json(&parsed);
        assert_eq!(back["n"], json!({"N": "1.5"}));
        assert_eq!(back["ns"], json!({"NS": ["1", "2"]}));
        assert_eq!(item_from_json(&back).unwrap(), parsed);
        assert_eq!(parsed["b"], AttributeValue::B(vec![0, 255, 7]));
    }

    #[test]
    fn aws_errors() {
        let e = parse(json!({})).unwrap_err();
        assert_eq!(
            e.message(),
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        );
        let e = parse(json!({"S": "a", "N": "1"})).unwrap_err();
        assert!(e.message().contains("more than one datatypes"));
        assert!(parse(json!({"S": 5})).unwrap_err().is_serialization());
        assert_eq!(
            parse(json!({"N": "x"})).unwrap_err().message(),
            "A value provided cannot be converted into a number"
        );
        assert_eq!(
            parse(json!({"SS": []})).unwrap_err().message(),
            "One or more parameter values were invalid: An string set  may not be empty"
        );
        assert_eq!(
            parse(json!({"SS": ["a", "a"]})).unwrap_err().message(),
            "One or more parameter values were invalid: Input collection [a, a] contains duplicates."
        );
        assert!(
            parse(json!({"NS": ["1", "1.0"]}))
                .unwrap_err()
                .message()
                .contains("duplicates")
        );
        assert!(
            parse(json!({"NULL": false}))
                .unwrap_err()
                .message()
                .contains("Null attribute value")
        );
        assert!(parse(json!({"B": "!!"})).unwrap_err().is_serialization());
        let mut deep = json!({"S": "x"});
        for _ in 0..40 {
            deep = json!({"L": [deep]});
        }
        assert_eq!(
            parse(deep).unwrap_err().message(),
            "Nesting Levels have exceeded supported limits"
        );
    }

    #[test]
    fn equality_and_size() {
        let a = parse(json!({"SS": ["a", "b"]})).unwrap();
        let b = parse(json!({"SS": ["b", "a"]})).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            parse(json!({"N": "1.0"})).unwrap(),
            parse(json!({"N": "1"})).unwrap()
        );
        let item = item_from_json(&json!({"ab": {"S": "xyz"}, "n": {"N": "123"}})).unwrap();
        assert_eq!(item_size(&item), 2 + 3 + 1 + 3);
        let l = parse(json!({"L": [{"S": "ab"}, {"BOOL": true}]})).unwrap();
        assert_eq!(l.size_bytes(), 3 + (2 + 1) + (1 + 1));
    }
}
