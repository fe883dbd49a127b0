//! The policy simulator (IAM's SimulatePrincipalPolicy / SimulateCustomPolicy): for each
//! action and resource, the decision and the statements behind it.

use std::collections::BTreeSet;

use crate::context::{EvalPrincipal, RequestContext};
use crate::eval::{Decision, EvalInput, MatchedStatement, PolicyInput, ResourceRule, evaluate};

/// One simulated call. Its keys are the context entries the caller supplied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulationRequest {
    pub request: RequestContext,
    /// The resource's account, when it is not the caller's.
    pub resource_account: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulationResult {
    pub action: String,
    pub resource: String,
    pub decision: Decision,
    pub matched: Vec<MatchedStatement>,
    /// Condition keys the policies test that the request did not supply (lowercase).
    pub missing_context_values: Vec<String>,
}

impl Decision {
    /// The simulator's `EvalDecision`: `allowed`, `explicitDeny` or `implicitDeny`.
    pub fn simulator_name(self) -> &'static str {
        match self {
            Decision::Allow => "allowed",
            Decision::ExplicitDeny { .. } => "explicitDeny",
            Decision::ImplicitDeny { .. } => "implicitDeny",
        }
    }
}

/// Evaluates every request against the same policies.
pub fn simulate(
    principal: &EvalPrincipal,
    identity_policies: &[PolicyInput<'_>],
    resource_policy: Option<PolicyInput<'_>>,
    requests: &[SimulationRequest],
) -> Vec<SimulationResult> {
    let tested: BTreeSet<String> = identity_policies
        .iter()
        .chain(resource_policy.iter())
        .flat_map(|p| p.document.statements.iter())
        .flat_map(|s| s.conditions.iter())
        .map(|c| c.key.to_ascii_lowercase())
        .collect();
    requests
        .iter()
        .map(|sim| {
            let mut request = sim.request.clone();
            request.add_principal_keys(principal);
            let evaluation = evaluate(&EvalInput {
                principal,
                request: &request,
                identity_policies,
                resource_policy,
                resource_account: sim.resource_account.as_deref(),
                rule: ResourceRule::Standard,
            });
            let missing_context_values = tested
                .iter()
                .filter(|k| request.keys.get(k).is_none())
                .cloned()
                .collect();
            SimulationResult {
                action: sim.request.action.clone(),
                resource: sim.request.resource.clone(),
                decision: evaluation.decision,
                matched: evaluation.matched,
                missing_context_values,
            }
        })
        .collect()
}
