//! Managed policies with their versions, attachments, and inline policies of users,
//! groups and roles.

use super::groups::{GROUP_NAME, group_arn, group_key};
use super::params::{NAME_CHARS, NameRule, page};
use super::roles::{ROLE_NAME, role_arn, role_key};
use super::users::{USER_NAME, user_key};
use super::{Ctx, IamError, result};
use crate::store_model::{IdentityState, ManagedPolicyRecord, PolicyVersionRecord};
use crate::xml::{Xml, url_encode};
use std::collections::{BTreeMap, BTreeSet};

/// `PolicyName`: `[\w+=,.@-]+`, 1..=128.
const POLICY_NAME: NameRule = NameRule {
    member: "policyName",
    max: 128,
    extra: NAME_CHARS,
};
/// AWS's quota of managed policies per user, group or role.
const ATTACHED_PER_ENTITY: usize = 10;
/// AWS's quota of versions of a managed policy.
const VERSIONS_PER_POLICY: usize = 5;

/// Routes the policy actions; `None` for other actions.
pub(crate) fn call(c: &Ctx<'_>) -> Option<Result<String, IamError>> {
    let (kind, op) = match c.action {
        "CreatePolicy" => return Some(create_policy(c)),
        "GetPolicy" => return Some(get_policy(c)),
        "DeletePolicy" => return Some(delete_policy(c)),
        "ListPolicies" => return Some(list_policies(c)),
        "CreatePolicyVersion" => return Some(create_version(c)),
        "GetPolicyVersion" => return Some(get_version(c)),
        "ListPolicyVersions" => return Some(list_versions(c)),
        "DeletePolicyVersion" => return Some(delete_version(c)),
        "SetDefaultPolicyVersion" => return Some(set_default(c)),
        a => {
            let (verb, rest) = [
                "Attach",
                "Detach",
                "ListAttached",
                "Put",
                "Get",
                "Delete",
                "List",
            ]
            .iter()
            .find_map(|v| a.strip_prefix(v).map(|r| (*v, r)))?;
            let kind = match rest {
                "UserPolicy" | "UserPolicies" => Owner::User,
                "GroupPolicy" | "GroupPolicies" => Owner::Group,
                "RolePolicy" | "RolePolicies" => Owner::Role,
                _ => return None,
            };
            (kind, verb)
        }
    };
    Some(match op {
        "Attach" => attach(c, kind, true),
        "Detach" => attach(c, kind, false),
        "ListAttached" => list_attached(c, kind),
        "Put" => put_inline(c, kind),
        "Get" => get_inline(c, kind),
        "Delete" => delete_inline(c, kind),
        _ => list_inline(c, kind),
    })
}

/// Who a policy is attached to or embedded in.
#[derive(Clone, Copy)]
enum Owner {
    User,
    Group,
    Role,
}

impl Owner {
    fn param(self) -> (&'static str, &'static NameRule) {
        match self {
            Owner::User => ("UserName", &USER_NAME),
            Owner::Group => ("GroupName", &GROUP_NAME),
            Owner::Role => ("RoleName", &ROLE_NAME),
        }
    }

