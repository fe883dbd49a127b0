//! DynamoDB JSON (binary as base64), as the AWS vectors and the Java-format file hold it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use dynamodb_encryption::{Attribute, Item};
use serde_json::Value;

/// One attribute value.
pub fn attribute(v: &Value) -> Attribute {
    let (tag, body) = v.as_object().unwrap().iter().next().unwrap();
    let strs = |b: &Value| -> Vec<String> {
        b.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    match tag.as_str() {
        "S" => Attribute::S(body.as_str().unwrap().to_owned()),
        "N" => Attribute::N(body.as_str().unwrap().to_owned()),
        "B" => Attribute::B(B64.decode(body.as_str().unwrap()).unwrap()),
        "SS" => Attribute::Ss(strs(body)),
        "NS" => Attribute::Ns(strs(body)),
        "BS" => Attribute::Bs(strs(body).iter().map(|s| B64.decode(s).unwrap()).collect()),
        "BOOL" => Attribute::Bool(body.as_bool().unwrap()),
        "NULL" => Attribute::Null,
        "L" => Attribute::L(body.as_array().unwrap().iter().map(attribute).collect()),
        "M" => Attribute::M(
            body.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), attribute(v)))
                .collect(),
        ),
        other => panic!("unknown type {other}"),
    }
}

/// A whole item.
pub fn item(v: &Value) -> Item {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), attribute(v)))
        .collect()
}

/// Base64 text to bytes.
pub fn bytes(v: &Value) -> Vec<u8> {
    B64.decode(v.as_str().unwrap()).unwrap()
}
