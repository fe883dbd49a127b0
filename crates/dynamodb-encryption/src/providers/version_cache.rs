//! The most-recent provider's cache: a least-recently-used map of version → provider, each
//! entry stamped with when it was fetched, as both libraries' `CachingMostRecentProvider`
//! keep it (Python `BasicCache`, Java `LRUCache`).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// How usable a cached entry fetched at some instant still is (Python's `TtlActions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Younger than the TTL: use it.
    Live,
    /// Past the TTL but within the grace period after it: refresh it, unless another
    /// caller is already refreshing, in which case use it meanwhile.
    Grace,
    /// Older: refresh it, waiting for a refresh in progress.
    Expired,
}

/// The TTL and grace period that decide an entry's [`Freshness`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lifetime {
    pub(crate) ttl: Duration,
    pub(crate) grace_period: Duration,
}

impl Lifetime {
    pub(crate) fn freshness(&self, fetched_at: Instant) -> Freshness {
        let age = fetched_at.elapsed();
        if age < self.ttl {
            Freshness::Live
        } else if age < self.ttl.saturating_add(self.grace_period) {
            Freshness::Grace
        } else {
            Freshness::Expired
        }
    }
}

/// A map bounded to `capacity` entries that drops the least recently used one to make
/// room. Reads and writes both count as use.
#[derive(Debug)]
pub(crate) struct LruCache<V> {
    capacity: usize,
    entries: HashMap<u64, (V, u64)>,
    /// Use counter → key, oldest use first.
    by_use: BTreeMap<u64, u64>,
    clock: u64,
}

impl<V: Clone> LruCache<V> {
    /// A cache of at most `capacity` entries (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        LruCache {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            by_use: BTreeMap::new(),
            clock: 0,
        }
    }

    fn touch(&mut self, key: u64) -> u64 {
        self.clock += 1;
        if let Some((_, used)) = self.entries.get_mut(&key) {
            self.by_use.remove(used);
            *used = self.clock;
        }
        self.by_use.insert(self.clock, key);
        self.clock
    }

    /// The entry for `key`, which becomes the most recently used.
    pub(crate) fn get(&mut self, key: u64) -> Option<V> {
        let value = self.entries.get(&key)?.0.clone();
        self.touch(key);
        Some(value)
    }

    /// Stores `value` under `key` as the most recently used entry, dropping the least
    /// recently used one when the cache is full.
    pub(crate) fn put(&mut self, key: u64, value: V) {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            if let Some((_, oldest)) = self.by_use.pop_first() {
                self.entries.remove(&oldest);
            }
        }
        let used = self.touch(key);
        self.entries.insert(key, (value, used));
    }

    /// Drops the entry for `key`, if any.
    pub(crate) fn remove(&mut self, key: u64) {
        if let Some((_, used)) = self.entries.remove(&key) {
            self.by_use.remove(&used);
        }
    }

    #[cfg(test)]
    fn keys(&self) -> Vec<u64> {
        self.by_use.values().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used_entry() {
        let mut cache = LruCache::new(2);
        cache.put(0, "zero");
        cache.put(1, "one");
        // Reading 0 makes 1 the least recently used, though 0 was stored first.
        assert_eq!(cache.get(0), Some("zero"));
        cache.put(2, "two");
        assert_eq!(cache.get(1), None);
        assert_eq!(cache.keys(), [0, 2]);
        // Replacing an entry in a full cache evicts nothing.
        cache.put(0, "zero again");
        assert_eq!(cache.keys(), [2, 0]);
        assert_eq!(cache.get(2), Some("two"));
        cache.remove(2);
        assert_eq!(cache.keys(), [0]);
        assert_eq!(cache.get(0), Some("zero again"));
    }

    #[test]
    fn freshness_follows_ttl_then_grace() {
        let lifetime = Lifetime {
            ttl: Duration::from_secs(3600),
            grace_period: Duration::from_secs(3600),
        };
        let now = Instant::now();
        assert_eq!(lifetime.freshness(now), Freshness::Live);
        let past_ttl = Lifetime {
            ttl: Duration::ZERO,
            ..lifetime
        };
        assert_eq!(past_ttl.freshness(now), Freshness::Grace);
        let past_grace = Lifetime {
            ttl: Duration::ZERO,
            grace_period: Duration::ZERO,
        };
        assert_eq!(past_grace.freshness(now), Freshness::Expired);
    }
}