    fn word(self) -> &'static str {
        match self {
            Owner::User => "user",
            Owner::Group => "group",
            Owner::Role => "role",
        }
    }

    fn quota(self) -> &'static str {
        match self {
            Owner::User => "PoliciesPerUser",
            Owner::Group => "PoliciesPerGroup",
            Owner::Role => "PoliciesPerRole",
        }
    }

    /// The owner's name from the request, its ARN (for authorization).
    fn named_in<'a>(self, c: &'a Ctx<'_>) -> Result<(&'a str, String), IamError> {
        let (param, rule) = self.param();
        let name = c.params.name(param, rule)?;
        let arn = match self {
            Owner::User => c
                .svc
                .store
                .read(|s| s.user(name).map(|u| c.arn("user", &u.path, &u.name)))
                .unwrap_or_else(|| c.arn("user", "/", name)),
            Owner::Group => group_arn(c, name),
            Owner::Role => role_arn(c, name),
        };
        Ok((name, arn))
    }

    /// The stored name of the owner (NoSuchEntity if it does not exist).
    fn key(self, s: &IdentityState, name: &str) -> Result<String, IamError> {
        match self {
            Owner::User => user_key(s, name),
            Owner::Group => group_key(s, name),
            Owner::Role => role_key(s, name),
        }
    }

    /// Its inline policies and attached policy ARNs, to read.
    fn parts_ref<'s>(
        self,
        s: &'s IdentityState,
        key: &str,
    ) -> Option<(&'s BTreeMap<String, String>, &'s BTreeSet<String>)> {
        match self {
            Owner::User => s
                .users
                .get(key)
                .map(|u| (&u.inline_policies, &u.attached_policies)),
            Owner::Group => s
                .groups
                .get(key)
                .map(|g| (&g.inline_policies, &g.attached_policies)),
            Owner::Role => s
                .roles
                .get(key)
                .map(|r| (&r.inline_policies, &r.attached_policies)),
        }
    }

    /// Its inline policies and attached policy ARNs, to change.
    fn parts<'s>(
        self,
        s: &'s mut IdentityState,
        key: &str,
    ) -> Option<(&'s mut BTreeMap<String, String>, &'s mut BTreeSet<String>)> {
        match self {
            Owner::User => s
                .users
                .get_mut(key)
                .map(|u| (&mut u.inline_policies, &mut u.attached_policies)),
            Owner::Group => s
                .groups
                .get_mut(key)
                .map(|g| (&mut g.inline_policies, &mut g.attached_policies)),
            Owner::Role => s
                .roles
                .get_mut(key)
                .map(|r| (&mut r.inline_policies, &mut r.attached_policies)),
        }
    }
}

fn not_attachable(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."))
}

fn not_found(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("Policy {arn} was not found."))
}

fn policy_arn<'p>(c: &Ctx<'p>) -> Result<&'p str, IamError> {
    let arn = c.params.required("PolicyArn", "policyArn")?;
    if arn.len() < 20 || !arn.starts_with("arn:") {
        return Err(IamError::InvalidInput(format!("ARN {arn} is not valid.")));
    }
    Ok(arn)
}

fn write_policy(x: &mut Xml, s: &IdentityState, arn: &str, p: &ManagedPolicyRecord) {
    x.text("PolicyName", &p.name)
        .text("PolicyId", &p.id)
        .text("Arn", arn)
        .text("Path", &p.path)
        .text("DefaultVersionId", &format!("v{}", p.default_version))
        .text("AttachmentCount", &s.attachment_count(arn).to_string())
        .text("PermissionsBoundaryUsageCount", "0")
        .bool("IsAttachable", true)
        .text_opt("Description", p.description.as_deref())
        .time("CreateDate", p.created)
        .time("UpdateDate", p.updated);
}

fn create_policy(c: &Ctx<'_>) -> Result<String, IamError> {
    let name = c.params.name("PolicyName", &POLICY_NAME)?;
    let path = c.params.path("Path")?;
    let doc = c.params.required("PolicyDocument", "policyDocument")?;
    let description = c.params.get("Description").map(str::to_owned);
    let arn = c.arn("policy", &path, name);
    c.authorize(&arn)?;
    c.identity_policy(doc)?;
    let id = crate::store_ids::unique_id("ANPA")?;
    let now = c.now();
    let out = c.change(|s| {
        if s.policies
            .values()
            .any(|p| p.name.eq_ignore_ascii_case(name) && p.path == path)
        {
            return Err(IamError::EntityAlreadyExists(format!(
                "A policy called {name} already exists. Duplicate names are not allowed."
            )));
        }
        let p = ManagedPolicyRecord {
            name: name.to_owned(),
            id: id.clone(),
            path: path.clone(),
            description,
            created: now,
            updated: now,
            versions: BTreeMap::from([(
                1,
                PolicyVersionRecord {
                    document: doc.to_owned(),
                    created: now,
                },
            )]),
            default_version: 1,
            next_version: 2,
        };
        s.policies.insert(arn.clone(), p.clone());
        let mut x = Xml::new();
        x.open("Policy");
        write_policy(&mut x, s, &arn, &p);
        x.close("Policy");
        Ok(x.finish())
    })?;
    Ok(result(c.action, |x| {
        x.raw(&out);
    }))
}

