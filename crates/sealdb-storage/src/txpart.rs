//! The redo-record encoding of one table's part of a multi-table transaction
//! (`docs/formats.md`, "Transaction part").

use crate::error::StorageError;
use crate::index::IndexEntryKey;
use crate::table::ItemKey;
use crate::txn::TxWrite;

/// Version byte of a transaction part. DO NOT CHANGE.
const PART_V1: u8 = 1;

/// Encodes a part's writes: `version ‖ count u32 ‖ write*`, where a write is
/// `kind u8` (0 item, 1 index, 2 stream record, 3 write stamp, 4 recovery history: `hash
/// u64 ‖ pk ‖ sk ‖ ts i64 ‖ keep_after i64`) `[‖ ix u32] ‖ hash u64 ‖ key byte strings ‖ op u8 [‖ size u64 ‖ value]`;
/// an item key is `pk ‖ sk`, an index key `ipk ‖ isk ‖ tpk ‖ tsk`; byte strings are
/// `len u32 ‖ bytes`; integers big-endian; op 0 = delete, 1 = put.
pub(crate) fn encode_part(writes: &[TxWrite]) -> Vec<u8> {
    fn bytes(out: &mut Vec<u8>, b: &[u8]) {
        out.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(b);
    }
    fn value(out: &mut Vec<u8>, v: &Option<(Vec<u8>, u64)>) {
        match v {
            None => out.push(0),
            Some((v, size)) => {
                out.push(1);
                out.extend_from_slice(&size.to_be_bytes());
                bytes(out, v);
            }
        }
    }
    let mut out = vec![PART_V1];
    out.extend_from_slice(
        &u32::try_from(writes.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    for w in writes {
        match w {
            TxWrite::Item { key, value: v } => {
                out.push(0);
                out.extend_from_slice(&key.hash.to_be_bytes());
                bytes(&mut out, &key.pk);
                bytes(&mut out, &key.sk);
                value(&mut out, v);
            }
            TxWrite::Index { ix, key, value: v } => {
                out.push(1);
                out.extend_from_slice(&ix.to_be_bytes());
                out.extend_from_slice(&key.hash.to_be_bytes());
                bytes(&mut out, &key.ipk);
                bytes(&mut out, &key.isk);
                bytes(&mut out, &key.tpk);
                bytes(&mut out, &key.tsk);
                value(&mut out, v);
            }
            TxWrite::Stream { ts_ms, record } => {
                out.push(2);
                out.extend_from_slice(&ts_ms.to_be_bytes());
                bytes(&mut out, record);
            }
            TxWrite::Stamp { key, stamp } => {
                out.push(3);
                out.extend_from_slice(&key.hash.to_be_bytes());
                bytes(&mut out, &key.pk);
                bytes(&mut out, &key.sk);
                out.extend_from_slice(&stamp.ts_ms.to_be_bytes());
                bytes(&mut out, stamp.origin.as_bytes());
            }
            TxWrite::Undo {
                key,
                ts_ms,
                keep_after_ms,
            } => {
                out.push(4);
                out.extend_from_slice(&key.hash.to_be_bytes());
                bytes(&mut out, &key.pk);
                bytes(&mut out, &key.sk);
                out.extend_from_slice(&ts_ms.to_be_bytes());
                out.extend_from_slice(&keep_after_ms.to_be_bytes());
            }
        }
    }
    out
}

pub(crate) fn decode_part(data: &[u8]) -> Result<Vec<TxWrite>, StorageError> {
    struct R<'a>(&'a [u8]);
    impl R<'_> {
        fn take(&mut self, n: usize) -> Result<&[u8], StorageError> {
            if self.0.len() < n {
                return Err(StorageError::Corrupt("transaction part truncated".into()));
            }
            let (a, b) = self.0.split_at(n);
            self.0 = b;
            Ok(a)
        }
        fn u32(&mut self) -> Result<u32, StorageError> {
            let b = self.take(4)?;
            Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        }
        fn len(&mut self) -> Result<usize, StorageError> {
            usize::try_from(self.u32()?).map_err(|_| StorageError::Corrupt("length".into()))
        }
        fn u64(&mut self) -> Result<u64, StorageError> {
            let b = self.take(8)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Ok(u64::from_be_bytes(a))
        }
        fn bytes(&mut self) -> Result<Vec<u8>, StorageError> {
            let n = self.len()?;
            Ok(self.take(n)?.to_vec())
        }
        fn value(&mut self) -> Result<Option<(Vec<u8>, u64)>, StorageError> {
            match self.take(1)? {
                [0] => Ok(None),
                [1] => {
                    let size = self.u64()?;
                    Ok(Some((self.bytes()?, size)))
                }
                _ => Err(StorageError::Corrupt("transaction part op".into())),
            }
        }
    }
    let mut r = R(data);
    if r.take(1)? != [PART_V1] {
        return Err(StorageError::Corrupt("transaction part version".into()));
    }
    let n = r.len()?;
    let mut out = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let w = match r.take(1)? {
            [0] => {
                let hash = r.u64()?;
                let pk = r.bytes()?;
                let sk = r.bytes()?;
                TxWrite::Item {
                    key: ItemKey { hash, pk, sk },
                    value: r.value()?,
                }
            }
            [1] => {
                let ix = r.u32()?;
                let hash = r.u64()?;
                let key = IndexEntryKey {
                    hash,
                    ipk: r.bytes()?,
                    isk: r.bytes()?,
                    tpk: r.bytes()?,
                    tsk: r.bytes()?,
                };
                TxWrite::Index {
                    ix,
                    key,
                    value: r.value()?,
                }
            }
            [2] => {
                let ts = r.u64()?;
                TxWrite::Stream {
                    ts_ms: i64::from_be_bytes(ts.to_be_bytes()),
                    record: r.bytes()?,
                }
            }
            [3] => {
                let hash = r.u64()?;
                let pk = r.bytes()?;
                let sk = r.bytes()?;
                let ts = r.u64()?;
                let origin = String::from_utf8(r.bytes()?)
                    .map_err(|_| StorageError::Corrupt("transaction part origin".into()))?;
                TxWrite::Stamp {
                    key: ItemKey { hash, pk, sk },
                    stamp: crate::WriteStamp {
                        ts_ms: i64::from_be_bytes(ts.to_be_bytes()),
                        origin,
                    },
                }
            }
            [4] => {
                let hash = r.u64()?;
                let pk = r.bytes()?;
                let sk = r.bytes()?;
                let ts = r.u64()?;
                let keep = r.u64()?;
                TxWrite::Undo {
                    key: ItemKey { hash, pk, sk },
                    ts_ms: i64::from_be_bytes(ts.to_be_bytes()),
                    keep_after_ms: i64::from_be_bytes(keep.to_be_bytes()),
                }
            }
            _ => return Err(StorageError::Corrupt("transaction part kind".into())),
        };
        out.push(w);
    }
    if !r.0.is_empty() {
        return Err(StorageError::Corrupt(
            "transaction part trailing bytes".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_encoding_round_trips_and_fails_closed() {
        let writes = vec![
            TxWrite::Item {
                key: ItemKey {
                    hash: 7,
                    pk: b"p".to_vec(),
                    sk: vec![],
                },
                value: Some((b"item".to_vec(), 12)),
            },
            TxWrite::Item {
                key: ItemKey {
                    hash: u64::MAX,
                    pk: vec![0xFF],
                    sk: b"s".to_vec(),
                },
                value: None,
            },
            TxWrite::Index {
                ix: 3,
                key: IndexEntryKey {
                    hash: 1,
                    ipk: b"g".to_vec(),
                    isk: vec![],
                    tpk: b"p".to_vec(),
                    tsk: vec![],
                },
                value: Some((b"proj".to_vec(), 4)),
            },
            TxWrite::Stamp {
                key: ItemKey {
                    hash: 9,
                    pk: b"p".to_vec(),
                    sk: vec![],
                },
                stamp: crate::WriteStamp {
                    ts_ms: 1_700_000_000_000,
                    origin: "eu-west-1".into(),
                },
            },
            TxWrite::Undo {
                key: ItemKey {
                    hash: 5,
                    pk: b"p".to_vec(),
                    sk: b"s".to_vec(),
                },
                ts_ms: 1_700_000_000_001,
                keep_after_ms: -3,
            },
        ];
        let enc = encode_part(&writes);
        assert_eq!(decode_part(&enc).unwrap(), writes);
        for cut in 0..enc.len() {
            assert!(decode_part(&enc[..cut]).is_err());
        }
        let mut bad = enc.clone();
        bad[0] = 2;
        assert!(decode_part(&bad).is_err());
    }
}
