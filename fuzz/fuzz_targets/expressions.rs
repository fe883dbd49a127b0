//! The four expression parsers (condition/filter, update, projection, key condition) on
//! any text, with fixed attribute names and values; what parses is also evaluated or
//! applied to a small item. Errors are fine; a panic is a defect.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealdb_dynamodb::expr::{
    ExpressionAttributes, parse_condition, parse_key_condition, parse_projection, parse_update,
};
use sealdb_dynamodb::value::{AttributeValue, Item};
use std::collections::HashMap;

fn attributes() -> ExpressionAttributes {
    let names: HashMap<String, String> = [("#a", "a"), ("#b", "b"), ("#l", "l"), ("#m", "m")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let values: HashMap<String, AttributeValue> = [
        (":s", serde_json::json!({"S": "x"})),
        (":n", serde_json::json!({"N": "12.5"})),
        (":b", serde_json::json!({"B": "AAE="})),
        (":l", serde_json::json!({"L": [{"N": "1"}, {"S": "y"}]})),
        (":ss", serde_json::json!({"SS": ["p", "q"]})),
        (":m", serde_json::json!({"M": {"k": {"BOOL": true}}})),
        (":z", serde_json::json!({"NULL": true})),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k.to_owned(), AttributeValue::from_json(&v).ok()?)))
    .collect();
    ExpressionAttributes::new(Some(names), Some(values))
}

fn item() -> Item {
    let v = serde_json::json!({
        "a": {"S": "x"}, "b": {"N": "3"}, "l": {"L": [{"N": "1"}, {"M": {"k": {"S": "v"}}}]},
        "m": {"M": {"k": {"SS": ["p"]}}}, "n": {"NS": ["1", "2"]}
    });
    let mut item = Item::new();
    if let Some(obj) = v.as_object() {
        for (k, v) in obj {
            if let Ok(av) = AttributeValue::from_json(v) {
                item.insert(k.clone(), av);
            }
        }
    }
    item
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(c) = parse_condition(text, &mut attributes(), "ConditionExpression") {
        c.evaluate(&item());
    }
    if let Ok(u) = parse_update(text, &mut attributes()) {
        let mut it = item();
        let _ = u.apply(&mut it);
    }
    if let Ok(p) = parse_projection(text, &mut attributes()) {
        p.apply(&item());
    }
    if let Ok(k) = parse_key_condition(text, &mut attributes()) {
        let _ = k.split("a");
    }
});