fn get_policy(c: &Ctx<'_>) -> Result<String, IamError> {
    let arn = policy_arn(c)?;
    c.authorize(arn)?;
    let out = c.svc.store.read(|s| {
        let p = s.policies.get(arn).ok_or_else(|| not_found(arn))?;
        let mut x = Xml::new();
        x.open("Policy");
        write_policy(&mut x, s, arn, p);
        x.close("Policy");
        Ok::<_, IamError>(x.finish())
    })?;
    Ok(result(c.action, |x| {
        x.raw(&out);
    }))
}

fn delete_policy(c: &Ctx<'_>) -> Result<String, IamError> {
    let arn = policy_arn(c)?;
    c.authorize(arn)?;
    c.change(|s| {
        let p = s.policies.get(arn).ok_or_else(|| not_found(arn))?;
        if s.attachment_count(arn) > 0 {
            return Err(IamError::DeleteConflict(
                "Cannot delete a policy attached to entities.".to_owned(),
            ));
        }
        if p.versions.len() > 1 {
            return Err(IamError::DeleteConflict(
                "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.".to_owned(),
            ));
        }
        s.policies.remove(arn);
        Ok(())
    })?;
    Ok(String::new())
}

fn list_policies(c: &Ctx<'_>) -> Result<String, IamError> {
    let scope = c.params.get("Scope").unwrap_or("All");
    if !matches!(scope, "All" | "AWS" | "Local") {
        return Err(IamError::constraint(
            "scope",
            Some(scope),
            "Member must satisfy enum value set: [All, AWS, Local]",
        ));
    }
    let only_attached = c.params.bool("OnlyAttached").unwrap_or(false);
    let prefix = c.params.get("PathPrefix").unwrap_or("/").to_owned();
    let (max, marker) = c.params.paging()?;
    c.authorize(&c.arn("policy", "/", ""))?;
    let out = c.svc.store.read(|s| {
        // Only customer managed policies exist here: Scope=AWS lists none.
        let items: Vec<(String, String)> = s
            .policies
            .iter()
            .filter(|_| scope != "AWS")
            .filter(|(arn, p)| {
                p.path.starts_with(&prefix) && (!only_attached || s.attachment_count(arn) > 0)
            })
            .map(|(arn, _)| (arn.clone(), arn.clone()))
            .collect();
        let (shown, next) = page(&items, max, marker);
        let mut x = Xml::new();
        x.list("Policies", &shown, |x, arn| {
            if let Some(p) = s.policies.get(arn) {
                write_policy(x, s, arn, p);
            }
        });
        x.paging(next.as_deref());
        x.finish()
    });
    Ok(result(c.action, |x| {
        x.raw(&out);
    }))
}

fn version_id(c: &Ctx<'_>) -> Result<(String, u32), IamError> {
    let v = c.params.required("VersionId", "versionId")?;
    let n = v
        .strip_prefix('v')
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            IamError::constraint(
                "versionId",
                Some(v),
                "Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?",
            )
        })?;
    Ok((v.to_owned(), n))
}

fn no_version(arn: &str, v: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "Policy {arn} version {v} does not exist or is not attachable."
    ))
}

fn write_version(x: &mut Xml, n: u32, v: &PolicyVersionRecord, default: bool, with_doc: bool) {
    if with_doc {
        x.text("Document", &url_encode(&v.document));
    }
    x.text("VersionId", &format!("v{n}"))
        .bool("IsDefaultVersion", default)
        .time("CreateDate", v.created);
}

fn create_version(c: &Ctx<'_>) -> Result<String, IamError> {
    let arn = policy_arn(c)?;
    let doc = c.params.required("PolicyDocument", "policyDocument")?;
    let set_default = c.params.bool("SetAsDefault").unwrap_or(false);
    c.authorize(arn)?;
    c.identity_policy(doc)?;
    let now = c.now();
    let (n, v, default) = c.change(|s| {
        let p = s.policies.get_mut(arn).ok_or_else(|| not_found(arn))?;
        if p.versions.len() >= VERSIONS_PER_POLICY {
            return Err(IamError::LimitExceeded(
                "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.".to_owned(),
            ));
        }
        let n = p.next_version;
        p.next_version += 1;
        let v = PolicyVersionRecord {
            document: doc.to_owned(),
            created: now,
        };
        p.versions.insert(n, v.clone());
        if set_default {
            p.default_version = n;
            p.updated = now;
        }
        Ok((n, v, set_default))
    })?;
    Ok(result(c.action, |x| {
        x.open("PolicyVersion");
        write_version(x, n, &v, default, false);
        x.close("PolicyVersion");
    }))
}

