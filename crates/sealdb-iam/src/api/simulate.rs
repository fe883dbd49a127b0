//! The policy simulator: SimulatePrincipalPolicy (a user's, group's or role's own policies,
//! plus any given) and SimulateCustomPolicy (only the given policies), over the engine's
//! `simulate`.

use super::{Ctx, IamError, result};
use crate::policy_positions::{Position, Span, statement_spans};
use crate::store_model::IdentityState;
use crate::xml::Xml;
use crate::{EvalPrincipal, PolicyDocument, PolicyInput, PolicyKind, PrincipalType};
use crate::{RequestContext, SimulationRequest, simulate};
use std::collections::BTreeMap;

/// Routes the simulator actions; `None` for other actions.
pub(crate) fn call(c: &Ctx<'_>) -> Option<Result<String, IamError>> {
    Some(match c.action {
        "SimulatePrincipalPolicy" => simulate_principal(c),
        "SimulateCustomPolicy" => simulate_custom(c),
        _ => return None,
    })
}

/// One policy as the simulator names it: (SourcePolicyId, SourcePolicyType, text).
type Source = (String, &'static str, String);

fn given_policies(c: &Ctx<'_>) -> Vec<Source> {
    c.params
        .list("PolicyInputList")
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            (
                format!("PolicyInputList.{}", i + 1),
                "IAM Policy",
                text.to_owned(),
            )
        })
        .collect()
}

/// The policies and the simulated principal of a user, group or role ARN.
fn entity_policies(
    s: &IdentityState,
    account: &str,
    arn: &str,
) -> Option<(EvalPrincipal, Vec<Source>)> {
    let rest = arn.strip_prefix(&format!("arn:aws:iam::{account}:"))?;
    let (kind, path_name) = rest.split_once('/')?;
    let name = path_name.rsplit('/').next()?;
    let managed = |arns: &std::collections::BTreeSet<String>, out: &mut Vec<Source>| {
        for a in arns {
            if let Some(p) = s.policies.get(a)
                && let Some(v) = p.versions.get(&p.default_version)
            {
                out.push((a.clone(), "user-managed", v.document.clone()));
            }
        }
    };
    let mut out = Vec::new();
    let mut principal = EvalPrincipal::account_root(account);
    principal.arn = arn.to_owned();
    match kind {
        "user" => {
            let u = s.users.get(name)?;
            principal.principal_type = PrincipalType::User;
            principal.user_id = u.id.clone();
            principal.username = Some(u.name.clone());
            principal.tags = u.tags.clone();
            out.extend(
                u.inline_policies
                    .iter()
                    .map(|(n, d)| (n.clone(), "user", d.clone())),
            );
            managed(&u.attached_policies, &mut out);
            for g in s.groups.values().filter(|g| g.members.contains(&u.name)) {
                out.extend(
                    g.inline_policies
                        .iter()
                        .map(|(n, d)| (n.clone(), "group", d.clone())),
                );
                managed(&g.attached_policies, &mut out);
            }
        }
        "group" => {
            let g = s.groups.get(name)?;
            principal.principal_type = PrincipalType::User;
            principal.user_id = g.id.clone();
            out.extend(
                g.inline_policies
                    .iter()
                    .map(|(n, d)| (n.clone(), "group", d.clone())),
            );
            managed(&g.attached_policies, &mut out);
        }
        "role" => {
            let r = s.roles.get(name)?;
            principal.principal_type = PrincipalType::AssumedRole;
            principal.user_id = r.id.clone();
            principal.role_arn = Some(arn.to_owned());
            principal.tags = r.tags.clone();
            out.extend(
                r.inline_policies
                    .iter()
                    .map(|(n, d)| (n.clone(), "role", d.clone())),
            );
            managed(&r.attached_policies, &mut out);
        }
        _ => return None,
    }
    Some((principal, out))
}

fn simulate_principal(c: &Ctx<'_>) -> Result<String, IamError> {
    let arn = c.params.required("PolicySourceArn", "policySourceArn")?;
    c.authorize(arn)?;
    let account = c.svc.account().to_owned();
    let (principal, mut sources) = c
        .svc
        .store
        .read(|s| entity_policies(s, &account, arn))
        .ok_or_else(|| IamError::NoSuchEntity(format!("Entity {arn} does not exist.")))?;
    sources.extend(given_policies(c));
    run(c, &principal, &sources)
}

fn simulate_custom(c: &Ctx<'_>) -> Result<String, IamError> {
    c.authorize("*")?;
    let sources = given_policies(c);
    if sources.is_empty() {
        return Err(IamError::constraint(
            "policyInputList",
            None,
            "Member must not be null",
        ));
    }
    let mut principal = EvalPrincipal::account_root(c.svc.account());
    principal.principal_type = PrincipalType::User;
    principal.arn = c
        .params
        .get("CallerArn")
        .map_or_else(|| c.arn("user", "/", ""), str::to_owned);
    run(c, &principal, &sources)
}

fn run(c: &Ctx<'_>, principal: &EvalPrincipal, sources: &[Source]) -> Result<String, IamError> {
    let actions = c.params.list("ActionNames");
    if actions.is_empty() {
        return Err(IamError::constraint(
            "actionNames",
            None,
            "Member must not be null",
        ));
    }
    let mut resources = c.params.list("ResourceArns");
    if resources.is_empty() {
        resources.push("*");
    }
    let docs: Vec<PolicyDocument> = sources
        .iter()
        .map(|(_, _, text)| {
            PolicyDocument::parse_as(text, PolicyKind::Identity)
                .map_err(|e| IamError::MalformedPolicyDocument(e.message().to_owned()))
        })
        .collect::<Result<_, _>>()?;
    // The type and statement positions of each policy by id (the first of a repeated
    // inline policy name, as the simulator's SourcePolicyId cannot tell them apart).
    let mut by_id: BTreeMap<&str, (&str, Vec<Span>)> = BTreeMap::new();
    for (id, t, text) in sources {
        by_id
            .entry(id.as_str())
            .or_insert_with(|| (*t, statement_spans(text)));
    }
    let inputs: Vec<PolicyInput<'_>> = sources
        .iter()
        .zip(&docs)
        .map(|((id, _, _), document)| PolicyInput { id, document })
        .collect();
    let requests: Vec<SimulationRequest> = actions
        .iter()
        .flat_map(|a| {
            resources.iter().map(move |r| SimulationRequest {
                request: RequestContext::new(*a, *r),
                resource_account: None,
            })
        })
        .collect();
    let results = simulate(principal, &inputs, None, &requests);
    Ok(result(c.action, |x| {
        x.list("EvaluationResults", &results, |x, r| {
            x.text("EvalActionName", &r.action)
                .text("EvalResourceName", &r.resource)
                .text("EvalDecision", r.decision.simulator_name());
            x.list("MatchedStatements", &r.matched, |x, m| {
                let source = by_id.get(m.policy_id.as_str());
                x.text("SourcePolicyId", &m.policy_id)
                    .text("SourcePolicyType", source.map_or("none", |(t, _)| *t));
                if let Some((start, end)) =
                    source.and_then(|(_, spans)| spans.get(m.statement_index))
                {
                    write_position(x, "StartPosition", *start);
                    write_position(x, "EndPosition", *end);
                }
            });
            x.open("MissingContextValues");
            for k in &r.missing_context_values {
                x.text("member", k);
            }
            x.close("MissingContextValues");
        });
        x.paging(None);
    }))
}

fn write_position(x: &mut Xml, name: &str, p: Position) {
    x.open(name)
        .text("Line", &p.line.to_string())
        .text("Column", &p.column.to_string())
        .close(name);
}
