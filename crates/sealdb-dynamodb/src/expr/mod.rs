//! The DynamoDB expression language: condition and filter expressions, update
//! expressions, projection expressions and key condition expressions, with
//! ExpressionAttributeNames / ExpressionAttributeValues and AWS's error texts.
//!
//! Parsing resolves every placeholder, so a parsed expression is self-contained
//! (`Send + 'static`) and can be evaluated inside a table's writer.

mod condition;
mod lexer;
mod parser;
mod path;
mod reserved;
mod update;

pub use path::{Path, PathElem};

use crate::value::{AttributeValue, Item};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A problem with an expression; always a `ValidationException` on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    message: String,
}

impl ExprError {
    pub(crate) fn new(message: impl Into<String>) -> ExprError {
        ExprError {
            message: message.into(),
        }
    }

    /// The message text.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// ExpressionAttributeNames and ExpressionAttributeValues of a request, and which of
/// them the request's expressions used.
#[derive(Debug, Default)]
pub struct ExpressionAttributes {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    used_names: HashSet<String>,
    used_values: HashSet<String>,
}

impl ExpressionAttributes {
    /// Wraps the request's maps (either may be absent).
    pub fn new(
        names: Option<HashMap<String, String>>,
        values: Option<HashMap<String, AttributeValue>>,
    ) -> Self {
        ExpressionAttributes {
            names: names.unwrap_or_default(),
            values: values.unwrap_or_default(),
            used_names: HashSet::new(),
            used_values: HashSet::new(),
        }
    }

    pub(crate) fn name(&mut self, placeholder: &str) -> Option<String> {
        let n = self.names.get(placeholder)?.clone();
        self.used_names.insert(placeholder.to_owned());
        Some(n)
    }

    pub(crate) fn value(&mut self, placeholder: &str) -> Option<AttributeValue> {
        let v = self.values.get(placeholder)?.clone();
        self.used_values.insert(placeholder.to_owned());
        Some(v)
    }

    /// Names that no expression text of the request mentions as a placeholder. AWS
    /// reports them before it parses the expressions.
    pub fn names_unused_in(&self, texts: &[&str]) -> Vec<&str> {
        let mentioned = |key: &str| {
            texts.iter().any(|t| {
                t.match_indices(key).any(|(at, _)| {
                    !t[at + key.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                })
            })
        };
        let mut unused: Vec<&str> = self
            .names
            .keys()
            .map(String::as_str)
            .filter(|k| !mentioned(k))
            .collect();
        unused.sort_unstable();
        unused
    }

    /// Every name and value key must be a well-formed placeholder (`#name`, `:value`).
    pub fn check_well_formed(&self) -> Result<(), ExprError> {
        let well_formed = |k: &str, sigil: char| {
            let mut c = k.chars();
            c.next() == Some(sigil) && {
                let rest: Vec<char> = c.collect();
                !rest.is_empty()
                    && rest
                        .iter()
                        .all(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
            }
        };
        let mut bad_names: Vec<&String> =
            self.names.keys().filter(|k| !well_formed(k, '#')).collect();
        bad_names.sort();
        if let Some(k) = bad_names.first() {
            return Err(ExprError::new(format!(
                "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{k}\""
            )));
        }
        let mut bad_values: Vec<&String> = self
            .values
            .keys()
            .filter(|k| !well_formed(k, ':'))
            .collect();
        bad_values.sort();
        if let Some(k) = bad_values.first() {
            return Err(ExprError::new(format!(
                "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{k}\""
            )));
        }
        Ok(())
    }

    /// Every name and value given must have been used, and be a well-formed placeholder.
    pub fn check_all_used(&self) -> Result<(), ExprError> {
        self.check_well_formed()?;
        let mut unused: Vec<&str> = self
            .names
            .keys()
            .filter(|k| !self.used_names.contains(*k))
            .map(String::as_str)
            .collect();
        if !unused.is_empty() {
            unused.sort_unstable();
            return Err(ExprError::new(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                unused.join(", ")
            )));
        }
        let mut unused: Vec<&str> = self
            .values
            .keys()
            .filter(|k| !self.used_values.contains(*k))
            .map(String::as_str)
            .collect();
        if !unused.is_empty() {
            unused.sort_unstable();
            return Err(ExprError::new(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                unused.join(", ")
            )));
        }
        Ok(())
    }
}

/// A condition or filter expression.
#[derive(Clone, Debug)]
pub struct Condition(condition::Cond);

impl Condition {
    /// Whether the item satisfies the condition (a missing item is an empty item).
    pub fn evaluate(&self, item: &Item) -> bool {
        self.0.eval(item)
    }

