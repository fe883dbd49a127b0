//! Query: one partition, in sort-key order, with the sort-key condition turned into
//! storage bounds (so only matching items are read and counted).

use crate::codec;
use crate::error::DynamoError;
use crate::expr::{self, KeyCondition, SortKeyCondition};
use crate::index::IndexDef;
use crate::input::Input;
use crate::ops::scan::{
    PAGE_BYTES, ReadOptions, decode, expression_attributes, fetch_if_needed, index_start_key,
    page_response, read_options, resolve_index,
};
use crate::schema::KeyAttr;
use crate::service::Service;
use crate::value::AttributeValue;
use serde_json::Value;
use std::ops::Bound;

fn expr_err(e: &expr::ExprError) -> DynamoError {
    DynamoError::validation(e.message())
}

fn type_mismatch() -> DynamoError {
    DynamoError::validation(
        "One or more parameter values were invalid: Condition parameter type does not match schema type",
    )
}

/// The encoded key value of a condition operand, checked against the key's type.
fn encode_operand(attr: &KeyAttr, v: &AttributeValue) -> Result<Vec<u8>, DynamoError> {
    let ok = matches!(
        (attr.kind, v),
        (crate::schema::KeyKind::S, AttributeValue::S(_))
            | (crate::schema::KeyKind::N, AttributeValue::N(_))
            | (crate::schema::KeyKind::B, AttributeValue::B(_))
    );
    if !ok {
        return Err(type_mismatch());
    }
    codec::encode_key(v).ok_or_else(type_mismatch)
}

/// The smallest byte string greater than every string starting with `prefix`, if any.
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut p = prefix.to_vec();
    while let Some(last) = p.pop() {
        if last < 0xFF {
            p.push(last + 1);
            return Some(p);
        }
    }
    None
}

/// Lower and upper bounds on encoded sort keys.
type SortBounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// Sort-key bounds of a condition.
fn sort_bounds(attr: &KeyAttr, cond: &SortKeyCondition) -> Result<SortBounds, DynamoError> {
    use SortKeyCondition as C;
    Ok(match cond {
        C::Eq(v) => {
            let k = encode_operand(attr, v)?;
            (Bound::Included(k.clone()), Bound::Included(k))
        }
        C::Lt(v) => (Bound::Unbounded, Bound::Excluded(encode_operand(attr, v)?)),
        C::Le(v) => (Bound::Unbounded, Bound::Included(encode_operand(attr, v)?)),
        C::Gt(v) => (Bound::Excluded(encode_operand(attr, v)?), Bound::Unbounded),
        C::Ge(v) => (Bound::Included(encode_operand(attr, v)?), Bound::Unbounded),
        C::Between(a, b) => (
            Bound::Included(encode_operand(attr, a)?),
            Bound::Included(encode_operand(attr, b)?),
        ),
        C::BeginsWith(v) => {
            if attr.kind == crate::schema::KeyKind::N {
                return Err(DynamoError::validation(
                    "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
                ));
            }
            // S and B keys are encoded as their raw bytes, so a prefix is a byte range.
            let k = encode_operand(attr, v)?;
            let hi = prefix_successor(&k).map_or(Bound::Unbounded, Bound::Excluded);
            (Bound::Included(k), hi)
        }
    })
}

/// Whether `sk` lies within the bounds.
fn within(lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>, sk: &[u8]) -> bool {
    let above = match lo {
        Bound::Included(l) => sk >= l.as_slice(),
        Bound::Excluded(l) => sk > l.as_slice(),
        Bound::Unbounded => true,
    };
    let below = match hi {
        Bound::Included(h) => sk <= h.as_slice(),
        Bound::Excluded(h) => sk < h.as_slice(),
        Bound::Unbounded => true,
    };
    above && below
}

/// A Query's stored partition key, its hash, and its sort-key bounds.
type KeyBounds = (Vec<u8>, u64, Bound<Vec<u8>>, Bound<Vec<u8>>);

