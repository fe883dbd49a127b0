//! AWS's policy evaluation logic for one request.
//!
//! 1. An explicit Deny in any applicable policy wins.
//! 2. Same account: an Allow from an identity policy, or from a resource policy that names
//!    the caller itself, allows. A resource policy naming only the account
//!    (`arn:aws:iam::ACCT:root`) delegates to the identity policies.
//! 3. Across accounts: the resource policy must allow the caller (or its account) and the
//!    caller's identity policies must allow too.
//! 4. The account root needs no identity policy in its own account.
//! 5. Otherwise: implicit deny.
//!
//! KMS key policies follow their own rule ([`ResourceRule::KeyPolicy`]): the key policy is
//! the only authority; identity policies count only when it allows the account, and the
//! account root has no implicit rights over a key.

use crate::condition_eval::condition_matches;
use crate::context::{EvalPrincipal, RequestContext};
use crate::policy::{Effect, Matcher, PolicyDocument, PrincipalPattern, Statement, glob_match_str};

/// Whether a policy is attached to the caller or to the resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicySource {
    Identity,
    Resource,
}

/// How the resource policy combines with identity policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ResourceRule {
    /// IAM's rule for resource policies (DynamoDB tables and streams, role trust policies).
    #[default]
    Standard,
    /// KMS's rule for key policies.
    KeyPolicy,
}

/// The outcome for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// No policy allowed it; `missing` is the side whose allow was lacking (AWS names it
    /// in the AccessDenied message: "no identity-based policy allows ...").
    ImplicitDeny {
        missing: PolicySource,
    },
    ExplicitDeny {
        source: PolicySource,
    },
}

/// One policy that takes part in an evaluation, with the name the simulator reports.
#[derive(Clone, Copy, Debug)]
pub struct PolicyInput<'a> {
    /// The policy's identifier (e.g. `user_alice_inline_p1`, a managed policy ARN).
    pub id: &'a str,
    pub document: &'a PolicyDocument,
}

/// A statement that decided (or took part in) the outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchedStatement {
    pub policy_id: String,
    pub source: PolicySource,
    /// 0-based position of the statement in its policy.
    pub statement_index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
}

/// The decision with the statements behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: Decision,
    /// The Deny statements that matched when denied explicitly, else the Allow statements
    /// that matched (empty for an implicit deny).
    pub matched: Vec<MatchedStatement>,
}

/// Everything one evaluation looks at.
#[derive(Clone, Copy, Debug)]
pub struct EvalInput<'a> {
    pub principal: &'a EvalPrincipal,
    /// The request with all its condition keys (principal and time keys included).
    pub request: &'a RequestContext,
    pub identity_policies: &'a [PolicyInput<'a>],
    pub resource_policy: Option<PolicyInput<'a>>,
    /// The account owning the resource; `None` means the caller's own account.
    pub resource_account: Option<&'a str>,
    pub rule: ResourceRule,
}

/// How a resource policy statement's Principal relates to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum PrincipalMatch {
    No,
    /// Through the caller's account (`arn:aws:iam::ACCT:root`): delegated to IAM.
    Account,
    /// The caller itself (or everyone).
    Direct,
}

/// AWS's decision for one request.
pub fn evaluate(input: &EvalInput<'_>) -> Evaluation {
    let principal = input.principal;
    let request = input.request;
    let same_account = input
        .resource_account
        .is_none_or(|a| a.is_empty() || a == principal.account_id);

    let mut denies = Vec::new();
    let mut identity_allows = Vec::new();
    for policy in input.identity_policies {
        for statement in &policy.document.statements {
            if statement_applies(statement, request) {
                let matched = matched(policy, PolicySource::Identity, statement);
                match statement.effect {
                    Effect::Deny => denies.push(matched),
                    Effect::Allow => identity_allows.push(matched),
                }
            }
        }
    }
    let mut direct_allows = Vec::new();
    let mut account_allows = Vec::new();
    if let Some(policy) = &input.resource_policy {
        for statement in &policy.document.statements {
            let who = principal_match(statement, principal);
            if who == PrincipalMatch::No || !statement_applies(statement, request) {
                continue;
            }
            let m = matched(policy, PolicySource::Resource, statement);
            match (statement.effect, who) {
                (Effect::Deny, _) => denies.push(m),
                (Effect::Allow, PrincipalMatch::Direct) => direct_allows.push(m),
                (Effect::Allow, _) => account_allows.push(m),
            }
        }
    }

    if let Some(first) = denies.first() {
        let source = first.source;
        return Evaluation {
            decision: Decision::ExplicitDeny { source },
            matched: denies,
        };
    }

    let root = principal.is_account_root();
    let identity_ok = root || !identity_allows.is_empty();
    let allowed = match input.rule {
        ResourceRule::Standard if same_account => identity_ok || !direct_allows.is_empty(),
        ResourceRule::Standard => {
            identity_ok && !(direct_allows.is_empty() && account_allows.is_empty())
        }
        // The key policy must allow; through the account only together with IAM.
        ResourceRule::KeyPolicy => {
            !direct_allows.is_empty() || (!account_allows.is_empty() && identity_ok)
        }
    };
    if allowed {
        let mut matched = identity_allows;
        matched.extend(direct_allows);
        matched.extend(account_allows);
        return Evaluation {
            decision: Decision::Allow,
            matched,
        };
    }
    let resource_allowed = !direct_allows.is_empty() || !account_allows.is_empty();
    let missing = match input.rule {
        ResourceRule::Standard if same_account => PolicySource::Identity,
        _ if !resource_allowed => PolicySource::Resource,
        _ => PolicySource::Identity,
    };
    Evaluation {
        decision: Decision::ImplicitDeny { missing },
        matched: Vec::new(),
    }
}

