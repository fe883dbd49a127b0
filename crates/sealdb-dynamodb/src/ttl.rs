//! Time to Live: a background sweeper that deletes expired items, as DynamoDB does.
//!
//! An item is expired when its TTL attribute is a Number of epoch seconds at or before
//! now, and not more than five years before now (AWS leaves such items alone, taking
//! the value for milliseconds or a mistake). Anything else — a missing attribute, a
//! String, a set — keeps the item. Each sweep reads every TTL-enabled table in pages
//! and deletes each page's expired items in one write unit that re-reads and re-checks
//! them, so an item updated meanwhile is kept. A deletion goes through the same
//! mutations as DeleteItem (indexes kept consistent) and writes a REMOVE stream record
//! whose `userIdentity` is the DynamoDB service. Pages are small and a pause separates
//! them, so foreground writes queued behind the sweeper wait for at most one page.

use crate::codec;
use crate::error::DynamoError;
use crate::index::ttl_deletion;
use crate::number::Number;
use crate::schema::TableDef;
use crate::service::Service;
use crate::value::{AttributeValue, Item};
use sealdb_storage::{Decision, ItemKey, WriteTx, apply};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// How long ENABLING / DISABLING lasts (AWS: up to an hour; observed: seconds).
static TRANSITION_MS: AtomicI64 = AtomicI64::new(2_000);
/// How long after a change another UpdateTimeToLive is refused (AWS: one hour).
static CHANGE_INTERVAL_MS: AtomicI64 = AtomicI64::new(3_600_000);

/// Sets the TTL transition and change interval of this process (tests: seconds).
pub fn set_ttl_timing(transition_ms: i64, change_interval_ms: i64) {
    TRANSITION_MS.store(transition_ms.max(0), Ordering::Relaxed);
    CHANGE_INTERVAL_MS.store(change_interval_ms.max(0), Ordering::Relaxed);
}

/// A table's TTL status as DescribeTimeToLive reports it, with its attribute.
pub fn ttl_status(def: &TableDef, now_ms: i64) -> (&'static str, Option<&str>) {
    let moving = def
        .ttl_change
        .as_ref()
        .filter(|c| now_ms.saturating_sub(c.at_ms) < TRANSITION_MS.load(Ordering::Relaxed));
    match (&def.ttl_attribute, moving) {
        (Some(a), Some(_)) => ("ENABLING", Some(a)),
        (Some(a), None) => ("ENABLED", Some(a)),
        (None, Some(c)) => ("DISABLING", Some(&c.attribute)),
        (None, None) => ("DISABLED", None),
    }
}

/// True while another UpdateTimeToLive would be refused as too soon.
pub fn ttl_change_too_soon(def: &TableDef, now_ms: i64) -> bool {
    def.ttl_change.as_ref().is_some_and(|c| {
        now_ms.saturating_sub(c.at_ms) < CHANGE_INTERVAL_MS.load(Ordering::Relaxed)
    })
}

/// The attribute the sweeper expires items by: only once TTL is ENABLED.
fn sweep_attribute(def: &TableDef, now_ms: i64) -> Option<String> {
    match ttl_status(def, now_ms) {
        ("ENABLED", Some(a)) => Some(a.to_owned()),
        _ => None,
    }
}

/// Items older than this (by their TTL value) are not deleted.
const MAX_EXPIRED_AGE_SECS: i64 = 5 * 365 * 86_400;
/// Items read per page of a sweep (and deleted per write unit at most).
const SWEEP_PAGE_ITEMS: usize = 100;
/// Bytes of items read per page at most.
const SWEEP_PAGE_BYTES: usize = 1024 * 1024;
/// The pause between pages, which leaves the writer and the read pool to foreground work.
const PAUSE_BETWEEN_PAGES: Duration = Duration::from_millis(5);

/// True when `item` has expired at `now_secs` under TTL attribute `attr`.
pub fn is_expired(item: &Item, attr: &str, now_secs: i64) -> bool {
    let Some(AttributeValue::N(value)) = item.get(attr) else {
        return false;
    };
    let (Ok(now), Ok(oldest)) = (
        Number::parse(&now_secs.to_string()),
        Number::parse(&(now_secs - MAX_EXPIRED_AGE_SECS).to_string()),
    ) else {
        return false;
    };
    *value <= now && *value >= oldest
}

