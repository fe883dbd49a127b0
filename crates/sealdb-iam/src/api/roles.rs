//! Roles: trust policies, session durations, tags.

use super::params::{NAME_CHARS, NameRule, page};
use super::users::write_tags;
use super::{Ctx, IamError, result};
use crate::store_model::{IdentityState, RoleRecord};
use crate::xml::{Xml, url_encode};
use std::collections::{BTreeMap, BTreeSet};

/// `RoleName`: `[\w+=,.@-]+`, 1..=64.
pub(crate) const ROLE_NAME: NameRule = NameRule {
    member: "roleName",
    max: 64,
    extra: NAME_CHARS,
};

/// Routes the role actions; `None` for other actions.
pub(crate) fn call(c: &Ctx<'_>) -> Option<Result<String, IamError>> {
    Some(match c.action {
        "CreateRole" => create_role(c),
        "GetRole" => get_role(c),
        "ListRoles" => list_roles(c),
        "UpdateRole" => update_role(c),
        "UpdateAssumeRolePolicy" => update_trust(c),
        "DeleteRole" => delete_role(c),
        "TagRole" => super::tagging::tag(c, &TAGGED_ROLE),
        "UntagRole" => super::tagging::untag(c, &TAGGED_ROLE),
        "ListRoleTags" => super::tagging::list(c, &TAGGED_ROLE),
        _ => return None,
    })
}

pub(crate) fn no_such_role(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
}

pub(crate) fn role_key(s: &IdentityState, name: &str) -> Result<String, IamError> {
    s.role(name)
        .map(|r| r.name.clone())
        .ok_or_else(|| no_such_role(name))
}

pub(crate) fn role_arn(c: &Ctx<'_>, name: &str) -> String {
    let path = c
        .svc
        .store
        .read(|s| s.role(name).map(|r| r.path.clone()))
        .unwrap_or_else(|| "/".to_owned());
    c.arn("role", &path, name)
}

fn write_role(x: &mut Xml, c: &Ctx<'_>, r: &RoleRecord, full: bool) {
    x.text("Path", &r.path)
        .text("RoleName", &r.name)
        .text("RoleId", &r.id)
        .text("Arn", &c.arn("role", &r.path, &r.name))
        .time("CreateDate", r.created)
        .text("AssumeRolePolicyDocument", &url_encode(&r.trust_policy))
        .text_opt("Description", r.description.as_deref())
        .text("MaxSessionDuration", &r.max_session_duration.to_string());
    if full && !r.tags.is_empty() {
        write_tags(x, &r.tags);
    }
}

fn max_session(c: &Ctx<'_>) -> Result<Option<i64>, IamError> {
    let v = c.params.int("MaxSessionDuration", "maxSessionDuration")?;
    if let Some(n) = v
        && !(3600..=43_200).contains(&n)
    {
        let bound = if n < 3600 {
            "greater than or equal to 3600"
        } else {
            "less than or equal to 43200"
        };
        return Err(IamError::constraint(
            "maxSessionDuration",
            Some(&n.to_string()),
            &format!("Member must have value {bound}"),
        ));
    }
    Ok(v)
}

fn description(c: &Ctx<'_>) -> Result<Option<String>, IamError> {
    match c.params.get("Description") {
        Some(d) if d.chars().count() > 1000 => Err(IamError::constraint(
            "description",
            Some(d),
            "Member must have length less than or equal to 1000",
        )),
        other => Ok(other.map(str::to_owned)),
    }
}

fn create_role(c: &Ctx<'_>) -> Result<String, IamError> {
    let name = c.params.name("RoleName", &ROLE_NAME)?;
    let path = c.params.path("Path")?;
    let trust = c
        .params
        .required("AssumeRolePolicyDocument", "assumeRolePolicyDocument")?;
    let desc = description(c)?;
    let max = max_session(c)?.unwrap_or(3600);
    let tags = c.params.tags("Tags")?;
    c.authorize(&c.arn("role", &path, name))?;
    c.trust_policy(trust)?;
    let id = crate::store_ids::unique_id("AROA")?;
    let now = c.now();
    let role = c.change(|s| {
        if s.role(name).is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "Role with name {name} already exists."
            )));
        }
        let r = RoleRecord {
            name: name.to_owned(),
            id: id.clone(),
            path: path.clone(),
            created: now,
            trust_policy: trust.to_owned(),
            description: desc,
            max_session_duration: max,
            tags,
            inline_policies: BTreeMap::new(),
            attached_policies: BTreeSet::new(),
        };
        s.roles.insert(name.to_owned(), r.clone());
        Ok(r)
    })?;
    Ok(result(c.action, |x| {
        x.open("Role");
        write_role(x, c, &role, true);
        x.close("Role");
    }))
}

