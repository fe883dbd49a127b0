//! Scan and Query: reading pages of items in storage order, 1 MB at most per page
//! (counted before the filter, as DynamoDB does), with Limit, ExclusiveStartKey /
//! LastEvaluatedKey, FilterExpression, ProjectionExpression, Select and parallel-scan
//! segments.

use crate::codec;
use crate::error::DynamoError;
use crate::expr::{self, Condition, ExpressionAttributes, Projection};
use crate::index::{IndexDef, IndexStatus, ProjectionKind};
use crate::input::{Input, validation_errors};
use crate::ops::capacity::{ReturnCapacity, consumed, read_units};
use crate::schema::TableDef;
use crate::service::{KeySource, Service, TableRef, item_key, key_only};
use crate::value::{Item, item_size, item_to_json};
use sealdb_storage::{IndexEntryKey, ItemKey, TableStore};
use serde_json::{Value, json};

/// A page holds at most this much data read (before the filter).
pub const PAGE_BYTES: usize = 1024 * 1024;

/// `Select`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Select {
    AllAttributes,
    AllProjected,
    Specific,
    Count,
}

/// The read options shared by Scan and Query.
pub(crate) struct ReadOptions {
    pub(crate) select: Select,
    pub(crate) filter: Option<Condition>,
    pub(crate) projection: Option<Projection>,
    pub(crate) limit: Option<usize>,
    pub(crate) consistent: bool,
    pub(crate) capacity: ReturnCapacity,
}

fn expr_err(e: &expr::ExprError) -> DynamoError {
    DynamoError::validation(e.message())
}