impl Service {
    /// Starts the sweeper: one sweep every `interval`, until the service is dropped.
    pub fn start_ttl_sweeper(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let service = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(service) = service.upgrade() else {
                    return;
                };
                let deleted = service.sweep_expired_items().await;
                if deleted > 0 {
                    tracing::debug!(deleted, "ttl sweep");
                }
            }
        })
    }

    /// One sweep over every table with TTL enabled; answers how many items it deleted.
    /// A table that cannot be read now (its key unusable, being deleted) is skipped.
    pub async fn sweep_expired_items(&self) -> usize {
        let tables: Vec<String> = match self.defs.read() {
            Ok(defs) => defs
                .values()
                .filter(|d| d.ttl_attribute.is_some())
                .map(|d| d.name.clone())
                .collect(),
            Err(_) => return 0,
        };
        let mut deleted = 0;
        for name in tables {
            match self.sweep_table(&name).await {
                Ok(n) => deleted += n,
                Err(e) => tracing::debug!(table = %name, error = ?e, "ttl sweep skipped a table"),
            }
        }
        deleted
    }

    async fn sweep_table(&self, name: &str) -> Result<usize, DynamoError> {
        let t = self.table_by_name(name)?;
        let store = self.store(&t).await?;
        let mut after: Option<ItemKey> = None;
        let mut deleted = 0;
        loop {
            // The definition is read afresh per page: TTL may be turned off, or an index
            // added, while a sweep runs.
            let Some(def) = self.def(name) else {
                return Ok(deleted);
            };
            let Some(attr) = sweep_attribute(&def, self.now_ms()) else {
                return Ok(deleted);
            };
            let page = store
                .scan(
                    0,
                    u64::MAX,
                    after.clone(),
                    SWEEP_PAGE_ITEMS,
                    SWEEP_PAGE_BYTES,
                )
                .await?;
            let Some(last) = page.last() else {
                return Ok(deleted);
            };
            after = Some(last.key.clone());
            let now = self.cfg.clock.now_secs();
            let expired: Vec<ItemKey> = page
                .iter()
                .filter(|stored| {
                    codec::decode_item(&stored.value).is_ok_and(|i| is_expired(&i, &attr, now))
                })
                .map(|stored| stored.key.clone())
                .collect();
            if !expired.is_empty() {
                deleted += delete_if_expired(&store, def, attr, expired, now).await?;
            }
            if page.len() < SWEEP_PAGE_ITEMS {
                return Ok(deleted);
            }
            tokio::time::sleep(PAUSE_BETWEEN_PAGES).await;
        }
    }
}

/// Deletes the items at `keys` that are still expired when the writer reaches them.
async fn delete_if_expired(
    store: &sealdb_storage::TableStore,
    def: Arc<TableDef>,
    attr: String,
    keys: Vec<ItemKey>,
    now: i64,
) -> Result<usize, DynamoError> {
    let deleted = store
        .write_when_room(move |tx: &mut dyn WriteTx| {
            let mut n = 0;
            for key in &keys {
                let Some(bytes) = tx.get(key)? else {
                    continue;
                };
                let Ok(current) = codec::decode_item(&bytes) else {
                    continue;
                };
                if is_expired(&current, &attr, now) {
                    apply(tx, &ttl_deletion(&def, key, &current))?;
                    n += 1;
                }
            }
            Ok(Decision::Commit(n))
        })
        .await?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(v: AttributeValue) -> Item {
        Item::from([("exp".to_owned(), v)])
    }

    fn n(s: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(s).unwrap())
    }

    #[test]
    fn only_numbers_of_the_last_five_years_expire() {
        let now = 1_800_000_000;
        assert!(is_expired(&item(n("1800000000")), "exp", now));
        assert!(is_expired(&item(n("1799999999.5")), "exp", now));
        assert!(!is_expired(&item(n("1800000001")), "exp", now));
        assert!(is_expired(
            &item(n(&(now - MAX_EXPIRED_AGE_SECS).to_string())),
            "exp",
            now
        ));
        assert!(!is_expired(
            &item(n(&(now - MAX_EXPIRED_AGE_SECS - 1).to_string())),
            "exp",
            now
        ));
        assert!(!is_expired(
            &item(AttributeValue::S("1".into())),
            "exp",
            now
        ));
        assert!(!is_expired(&item(n("1")), "other", now));
    }
}