/// The stored partition key, its hash and the sort-key bounds of a Query on an index
/// with a multi-attribute key (see `codec::put_component` for why prefixes are ranges).
fn multi_key_bounds(ix: &IndexDef, key_cond: &KeyCondition) -> Result<KeyBounds, DynamoError> {
    let hash_names: Vec<&str> = ix.hash_keys.iter().map(|a| a.name.as_str()).collect();
    let range_names: Vec<&str> = ix.range_keys.iter().map(|a| a.name.as_str()).collect();
    let split = key_cond
        .split_multi(&hash_names, &range_names)
        .map_err(|e| expr_err(&e))?;
    let parts = ix
        .hash_keys
        .iter()
        .zip(&split.hash)
        .map(|(a, v)| encode_operand(a, v))
        .collect::<Result<Vec<_>, _>>()?;
    let pk = ix.encode_partition(&parts);
    let hash = ix.partition_hash(&pk);
    if ix.range_keys.len() <= 1 {
        // One sort attribute: stored with its plain encoding.
        let (lo, hi) = match (split.range_eq.first(), split.last) {
            (Some(v), _) => sort_bounds(&ix.range_keys[0], &SortKeyCondition::Eq((*v).clone()))?,
            (None, Some((_, c))) => sort_bounds(&ix.range_keys[0], c)?,
            (None, None) => (Bound::Unbounded, Bound::Unbounded),
        };
        return Ok((pk, hash, lo, hi));
    }
    let mut prefix = Vec::new();
    for (a, v) in ix.range_keys.iter().zip(&split.range_eq) {
        codec::put_component(&mut prefix, &encode_operand(a, v)?);
    }
    let component = |attr: &KeyAttr, v: &AttributeValue| -> Result<Vec<u8>, DynamoError> {
        let mut k = prefix.clone();
        codec::put_component(&mut k, &encode_operand(attr, v)?);
        Ok(k)
    };
    // Everything that starts with `p`: from `p` up to (not including) its successor.
    let upper_of = |p: &[u8]| prefix_successor(p).map_or(Bound::Unbounded, Bound::Excluded);
    let whole = || {
        if prefix.is_empty() {
            (Bound::Unbounded, Bound::Unbounded)
        } else {
            (Bound::Included(prefix.clone()), upper_of(&prefix))
        }
    };
    let Some((at, cond)) = split.last else {
        return Ok((pk, hash, whole().0, whole().1));
    };
    let attr = &ix.range_keys[at];
    use SortKeyCondition as C;
    let (lo, hi) = match cond {
        C::Eq(v) => {
            let k = component(attr, v)?;
            (Bound::Included(k.clone()), upper_of(&k))
        }
        C::Lt(v) => (whole().0, Bound::Excluded(component(attr, v)?)),
        C::Le(v) => (whole().0, upper_of(&component(attr, v)?)),
        C::Gt(v) => (
            prefix_successor(&component(attr, v)?).map_or(Bound::Unbounded, Bound::Included),
            whole().1,
        ),
        C::Ge(v) => (Bound::Included(component(attr, v)?), whole().1),
        C::Between(a, b) => (
            Bound::Included(component(attr, a)?),
            upper_of(&component(attr, b)?),
        ),
        C::BeginsWith(v) => {
            if attr.kind == crate::schema::KeyKind::N {
                return Err(DynamoError::validation(
                    "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
                ));
            }
            let mut k = prefix.clone();
            codec::put_component_body(&mut k, &encode_operand(attr, v)?);
            (Bound::Included(k.clone()), upper_of(&k))
        }
    };
    Ok((pk, hash, lo, hi))
}

/// What a Query reads from the request alone, before any table.
pub(crate) struct QueryRequest {
    key_cond: KeyCondition,
    opts: ReadOptions,
    forward: bool,
}

impl QueryRequest {
    pub(crate) fn parse(input: &Input) -> Result<Self, DynamoError> {
        let mut attrs = expression_attributes(input)?;
        let key_text = input.str_opt("KeyConditionExpression")?;
        let Some(key_text) = key_text else {
            return Err(DynamoError::validation(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
            ));
        };
        let key_cond: KeyCondition =
            expr::parse_key_condition(key_text, &mut attrs).map_err(|e| expr_err(&e))?;
        let opts = read_options(input, &mut attrs, true)?;
        attrs.check_all_used().map_err(|e| expr_err(&e))?;
        let forward = input.bool_opt("ScanIndexForward")?.unwrap_or(true);
        Ok(QueryRequest {
            key_cond,
            opts,
            forward,
        })
    }
}

