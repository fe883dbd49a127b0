//! The most-recent provider over a provider store (reference §6.4): versioned AES/HMAC key
//! pairs kept, themselves encrypted, in a table with partition key `N` (material name) and
//! sort key `V` (version). Each version acts as a wrapped provider.

use crate::actions::AttributeActions;
use crate::error::{Error, Result};
use crate::item::{decrypt_item, encrypt_item};
use crate::keys::{SigningKey, SymmetricKey};
use crate::materials::{
    CryptographicMaterialsProvider, DecryptionMaterials, EncryptionContext, EncryptionMaterials,
};
use crate::providers::version_cache::{Freshness, Lifetime, LruCache};
use crate::providers::wrapped::{UnwrappingKey, WrappedProvider, WrappingKey};
use crate::{Attribute, Item};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Description key naming the version: `<material name>#<version>`.
pub const META_ID_KEY: &str = "amzn-ddb-meta-id";
/// Provider-store partition key: the material name.
pub const NAME_ATTRIBUTE: &str = "N";
/// Provider-store sort key: the version.
pub const VERSION_ATTRIBUTE: &str = "V";
/// Versions cached at most (Python's and Java's default LRU size).
const DEFAULT_CACHE_CAPACITY: usize = 1000;
/// How long past the TTL a cached entry may still serve while it is being refreshed
/// (Python's `_GRACE_PERIOD`).
const DEFAULT_GRACE_PERIOD: Duration = Duration::from_millis(500);

/// One version's keys: `enc` wraps content keys (AES-256), `int` signs items.
#[derive(Clone, Debug)]
pub struct VersionKeys {
    /// The AES wrapping key (`enc`).
    pub wrapping_key: SymmetricKey,
    /// The MAC algorithm (`intAlg`, normally `HmacSHA256`).
    pub integrity_algorithm: String,
    /// The MAC key (`int`).
    pub integrity_key: SymmetricKey,
}

impl VersionKeys {
    /// Fresh random keys for a new version.
    pub fn generate() -> Result<Self> {
        Ok(VersionKeys {
            wrapping_key: SymmetricKey::generate(32)?,
            integrity_algorithm: "HmacSHA256".into(),
            integrity_key: SymmetricKey::generate(32)?,
        })
    }
}

/// Where versions live. Implementations store rows through [`ProviderStoreRows`], so the
/// rows are readable by the Python and Java clients.
pub trait MetaStore: Send + Sync {
    /// The newest version of `material_name`, if any exists.
    fn max_version(&self, material_name: &str) -> impl Future<Output = Result<Option<u64>>> + Send;

    /// One version's keys; an unknown version is [`Error::MissingMaterials`].
    fn version(
        &self,
        material_name: &str,
        version: u64,
    ) -> impl Future<Output = Result<VersionKeys>> + Send;

    /// Creates `version` with fresh keys, unless another writer got there first, in which
    /// case the existing version is returned.
    fn create_version(
        &self,
        material_name: &str,
        version: u64,
    ) -> impl Future<Output = Result<VersionKeys>> + Send;
}

/// A store shared between providers (e.g. one per material name).
impl<T: MetaStore> MetaStore for Arc<T> {
    fn max_version(&self, material_name: &str) -> impl Future<Output = Result<Option<u64>>> + Send {
        (**self).max_version(material_name)
    }

    fn version(
        &self,
        material_name: &str,
        version: u64,
    ) -> impl Future<Output = Result<VersionKeys>> + Send {
        (**self).version(material_name, version)
    }

    fn create_version(
        &self,
        material_name: &str,
        version: u64,
    ) -> impl Future<Output = Result<VersionKeys>> + Send {
        (**self).create_version(material_name, version)
    }
}

/// Encodes and decodes provider-store rows: `N`, `V` signed, `t`, `encAlg`, `enc`, `intAlg`,
/// `int` encrypted, under the store's own provider and table name.
#[derive(Debug)]
pub struct ProviderStoreRows<P> {
    table_name: String,
    provider: P,
}

fn store_context(table_name: &str) -> EncryptionContext {
    EncryptionContext::new(table_name, NAME_ATTRIBUTE, Some(VERSION_ATTRIBUTE))
}

impl<P: CryptographicMaterialsProvider> ProviderStoreRows<P> {
    /// Rows of table `table_name` protected by `provider`.
    pub fn new(table_name: impl Into<String>, provider: P) -> Self {
        ProviderStoreRows {
            table_name: table_name.into(),
            provider,
        }
    }