    /// Whether the condition reads the top-level attribute `name` anywhere.
    pub fn mentions(&self, name: &str) -> bool {
        self.0.mentions(name)
    }
}

/// Parses a ConditionExpression or FilterExpression (`param` names it in errors).
pub fn parse_condition(
    expr: &str,
    attrs: &mut ExpressionAttributes,
    param: &str,
) -> Result<Condition, ExprError> {
    parser::Parser::new(expr, param, attrs)?
        .condition()
        .map(Condition)
}

/// An update expression.
#[derive(Clone, Debug)]
pub struct UpdateExpression(Vec<update::Action>);

impl UpdateExpression {
    /// Applies the update to the item. On error the item may be partly changed: callers
    /// work on a copy.
    pub fn apply(&self, item: &mut Item) -> Result<(), ExprError> {
        update::apply(&self.0, item)
    }

    /// True when the expression only takes attributes or set elements away (REMOVE,
    /// DELETE): on a missing item AWS then creates nothing.
    pub fn only_removes(&self) -> bool {
        !self.0.is_empty()
            && self
                .0
                .iter()
                .all(|a| matches!(a, update::Action::Remove(_) | update::Action::Delete(..)))
    }

    /// Every path the expression writes or removes.
    pub fn paths(&self) -> Vec<Path> {
        self.0
            .iter()
            .map(|a| match a {
                update::Action::Set(p, _)
                | update::Action::Remove(p)
                | update::Action::Add(p, _)
                | update::Action::Delete(p, _) => p.clone(),
            })
            .collect()
    }
}

/// Parses an UpdateExpression.
pub fn parse_update(
    expr: &str,
    attrs: &mut ExpressionAttributes,
) -> Result<UpdateExpression, ExprError> {
    parser::Parser::new(expr, "UpdateExpression", attrs)?
        .update()
        .map(UpdateExpression)
}

/// A projection: which parts of an item to return.
#[derive(Clone, Debug)]
pub struct Projection {
    paths: Vec<Path>,
}

/// Requested paths as a tree; a node that ends a path takes the whole value.
#[derive(Default)]
struct Trie {
    whole: bool,
    keys: BTreeMap<String, Trie>,
    indexes: BTreeMap<usize, Trie>,
}

impl Trie {
    fn insert(&mut self, elems: &[PathElem]) {
        match elems.split_first() {
            None => self.whole = true,
            Some((PathElem::Key(k), rest)) => self.keys.entry(k.clone()).or_default().insert(rest),
            Some((PathElem::Index(i), rest)) => self.indexes.entry(*i).or_default().insert(rest),
        }
    }

    fn project(&self, v: &AttributeValue) -> Option<AttributeValue> {
        if self.whole {
            return Some(v.clone());
        }
        match v {
            AttributeValue::M(m) if !self.keys.is_empty() => {
                let out: Item = self
                    .keys
                    .iter()
                    .filter_map(|(k, t)| {
                        m.get(k).and_then(|x| t.project(x)).map(|x| (k.clone(), x))
                    })
                    .collect();
                (!out.is_empty()).then_some(AttributeValue::M(out))
            }
            AttributeValue::L(l) if !self.indexes.is_empty() => {
                let out: Vec<AttributeValue> = self
                    .indexes
                    .iter()
                    .filter_map(|(i, t)| l.get(*i).and_then(|x| t.project(x)))
                    .collect();
                (!out.is_empty()).then_some(AttributeValue::L(out))
            }
            _ => None,
        }
    }
}

impl Projection {
    /// A projection of the given paths.
    pub fn from_paths(paths: Vec<Path>) -> Projection {
        Projection { paths }
    }

    /// The top-level attribute names the projection reads (`dynamodb:Attributes`).
    pub fn top_level_names(&self) -> Vec<String> {
        self.paths
            .iter()
            .map(|p| p.top_level().to_owned())
            .collect()
    }

    /// The projected item.
    pub fn apply(&self, item: &Item) -> Item {
        let mut root = Trie::default();
        for p in &self.paths {
            root.insert(&p.elems);
        }
        root.keys
            .iter()
            .filter_map(|(k, t)| {
                item.get(k)
                    .and_then(|v| t.project(v))
                    .map(|v| (k.clone(), v))
            })
            .collect()
    }
}

/// Parses a ProjectionExpression.
pub fn parse_projection(
    expr: &str,
    attrs: &mut ExpressionAttributes,
) -> Result<Projection, ExprError> {
    parser::Parser::new(expr, "ProjectionExpression", attrs)?
        .projection()
        .map(Projection::from_paths)
}

/// A condition on a sort key in a KeyConditionExpression.
#[derive(Clone, Debug, PartialEq)]
pub enum SortKeyCondition {
    /// `=`
    Eq(AttributeValue),
    /// `<`
    Lt(AttributeValue),
    /// `<=`
    Le(AttributeValue),
    /// `>`
    Gt(AttributeValue),
    /// `>=`
    Ge(AttributeValue),
    /// `BETWEEN a AND b`
    Between(AttributeValue, AttributeValue),
    /// `begins_with(sk, v)`
    BeginsWith(AttributeValue),
}

/// A key condition split into the partition key's value and the sort key's condition.
pub type KeySplit<'a> = (&'a AttributeValue, Option<(&'a str, &'a SortKeyCondition)>);