fn get_version(c: &Ctx<'_>) -> Result<String, IamError> {
    let arn = policy_arn(c)?;
    let (vid, n) = version_id(c)?;
    c.authorize(arn)?;
    let (v, default) = c.svc.store.read(|s| {
        let p = s.policies.get(arn).ok_or_else(|| not_found(arn))?;
        let v = p
            .versions
            .get(&n)
            .cloned()
            .ok_or_else(|| no_version(arn, &vid))?;
        Ok::<_, IamError>((v, p.default_version == n))
    })?;
    Ok(result(c.action, |x| {
        x.open("PolicyVersion");
        write_version(x, n, &v, default, true);
        x.close("PolicyVersion");
    }))
}

fn list_versions(c: &Ctx<'_>) -> Result<String, IamError> {
    let arn = policy_arn(c)?;
    c.authorize(arn)?;
    let p = c
        .svc
        .store
        .read(|s| s.policies.get(arn).cloned())
        .ok_or_else(|| not_found(arn))?;
    Ok(result(c.action, |x| {
        // Newest first, as IAM lists them.
        x.list("Versions", p.versions.iter().rev(), |x, (n, v)| {
            write_version(x, *n, v, *n == p.default_version, false);
        });
        x.paging(None);
    }))
}

fn delete_version(c: &Ctx<'_>) -> Result<String, IamError> {
    let arn = policy_arn(c)?;
    let (vid, n) = version_id(c)?;
    c.authorize(arn)?;
    c.change(|s| {
        let p = s.policies.get_mut(arn).ok_or_else(|| not_found(arn))?;
        if !p.versions.contains_key(&n) {
            return Err(no_version(arn, &vid));
        }
        if p.default_version == n {
            return Err(IamError::DeleteConflict(
                "Cannot delete the default version of a policy.".to_owned(),
            ));
        }
        p.versions.remove(&n);
        Ok(())
    })?;
    Ok(String::new())
}

fn set_default(c: &Ctx<'_>) -> Result<String, IamError> {
    let arn = policy_arn(c)?;
    let (vid, n) = version_id(c)?;
    c.authorize(arn)?;
    let now = c.now();
    c.change(|s| {
        let p = s.policies.get_mut(arn).ok_or_else(|| not_found(arn))?;
        if !p.versions.contains_key(&n) {
            return Err(no_version(arn, &vid));
        }
        p.default_version = n;
        p.updated = now;
        Ok(())
    })?;
    Ok(String::new())
}

fn attach(c: &Ctx<'_>, kind: Owner, attach: bool) -> Result<String, IamError> {
    let (name, owner_arn) = kind.named_in(c)?;
    let arn = policy_arn(c)?;
    c.authorize(&owner_arn)?;
    c.change(|s| {
        let key = kind.key(s, name)?;
        let exists = s.policies.contains_key(arn);
        let (_, attached) = kind.parts(s, &key).ok_or(IamError::ServiceFailure)?;
        if attach {
            if !exists {
                return Err(not_attachable(arn));
            }
            if !attached.contains(arn) && attached.len() >= ATTACHED_PER_ENTITY {
                return Err(IamError::LimitExceeded(format!(
                    "Cannot exceed quota for {}: {ATTACHED_PER_ENTITY}",
                    kind.quota()
                )));
            }
            attached.insert(arn.to_owned());
        } else if !attached.remove(arn) {
            return Err(not_found(arn));
        }
        Ok(())
    })?;
    Ok(String::new())
}

