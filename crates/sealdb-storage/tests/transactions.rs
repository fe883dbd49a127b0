//! Multi-table transactions: all-or-nothing, and completed after a crash.
#![allow(clippy::unwrap_used)]

use sealdb_common::{RootKey, SecretKey32};
use sealdb_storage::{Engine, ItemKey, PartFn, PartOutcome, RootKeyVault, TxWrite, WriteTx};
use std::sync::Arc;

fn key(pk: &[u8]) -> ItemKey {
    ItemKey {
        hash: 1,
        pk: pk.to_vec(),
        sk: vec![],
    }
}

fn open(dir: &std::path::Path) -> Engine {
    let root = RootKey::from_key(SecretKey32::from_bytes([1; 32]));
    Engine::open(dir, &root, Arc::new(RootKeyVault::new(&root))).unwrap()
}

fn put_part(pk: &'static [u8], ok: bool) -> PartFn<&'static str> {
    Box::new(move |_tx: &mut dyn WriteTx| {
        Ok(PartOutcome {
            ok,
            writes: vec![TxWrite {
                key: key(pk),
                value: Some((b"v".to_vec(), 1)),
            }],
            answer: if ok { "None" } else { "ConditionalCheckFailed" },
        })
    })
}

#[tokio::test]
async fn commits_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let a = engine.create_table("a", vec![1], 0).await.unwrap();
    let b = engine.create_table("b", vec![1], 0).await.unwrap();
    let sa = engine.store(&engine.table("a").unwrap()).await.unwrap();
    let sb = engine.store(&engine.table("b").unwrap()).await.unwrap();

    let r = engine
        .transact(vec![
            (Arc::clone(&sa), a.id.clone(), put_part(b"x", true)),
            (Arc::clone(&sb), b.id.clone(), put_part(b"y", false)),
        ])
        .await
        .unwrap();
    assert!(!r.committed);
    assert_eq!(r.answers, vec!["None", "ConditionalCheckFailed"]);
    assert!(sa.get(&key(b"x")).await.unwrap().is_none());
    assert!(sb.get(&key(b"y")).await.unwrap().is_none());

    let r = engine
        .transact(vec![
            (Arc::clone(&sa), a.id.clone(), put_part(b"x", true)),
            (Arc::clone(&sb), b.id.clone(), put_part(b"y", true)),
        ])
        .await
        .unwrap();
    assert!(r.committed);
    assert!(sa.get(&key(b"x")).await.unwrap().is_some());
    assert!(sb.get(&key(b"y")).await.unwrap().is_some());
    assert_eq!(engine.recover_transactions().await.unwrap(), 0);
}
