//! Resource-based policies of tables and streams: PutResourcePolicy, GetResourcePolicy,
//! DeleteResourcePolicy. The policy is kept in the table's definition (catalog) and
//! evaluated with the caller's identity policies on every request (see `authz.rs`).

use sealdb_iam::{PolicyDocument, PolicyKind};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::DynamoError;
use crate::input::Input;
use crate::schema::TableDef;
use crate::service::Service;

/// A stored resource policy: the document as given and its revision.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredPolicy {
    pub document: String,
    pub revision_id: String,
}

/// AWS's largest policy document (20 KB).
const MAX_POLICY_BYTES: usize = 20 * 1024;

/// `ExpectedRevisionId` meaning "only if there is no policy yet".
const NO_POLICY: &str = "NO_POLICY";

/// CreateTable's `ResourcePolicy`, validated as PutResourcePolicy validates it.
pub(crate) fn initial_policy(
    text: Option<&str>,
    now_ms: i64,
) -> Result<Option<StoredPolicy>, DynamoError> {
    let Some(text) = text else {
        return Ok(None);
    };
    validate_policy(text)?;
    Ok(Some(StoredPolicy {
        document: text.to_owned(),
        revision_id: now_ms.to_string(),
    }))
}

fn validate_policy(text: &str) -> Result<(), DynamoError> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(DynamoError::validation(
            "One or more parameter values were invalid: Invalid policy document: Policy document exceeds the maximum size of 20 KB",
        ));
    }
    PolicyDocument::parse_as(text, PolicyKind::Resource).map_err(|e| {
        DynamoError::validation(format!(
            "One or more parameter values were invalid: Invalid policy document: {}",
            e.message()
        ))
    })?;
    Ok(())
}

impl Service {
    /// The table and whether the ARN names its stream.
    fn policy_target(&self, arn: &str) -> Result<(TableDef, bool), DynamoError> {
        let not_found =
            || DynamoError::ResourceNotFound(format!("Requested resource not found: {arn}"));
        let rest = self.table_name_from(arn);
        if rest == arn {
            return Err(not_found());
        }
        let (table, stream) = match rest.split_once("/stream/") {
            Some((table, label)) => (table, Some(label)),
            None => (rest, None),
        };
        // AWS names a missing table by its name.
        let def = self.def(table).ok_or_else(|| {
            DynamoError::ResourceNotFound(format!(
                "Requested resource not found: Table: {table} not found"
            ))
        })?;
        if let Some(label) = stream {
            if def.stream.as_ref().is_none_or(|s| s.label != label) {
                return Err(not_found());
            }
        }
        Ok(((*def).clone(), stream.is_some()))
    }

    fn policy_not_found(arn: &str) -> DynamoError {
        DynamoError::PolicyNotFound(format!(
            "Resource-based policy not found for the provided ResourceArn: {arn}"
        ))
    }

    /// `ExpectedRevisionId` against the stored policy, with AWS's texts.
    fn check_revision(
        arn: &str,
        table: &str,
        current: Option<&StoredPolicy>,
        expected: Option<&str>,
    ) -> Result<(), DynamoError> {
        match (expected, current) {
            (None, _) => Ok(()),
            (Some(NO_POLICY), None) => Ok(()),
            (Some(NO_POLICY), Some(p)) => Err(DynamoError::PolicyNotFound(format!(
                "Resource-based policy not found for the provided ResourceArn: Requested policy update expecting none to be present for table {table}, but a policy exists with revision id {}.",
                p.revision_id
            ))),
            (Some(want), Some(p)) if p.revision_id == want => Ok(()),
            (Some(want), Some(p)) => Err(DynamoError::PolicyNotFound(format!(
                "Resource-based policy not found for the provided ResourceArn: Requested update for policy with revision id {want}, but the policy associated to target table {table} has revision id {}.",
                p.revision_id
            ))),
            (Some(_), None) => Err(Self::policy_not_found(arn)),
        }
    }

    pub(crate) async fn put_resource_policy(&self, input: &Input) -> Result<Value, DynamoError> {
        let arn = input.str_req("ResourceArn")?;
        let text = input.str_req("Policy")?;
        validate_policy(text)?;
        let expected = input.str_opt("ExpectedRevisionId")?;
        let _guard = self.ddl.lock().await;
        let (mut def, stream) = self.policy_target(arn)?;
        let def_name = def.name.clone();
        let slot = if stream {
            &mut def.stream_policy
        } else {
            &mut def.resource_policy
        };
        Self::check_revision(arn, &def_name, slot.as_ref(), expected)?;
        // The same document again keeps its revision (PutResourcePolicy is idempotent).
        if let Some(current) = slot.as_ref().filter(|p| p.document == text) {
            return Ok(json!({ "RevisionId": current.revision_id }));
        }
        let revision_id = self.now_ms().to_string();
        *slot = Some(StoredPolicy {
            document: text.to_owned(),
            revision_id: revision_id.clone(),
        });
        self.save_def(def)?;
        Ok(json!({ "RevisionId": revision_id }))
    }

    pub(crate) fn get_resource_policy(&self, input: &Input) -> Result<Value, DynamoError> {
        let arn = input.str_req("ResourceArn")?;
        let (def, stream) = self.policy_target(arn)?;
        let stored = if stream {
            def.stream_policy
        } else {
            def.resource_policy
        };
        let stored = stored.ok_or_else(|| Self::policy_not_found(arn))?;
        Ok(json!({ "Policy": stored.document, "RevisionId": stored.revision_id }))
    }

    pub(crate) async fn delete_resource_policy(&self, input: &Input) -> Result<Value, DynamoError> {
        let arn = input.str_req("ResourceArn")?;
        let expected = input.str_opt("ExpectedRevisionId")?;
        let _guard = self.ddl.lock().await;
        let (mut def, stream) = self.policy_target(arn)?;
        let def_name = def.name.clone();
        let slot = if stream {
            &mut def.stream_policy
        } else {
            &mut def.resource_policy
        };
        let Some(current) = slot.take() else {
            return Err(Self::policy_not_found(arn));
        };
        Self::check_revision(arn, &def_name, Some(&current), expected)?;
        self.save_def(def)?;
        Ok(json!({ "RevisionId": current.revision_id }))
    }
}
