//! The shards of a stream, as DynamoDB Streams consumers see them.
//!
//! A stream's records are numbered in one sequence per table. The storage keeps where
//! shards start after a rollover (`sealdb_storage::stream`); this stream's first shard
//! starts right after `after_seq` (the records of the table's earlier streams), so a
//! stream enabled again begins a lineage of its own. Shard *n* ends where shard *n+1*
//! starts: it is closed, has an `EndingSequenceNumber`, and is the `ParentShardId` of the
//! next. The last shard is open. A closed shard whose records have all been trimmed
//! (24 hours) is no longer listed, as on AWS.

use crate::schema::StreamSettings;

/// One shard of a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Shard {
    /// The first sequence number the shard may hold.
    pub(crate) start: i64,
    /// The last, when the shard is closed.
    pub(crate) end: Option<i64>,
    /// The shard before it in the lineage.
    pub(crate) parent_start: Option<i64>,
}

/// Shard ids: the start sequence number and a tag of the stream, in AWS's shape
/// (`shardId-` + 20 digits + `-` + 8 hex).
pub(crate) fn shard_id(label: &str, start: i64) -> String {
    format!(
        "shardId-{start:020}-{:08x}",
        crc32fast::hash(label.as_bytes())
    )
}

/// The start sequence number in a shard id of this stream.
pub(crate) fn parse_shard_id(label: &str, id: &str) -> Option<i64> {
    let rest = id.strip_prefix("shardId-")?;
    let (digits, tag) = rest.split_once('-')?;
    if digits.len() != 20 || tag != format!("{:08x}", crc32fast::hash(label.as_bytes())) {
        return None;
    }
    digits.parse().ok()
}

/// The shards of the stream, oldest first. `starts` are the storage's shard starts,
/// `oldest` the oldest sequence number still stored (0 when none).
pub(crate) fn shards(settings: &StreamSettings, starts: &[(i64, i64)], oldest: i64) -> Vec<Shard> {
    let first = settings.after_seq + 1;
    let mut bounds = vec![first];
    bounds.extend(starts.iter().map(|(s, _)| *s).filter(|s| *s > first));
    let mut out = Vec::with_capacity(bounds.len());
    for (i, start) in bounds.iter().enumerate() {
        let end = bounds.get(i + 1).map(|next| next - 1);
        let shard = Shard {
            start: *start,
            end,
            parent_start: i.checked_sub(1).and_then(|p| bounds.get(p).copied()),
        };
        let trimmed = end.is_some_and(|e| oldest == 0 || e < oldest);
        if !trimmed {
            out.push(shard);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(after_seq: i64) -> StreamSettings {
        StreamSettings {
            view_type: "KEYS_ONLY".into(),
            label: "2026-01-01T00:00:00.000".into(),
            after_seq,
        }
    }

    #[test]
    fn lineage_from_rollovers() {
        let got = shards(&settings(0), &[(1, 0), (40, 1), (90, 2)], 1);
        assert_eq!(
            got,
            vec![
                Shard {
                    start: 1,
                    end: Some(39),
                    parent_start: None
                },
                Shard {
                    start: 40,
                    end: Some(89),
                    parent_start: Some(1)
                },
                Shard {
                    start: 90,
                    end: None,
                    parent_start: Some(40)
                },
            ]
        );
    }

    #[test]
    fn a_stream_enabled_again_starts_its_own_lineage() {
        // Records 1..=50 belong to the earlier stream.
        let got = shards(&settings(50), &[(1, 0), (40, 1), (70, 2)], 1);
        assert_eq!(
            got,
            vec![
                Shard {
                    start: 51,
                    end: Some(69),
                    parent_start: None
                },
                Shard {
                    start: 70,
                    end: None,
                    parent_start: Some(51)
                },
            ]
        );
    }

    #[test]
    fn trimmed_closed_shards_are_gone() {
        let got = shards(&settings(0), &[(1, 0), (40, 1)], 45);
        assert_eq!(
            got,
            vec![Shard {
                start: 40,
                end: None,
                parent_start: Some(1)
            }]
        );
    }

    #[test]
    fn ids_round_trip_and_belong_to_their_stream() {
        let id = shard_id("L1", 42);
        assert_eq!(id.len(), "shardId-00000001414576573621-f55eea83".len());
        assert_eq!(parse_shard_id("L1", &id), Some(42));
        assert_eq!(parse_shard_id("L2", &id), None);
    }
}
