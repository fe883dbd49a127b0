//! TagUser / UntagUser / ListUserTags and TagRole / UntagRole / ListRoleTags: one
//! implementation over the kind of principal tagged.

use super::params::NameRule;
use super::users::write_tags;
use super::{Ctx, IamError, result};
use crate::store_model::{IdentityState, Tags};

/// Where a taggable principal's tags are, and how IAM names it.
pub(crate) struct Taggable {
    /// The request member naming it (`UserName`, `RoleName`).
    pub(crate) member: &'static str,
    pub(crate) rule: &'static NameRule,
    /// Its ARN, for authorization.
    pub(crate) arn: fn(&Ctx<'_>, &str) -> String,
    /// Its tags, for reading.
    pub(crate) tags: fn(&IdentityState, &str) -> Option<Tags>,
    /// Its tags, for changing.
    pub(crate) tags_mut: for<'s> fn(&'s mut IdentityState, &str) -> Option<&'s mut Tags>,
    /// The error when there is none of that name.
    pub(crate) missing: fn(&str) -> IamError,
}

/// Adds or replaces tags, keeping IAM's limit of 50.
pub(crate) fn merge_tags(into: &mut Tags, tags: Tags) -> Result<(), IamError> {
    let mut merged = into.clone();
    merged.extend(tags);
    if merged.len() > 50 {
        return Err(IamError::LimitExceeded(
            "The number of tags has reached the maximum limit.".to_owned(),
        ));
    }
    *into = merged;
    Ok(())
}

pub(crate) fn tag(c: &Ctx<'_>, t: &Taggable) -> Result<String, IamError> {
    let name = c.params.name(t.member, t.rule)?;
    let tags = c.params.tags("Tags")?;
    c.authorize(&(t.arn)(c, name))?;
    c.change(|s| {
        let current = (t.tags_mut)(s, name).ok_or_else(|| (t.missing)(name))?;
        merge_tags(current, tags)
    })?;
    Ok(String::new())
}

pub(crate) fn untag(c: &Ctx<'_>, t: &Taggable) -> Result<String, IamError> {
    let name = c.params.name(t.member, t.rule)?;
    let keys: Vec<String> = c
        .params
        .list("TagKeys")
        .into_iter()
        .map(str::to_owned)
        .collect();
    c.authorize(&(t.arn)(c, name))?;
    c.change(|s| {
        let current = (t.tags_mut)(s, name).ok_or_else(|| (t.missing)(name))?;
        for k in &keys {
            current.remove(k);
        }
        Ok(())
    })?;
    Ok(String::new())
}

pub(crate) fn list(c: &Ctx<'_>, t: &Taggable) -> Result<String, IamError> {
    let name = c.params.name(t.member, t.rule)?;
    c.authorize(&(t.arn)(c, name))?;
    let tags = c
        .svc
        .store
        .read(|s| (t.tags)(s, name))
        .ok_or_else(|| (t.missing)(name))?;
    Ok(result(c.action, |x| {
        write_tags(x, &tags);
        x.paging(None);
    }))
}
