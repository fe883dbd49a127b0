//! The most-recent provider's cache, as the AWS clients' `CachingMostRecentProvider`: versions
//! evicted least-recently-used, and Python's grace period after the TTL, during which one
//! caller refreshes while the others keep using the cached version. A store that holds its
//! lookups at a gate makes "a refresh in progress" deterministic; futures are polled by
//! hand, so nothing depends on timing.
#![allow(clippy::unwrap_used)]

mod support;

use dynamodb_encryption::providers::{
    InMemoryMetaStore, MetaStore, MostRecentProvider, ProviderStoreRows, StaticProvider,
    most_recent::VersionKeys,
};
use dynamodb_encryption::{
    Attribute, AttributeActions, CryptographicMaterialsProvider, EncryptionContext,
    EncryptionMaterials, Error, Item, decrypt_item, encrypt_item,
};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::sync::Semaphore;

const HOUR: Duration = Duration::from_secs(3600);

/// A store that counts lookups and, while closed, holds them until opened.
struct GatedStore {
    inner: Arc<InMemoryMetaStore<StaticProvider>>,
    closed: AtomicBool,
    gate: Semaphore,
    max_version_calls: AtomicUsize,
    version_calls: AtomicUsize,
}

impl GatedStore {
    fn new(inner: Arc<InMemoryMetaStore<StaticProvider>>) -> Arc<Self> {
        Arc::new(GatedStore {
            inner,
            closed: AtomicBool::new(false),
            gate: Semaphore::new(0),
            max_version_calls: AtomicUsize::new(0),
            version_calls: AtomicUsize::new(0),
        })
    }

    async fn pass(&self) {
        if self.closed.load(Ordering::SeqCst) {
            self.gate.acquire().await.unwrap().forget();
        }
    }

    fn open(&self) {
        self.closed.store(false, Ordering::SeqCst);
        self.gate.add_permits(100);
    }

    fn calls(&self) -> (usize, usize) {
        (
            self.max_version_calls.load(Ordering::SeqCst),
            self.version_calls.load(Ordering::SeqCst),
        )
    }
}

impl MetaStore for GatedStore {
    fn max_version(
        &self,
        name: &str,
    ) -> impl Future<Output = dynamodb_encryption::Result<Option<u64>>> + Send {
        let name = name.to_owned();
        async move {
            self.max_version_calls.fetch_add(1, Ordering::SeqCst);
            self.pass().await;
            self.inner.max_version(&name).await
        }
    }

    fn version(
        &self,
        name: &str,
        version: u64,
    ) -> impl Future<Output = dynamodb_encryption::Result<VersionKeys>> + Send {
        let name = name.to_owned();
        async move {
            self.version_calls.fetch_add(1, Ordering::SeqCst);
            self.pass().await;
            self.inner.version(&name, version).await
        }
    }

    fn create_version(
        &self,
        name: &str,
        version: u64,
    ) -> impl Future<Output = dynamodb_encryption::Result<VersionKeys>> + Send {
        self.inner.create_version(name, version)
    }
}

fn shared_store() -> Arc<InMemoryMetaStore<StaticProvider>> {
    Arc::new(InMemoryMetaStore::new(ProviderStoreRows::new(
        "metastore",
        support::static_provider(),
    )))
}

fn context() -> EncryptionContext {
    EncryptionContext::new("Table", "pk", None)
}

fn item() -> Item {
    support::item_of([
        ("pk", Attribute::S("k".into())),
        ("data", Attribute::S("payload".into())),
    ])
}

/// The version a set of materials belongs to (`amzn-ddb-meta-id` = `material#<version>`).
fn version_of(materials: &EncryptionMaterials) -> String {
    materials.material_description["amzn-ddb-meta-id"].clone()
}

/// Polls a future once.
fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

