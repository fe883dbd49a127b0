//! The one question every service asks before acting, and AWS's AccessDenied answer.

use std::fmt;
use std::sync::Arc;

use sealdb_common::{Clock, Principal};

use crate::arn::Arn;
use crate::context::{EvalPrincipal, RequestContext};
use crate::eval::{
    Decision, EvalInput, Evaluation, PolicyInput, PolicySource, ResourceRule, evaluate,
};
use crate::policy::PolicyDocument;

/// Where the identity policies of a principal come from: the user's inline and attached
/// policies and its groups', or the role session's role. The account root has none.
pub trait IdentityPolicies: Send + Sync {
    fn policies_for(&self, principal: &Principal) -> Vec<Arc<PolicyDocument>>;
}

/// No identity policies at all: the account root is allowed, everyone else implicitly denied.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoIdentityPolicies;

impl IdentityPolicies for NoIdentityPolicies {
    fn policies_for(&self, _principal: &Principal) -> Vec<Arc<PolicyDocument>> {
        Vec::new()
    }
}

/// A refused request, with AWS's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessDenied {
    message: String,
    decision: Decision,
}

impl AccessDenied {
    /// AWS's text, e.g. "User: arn:aws:iam::123456789012:user/alice is not authorized to
    /// perform: dynamodb:PutItem on resource: arn:…:table/Music because no identity-based
    /// policy allows the dynamodb:PutItem action".
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn decision(&self) -> Decision {
        self.decision
    }

    /// The message for `decision` on `caller_arn` doing `action` on `resource`.
    pub fn new(caller_arn: &str, action: &str, resource: &str, decision: Decision) -> Self {
        let reason = match decision {
            Decision::ExplicitDeny {
                source: PolicySource::Identity,
            } => "with an explicit deny in an identity-based policy".to_owned(),
            Decision::ExplicitDeny {
                source: PolicySource::Resource,
            } => "with an explicit deny in a resource-based policy".to_owned(),
            Decision::ImplicitDeny {
                missing: PolicySource::Resource,
            } => format!("because no resource-based policy allows the {action} action"),
            Decision::ImplicitDeny {
                missing: PolicySource::Identity,
            }
            | Decision::Allow => {
                format!("because no identity-based policy allows the {action} action")
            }
        };
        AccessDenied {
            message: format!(
                "User: {caller_arn} is not authorized to perform: {action} on resource: {resource} {reason}"
            ),
            decision,
        }
    }
}

impl fmt::Display for AccessDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AccessDenied {}

/// Answers "may this principal do this action on this resource?" for every service.
#[derive(Clone)]
pub struct Authorizer {
    policies: Arc<dyn IdentityPolicies>,
    clock: Clock,
}

impl fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorizer").finish_non_exhaustive()
    }
}

impl Authorizer {
    pub fn new(policies: Arc<dyn IdentityPolicies>) -> Self {
        Authorizer::with_clock(policies, Clock::system())
    }

    /// With an injected clock (for `aws:CurrentTime` in tests).
    pub fn with_clock(policies: Arc<dyn IdentityPolicies>, clock: Clock) -> Self {
        Authorizer { policies, clock }
    }

    /// Ok, or AccessDenied with AWS's message. `resource_policy` is the resource's own
    /// policy (a table's or stream's), evaluated with the caller's identity policies.
    pub fn authorize(
        &self,
        principal: &Principal,
        request: &RequestContext,
        resource_policy: Option<&PolicyDocument>,
    ) -> Result<(), AccessDenied> {
        let evaluation = self.evaluate(principal, request, resource_policy, ResourceRule::Standard);
        match evaluation.decision {
            Decision::Allow => Ok(()),
            decision => Err(AccessDenied::new(
                &principal.arn,
                &request.action,
                &request.resource,
                decision,
            )),
        }
    }

    /// The full evaluation (decision and deciding statements) under `rule`.
    pub fn evaluate(
        &self,
        principal: &Principal,
        request: &RequestContext,
        resource_policy: Option<&PolicyDocument>,
        rule: ResourceRule,
    ) -> Evaluation {
        let caller = EvalPrincipal::from_principal(principal);
        let mut request = request.clone();
        request.add_principal_keys(&caller);
        request.add_time_keys(self.clock.now_secs());
        if !principal.source_ip.is_empty() {
            request
                .keys
                .set_default("aws:SourceIp", principal.source_ip.clone());
        }
        // The region of the request (IAM's global actions are requested in us-east-1).
        if !principal.region.is_empty() {
            request
                .keys
                .set_default("aws:RequestedRegion", principal.region.clone());
        }
        // The listener knows whether the request came over TLS.
        request.keys.set_default(
            "aws:SecureTransport",
            if principal.secure_transport {
                "true"
            } else {
                "false"
            },
        );
        let documents = if caller.is_account_root() {
            Vec::new()
        } else {
            self.policies.policies_for(principal)
        };
        let identity: Vec<PolicyInput<'_>> = documents
            .iter()
            .map(|d| PolicyInput {
                id: d.id().unwrap_or(""),
                document: d,
            })
            .collect();
        let resource_account = Arn::parse(&request.resource).map(|a| a.account);
        evaluate(&EvalInput {
            principal: &caller,
            request: &request,
            identity_policies: &identity,
            resource_policy: resource_policy.map(|document| PolicyInput {
                id: document.id().unwrap_or(""),
                document,
            }),
            resource_account,
            rule,
        })
    }
}