fn list_attached(c: &Ctx<'_>, kind: Owner) -> Result<String, IamError> {
    let (name, owner_arn) = kind.named_in(c)?;
    let prefix = c.params.get("PathPrefix").unwrap_or("/").to_owned();
    let (max, marker) = c.params.paging()?;
    c.authorize(&owner_arn)?;
    let items: Vec<(String, (String, String))> = c.svc.store.read(|s| {
        let key = kind.key(s, name)?;
        let (_, attached) = kind.parts_ref(s, &key).ok_or(IamError::ServiceFailure)?;
        Ok::<_, IamError>(
            attached
                .iter()
                .filter_map(|arn| {
                    let p = s.policies.get(arn)?;
                    p.path
                        .starts_with(&prefix)
                        .then(|| (arn.clone(), (p.name.clone(), arn.clone())))
                })
                .collect(),
        )
    })?;
    let (shown, next) = page(&items, max, marker);
    Ok(result(c.action, |x| {
        x.list("AttachedPolicies", &shown, |x, (pname, arn)| {
            x.text("PolicyName", pname).text("PolicyArn", arn);
        });
        x.paging(next.as_deref());
    }))
}

fn no_inline(kind: Owner, policy: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "The {} policy with name {policy} cannot be found.",
        kind.word()
    ))
}

fn put_inline(c: &Ctx<'_>, kind: Owner) -> Result<String, IamError> {
    let (name, owner_arn) = kind.named_in(c)?;
    let policy = c.params.name("PolicyName", &POLICY_NAME)?;
    let doc = c.params.required("PolicyDocument", "policyDocument")?;
    c.authorize(&owner_arn)?;
    c.identity_policy(doc)?;
    c.change(|s| {
        let key = kind.key(s, name)?;
        let (inline, _) = kind.parts(s, &key).ok_or(IamError::ServiceFailure)?;
        inline.insert(policy.to_owned(), doc.to_owned());
        Ok(())
    })?;
    Ok(String::new())
}

fn get_inline(c: &Ctx<'_>, kind: Owner) -> Result<String, IamError> {
    let (name, owner_arn) = kind.named_in(c)?;
    let policy = c.params.name("PolicyName", &POLICY_NAME)?;
    c.authorize(&owner_arn)?;
    let (key, doc) = c.svc.store.read(|s| {
        let key = kind.key(s, name)?;
        let (inline, _) = kind.parts_ref(s, &key).ok_or(IamError::ServiceFailure)?;
        let doc = inline
            .get(policy)
            .cloned()
            .ok_or_else(|| no_inline(kind, policy))?;
        Ok::<_, IamError>((key, doc))
    })?;
    let (param, _) = kind.param();
    Ok(result(c.action, |x| {
        x.text(param, &key)
            .text("PolicyName", policy)
            .text("PolicyDocument", &url_encode(&doc));
    }))
}

fn delete_inline(c: &Ctx<'_>, kind: Owner) -> Result<String, IamError> {
    let (name, owner_arn) = kind.named_in(c)?;
    let policy = c.params.name("PolicyName", &POLICY_NAME)?;
    c.authorize(&owner_arn)?;
    c.change(|s| {
        let key = kind.key(s, name)?;
        let (inline, _) = kind.parts(s, &key).ok_or(IamError::ServiceFailure)?;
        inline
            .remove(policy)
            .map(|_| ())
            .ok_or_else(|| no_inline(kind, policy))
    })?;
    Ok(String::new())
}

fn list_inline(c: &Ctx<'_>, kind: Owner) -> Result<String, IamError> {
    let (name, owner_arn) = kind.named_in(c)?;
    let (max, marker) = c.params.paging()?;
    c.authorize(&owner_arn)?;
    let names: Vec<(String, String)> = c.svc.store.read(|s| {
        let key = kind.key(s, name)?;
        let (inline, _) = kind.parts_ref(s, &key).ok_or(IamError::ServiceFailure)?;
        Ok::<_, IamError>(inline.keys().map(|k| (k.clone(), k.clone())).collect())
    })?;
    let (shown, next) = page(&names, max, marker);
    Ok(result(c.action, |x| {
        x.open("PolicyNames");
        for n in &shown {
            x.text("member", n);
        }
        x.close("PolicyNames");
        x.paging(next.as_deref());
    }))
}