fn matched(
    policy: &PolicyInput<'_>,
    source: PolicySource,
    statement: &Statement,
) -> MatchedStatement {
    MatchedStatement {
        policy_id: policy.id.to_owned(),
        source,
        statement_index: statement.index,
        sid: statement.sid.clone(),
        effect: statement.effect,
    }
}

/// Action, Resource and Condition all match (Principal is checked separately).
pub(crate) fn statement_applies(statement: &Statement, request: &RequestContext) -> bool {
    action_matches(&statement.actions, &request.action)
        && resource_matches(statement, request)
        && statement
            .conditions
            .iter()
            .all(|c| condition_matches(c, &request.keys))
}

fn action_matches(actions: &Matcher<String>, action: &str) -> bool {
    let any = |patterns: &[String]| patterns.iter().any(|p| glob_match_str(p, action, true));
    match actions {
        Matcher::Is(patterns) => any(patterns),
        Matcher::Not(patterns) => !any(patterns),
    }
}

fn resource_matches(statement: &Statement, request: &RequestContext) -> bool {
    let Some(resources) = &statement.resources else {
        return true;
    };
    let any = |patterns: &[crate::policy::Template]| {
        patterns.iter().any(|p| {
            p.resolve_glob(&request.keys)
                .is_some_and(|g| crate::arn::arn_matches(&g, &request.resource))
        })
    };
    match resources {
        Matcher::Is(patterns) => any(patterns),
        Matcher::Not(patterns) => !any(patterns),
    }
}

fn principal_match(statement: &Statement, principal: &EvalPrincipal) -> PrincipalMatch {
    let Some(principals) = &statement.principals else {
        // A resource policy statement without Principal names no one.
        return PrincipalMatch::No;
    };
    let best = |patterns: &[PrincipalPattern]| {
        patterns
            .iter()
            .map(|p| pattern_match(p, principal))
            .max()
            .unwrap_or(PrincipalMatch::No)
    };
    match principals {
        Matcher::Is(patterns) => best(patterns),
        Matcher::Not(patterns) => {
            if best(patterns) == PrincipalMatch::No {
                PrincipalMatch::Direct
            } else {
                PrincipalMatch::No
            }
        }
    }
}

fn pattern_match(pattern: &PrincipalPattern, principal: &EvalPrincipal) -> PrincipalMatch {
    match pattern {
        PrincipalPattern::Everyone => PrincipalMatch::Direct,
        PrincipalPattern::Aws(arn) => {
            if *arn == principal.arn || principal.role_arn.as_deref() == Some(arn.as_str()) {
                return PrincipalMatch::Direct;
            }
            let account_root = crate::arn::Arn::parse(arn)
                .filter(|a| a.service == "iam" && a.resource == "root")
                .map(|a| a.account);
            match account_root {
                Some(account) if account == principal.account_id => {
                    if principal.is_account_root() {
                        PrincipalMatch::Direct
                    } else {
                        PrincipalMatch::Account
                    }
                }
                _ => PrincipalMatch::No,
            }
        }
        PrincipalPattern::Service(service) => {
            if principal.service.as_deref() == Some(service.as_str()) {
                PrincipalMatch::Direct
            } else {
                PrincipalMatch::No
            }
        }
        PrincipalPattern::Federated(_) | PrincipalPattern::CanonicalUser(_) => PrincipalMatch::No,
    }
}
