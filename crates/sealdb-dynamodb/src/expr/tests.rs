use super::*;
use crate::value::item_from_json;
use proptest::prelude::*;
use serde_json::json;

fn attrs(names: &[(&str, &str)], values: serde_json::Value) -> ExpressionAttributes {
    let names = (!names.is_empty()).then(|| {
        names
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    });
    let values = values.as_object().map(|m| {
        m.iter()
            .map(|(k, v)| (k.clone(), AttributeValue::from_json(v).unwrap()))
            .collect()
    });
    ExpressionAttributes::new(names, values)
}

fn item() -> Item {
    item_from_json(&json!({
        "pk": {"S": "user#1"}, "n": {"N": "10"}, "s": {"S": "hello"}, "b": {"B": "AQID"},
        "tags": {"SS": ["a", "b"]}, "nums": {"NS": ["1", "2"]},
        "m": {"M": {"x": {"N": "1"}, "l": {"L": [{"S": "p"}, {"S": "q"}]}}},
        "l": {"L": [{"N": "1"}, {"S": "two"}]}, "t": {"BOOL": true}
    }))
    .unwrap()
}

fn cond(expr: &str, values: serde_json::Value) -> bool {
    let mut a = attrs(&[("#n", "n")], values);
    let c = parse_condition(expr, &mut a, "ConditionExpression").unwrap();
    c.evaluate(&item())
}

fn cond_err(expr: &str, values: serde_json::Value) -> String {
    let mut a = attrs(&[], values);
    parse_condition(expr, &mut a, "ConditionExpression")
        .unwrap_err()
        .message()
        .to_owned()
}

#[test]
fn comparisons_and_logic() {
    let v = json!({":ten": {"N": "10"}, ":nine": {"N": "9.5"}, ":s": {"S": "hello"}});
    assert!(cond("n = :ten", v.clone()));
    assert!(cond("#n >= :ten AND NOT n < :nine", v.clone()));
    assert!(cond("n > :nine OR absent = :ten", v.clone()));
    assert!(!cond("n <> :ten", v.clone()));
    assert!(cond("absent <> :ten", v.clone()));
    assert!(
        !cond("s < :ten", v.clone()),
        "different types compare false"
    );
    assert!(cond("n BETWEEN :nine AND :ten", v.clone()));
    assert!(cond("s IN (:ten, :s)", v.clone()));
    assert!(cond("(n = :ten OR n = :nine) AND s = :s", v.clone()));
    assert!(cond("NOT (n = :nine)", v));
}

#[test]
fn functions() {
    let v = json!({":p": {"S": "hel"}, ":a": {"S": "a"}, ":two": {"S": "two"}, ":t": {"S": "SS"},
                   ":five": {"N": "5"}, ":x": {"S": "ell"}, ":q": {"S": "q"}});
    assert!(cond(
        "attribute_exists(m.l[1]) AND attribute_not_exists(m.l[2])",
        v.clone()
    ));
    assert!(cond("begins_with(s, :p)", v.clone()));
    assert!(cond(
        "contains(tags, :a) AND contains(l, :two) AND contains(s, :x)",
        v.clone()
    ));
    assert!(cond("attribute_type(tags, :t)", v.clone()));
    assert!(cond("size(s) = :five AND size(tags) < :five", v.clone()));
    assert!(cond("m.l[1] = :q", v));
}

#[test]
fn condition_errors() {
    assert_eq!(
        cond_err("n = :missing", json!({})),
        "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :missing"
    );
    assert_eq!(
        cond_err("#x = :v", json!({":v": {"N": "1"}})),
        "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #x"
    );
    assert_eq!(
        cond_err("name = :v", json!({":v": {"N": "1"}})),
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name"
    );
    assert_eq!(
        cond_err("foo(a)", json!({})),
        "Invalid ConditionExpression: Invalid function name; function: foo"
    );
    assert_eq!(
        cond_err("a = ", json!({})),
        "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"=\""
    );
    assert_eq!(
        cond_err("a = :v :w", json!({":v": {"N": "1"}, ":w": {"N": "1"}})),
        "Invalid ConditionExpression: Syntax error; token: \":w\", near: \":v :w\""
    );
    assert!(
        cond_err("attribute_type(a, :t)", json!({":t": {"S": "X"}}))
            .contains("Invalid attribute type name found; type: X")
    );
    assert!(
        cond_err("begins_with(a, :n)", json!({":n": {"N": "1"}}))
            .contains("operator or function: begins_with, operand type: N")
    );
    assert!(
        cond_err("a < :m", json!({":m": {"M": {}}})).contains("operator: <, operand type: MAP")
    );
    assert_eq!(
        cond_err("", json!({})),
        "Invalid ConditionExpression: The expression can not be empty;"
    );
    let deep = format!("{}a = :v{}", "(".repeat(200), ")".repeat(200));
    assert!(cond_err(&deep, json!({":v": {"N": "1"}})).contains("nested"));
}

