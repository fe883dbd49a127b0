//! Groups and their members.

use super::params::{NAME_CHARS, NameRule, page};
use super::users::{USER_NAME, no_such_user, user_key, write_user};
use super::{Ctx, IamError, result};
use crate::store_model::{GroupRecord, IdentityState, UserRecord};
use crate::xml::Xml;
use std::collections::{BTreeMap, BTreeSet};

/// `GroupName`: `[\w+=,.@-]+`, 1..=128.
pub(crate) const GROUP_NAME: NameRule = NameRule {
    member: "groupName",
    max: 128,
    extra: NAME_CHARS,
};

/// Routes the group actions; `None` for other actions.
pub(crate) fn call(c: &Ctx<'_>) -> Option<Result<String, IamError>> {
    Some(match c.action {
        "CreateGroup" => create_group(c),
        "GetGroup" => get_group(c),
        "ListGroups" => list_groups(c),
        "DeleteGroup" => delete_group(c),
        "AddUserToGroup" => membership(c, true),
        "RemoveUserFromGroup" => membership(c, false),
        "ListGroupsForUser" => groups_for_user(c),
        _ => return None,
    })
}

pub(crate) fn no_such_group(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The group with name {name} cannot be found."))
}

pub(crate) fn group_key(s: &IdentityState, name: &str) -> Result<String, IamError> {
    s.group(name)
        .map(|g| g.name.clone())
        .ok_or_else(|| no_such_group(name))
}

pub(crate) fn group_arn(c: &Ctx<'_>, name: &str) -> String {
    let path = c
        .svc
        .store
        .read(|s| s.group(name).map(|g| g.path.clone()))
        .unwrap_or_else(|| "/".to_owned());
    c.arn("group", &path, name)
}

fn write_group(x: &mut Xml, c: &Ctx<'_>, g: &GroupRecord) {
    x.text("Path", &g.path)
        .text("GroupName", &g.name)
        .text("GroupId", &g.id)
        .text("Arn", &c.arn("group", &g.path, &g.name))
        .time("CreateDate", g.created);
}

fn create_group(c: &Ctx<'_>) -> Result<String, IamError> {
    let name = c.params.name("GroupName", &GROUP_NAME)?;
    let path = c.params.path("Path")?;
    c.authorize(&c.arn("group", &path, name))?;
    let id = crate::store_ids::unique_id("AGPA")?;
    let now = c.now();
    let group = c.change(|s| {
        if s.group(name).is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "Group with name {name} already exists."
            )));
        }
        let g = GroupRecord {
            name: name.to_owned(),
            id: id.clone(),
            path: path.clone(),
            created: now,
            members: BTreeSet::new(),
            inline_policies: BTreeMap::new(),
            attached_policies: BTreeSet::new(),
        };
        s.groups.insert(name.to_owned(), g.clone());
        Ok(g)
    })?;
    Ok(result(c.action, |x| {
        x.open("Group");
        write_group(x, c, &group);
        x.close("Group");
    }))
}

fn get_group(c: &Ctx<'_>) -> Result<String, IamError> {
    let name = c.params.name("GroupName", &GROUP_NAME)?;
    let (max, marker) = c.params.paging()?;
    c.authorize(&group_arn(c, name))?;
    let (group, members) = c.svc.store.read(|s| {
        let g = s.group(name).cloned().ok_or_else(|| no_such_group(name))?;
        let members: Vec<(String, UserRecord)> = g
            .members
            .iter()
            .filter_map(|m| s.users.get(m))
            .map(|u| (u.name.clone(), u.clone()))
            .collect();
        Ok::<_, IamError>((g, members))
    })?;
    let (shown, next) = page(&members, max, marker);
    Ok(result(c.action, |x| {
        x.open("Group");
        write_group(x, c, &group);
        x.close("Group");
        x.list("Users", &shown, |x, u| write_user(x, c, u, false));
        x.paging(next.as_deref());
    }))
}

fn list_groups(c: &Ctx<'_>) -> Result<String, IamError> {
    let prefix = c.params.get("PathPrefix").unwrap_or("/").to_owned();
    let (max, marker) = c.params.paging()?;
    c.authorize(&c.arn("group", "/", ""))?;
    let groups: Vec<(String, GroupRecord)> = c.svc.store.read(|s| {
        s.groups
            .values()
            .filter(|g| g.path.starts_with(&prefix))
            .map(|g| (g.name.clone(), g.clone()))
            .collect()
    });
    let (shown, next) = page(&groups, max, marker);
    Ok(result(c.action, |x| {
        x.list("Groups", &shown, |x, g| write_group(x, c, g));
        x.paging(next.as_deref());
    }))
}

fn delete_group(c: &Ctx<'_>) -> Result<String, IamError> {
    let name = c.params.name("GroupName", &GROUP_NAME)?;
    c.authorize(&group_arn(c, name))?;
    c.change(|s| {
        let key = group_key(s, name)?;
        let g = s.groups.get(&key).ok_or_else(|| no_such_group(name))?;
        let conflict = |what: &str| {
            Err(IamError::DeleteConflict(format!(
                "Cannot delete entity, must {what} first."
            )))
        };
        if !g.members.is_empty() {
            return conflict("remove users from group");
        }
        if !g.inline_policies.is_empty() {
            return conflict("delete policies");
        }
        if !g.attached_policies.is_empty() {
            return conflict("detach all policies");
        }
        s.groups.remove(&key);
        Ok(())
    })?;
    Ok(String::new())
}

fn membership(c: &Ctx<'_>, add: bool) -> Result<String, IamError> {
    let group = c.params.name("GroupName", &GROUP_NAME)?;
    let user = c.params.name("UserName", &USER_NAME)?;
    c.authorize(&group_arn(c, group))?;
    c.change(|s| {
        let gkey = group_key(s, group)?;
        let ukey = user_key(s, user)?;
        let g = s
            .groups
            .get_mut(&gkey)
            .ok_or_else(|| no_such_group(group))?;
        if add {
            g.members.insert(ukey);
        } else if !g.members.remove(&ukey) {
            return Err(no_such_user(user));
        }
        Ok(())
    })?;
    Ok(String::new())
}

fn groups_for_user(c: &Ctx<'_>) -> Result<String, IamError> {
    let user = c.params.name("UserName", &USER_NAME)?;
    let (max, marker) = c.params.paging()?;
    let arn = c
        .svc
        .store
        .read(|s| s.user(user).map(|u| c.arn("user", &u.path, &u.name)))
        .unwrap_or_else(|| c.arn("user", "/", user));
    c.authorize(&arn)?;
    let groups: Vec<(String, GroupRecord)> = c.svc.store.read(|s| {
        let key = user_key(s, user)?;
        Ok::<_, IamError>(
            s.groups
                .values()
                .filter(|g| g.members.contains(&key))
                .map(|g| (g.name.clone(), g.clone()))
                .collect(),
        )
    })?;
    let (shown, next) = page(&groups, max, marker);
    Ok(result(c.action, |x| {
        x.list("Groups", &shown, |x, g| write_group(x, c, g));
        x.paging(next.as_deref());
    }))
}