/// A parsed KeyConditionExpression: one or two conditions on key attributes.
#[derive(Clone, Debug)]
pub struct KeyCondition {
    conds: Vec<(String, SortKeyCondition)>,
}

impl KeyCondition {
    /// Splits the conditions into the partition key's (which must be `=`) and the sort
    /// key's, given the partition key's name.
    pub fn split(&self, hash_key: &str) -> Result<KeySplit<'_>, ExprError> {
        if self.conds.len() > 2 || (self.conds.len() == 2 && self.conds[0].0 == self.conds[1].0) {
            return Err(ExprError::new(
                "KeyConditionExpressions must only contain one condition per key",
            ));
        }
        let Some((_, hash_cond)) = self.conds.iter().find(|(n, _)| n == hash_key) else {
            return Err(ExprError::new(format!(
                "Query condition missed key schema element: {hash_key}"
            )));
        };
        let SortKeyCondition::Eq(v) = hash_cond else {
            return Err(ExprError::new("Query key condition not supported"));
        };
        let sort = self
            .conds
            .iter()
            .find(|(n, _)| n != hash_key)
            .map(|(n, c)| (n.as_str(), c));
        Ok((v, sort))
    }
}

/// A key condition on a multi-attribute index key: the partition attributes' values (in
/// KeySchema order), the values of the sort attributes compared with `=` (a prefix of the
/// sort attributes), and the condition on the sort attribute that follows them, if any.
#[derive(Debug)]
pub struct MultiKeySplit<'a> {
    /// One value per partition attribute.
    pub hash: Vec<&'a AttributeValue>,
    /// Values of the leading sort attributes used with `=`.
    pub range_eq: Vec<&'a AttributeValue>,
    /// The last sort attribute used, when its condition is not one of `range_eq`:
    /// (its position among the sort attributes, the condition).
    pub last: Option<(usize, &'a SortKeyCondition)>,
}

impl KeyCondition {
    /// The value `name` is compared with by `=`, if it is.
    pub fn equality_on(&self, name: &str) -> Option<&AttributeValue> {
        self.conds.iter().find_map(|(n, c)| match c {
            SortKeyCondition::Eq(v) if n == name => Some(v),
            _ => None,
        })
    }

    /// Splits the conditions for a key of several attributes, as AWS allows them: `=` on
    /// every partition attribute; sort attributes left to right without a gap, `=` on all
    /// but the last one used.
    pub fn split_multi(
        &self,
        hash: &[&str],
        range: &[&str],
    ) -> Result<MultiKeySplit<'_>, ExprError> {
        let mut seen = HashSet::new();
        if self.conds.iter().any(|(n, _)| !seen.insert(n.as_str())) {
            return Err(ExprError::new(
                "KeyConditionExpressions must only contain one condition per key",
            ));
        }
        let cond = |name: &str| self.conds.iter().find(|(n, _)| n == name).map(|(_, c)| c);
        let mut out = MultiKeySplit {
            hash: Vec::with_capacity(hash.len()),
            range_eq: Vec::new(),
            last: None,
        };
        for h in hash {
            match cond(h) {
                None => {
                    return Err(ExprError::new(format!(
                        "Query condition missed key schema element: {h}"
                    )));
                }
                Some(SortKeyCondition::Eq(v)) => out.hash.push(v),
                Some(_) => return Err(ExprError::new("Query key condition not supported")),
            }
        }
        if self
            .conds
            .iter()
            .any(|(n, _)| !hash.contains(&n.as_str()) && !range.contains(&n.as_str()))
        {
            return Err(match range.iter().find(|r| cond(r).is_none()) {
                Some(r) => {
                    ExprError::new(format!("Query condition missed key schema element: {r}"))
                }
                None => ExprError::new("Query key condition not supported"),
            });
        }
        let used: Vec<usize> = (0..range.len())
            .filter(|&i| cond(range[i]).is_some())
            .collect();
        let Some(&last) = used.last() else {
            return Ok(out);
        };
        for r in &range[..last] {
            match cond(r) {
                None => {
                    return Err(ExprError::new(format!(
                        "RANGE key attributes {r} must have equality conditions specified in the query because a condition is present on key attribute {}",
                        range[last]
                    )));
                }
                Some(SortKeyCondition::Eq(v)) => out.range_eq.push(v),
                Some(_) => return Err(ExprError::new("Query key condition not supported")),
            }
        }
        match cond(range[last]) {
            Some(SortKeyCondition::Eq(v)) => out.range_eq.push(v),
            Some(c) => out.last = Some((last, c)),
            None => {}
        }
        Ok(out)
    }
}

/// Parses a KeyConditionExpression.
pub fn parse_key_condition(
    expr: &str,
    attrs: &mut ExpressionAttributes,
) -> Result<KeyCondition, ExprError> {
    parser::Parser::new(expr, "KeyConditionExpression", attrs)?
        .key_condition()
        .map(|conds| KeyCondition { conds })
}

#[cfg(test)]
mod tests;