fn update(expr: &str, values: serde_json::Value) -> Result<Item, String> {
    let mut a = attrs(&[("#s", "s")], values);
    let u = parse_update(expr, &mut a).map_err(|e| e.message().to_owned())?;
    let mut it = item();
    u.apply(&mut it).map_err(|e| e.message().to_owned())?;
    Ok(it)
}

fn get(it: &Item, k: &str) -> serde_json::Value {
    it.get(k)
        .map_or(serde_json::Value::Null, AttributeValue::to_json)
}

#[test]
fn update_actions() {
    let it = update(
        "SET n = n + :d, #s = if_not_exists(nope, :def), l = list_append(l, :more) REMOVE t, m.l[0] ADD nums :ns, c :one DELETE tags :a",
        json!({":d": {"N": "0.5"}, ":def": {"S": "dflt"}, ":more": {"L": [{"N": "3"}]},
               ":ns": {"NS": ["2", "3"]}, ":one": {"N": "1"}, ":a": {"SS": ["a"]}}),
    )
    .unwrap();
    assert_eq!(get(&it, "n"), json!({"N": "10.5"}));
    assert_eq!(get(&it, "s"), json!({"S": "dflt"}));
    assert_eq!(
        get(&it, "l"),
        json!({"L": [{"N": "1"}, {"S": "two"}, {"N": "3"}]})
    );
    assert_eq!(get(&it, "t"), serde_json::Value::Null);
    assert_eq!(
        get(&it, "m"),
        json!({"M": {"x": {"N": "1"}, "l": {"L": [{"S": "q"}]}}})
    );
    assert_eq!(get(&it, "c"), json!({"N": "1"}));
    assert_eq!(get(&it, "tags"), json!({"SS": ["b"]}));
    let nums = it.get("nums").unwrap();
    assert_eq!(
        nums,
        &AttributeValue::from_json(&json!({"NS": ["1", "2", "3"]})).unwrap()
    );
    // Deleting the last element removes the attribute.
    let it = update("DELETE tags :ab", json!({":ab": {"SS": ["a", "b"]}})).unwrap();
    assert!(!it.contains_key("tags"));
    // SET values are computed from the item before the update.
    let it = update("SET a = n, n = :z", json!({":z": {"N": "0"}})).unwrap();
    assert_eq!(get(&it, "a"), json!({"N": "10"}));
    // Removing several list elements uses the original positions.
    let it = update("REMOVE l[0], l[1]", json!({})).unwrap();
    assert_eq!(get(&it, "l"), json!({"L": []}));
}

#[test]
fn update_errors() {
    assert_eq!(
        update("SET a = absent + :d", json!({":d": {"N": "1"}})).unwrap_err(),
        "The provided expression refers to an attribute that does not exist in the item"
    );
    assert_eq!(
        update("SET a = s + :d", json!({":d": {"N": "1"}})).unwrap_err(),
        "An operand in the update expression has an incorrect data type"
    );
    assert_eq!(
        update("ADD s :v", json!({":v": {"S": "x"}})).unwrap_err(),
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING"
    );
    assert_eq!(
        update("SET a = :v REMOVE a.b", json!({":v": {"N": "1"}})).unwrap_err(),
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]"
    );
    assert_eq!(
        update("SET a = :v SET b = :v", json!({":v": {"N": "1"}})).unwrap_err(),
        "1 validation error detected: Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;"
    );
    assert!(
        update("SET a = ", json!({}))
            .unwrap_err()
            .starts_with("Invalid UpdateExpression: Syntax error; token: \"<EOF>\"")
    );
    assert_eq!(
        update("SET nope.x = :v", json!({":v": {"N": "1"}})).unwrap_err(),
        "The document path provided in the update expression is invalid for update"
    );
    assert!(
        update("SET a = foo(b)", json!({}))
            .unwrap_err()
            .contains("Invalid function name; function: foo")
    );
}