#[tokio::test]
async fn versions_are_evicted_least_recently_used() {
    let store = shared_store();
    let writer = MostRecentProvider::new(Arc::clone(&store), "material", HOUR);
    let actions = AttributeActions::default();
    let mut items = Vec::new();
    for expected in 0..3 {
        if expected > 0 {
            assert_eq!(writer.rotate().await.unwrap(), expected);
        }
        items.push(
            encrypt_item(&item(), &context(), &actions, &writer)
                .await
                .unwrap(),
        );
    }
    let gated = GatedStore::new(store);
    let reader = MostRecentProvider::new(Arc::clone(&gated), "material", HOUR)
        .with_cache_capacity(2)
        .unwrap();
    let ctx = context();
    let read = |n: usize| decrypt_item(&items[n], &ctx, &actions, &reader);
    read(0).await.unwrap();
    read(1).await.unwrap();
    assert_eq!(gated.calls().1, 2);
    // Version 0 is used again, so version 1 becomes the least recently used...
    read(0).await.unwrap();
    assert_eq!(gated.calls().1, 2, "served from the cache");
    read(2).await.unwrap();
    assert_eq!(gated.calls().1, 3);
    // ...and is the one evicted for version 2, though version 0 was fetched first.
    read(0).await.unwrap();
    assert_eq!(gated.calls().1, 3, "version 0 stayed cached");
    read(1).await.unwrap();
    assert_eq!(gated.calls().1, 4, "version 1 was evicted");

    assert!(matches!(
        MostRecentProvider::new(shared_store(), "material", HOUR).with_cache_capacity(0),
        Err(Error::InvalidConfiguration(_))
    ));
}

#[tokio::test]
async fn in_the_grace_period_others_use_the_cached_version_while_one_refreshes() {
    let store = shared_store();
    let writer = MostRecentProvider::new(Arc::clone(&store), "material", HOUR);
    assert_eq!(writer.rotate().await.unwrap(), 0);
    let gated = GatedStore::new(store);
    // Every lookup is past its TTL at once, and within the grace period for an hour.
    let reader = MostRecentProvider::new(Arc::clone(&gated), "material", Duration::ZERO)
        .with_grace_period(HOUR);
    let ctx = context();
    let first = reader.encryption_materials(&ctx).await.unwrap();
    assert_eq!(version_of(&first), "material#0");
    let old = encrypt_item(&item(), &ctx, &AttributeActions::default(), &reader)
        .await
        .unwrap();
    assert_eq!(writer.rotate().await.unwrap(), 1);

    gated.closed.store(true, Ordering::SeqCst);
    let calls = gated.calls();
    let mut refreshing = pin!(reader.encryption_materials(&ctx));
    assert!(
        poll_once(refreshing.as_mut()).is_pending(),
        "held at the gate"
    );
    assert_eq!(gated.calls().0, calls.0 + 1);
    // Meanwhile another caller gets the cached version at once, without a lookup.
    let mut meanwhile = pin!(reader.encryption_materials(&ctx));
    let Poll::Ready(meanwhile) = poll_once(meanwhile.as_mut()) else {
        panic!("waited for the refresh in the grace period");
    };
    assert_eq!(version_of(&meanwhile.unwrap()), "material#0");
    // Decryption of a cached version in its grace period does the same.
    let actions = AttributeActions::default();
    let mut decrypting = pin!(decrypt_item(&old, &ctx, &actions, &reader));
    assert!(matches!(poll_once(decrypting.as_mut()), Poll::Ready(Ok(_))));
    assert_eq!(gated.calls(), (calls.0 + 1, calls.1));

    gated.open();
    assert_eq!(version_of(&refreshing.await.unwrap()), "material#1");
    // With no refresh in progress, a caller in the grace period refreshes itself.
    let calls = gated.calls();
    assert_eq!(
        version_of(&reader.encryption_materials(&ctx).await.unwrap()),
        "material#1"
    );
    assert_eq!(gated.calls().0, calls.0 + 1);
}

#[tokio::test]
async fn past_the_grace_period_callers_wait_for_the_refresh() {
    let store = shared_store();
    let writer = MostRecentProvider::new(Arc::clone(&store), "material", HOUR);
    assert_eq!(writer.rotate().await.unwrap(), 0);
    let gated = GatedStore::new(store);
    let reader = MostRecentProvider::new(Arc::clone(&gated), "material", Duration::ZERO)
        .with_grace_period(Duration::ZERO);
    let ctx = context();
    assert_eq!(
        version_of(&reader.encryption_materials(&ctx).await.unwrap()),
        "material#0"
    );
    assert_eq!(writer.rotate().await.unwrap(), 1);

    gated.closed.store(true, Ordering::SeqCst);
    let mut refreshing = pin!(reader.encryption_materials(&ctx));
    assert!(poll_once(refreshing.as_mut()).is_pending());
    // The expired version is not handed out: the second caller waits.
    let mut waiting = pin!(reader.encryption_materials(&ctx));
    assert!(poll_once(waiting.as_mut()).is_pending());
    gated.open();
    assert_eq!(version_of(&refreshing.await.unwrap()), "material#1");
    assert_eq!(version_of(&waiting.await.unwrap()), "material#1");
}
