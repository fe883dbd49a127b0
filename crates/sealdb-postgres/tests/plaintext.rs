//! Nothing readable reaches PostgreSQL's files: items with known markers are written to a
//! throwaway server of this test's own, the server is stopped, and every file of its
//! directory (heap, indexes, WAL, log) is searched for the markers. Sealed sort keys: no
//! marker at all. Ordered sort keys: the sort keys only (and they must be found, which
//! shows the search sees the heap and the WAL at all).

// A test file: its helpers panic on failure too.
#![allow(clippy::unwrap_used)]

mod common;

use common::Instance;
use sealdb_common::SecretKey32;
use sealdb_postgres::{PgBackend, SortKeyMode};
use sealdb_storage::conformance::key;
use sealdb_storage::{Decision, ItemStore};
use std::collections::BTreeMap;
use std::path::Path;
use uuid::Uuid;

/// Every marker starts with this; what follows names it.
const NEEDLE: &[u8] = b"sdbmk-";

/// `kind-NNN` after the needle (what comes after a marker in a file is not part of it).
fn marker_name(tail: &[u8]) -> String {
    let kind: Vec<u8> = tail
        .iter()
        .take(8)
        .take_while(|b| b.is_ascii_alphanumeric())
        .copied()
        .collect();
    let rest = &tail[kind.len()..];
    let number = match rest.split_first() {
        Some((b'-', r)) => &r[..r.len().min(3)],
        _ => &[][..],
    };
    format!(
        "sdbmk-{}-{}",
        String::from_utf8_lossy(&kind),
        String::from_utf8_lossy(number)
    )
}

/// Every marker found under `root`, with the top-level directory it was found in.
fn markers_in(root: &Path) -> BTreeMap<String, Vec<String>> {
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let ty = entry.file_type().unwrap();
            if ty.is_dir() {
                stack.push(entry.path());
                continue;
            }
            if !ty.is_file() {
                continue;
            }
            files += 1;
            let data = std::fs::read(entry.path()).unwrap();
            let place = entry
                .path()
                .strip_prefix(root)
                .unwrap()
                .iter()
                .take(2)
                .map(|c| c.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            for i in memchr::memmem::find_iter(&data, NEEDLE) {
                let name = marker_name(&data[i + NEEDLE.len()..]);
                found.entry(name).or_default().push(place.clone());
            }
        }
    }
    assert!(
        files > 100,
        "the data directory was searched ({files} files)"
    );
    found
}

async fn write_items(backend: &PgBackend, mode: SortKeyMode, tag: char) {
    let store = backend
        .open_table(Uuid::new_v4(), &SecretKey32::random().unwrap(), mode)
        .await
        .unwrap();
    for i in 0..50 {
        let k = key(
            format!("sdbmk-{tag}pk-{i:03}").as_bytes(),
            format!("sdbmk-{tag}sk-{i:03}").as_bytes(),
        );
        // The table name rides in the value (as in a stream record); one value is large
        // enough for PostgreSQL to move it out of line (TOAST).
        let mut value = format!("sdbmk-{tag}val-{i:03} table sdbmk-table-Orders").into_bytes();
        if i == 7 {
            value.extend(std::iter::repeat_n(b'x', 6000));
        }
        let size = value.len() as u64;
        store
            .write_unit(move |tx| {
                tx.put(&k, &value, size)?;
                if i % 5 == 0 {
                    // An overwrite and a delete leave dead tuples and more WAL behind.
                    tx.put(&k, format!("sdbmk-{tag}upd-{i:03}").as_bytes(), 9)?;
                }
                Ok(Decision::Commit(()))
            })
            .await
            .unwrap();
    }
    let gone = key(
        format!("sdbmk-{tag}pk-001").as_bytes(),
        format!("sdbmk-{tag}sk-001").as_bytes(),
    );
    store
        .write_unit(move |tx| Ok(Decision::Commit(tx.delete(&gone)?)))
        .await
        .unwrap();
    assert_eq!(store.stats().await.unwrap().item_count, 49);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_files_hold_no_plaintext_but_ordered_sort_keys() {
    if common::url("postgres_files_hold_no_plaintext_but_ordered_sort_keys").is_none() {
        return;
    }
    let (instance, url) = Instance::start(false);
    {
        let backend = PgBackend::connect(&url, 4).await.unwrap();
        write_items(&backend, SortKeyMode::Ordered, 'o').await;
        write_items(&backend, SortKeyMode::Sealed, 's').await;
    }
    // A fast shutdown checkpoints: the heap files hold the rows, the WAL their history.
    instance.stop();
    let found = markers_in(instance.dir.path());
    let leaked: Vec<_> = found
        .keys()
        .filter(|m| !m.starts_with("sdbmk-osk-"))
        .collect();
    assert!(
        leaked.is_empty(),
        "plaintext in PostgreSQL's files: {leaked:?}"
    );
    let places = |m: &str| found.get(m).cloned().unwrap_or_default();
    let sort_keys = found.keys().filter(|m| m.starts_with("sdbmk-osk-")).count();
    assert_eq!(
        sort_keys, 50,
        "every ordered sort key is stored readable (the control)"
    );
    let seen = places("sdbmk-osk-042");
    assert!(
        seen.iter().any(|p| p.starts_with("data/base")),
        "in the heap: {seen:?}"
    );
    assert!(
        seen.iter().any(|p| p.starts_with("data/pg_wal")),
        "in the WAL: {seen:?}"
    );
}