impl Service {
    pub(crate) async fn query(&self, input: &Input) -> Result<Value, DynamoError> {
        let QueryRequest {
            key_cond,
            mut opts,
            forward,
        } = QueryRequest::parse(input)?;
        let t = self.table(input)?;
        let index = resolve_index(&t, input, &mut opts, input.has("Select"))?;
        let def = &t.def;
        let (hash_attrs, range_attrs): (&[KeyAttr], &[KeyAttr]) = match index {
            Some(ix) => (&ix.hash_keys, &ix.range_keys),
            None => (
                std::slice::from_ref(&def.hash_key),
                def.range_key.as_slice(),
            ),
        };
        // The key attributes of what is queried (the table or the index) belong in the key
        // condition; AWS refuses them in the filter.
        if let Some(filter) = &opts.filter
            && let Some(key) = hash_attrs
                .iter()
                .chain(range_attrs)
                .find(|k| filter.mentions(&k.name))
        {
            return Err(DynamoError::validation(format!(
                "Filter Expression can only contain non-primary key attributes: Primary key attribute: {}",
                key.name
            )));
        }
        let (pk, hash, lo, hi) = match index.filter(|ix| ix.is_multi_attribute()) {
            Some(ix) => multi_key_bounds(ix, &key_cond)?,
            None => {
                let hash_attr = &hash_attrs[0];
                let (pk_value, sort) = key_cond.split(&hash_attr.name).map_err(|e| expr_err(&e))?;
                let pk = encode_operand(hash_attr, pk_value)?;
                let (mut lo, mut hi) = (Bound::Unbounded, Bound::Unbounded);
                if let Some((sk_name, cond)) = sort {
                    let Some(range) = range_attrs.first().filter(|r| r.name == sk_name) else {
                        return Err(DynamoError::validation("Query key condition not supported"));
                    };
                    (lo, hi) = sort_bounds(range, cond)?;
                }
                let hash = codec::partition_hash(hash_attr.kind.scalar(), &pk);
                (pk, hash, lo, hi)
            }
        };
        let (mut lo, mut hi) = (lo, hi);
        let limit = opts.limit.unwrap_or(usize::MAX);
        let store = self.store(&t).await?;
        let bad_start = || {
            DynamoError::validation(
                "The provided starting key is invalid: The provided starting key does not match the range key predicate",
            )
        };
        let (items, bytes, count) = match index {
            None => {
                if let Some(start) = self.start_key(&t, input)? {
                    if start.hash != hash || start.pk != pk {
                        return Err(bad_start());
                    }
                    if def.range_key.is_none() {
                        // A hash-only table has one item per partition: nothing follows it.
                        return page_response(&t, &opts, Vec::new(), None, false);
                    }
                    if !within(&lo, &hi, &start.sk) {
                        return Err(bad_start());
                    }
                    if forward {
                        lo = Bound::Excluded(start.sk);
                    } else {
                        hi = Bound::Excluded(start.sk);
                    }
                }
                let read = store
                    .query(hash, pk, lo, hi, forward, limit, PAGE_BYTES)
                    .await?;
                let bytes: usize = read.iter().map(|i| i.value.len()).sum();
                let n = read.len();
                let items = read
                    .iter()
                    .map(|r| decode(&r.value))
                    .collect::<Result<Vec<_>, _>>()?;
                (items, bytes, n)
            }
            Some(ix) => {
                let after = index_start_key(def, ix, input)?;
                if let Some(a) = &after
                    && (a.hash != hash || a.ipk != pk || !within(&lo, &hi, &a.isk))
                {
                    return Err(bad_start());
                }
                let read = store
                    .index_query(
                        ix.number, hash, pk, lo, hi, after, forward, limit, PAGE_BYTES,
                    )
                    .await?;
                let bytes: usize = read.iter().map(|i| i.value.len()).sum();
                let n = read.len();
                let items = read
                    .iter()
                    .map(|r| decode(&r.value))
                    .collect::<Result<Vec<_>, _>>()?;
                (items, bytes, n)
            }
        };
        let hit_limit = count >= limit || bytes >= PAGE_BYTES;
        let items = fetch_if_needed(&store, def, index, &opts, items).await?;
        page_response(&t, &opts, items, index, hit_limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successors() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(&[0x61, 0xFF]), Some(vec![0x62]));
        assert_eq!(prefix_successor(&[0xFF, 0xFF]), None);
        assert_eq!(prefix_successor(b""), None);
    }
}
