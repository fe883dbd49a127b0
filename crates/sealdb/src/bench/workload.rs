//! The benchmark's phases and the request each one sends. Items are `pk = key-{i / 10}`,
//! `sk = i % 10` (ten per partition, so a Query returns ten), `n` a number and `v` a string
//! padding the item to the requested size. Writers pick keys from their own stripe of the
//! preloaded range, so concurrent transactions never conflict with each other.

use std::fmt::Write as _;

/// One benchmark phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Phase {
    /// PutItem overwriting a preloaded item.
    Put,
    /// GetItem of a preloaded item.
    Get,
    /// Query of one partition (ten items).
    Query,
    /// Scan pages of up to 100 items, each worker walking the table with its own cursor.
    Scan,
    /// 50 % GetItem, 30 % PutItem, 10 % UpdateItem, 10 % Query.
    Mixed,
    /// TransactWriteItems of four Puts.
    Transact,
    /// UpdateItem incrementing a number.
    Update,
    /// BatchWriteItem of 25 Puts.
    BatchWrite,
}

impl Phase {
    pub(crate) const ALL: [Phase; 8] = [
        Phase::Put,
        Phase::Get,
        Phase::Query,
        Phase::Scan,
        Phase::Mixed,
        Phase::Transact,
        Phase::Update,
        Phase::BatchWrite,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Phase::Put => "put",
            Phase::Get => "get",
            Phase::Query => "query",
            Phase::Scan => "scan",
            Phase::Mixed => "mixed",
            Phase::Transact => "transact",
            Phase::Update => "update",
            Phase::BatchWrite => "batch-write",
        }
    }

    /// Items written or read per request, for the report.
    pub(crate) fn items_per_op(self) -> u32 {
        match self {
            Phase::Query => 10,
            Phase::Scan => 100,
            Phase::Transact => 4,
            Phase::BatchWrite => 25,
            _ => 1,
        }
    }
}

/// A small, fast generator for key choice (not for anything secret).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }
}

/// What one worker needs to build its requests.
pub(crate) struct Workload {
    pub(crate) table: String,
    pub(crate) preload: usize,
    pub(crate) value: String,
}

/// The state a worker keeps between requests.
pub(crate) struct WorkerState {
    pub(crate) worker: usize,
    pub(crate) workers: usize,
    pub(crate) rng: Rng,
    /// The Scan cursor, as the JSON of the last `LastEvaluatedKey`.
    pub(crate) scan_from: Option<String>,
}

impl WorkerState {
    /// An item index in this worker's stripe of the preloaded range.
    fn own_index(&mut self, preload: usize) -> usize {
        let per_worker = (preload / self.workers.max(1)).max(1);
        let i = self.rng.below(per_worker) * self.workers + self.worker;
        if i >= preload { i % preload.max(1) } else { i }
    }
}

fn key_json(i: usize) -> String {
    format!(
        r#"{{"pk":{{"S":"key-{}"}},"sk":{{"N":"{}"}}}}"#,
        i / 10,
        i % 10
    )
}

fn item_json(i: usize, value: &str) -> String {
    format!(
        r#"{{"pk":{{"S":"key-{}"}},"sk":{{"N":"{}"}},"n":{{"N":"{i}"}},"v":{{"S":"{value}"}}}}"#,
        i / 10,
        i % 10
    )
}

impl Workload {
    /// The operation and body of the next request of `phase`.
    pub(crate) fn request(&self, phase: Phase, st: &mut WorkerState) -> (&'static str, String) {
        let t = &self.table;
        match phase {
            Phase::Put => {
                let i = st.own_index(self.preload);
                ("PutItem", self.put(i))
            }
            Phase::Get => {
                let i = st.rng.below(self.preload);
                (
                    "GetItem",
                    format!(r#"{{"TableName":"{t}","Key":{}}}"#, key_json(i)),
                )
            }
            Phase::Query => {
                let p = st.rng.below(self.preload.div_ceil(10));
                (
                    "Query",
                    format!(
                        r#"{{"TableName":"{t}","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{{":p":{{"S":"key-{p}"}}}}}}"#
                    ),
                )
            }
            Phase::Scan => {
                let mut body = format!(r#"{{"TableName":"{t}","Limit":100"#);
                if let Some(from) = &st.scan_from {
                    let _ = write!(body, r#","ExclusiveStartKey":{from}"#);
                }
                body.push('}');
                ("Scan", body)
            }
            Phase::Mixed => match st.rng.below(10) {
                0..=4 => self.request(Phase::Get, st),
                5..=7 => self.request(Phase::Put, st),
                8 => self.request(Phase::Update, st),
                _ => self.request(Phase::Query, st),
            },
            Phase::Transact => {
                let mut body = String::from(r#"{"TransactItems":["#);
                let base = st.own_index(self.preload);
                for k in 0..4 {
                    // Four distinct items of this worker's stripe.
                    let i = (base + k * st.workers.max(1)) % self.preload.max(1);
                    if k > 0 {
                        body.push(',');
                    }
                    let _ = write!(
                        body,
                        r#"{{"Put":{{"TableName":"{t}","Item":{}}}}}"#,
                        item_json(i, &self.value)
                    );
                }
                body.push_str("]}");
                ("TransactWriteItems", body)
            }
            Phase::Update => {
                let i = st.own_index(self.preload);
                (
                    "UpdateItem",
                    format!(
                        r#"{{"TableName":"{t}","Key":{},"UpdateExpression":"SET n = n + :one","ExpressionAttributeValues":{{":one":{{"N":"1"}}}}}}"#,
                        key_json(i)
                    ),
                )
            }
            Phase::BatchWrite => {
                let start = st.own_index(self.preload);
                let indexes: Vec<usize> = (0..25)
                    .map(|k| (start + k * st.workers.max(1)) % self.preload.max(1))
                    .collect();
                ("BatchWriteItem", self.batch_put(&indexes))
            }
        }
    }

    pub(crate) fn put(&self, i: usize) -> String {
        format!(
            r#"{{"TableName":"{}","Item":{}}}"#,
            self.table,
            item_json(i, &self.value)
        )
    }

    /// A BatchWriteItem of Puts of the given items (distinct, at most 25).
    pub(crate) fn batch_put(&self, indexes: &[usize]) -> String {
        let mut seen = std::collections::BTreeSet::new();
        let mut body = format!(r#"{{"RequestItems":{{"{}":["#, self.table);
        for &i in indexes {
            if !seen.insert(i) {
                continue;
            }
            if seen.len() > 1 {
                body.push(',');
            }
            let _ = write!(
                body,
                r#"{{"PutRequest":{{"Item":{}}}}}"#,
                item_json(i, &self.value)
            );
        }
        body.push_str("]}}");
        body
    }
}
