//! Reading request members from the JSON body, with AWS's error kinds: a member of the
//! wrong JSON type is a `SerializationException`, a missing or out-of-range one a
//! `ValidationException`.

use crate::error::DynamoError;
use crate::value::{AttributeValue, Item, item_from_json};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A request body: a JSON object.
pub struct Input {
    obj: Map<String, Value>,
}

fn ser(msg: impl Into<String>) -> DynamoError {
    DynamoError::Serialization(msg.into())
}

/// Lower-camel form of a member name as AWS quotes it in validation messages.
pub fn lower_camel(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `1 validation error detected: ...` / `N validation errors detected: a; b`.
pub fn validation_errors(errors: &[String]) -> DynamoError {
    let n = errors.len();
    let noun = if n == 1 { "error" } else { "errors" };
    DynamoError::Validation(format!(
        "{n} validation {noun} detected: {}",
        errors.join("; ")
    ))
}

/// The message for a required member that is absent.
pub fn null_member(path: &str) -> String {
    format!("Value null at '{path}' failed to satisfy constraint: Member must not be null")
}

impl Input {
    /// Parses a body; anything but a JSON object is a `SerializationException`.
    pub fn parse(body: &[u8]) -> Result<Input, DynamoError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Input { obj: Map::new() });
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(obj)) => Ok(Input { obj }),
            Ok(_) => Err(ser("Start of structure or map found where not expected.")),
            Err(_) => Err(ser("Malformed JSON body")),
        }
    }

    /// Wraps an already-parsed object (a nested request structure).
    pub fn from_map(obj: Map<String, Value>) -> Input {
        Input { obj }
    }

    /// Whether a member is present (and not null).
    pub fn has(&self, name: &str) -> bool {
        self.obj.get(name).is_some_and(|v| !v.is_null())
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.obj.get(name).filter(|v| !v.is_null())
    }

    /// An optional string member.
    pub fn str_opt(&self, name: &str) -> Result<Option<&str>, DynamoError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ser(format!(
                "Unexpected value type in payload for member {name}; expected a string"
            ))),
        }
    }

    /// A required string member (missing → validation error).
    pub fn str_req(&self, name: &str) -> Result<&str, DynamoError> {
        self.str_opt(name)?
            .ok_or_else(|| validation_errors(&[null_member(&lower_camel(name))]))
    }

    /// An optional boolean member.
    pub fn bool_opt(&self, name: &str) -> Result<Option<bool>, DynamoError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ser(format!(
                "Unexpected value type in payload for member {name}; expected a boolean"
            ))),
        }
    }

    /// An optional integer member.
    pub fn int_opt(&self, name: &str) -> Result<Option<i64>, DynamoError> {
        int_value(self.get(name), name)
    }

    /// An optional object member.
    pub fn obj_opt(&self, name: &str) -> Result<Option<&Map<String, Value>>, DynamoError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(ser(format!(
                "Unexpected value type in payload for member {name}; expected a structure"
            ))),
        }
    }

    /// An optional array member.
    pub fn list_opt(&self, name: &str) -> Result<Option<&Vec<Value>>, DynamoError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(ser(format!(
                "Unexpected value type in payload for member {name}; expected a list"
            ))),
        }
    }

    /// An optional item-shaped member (`Item`, `Key`, `ExclusiveStartKey`).
    pub fn item_opt(&self, name: &str) -> Result<Option<Item>, DynamoError> {
        match self.get(name) {
            None => Ok(None),
            Some(v @ Value::Object(_)) => item_from_json(v).map(Some).map_err(value_error),
            Some(_) => Err(ser(format!(
                "Unexpected value type in payload for member {name}; expected a map"
            ))),
        }
    }

    /// `ExpressionAttributeNames`.
    pub fn names(&self) -> Result<Option<HashMap<String, String>>, DynamoError> {
        let Some(m) = self.obj_opt("ExpressionAttributeNames")? else {
            return Ok(None);
        };
        let mut out = HashMap::with_capacity(m.len());
        for (k, v) in m {
            match v {
                Value::String(s) => {
                    out.insert(k.clone(), s.clone());
                }
                _ => {
                    return Err(ser(
                        "Unexpected value type in payload for member ExpressionAttributeNames",
                    ));
                }
            }
        }
        Ok(Some(out))
    }

    /// `ExpressionAttributeValues`.
    pub fn values(&self) -> Result<Option<HashMap<String, AttributeValue>>, DynamoError> {
        let Some(m) = self.obj_opt("ExpressionAttributeValues")? else {
            return Ok(None);
        };
        let mut out = HashMap::with_capacity(m.len());
        for (k, v) in m {
            let av = AttributeValue::from_json(v).map_err(value_error)?;
            out.insert(k.clone(), av);
        }
        Ok(Some(out))
    }

    /// The raw object.
    pub fn raw(&self) -> &Map<String, Value> {
        &self.obj
    }

    /// The raw object, to rewrite legacy members.
    pub fn raw_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.obj
    }
}

/// An integer in a JSON value (AWS accepts numbers; floats with no fraction too).
pub fn int_value(v: Option<&Value>, name: &str) -> Result<Option<i64>, DynamoError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else {
                Err(ser(format!(
                    "Unexpected value in payload for member {name}; expected an integer"
                )))
            }
        }
        Some(_) => Err(ser(format!(
            "Unexpected value type in payload for member {name}; expected a number"
        ))),
    }
}

/// Maps a value decoding error to its wire kind.
pub fn value_error(e: crate::value::ValueError) -> DynamoError {
    if e.is_serialization() {
        DynamoError::Serialization(e.message().to_owned())
    } else {
        DynamoError::Validation(e.message().to_owned())
    }
}