fn get_role(c: &Ctx<'_>) -> Result<String, IamError> {
    let name = c.params.name("RoleName", &ROLE_NAME)?;
    c.authorize(&role_arn(c, name))?;
    let role = c
        .svc
        .store
        .read(|s| s.role(name).cloned())
        .ok_or_else(|| no_such_role(name))?;
    Ok(result(c.action, |x| {
        x.open("Role");
        write_role(x, c, &role, true);
        x.close("Role");
    }))
}

fn list_roles(c: &Ctx<'_>) -> Result<String, IamError> {
    let prefix = c.params.get("PathPrefix").unwrap_or("/").to_owned();
    let (max, marker) = c.params.paging()?;
    c.authorize(&c.arn("role", "/", ""))?;
    let roles: Vec<(String, RoleRecord)> = c.svc.store.read(|s| {
        s.roles
            .values()
            .filter(|r| r.path.starts_with(&prefix))
            .map(|r| (r.name.clone(), r.clone()))
            .collect()
    });
    let (shown, next) = page(&roles, max, marker);
    Ok(result(c.action, |x| {
        x.list("Roles", &shown, |x, r| write_role(x, c, r, false));
        x.paging(next.as_deref());
    }))
}

fn update_role(c: &Ctx<'_>) -> Result<String, IamError> {
    let name = c.params.name("RoleName", &ROLE_NAME)?;
    let desc = description(c)?;
    let max = max_session(c)?;
    c.authorize(&role_arn(c, name))?;
    c.change(|s| {
        let key = role_key(s, name)?;
        let r = s.roles.get_mut(&key).ok_or_else(|| no_such_role(name))?;
        if desc.is_some() {
            r.description = desc;
        }
        if let Some(m) = max {
            r.max_session_duration = m;
        }
        Ok(())
    })?;
    Ok(result(c.action, |_| {}))
}

fn update_trust(c: &Ctx<'_>) -> Result<String, IamError> {
    let name = c.params.name("RoleName", &ROLE_NAME)?;
    let doc = c.params.required("PolicyDocument", "policyDocument")?;
    c.authorize(&role_arn(c, name))?;
    c.trust_policy(doc)?;
    c.change(|s| {
        let key = role_key(s, name)?;
        let r = s.roles.get_mut(&key).ok_or_else(|| no_such_role(name))?;
        r.trust_policy = doc.to_owned();
        Ok(())
    })?;
    Ok(String::new())
}

fn delete_role(c: &Ctx<'_>) -> Result<String, IamError> {
    let name = c.params.name("RoleName", &ROLE_NAME)?;
    c.authorize(&role_arn(c, name))?;
    c.change(|s| {
        let key = role_key(s, name)?;
        let r = s.roles.get(&key).ok_or_else(|| no_such_role(name))?;
        if !r.inline_policies.is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete policies first.".to_owned(),
            ));
        }
        if !r.attached_policies.is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must detach all policies first.".to_owned(),
            ));
        }
        s.roles.remove(&key);
        Ok(())
    })?;
    Ok(String::new())
}

/// Roles as tag actions see them.
const TAGGED_ROLE: super::tagging::Taggable = super::tagging::Taggable {
    member: "RoleName",
    rule: &ROLE_NAME,
    arn: role_arn,
    tags: |s, name| s.role(name).map(|r| r.tags.clone()),
    tags_mut: |s, name| {
        let key = s.role(name)?.name.clone();
        s.roles.get_mut(&key).map(|r| &mut r.tags)
    },
    missing: no_such_role,
};