    /// The provider-store table's name (bound into each row's signature).
    pub fn table_name(&self) -> &str {
        &self.table_name
    }

    /// The encrypted row for one version.
    pub async fn encode(
        &self,
        material_name: &str,
        version: u64,
        keys: &VersionKeys,
    ) -> Result<Item> {
        let row: Item = [
            (NAME_ATTRIBUTE, Attribute::S(material_name.to_owned())),
            (VERSION_ATTRIBUTE, Attribute::N(version.to_string())),
            ("t", Attribute::S("0".into())),
            ("encAlg", Attribute::S("AES".into())),
            ("enc", Attribute::B(keys.wrapping_key.bytes().to_vec())),
            ("intAlg", Attribute::S(keys.integrity_algorithm.clone())),
            ("int", Attribute::B(keys.integrity_key.bytes().to_vec())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        encrypt_item(
            &row,
            &store_context(&self.table_name),
            &AttributeActions::default(),
            &self.provider,
        )
        .await
    }

    /// Verifies and decrypts a stored row: its material name, version and keys.
    pub async fn decode(&self, stored: &Item) -> Result<(String, u64, VersionKeys)> {
        let row = decrypt_item(
            stored,
            &store_context(&self.table_name),
            &AttributeActions::default(),
            &self.provider,
        )
        .await?;
        let text = |name: &str| match row.get(name) {
            Some(Attribute::S(s)) => Ok(s.clone()),
            _ => Err(Error::Store(format!(
                "row attribute {name} is missing or not a string"
            ))),
        };
        let bytes = |name: &str| match row.get(name) {
            Some(Attribute::B(b)) => Ok(SymmetricKey::new(b.clone())),
            _ => Err(Error::Store(format!(
                "row attribute {name} is missing or not binary"
            ))),
        };
        let version = match row.get(VERSION_ATTRIBUTE) {
            Some(Attribute::N(v)) => v
                .parse::<u64>()
                .map_err(|_| Error::Store("row version is not an integer".into()))?,
            _ => return Err(Error::Store("row has no version".into())),
        };
        if text("t")? != "0" {
            return Err(Error::UnsupportedAlgorithm(
                "provider-store material type".into(),
            ));
        }
        if text("encAlg")? != "AES" {
            return Err(Error::UnsupportedAlgorithm("provider-store encAlg".into()));
        }
        let keys = VersionKeys {
            wrapping_key: bytes("enc")?,
            integrity_algorithm: text("intAlg")?,
            integrity_key: bytes("int")?,
        };
        Ok((text(NAME_ATTRIBUTE)?, version, keys))
    }
}

/// A provider store held in memory, with rows in the stored format (for tests, and for
/// loading rows exported from a real store).
#[derive(Debug)]
pub struct InMemoryMetaStore<P> {
    rows: ProviderStoreRows<P>,
    stored: Mutex<BTreeMap<(String, u64), Item>>,
}

impl<P: CryptographicMaterialsProvider> InMemoryMetaStore<P> {
    /// An empty store whose rows are protected by `rows`.
    pub fn new(rows: ProviderStoreRows<P>) -> Self {
        InMemoryMetaStore {
            rows,
            stored: Mutex::new(BTreeMap::new()),
        }
    }

    /// Adds a stored (encrypted) row after checking that it verifies and decrypts.
    pub async fn insert_row(&self, stored: Item) -> Result<()> {
        let (name, version, _) = self.rows.decode(&stored).await?;
        self.lock().insert((name, version), stored);
        Ok(())
    }

    /// The stored (encrypted) rows, as a real table would hold them.
    pub fn stored_rows(&self) -> Vec<Item> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, u64), Item>> {
        // The map stays consistent even if a holder panicked: each insert is one call.
        self.stored.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<P: CryptographicMaterialsProvider> MetaStore for InMemoryMetaStore<P> {
    fn max_version(&self, material_name: &str) -> impl Future<Output = Result<Option<u64>>> + Send {
        let max = self
            .lock()
            .keys()
            .filter(|(name, _)| name == material_name)
            .map(|(_, v)| *v)
            .max();
        std::future::ready(Ok(max))
    }

    fn version(
        &self,
        material_name: &str,
        version: u64,
    ) -> impl Future<Output = Result<VersionKeys>> + Send {
        let stored = self
            .lock()
            .get(&(material_name.to_owned(), version))
            .cloned();
        async move {
            let stored = stored.ok_or_else(|| {
                Error::MissingMaterials(format!("no provider-store version {version}"))
            })?;
            Ok(self.rows.decode(&stored).await?.2)
        }
    }

    fn create_version(
        &self,
        material_name: &str,
        version: u64,
    ) -> impl Future<Output = Result<VersionKeys>> + Send {
        let material_name = material_name.to_owned();
        async move {
            let keys = VersionKeys::generate()?;
            let row = self.rows.encode(&material_name, version, &keys).await?;
            let existing = {
                let mut stored = self.lock();
                match stored.get(&(material_name.clone(), version)) {
                    Some(existing) => Some(existing.clone()),
                    None => {
                        stored.insert((material_name, version), row);
                        None
                    }
                }
            };
            match existing {
                Some(existing) => Ok(self.rows.decode(&existing).await?.2),
                None => Ok(keys),
            }
        }
    }
}

/// What the provider caches: the newest version as last looked up (and when), and the
/// providers of the versions it has used.
struct Cache {
    current: Option<(u64, Instant)>,
    versions: LruCache<(Arc<WrappedProvider>, Instant)>,
}

/// Encrypts with the newest version of one material name and decrypts with whichever
/// version an item names, as the clients' `CachingMostRecentProvider`. The newest version
/// number and each version's keys are cached for `ttl`, in a least-recently-used cache of
/// 1000 versions (both libraries' default). During the grace period after the TTL (Python's
/// 0.5 s), one caller refreshes an entry while the others keep using the cached one; past
/// it, callers wait for the refresh (one store lookup, not one per caller).
pub struct MostRecentProvider<S> {
    store: S,
    material_name: String,
    lifetime: Lifetime,
    cache: Mutex<Cache>,
    /// Held while the store is asked for a version (Python's provider lock).
    refresh: tokio::sync::Mutex<()>,
}

impl<S> std::fmt::Debug for MostRecentProvider<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MostRecentProvider")
            .field("material_name", &self.material_name)
            .field("ttl", &self.lifetime.ttl)
            .field("grace_period", &self.lifetime.grace_period)
            .finish_non_exhaustive()
    }
}

impl<S: MetaStore> MostRecentProvider<S> {
    /// A provider for `material_name` in `store`, caching for `ttl`.
    pub fn new(store: S, material_name: impl Into<String>, ttl: Duration) -> Self {
        MostRecentProvider {
            store,
            material_name: material_name.into(),
            lifetime: Lifetime {
                ttl,
                grace_period: DEFAULT_GRACE_PERIOD,
            },
            cache: Mutex::new(Cache {
                current: None,
                versions: LruCache::new(DEFAULT_CACHE_CAPACITY),
            }),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// Caches at most `capacity` versions (Python's `cache_size`, Java's `maxCacheSize`);
    /// zero is [`Error::InvalidConfiguration`], as in Python.
    pub fn with_cache_capacity(self, capacity: usize) -> Result<Self> {
        if capacity == 0 {
            return Err(Error::InvalidConfiguration(
                "cache capacity must be at least 1".into(),
            ));
        }
        let mut cache = self.lock();
        cache.versions = LruCache::new(capacity);
        drop(cache);
        Ok(self)
    }

    /// Another grace period after the TTL (Python's is 0.5 s; zero gives Java's behaviour
    /// of refreshing as soon as the TTL is over).
    pub fn with_grace_period(mut self, grace_period: Duration) -> Self {
        self.lifetime.grace_period = grace_period;
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Writes the next version; new items use it from now on.
    pub async fn rotate(&self) -> Result<u64> {
        let next = match self.store.max_version(&self.material_name).await? {
            Some(v) => v
                .checked_add(1)
                .ok_or_else(|| Error::Store("version number overflow".into()))?,
            None => 0,
        };
        let keys = self.store.create_version(&self.material_name, next).await?;
        let provider = self.version_provider(next, &keys);
        let mut cache = self.lock();
        let now = Instant::now();
        cache.current = Some((next, now));
        cache.versions.put(next, (provider, now));
        Ok(next)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A cache is safe to keep using after a panic elsewhere: at worst it refetches.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn version_provider(&self, version: u64, keys: &VersionKeys) -> Arc<WrappedProvider> {
        let signing = SigningKey::Hmac {
            algorithm: keys.integrity_algorithm.clone(),
            key: keys.integrity_key.clone(),
        };
        let verification = signing.verification_key();
        Arc::new(
            WrappedProvider::new(
                Some(WrappingKey::Aes(keys.wrapping_key.clone())),
                Some(UnwrappingKey::Aes(keys.wrapping_key.clone())),
                Some(signing),
                Some(verification),
            )
            .with_material_description(
                [(
                    META_ID_KEY.to_owned(),
                    format!("{}#{version}", self.material_name),
                )]
                .into_iter()
                .collect(),
            ),
        )
    }

    /// A cached version's provider and how fresh it is; an expired entry is dropped.
    fn cached(&self, version: u64) -> Option<(Arc<WrappedProvider>, Freshness)> {
        let mut cache = self.lock();
        let (provider, fetched_at) = cache.versions.get(version)?;
        let freshness = self.lifetime.freshness(fetched_at);
        if freshness == Freshness::Expired {
            cache.versions.remove(version);
            return None;
        }
        Some((provider, freshness))
    }

    /// The provider of `version` (decryption), from the cache while it is fresh.
    async fn provider_for(&self, version: u64) -> Result<Arc<WrappedProvider>> {
        let _refreshing = match self.cached(version) {
            Some((provider, Freshness::Live)) => return Ok(provider),
            Some((provider, _in_grace)) => match self.refresh.try_lock() {
                Ok(guard) => guard,
                // Someone else is refreshing: keep using this one meanwhile.
                Err(_) => return Ok(provider),
            },
            None => {
                let guard = self.refresh.lock().await;
                // Whoever held the lock may have fetched this very version.
                if let Some((provider, Freshness::Live)) = self.cached(version) {
                    return Ok(provider);
                }
                guard
            }
        };
        let keys = self.store.version(&self.material_name, version).await?;
        let provider = self.version_provider(version, &keys);
        self.lock()
            .versions
            .put(version, (Arc::clone(&provider), Instant::now()));
        Ok(provider)
    }

    /// The newest version's provider (encryption). Its freshness is that of the last
    /// lookup of the newest version, which decryptions do not renew.
    async fn current_provider(&self) -> Result<Arc<WrappedProvider>> {
        let current = {
            let mut cache = self.lock();
            match cache.current {
                None => None,
                Some((version, looked_up)) => match self.lifetime.freshness(looked_up) {
                    Freshness::Expired => {
                        cache.versions.remove(version);
                        None
                    }
                    freshness => cache
                        .versions
                        .get(version)
                        .map(|(provider, _)| (provider, freshness)),
                },
            }
        };
        let _refreshing = match current {
            Some((provider, Freshness::Live)) => return Ok(provider),
            Some((provider, _in_grace)) => match self.refresh.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok(provider),
            },
            None => {
                let guard = self.refresh.lock().await;
                let cache = &mut *self.lock();
                if let Some((version, looked_up)) = cache.current {
                    if self.lifetime.freshness(looked_up) == Freshness::Live {
                        if let Some((provider, _)) = cache.versions.get(version) {
                            return Ok(provider);
                        }
                    }
                }
                guard
            }
        };
        let (version, keys) = match self.store.max_version(&self.material_name).await? {
            Some(version) => match self.cached(version) {
                Some((provider, _)) => {
                    self.lock().current = Some((version, Instant::now()));
                    return Ok(provider);
                }
                None => (
                    version,
                    self.store.version(&self.material_name, version).await?,
                ),
            },
            None => (0, self.store.create_version(&self.material_name, 0).await?),
        };
        let provider = self.version_provider(version, &keys);
        let mut cache = self.lock();
        let now = Instant::now();
        cache.current = Some((version, now));
        cache.versions.put(version, (Arc::clone(&provider), now));
        Ok(provider)
    }
}

/// The version named by `amzn-ddb-meta-id` (`name#version`; the name part is ignored, as in
/// both libraries).
fn described_version(description: &BTreeMap<String, String>) -> Result<u64> {
    let meta_id = description
        .get(META_ID_KEY)
        .ok_or_else(|| Error::MissingMaterials("item names no provider-store version".into()))?;
    let (_, version) = meta_id
        .split_once('#')
        .ok_or_else(|| Error::Malformed("amzn-ddb-meta-id has no version".into()))?;
    version
        .parse::<u64>()
        .map_err(|_| Error::Malformed("amzn-ddb-meta-id version is not a number".into()))
}

impl<S: MetaStore> CryptographicMaterialsProvider for MostRecentProvider<S> {
    async fn encryption_materials(
        &self,
        _context: &EncryptionContext,
    ) -> Result<EncryptionMaterials> {
        self.current_provider().await?.encryption()
    }

    fn decryption_materials(
        &self,
        context: &EncryptionContext,
    ) -> impl Future<Output = Result<DecryptionMaterials>> + Send {
        let version = described_version(&context.material_description);
        let description = context.material_description.clone();
        async move { self.provider_for(version?).await?.decryption(&description) }
    }
}