/// Parses Select / ProjectionExpression / FilterExpression / Limit / ConsistentRead and
/// the expression attributes, leaving `attrs` for the caller to add its own expressions.
pub(crate) fn read_options(
    input: &Input,
    attrs: &mut ExpressionAttributes,
    is_query: bool,
) -> Result<ReadOptions, DynamoError> {
    let projection_text = input.str_opt("ProjectionExpression")?;
    let select = match input.str_opt("Select")? {
        None => {
            if projection_text.is_some() {
                Select::Specific
            } else {
                Select::AllAttributes
            }
        }
        Some("ALL_ATTRIBUTES") => Select::AllAttributes,
        Some("ALL_PROJECTED_ATTRIBUTES") => Select::AllProjected,
        Some("SPECIFIC_ATTRIBUTES") => Select::Specific,
        Some("COUNT") => Select::Count,
        Some(other) => {
            return Err(validation_errors(&[format!(
                "Value '{other}' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]"
            )]));
        }
    };
    match (select, projection_text.is_some()) {
        (Select::Specific, false) => {
            let msg = "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES";
            return Err(if is_query {
                validation_errors(&[msg.to_owned()])
            } else {
                DynamoError::validation(msg)
            });
        }
        (Select::AllAttributes, true) => {
            return Err(DynamoError::validation(
                "Cannot specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES",
            ));
        }
        (Select::Count, true) => {
            return Err(DynamoError::validation(
                "Cannot specify the ProjectionExpression when choosing to get only the Count",
            ));
        }
        (Select::AllProjected, true) => {
            return Err(DynamoError::validation(
                "Cannot specify the ProjectionExpression when choosing to get ALL_PROJECTED_ATTRIBUTES",
            ));
        }
        _ => {}
    }
    if select == Select::AllProjected && !input.has("IndexName") {
        return Err(DynamoError::validation(
            "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
        ));
    }
    let limit = match input.int_opt("Limit")? {
        None => None,
        Some(l) if l < 1 => {
            return Err(validation_errors(&[format!(
                "Value '{l}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )]));
        }
        Some(l) => Some(usize::try_from(l).unwrap_or(usize::MAX)),
    };
    let filter = input
        .str_opt("FilterExpression")?
        .map(|f| expr::parse_condition(f, attrs, "FilterExpression"))
        .transpose()
        .map_err(|e| expr_err(&e))?;
    let projection = projection_text
        .map(|p| expr::parse_projection(p, attrs))
        .transpose()
        .map_err(|e| expr_err(&e))?;
    Ok(ReadOptions {
        select,
        filter,
        projection,
        limit,
        consistent: input.bool_opt("ConsistentRead")?.unwrap_or(false),
        capacity: ReturnCapacity::parse(input.str_opt("ReturnConsumedCapacity")?)?,
    })
}

/// The expression attributes of a Scan/Query, checked for emptiness.
pub(crate) fn expression_attributes(input: &Input) -> Result<ExpressionAttributes, DynamoError> {
    let names = input.names()?;
    let values = input.values()?;
    if names
        .as_ref()
        .is_some_and(std::collections::HashMap::is_empty)
    {
        return Err(DynamoError::validation(
            "ExpressionAttributeNames must not be empty",
        ));
    }
    if values
        .as_ref()
        .is_some_and(std::collections::HashMap::is_empty)
    {
        return Err(DynamoError::validation(
            "ExpressionAttributeValues must not be empty",
        ));
    }
    let attrs = ExpressionAttributes::new(names, values);
    early_expression_checks(input, &attrs)?;
    Ok(attrs)
}

/// What AWS checks of a Query's or Scan's expressions before it parses any of them:
/// an empty expression, a malformed name or value key, a name no expression mentions.
fn early_expression_checks(input: &Input, attrs: &ExpressionAttributes) -> Result<(), DynamoError> {
    let members = [
        "ProjectionExpression",
        "FilterExpression",
        "KeyConditionExpression",
    ];
    let mut texts = Vec::new();
    for m in members {
        match input.str_opt(m)? {
            Some("") => {
                return Err(DynamoError::validation(format!(
                    "Invalid {m}: The expression can not be empty;"
                )));
            }
            Some(t) => texts.push(t),
            None => {}
        }
    }
    attrs.check_well_formed().map_err(|e| expr_err(&e))?;
    let unused = attrs.names_unused_in(&texts);
    if !unused.is_empty() {
        return Err(DynamoError::validation(format!(
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
            unused.join(", ")
        )));
    }
    Ok(())
}

/// Decodes stored item bytes.
pub(crate) fn decode(bytes: &[u8]) -> Result<Item, DynamoError> {
    codec::decode_item(bytes).map_err(|e| {
        tracing::error!(error = ?e, "stored item does not decode");
        DynamoError::Internal
    })
}

/// The attributes a LastEvaluatedKey carries: the table keys, and the index keys when
/// reading an index.
pub(crate) fn last_key_of(def: &TableDef, index: Option<&IndexDef>, item: &Item) -> Item {
    let mut key = key_only(def, item);
    if let Some(ix) = index {
        for k in ix.key_attrs() {
            if let Some(v) = item.get(&k.name) {
                key.insert(k.name.clone(), v.clone());
            }
        }
    }
    key
}

/// Turns the items read for one page into the response: filter, projection, Select,
/// Count/ScannedCount, LastEvaluatedKey (when the page was cut) and capacity.
pub(crate) fn page_response(
    t: &TableRef,
    opts: &ReadOptions,
    read: Vec<Item>,
    index: Option<&IndexDef>,
    hit_limit: bool,
) -> Result<Value, DynamoError> {
    let mut items = Vec::new();
    let mut count = 0usize;
    let scanned = read.len();
    let mut bytes = 0usize;
    let last = if hit_limit {
        read.last().map(|i| last_key_of(&t.def, index, i))
    } else {
        None
    };
    for item in read {
        bytes += item_size(&item);
        if !opts.filter.as_ref().is_none_or(|f| f.evaluate(&item)) {
            continue;
        }
        count += 1;
        if opts.select != Select::Count {
            let shown = match &opts.projection {
                Some(p) => p.apply(&item),
                None => item,
            };
            items.push(item_to_json(&shown));
        }
    }
    let mut out = json!({ "Count": count, "ScannedCount": scanned });
    if opts.select != Select::Count {
        out["Items"] = Value::Array(items);
    }
    if let Some(last) = last {
        out["LastEvaluatedKey"] = item_to_json(&last);
    }
    if let Some(c) = consumed(
        opts.capacity,
        &t.def.name,
        scan_read_units(bytes, opts.consistent),
        false,
    ) {
        out["ConsumedCapacity"] = c;
    }
    Ok(out)
}

/// The index a Scan/Query names, checked as AWS checks it.
pub(crate) fn resolve_index<'a>(
    t: &'a TableRef,
    input: &Input,
    opts: &mut ReadOptions,
    explicit_select: bool,
) -> Result<Option<&'a IndexDef>, DynamoError> {
    let Some(name) = input.str_opt("IndexName")? else {
        return Ok(None);
    };
    let ix = t.def.index(name).ok_or_else(|| {
        DynamoError::validation(format!(
            "The table does not have the specified index: {name}"
        ))
    })?;
    if ix.status == IndexStatus::Creating {
        return Err(DynamoError::validation(format!(
            "Cannot read from backfilling global secondary index: {name}"
        )));
    }
    if ix.status == IndexStatus::Deleting {
        return Err(DynamoError::validation(format!(
            "The table does not have the specified index: {name}"
        )));
    }
    if ix.global && opts.consistent {
        return Err(DynamoError::validation(
            "Consistent reads are not supported on global secondary indexes",
        ));
    }
    if !explicit_select && opts.select == Select::AllAttributes {
        opts.select = Select::AllProjected;
    }
    if ix.global && opts.select == Select::AllAttributes && ix.projection != ProjectionKind::All {
        return Err(DynamoError::validation(format!(
            "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {name} because its projection type is not ALL"
        )));
    }
    Ok(Some(ix))
}

/// For a local index read with Select ALL_ATTRIBUTES, the whole items from the table.
pub(crate) async fn fetch_if_needed(
    store: &TableStore,
    def: &TableDef,
    index: Option<&IndexDef>,
    opts: &ReadOptions,
    items: Vec<Item>,
) -> Result<Vec<Item>, DynamoError> {
    let Some(ix) = index else { return Ok(items) };
    if ix.projection == ProjectionKind::All || opts.select != Select::AllAttributes {
        return Ok(items);
    }
    let mut out = Vec::with_capacity(items.len());
    for i in items {
        let key = item_key(def, &key_only(def, &i), KeySource::Key)?;
        if let Some(bytes) = store.get(&key).await? {
            out.push(decode(&bytes)?);
        }
    }
    Ok(out)
}

/// The storage position of an ExclusiveStartKey on an index.
pub(crate) fn index_start_key(
    def: &TableDef,
    ix: &IndexDef,
    input: &Input,
) -> Result<Option<IndexEntryKey>, DynamoError> {
    let Some(esk) = input.item_opt("ExclusiveStartKey")? else {
        return Ok(None);
    };
    let invalid = || {
        DynamoError::validation(
            "The provided starting key is invalid: The provided key element does not match the schema",
        )
    };
    let table_key = item_key(def, &key_only(def, &esk), KeySource::Key).map_err(|_| invalid())?;
    let entry = crate::index::entry_key(ix, &esk, &table_key).ok_or_else(invalid)?;
    Ok(Some(entry))
}

/// Scan/Query capacity: the total size read, in 4 KB units, halved when eventually consistent.
fn scan_read_units(bytes: usize, consistent: bool) -> f64 {
    if bytes == 0 {
        return if consistent { 1.0 } else { 0.5 };
    }
    read_units(bytes, consistent)
}

/// The partition-hash range of a parallel-scan segment.
pub(crate) fn segment_range(segment: u64, total: u64) -> (u64, u64) {
    let span = (u128::from(u64::MAX) + 1) / u128::from(total.max(1));
    let lo = u128::from(segment) * span;
    let hi = if segment + 1 >= total {
        u128::from(u64::MAX)
    } else {
        lo + span - 1
    };
    (
        u64::try_from(lo).unwrap_or(u64::MAX),
        u64::try_from(hi).unwrap_or(u64::MAX),
    )
}

/// What a Scan reads from the request alone, before any table.
pub(crate) struct ScanRequest {
    opts: ReadOptions,
    /// The segment's partition-hash range.
    lo: u64,
    hi: u64,
}

impl ScanRequest {
    pub(crate) fn parse(input: &Input) -> Result<Self, DynamoError> {
        let mut attrs = expression_attributes(input)?;
        let opts = read_options(input, &mut attrs, false)?;
        attrs.check_all_used().map_err(|e| expr_err(&e))?;
        let segment = input.int_opt("Segment")?;
        let total = input.int_opt("TotalSegments")?;
        let (lo, hi) = match (segment, total) {
            (None, None) => (0, u64::MAX),
            (Some(_), None) => {
                return Err(DynamoError::validation(
                    "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
                ));
            }
            (None, Some(_)) => {
                return Err(DynamoError::validation(
                    "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
                ));
            }
            (Some(s), Some(n)) => {
                let mut errors = Vec::new();
                if !(1..=1_000_000).contains(&n) {
                    errors.push(format!("Value '{n}' at 'totalSegments' failed to satisfy constraint: Member must have value {}", if n < 1 { "greater than or equal to 1" } else { "less than or equal to 1000000" }));
                }
                if !(0..=999_999).contains(&s) {
                    errors.push(format!("Value '{s}' at 'segment' failed to satisfy constraint: Member must have value {}", if s < 0 { "greater than or equal to 0" } else { "less than or equal to 999999" }));
                }
                if !errors.is_empty() {
                    return Err(validation_errors(&errors));
                }
                if s >= n {
                    return Err(DynamoError::validation(format!(
                        "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {s} is not less than TotalSegments: {n}"
                    )));
                }
                segment_range(u64::try_from(s).unwrap_or(0), u64::try_from(n).unwrap_or(1))
            }
        };
        Ok(ScanRequest { opts, lo, hi })
    }
}

impl Service {
    /// The storage key of an `ExclusiveStartKey`, with AWS's message when it does not fit.
    pub(crate) fn start_key(
        &self,
        t: &TableRef,
        input: &Input,
    ) -> Result<Option<ItemKey>, DynamoError> {
        match input.item_opt("ExclusiveStartKey")? {
            None => Ok(None),
            Some(esk) => item_key(&t.def, &esk, KeySource::Key)
                .map(Some)
                .map_err(|e| match e {
                    DynamoError::Validation(m) => DynamoError::validation(format!(
                        "The provided starting key is invalid: {m}"
                    )),
                    other => other,
                }),
        }
    }

    pub(crate) async fn scan(&self, input: &Input) -> Result<Value, DynamoError> {
        let ScanRequest { mut opts, lo, hi } = ScanRequest::parse(input)?;
        let t = self.table(input)?;
        let index = resolve_index(&t, input, &mut opts, input.has("Select"))?;
        let store = self.store(&t).await?;
        let limit = opts.limit.unwrap_or(usize::MAX);
        let (items, bytes, count) = match index {
            None => {
                let after = self.start_key(&t, input)?;
                if let Some(a) = &after
                    && (a.hash < lo || a.hash > hi)
                {
                    return Err(DynamoError::validation(
                        "The provided Exclusive start key does not map to the provided segment",
                    ));
                }
                let read = store.scan(lo, hi, after, limit, PAGE_BYTES).await?;
                let bytes: usize = read.iter().map(|i| i.value.len()).sum();
                let n = read.len();
                let items = read
                    .iter()
                    .map(|r| decode(&r.value))
                    .collect::<Result<Vec<_>, _>>()?;
                (items, bytes, n)
            }
            Some(ix) => {
                let after = index_start_key(&t.def, ix, input)?;
                let read = store
                    .index_scan(ix.number, lo, hi, after, limit, PAGE_BYTES)
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
        let items = fetch_if_needed(&store, &t.def, index, &opts, items).await?;
        page_response(&t, &opts, items, index, hit_limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cover_the_hash_space_once() {
        for total in [1u64, 2, 3, 7, 1000] {
            let mut expected_lo = 0u64;
            for s in 0..total {
                let (lo, hi) = segment_range(s, total);
                assert_eq!(lo, expected_lo);
                assert!(hi >= lo);
                if s + 1 == total {
                    assert_eq!(hi, u64::MAX);
                } else {
                    expected_lo = hi + 1;
                }
            }
        }
    }
}