#[test]
fn projections() {
    let mut a = attrs(&[("#s", "s")], json!({}));
    let p = parse_projection("#s, m.l[1], l[0], nope", &mut a).unwrap();
    a.check_all_used().unwrap();
    let out = p.apply(&item());
    assert_eq!(
        item_to_json(&out),
        json!({"s": {"S": "hello"}, "m": {"M": {"l": {"L": [{"S": "q"}]}}}, "l": {"L": [{"N": "1"}]}})
    );
    let mut a = attrs(&[], json!({}));
    assert!(
        parse_projection("a, a.b", &mut a)
            .unwrap_err()
            .message()
            .contains("overlap")
    );
}

use crate::value::item_to_json;

#[test]
fn key_conditions() {
    let mut a = attrs(
        &[],
        json!({":p": {"S": "x"}, ":lo": {"N": "1"}, ":hi": {"N": "5"}}),
    );
    let k = parse_key_condition("pk = :p AND sk BETWEEN :lo AND :hi", &mut a).unwrap();
    let (v, sort) = k.split("pk").unwrap();
    assert_eq!(v, &AttributeValue::from_json(&json!({"S": "x"})).unwrap());
    assert!(matches!(
        sort,
        Some(("sk", SortKeyCondition::Between(_, _)))
    ));
    let mut a = attrs(&[], json!({":p": {"S": "x"}}));
    let k = parse_key_condition("begins_with(sk, :p) AND (pk = :p)", &mut a).unwrap();
    assert!(matches!(
        k.split("pk").unwrap().1,
        Some(("sk", SortKeyCondition::BeginsWith(_)))
    ));
    let mut a = attrs(&[], json!({":p": {"S": "x"}}));
    assert_eq!(
        parse_key_condition("pk = :p OR sk = :p", &mut a)
            .unwrap_err()
            .message(),
        "Invalid operator used in KeyConditionExpression: OR"
    );
    let mut a = attrs(&[], json!({":p": {"S": "x"}}));
    let k = parse_key_condition("sk = :p", &mut a).unwrap();
    assert_eq!(
        k.split("pk").unwrap_err().message(),
        "Query condition missed key schema element: pk"
    );
}

#[test]
fn unused_attributes_are_reported() {
    let mut a = attrs(
        &[("#a", "a"), ("#b", "b")],
        json!({":v": {"N": "1"}, ":w": {"N": "2"}}),
    );
    parse_condition("#a = :v", &mut a, "ConditionExpression").unwrap();
    assert_eq!(
        a.check_all_used().unwrap_err().message(),
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"
    );
}

proptest! {
    #[test]
    fn parsers_never_panic(s in "\\PC{0,80}") {
        let mut a = attrs(&[("#a", "a")], json!({":v": {"N": "1"}}));
        let _ = parse_condition(&s, &mut a, "ConditionExpression");
        let _ = parse_update(&s, &mut a);
        let _ = parse_projection(&s, &mut a);
        let _ = parse_key_condition(&s, &mut a);
    }

    #[test]
    fn structured_inputs_never_panic(parts in proptest::collection::vec(
        prop_oneof![Just("a"), Just("#a"), Just(":v"), Just("("), Just(")"), Just("AND"), Just("OR"),
                    Just("NOT"), Just("="), Just("<"), Just("BETWEEN"), Just("IN"), Just(","), Just("."),
                    Just("["), Just("]"), Just("0"), Just("size"), Just("SET"), Just("REMOVE"), Just("+")], 0..30)) {
        let s = parts.join(" ");
        let mut a = attrs(&[("#a", "a")], json!({":v": {"N": "1"}}));
        if let Ok(c) = parse_condition(&s, &mut a, "ConditionExpression") {
            let _ = c.evaluate(&item());
        }
        if let Ok(u) = parse_update(&s, &mut a) {
            let mut it = item();
            let _ = u.apply(&mut it);
        }
    }
}
