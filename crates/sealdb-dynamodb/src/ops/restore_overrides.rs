//! The capacity overrides both restores take (BillingModeOverride,
//! ProvisionedThroughputOverride, OnDemandThroughputOverride), checked with AWS's texts
//! and applied to the restored table's definition.

use crate::error::DynamoError;
use crate::input::Input;
use crate::on_demand::{OnDemandMax, OnDemandRequest, Subject};
use crate::ops::tables::{enum_error, parse_throughput};
use crate::schema::{BillingMode, TableDef};

/// The capacity members of a restore request.
pub(crate) struct RestoreOverrides {
    billing: Option<BillingMode>,
    throughput: Option<(i64, i64)>,
    on_demand: Option<OnDemandRequest>,
}

impl RestoreOverrides {
    /// Reads the members; member constraint errors go to `errors`.
    pub(crate) fn parse(
        input: &Input,
        errors: &mut Vec<String>,
    ) -> Result<RestoreOverrides, DynamoError> {
        let billing = match input.str_opt("BillingModeOverride")? {
            None => None,
            Some("PROVISIONED") => Some(BillingMode::Provisioned),
            Some("PAY_PER_REQUEST") => Some(BillingMode::PayPerRequest),
            Some(other) => {
                errors.push(enum_error(
                    other,
                    "billingModeOverride",
                    "PROVISIONED, PAY_PER_REQUEST",
                ));
                None
            }
        };
        let throughput = match input.obj_opt("ProvisionedThroughputOverride")? {
            Some(m) => {
                let mut errs = Vec::new();
                let (r, w) = parse_throughput(m, &mut errs)?;
                errors.extend(errs.into_iter().map(|e| {
                    e.replace("'provisionedThroughput.", "'provisionedThroughputOverride.")
                }));
                r.zip(w)
            }
            None => None,
        };
        let on_demand = input
            .obj_opt("OnDemandThroughputOverride")?
            .map(OnDemandRequest::parse)
            .transpose()?;
        Ok(RestoreOverrides {
            billing,
            throughput,
            on_demand,
        })
    }

    /// Sets the billing mode, capacity and on-demand maximums of `def` (a copy of
    /// `source`'s definition) as the overrides say, and those of its global indexes.
    pub(crate) fn apply(
        &self,
        def: &mut TableDef,
        source: &TableDef,
        now: i64,
    ) -> Result<(), DynamoError> {
        let mode = self.billing.unwrap_or(source.billing_mode);
        if self.billing.is_some() {
            def.billing_mode_explicit = true;
        }
        match (mode, self.throughput) {
            (BillingMode::PayPerRequest, Some(_)) => {
                return Err(DynamoError::validation(
                    "Cannot override ProvisionedThroughput unless BillingMode is PROVISIONED",
                ));
            }
            (BillingMode::PayPerRequest, None) => {
                def.read_capacity = 0;
                def.write_capacity = 0;
            }
            (BillingMode::Provisioned, Some((r, w))) => {
                def.read_capacity = r;
                def.write_capacity = w;
            }
            (BillingMode::Provisioned, None)
                if source.billing_mode == BillingMode::PayPerRequest =>
            {
                return Err(DynamoError::validation(
                    "Must override ProvisionedThroughput if BillingMode is overridden to PROVISIONED",
                ));
            }
            (BillingMode::Provisioned, None) => {}
        }
        def.on_demand = match (mode, &self.on_demand) {
            (BillingMode::PayPerRequest, Some(o)) => o.override_of(source.on_demand)?,
            (BillingMode::PayPerRequest, None) => source.on_demand,
            (BillingMode::Provisioned, Some(o)) => {
                o.refuse_provisioned(Subject::Restore)?;
                OnDemandMax::default()
            }
            (BillingMode::Provisioned, None) => OnDemandMax::default(),
        };
        if mode != source.billing_mode {
            def.last_pay_per_request_ms = (mode == BillingMode::PayPerRequest).then_some(now);
        }
        def.billing_mode = mode;
        for ix in def.indexes.iter_mut().filter(|ix| ix.global) {
            if mode == BillingMode::PayPerRequest {
                ix.read_capacity = 0;
                ix.write_capacity = 0;
            } else {
                ix.on_demand = OnDemandMax::default();
                if ix.read_capacity == 0 {
                    ix.read_capacity = def.read_capacity;
                    ix.write_capacity = def.write_capacity;
                }
            }
        }
        Ok(())
    }
}

/// Makes `def` (a copy of the source's definition) the restored table's: its own name and
/// creation time, without what AWS leaves to be set up again (stream, TTL, tags,
/// policies, recovery, replicas, deletion protection, table class).
pub(crate) fn reset_for_restore(def: &mut TableDef, target: &str, now: i64) {
    def.name = target.to_owned();
    def.id = String::new();
    def.created_ms = now;
    def.stream = None;
    def.ttl_attribute = None;
    def.ttl_change = None;
    def.tags = Vec::new();
    def.resource_policy = None;
    def.stream_policy = None;
    def.replication = None;
    def.pitr = None;
    def.archival = None;
    def.sse_changes = Vec::new();
    def.deletion_protection = false;
    def.table_class = None;
    def.table_class_changes = Vec::new();
}
