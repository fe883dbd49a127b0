//! Users, their access keys, console passwords and tags.

use super::params::{NAME_CHARS, NameRule, page};
use super::{Ctx, IamError, result};
use crate::store_model::{
    AccessKeyRecord, IdentityState, KeyStatus, LoginProfile, Tags, UserRecord,
};
use crate::xml::Xml;

/// `UserName`: `[\w+=,.@-]+`, 1..=64.
pub(crate) const USER_NAME: NameRule = NameRule {
    member: "userName",
    max: 64,
    extra: NAME_CHARS,
};

/// Routes the user actions; `None` for other actions.
pub(crate) fn call(c: &Ctx<'_>) -> Option<Result<String, IamError>> {
    Some(match c.action {
        "CreateUser" => create_user(c),
        "GetUser" => get_user(c),
        "ListUsers" => list_users(c),
        "UpdateUser" => update_user(c),
        "DeleteUser" => delete_user(c),
        "CreateAccessKey" => create_access_key(c),
        "ListAccessKeys" => list_access_keys(c),
        "UpdateAccessKey" => update_access_key(c),
        "DeleteAccessKey" => delete_access_key(c),
        "GetAccessKeyLastUsed" => access_key_last_used(c),
        "CreateLoginProfile" => create_login_profile(c),
        "GetLoginProfile" => get_login_profile(c),
        "UpdateLoginProfile" => update_login_profile(c),
        "DeleteLoginProfile" => delete_login_profile(c),
        "ChangePassword" => change_password(c),
        "TagUser" => super::tagging::tag(c, &TAGGED_USER),
        "UntagUser" => super::tagging::untag(c, &TAGGED_USER),
        "ListUserTags" => super::tagging::list(c, &TAGGED_USER),
        _ => return None,
    })
}

pub(crate) fn no_such_user(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
}

/// The stored key of the user `name` (IAM names are case-insensitive).
pub(crate) fn user_key(s: &IdentityState, name: &str) -> Result<String, IamError> {
    s.user(name)
        .map(|u| u.name.clone())
        .ok_or_else(|| no_such_user(name))
}

/// The ARN of an existing user, for authorization (a missing user is authorized on the
/// ARN it would have at `/`, so that the caller learns nothing it may not ask).
fn user_arn(c: &Ctx<'_>, name: &str) -> String {
    let path = c
        .svc
        .store
        .read(|s| s.user(name).map(|u| u.path.clone()))
        .unwrap_or_else(|| "/".to_owned());
    c.arn("user", &path, name)
}

pub(crate) fn write_user(x: &mut Xml, c: &Ctx<'_>, u: &UserRecord, with_tags: bool) {
    x.text("Path", &u.path)
        .text("UserName", &u.name)
        .text("UserId", &u.id)
        .text("Arn", &c.arn("user", &u.path, &u.name))
        .time("CreateDate", u.created);
    if with_tags && !u.tags.is_empty() {
        write_tags(x, &u.tags);
    }
}

pub(crate) fn write_tags(x: &mut Xml, tags: &Tags) {
    x.list("Tags", tags, |x, (k, v)| {
        x.text("Key", k).text("Value", v);
    });
}

fn create_user(c: &Ctx<'_>) -> Result<String, IamError> {
    let name = c.params.name("UserName", &USER_NAME)?;
    let path = c.params.path("Path")?;
    let tags = c.params.tags("Tags")?;
    c.authorize(&c.arn("user", &path, name))?;
    let id = crate::store_ids::unique_id("AIDA")?;
    let now = c.now();
    let user = c.change(|s| {
        if s.user(name).is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "User with name {name} already exists."
            )));
        }
        let mut u = UserRecord::new(name, &id, &path, now);
        u.tags = tags;
        s.users.insert(name.to_owned(), u.clone());
        Ok(u)
    })?;
    Ok(result(c.action, |x| {
        x.open("User");
        write_user(x, c, &user, true);
        x.close("User");
    }))
}

fn get_user(c: &Ctx<'_>) -> Result<String, IamError> {
    let Some(name) = c.user_or_caller()? else {
        c.authorize(&c.caller.arn)?;
        // The account root: its id is the account id, as AWS answers.
        return Ok(result(c.action, |x| {
            x.open("User")
                .text("UserId", c.svc.account())
                .text("Arn", &c.caller.arn)
                .time("CreateDate", 0)
                .close("User");
        }));
    };
    c.authorize(&user_arn(c, &name))?;
    let user = c
        .svc
        .store
        .read(|s| s.user(&name).cloned())
        .ok_or_else(|| no_such_user(&name))?;
    Ok(result(c.action, |x| {
        x.open("User");
        write_user(x, c, &user, true);
        x.close("User");
    }))
}

fn list_users(c: &Ctx<'_>) -> Result<String, IamError> {
    let prefix = c.params.get("PathPrefix").unwrap_or("/").to_owned();
    let (max, marker) = c.params.paging()?;
    c.authorize(&c.arn("user", "/", ""))?;
    let users: Vec<(String, UserRecord)> = c.svc.store.read(|s| {
        s.users
            .values()
            .filter(|u| u.path.starts_with(&prefix))
            .map(|u| (u.name.clone(), u.clone()))
            .collect()
    });
    let (shown, next) = page(&users, max, marker);
    Ok(result(c.action, |x| {
        x.list("Users", &shown, |x, u| write_user(x, c, u, false));
        x.paging(next.as_deref());
    }))
}

fn update_user(c: &Ctx<'_>) -> Result<String, IamError> {
    let name = c.params.name("UserName", &USER_NAME)?;
    let new_name = c.params.name_opt("NewUserName", &USER_NAME)?;
    let new_path = match c.params.get("NewPath") {
        Some(_) => Some(c.params.path("NewPath")?),
        None => None,
    };
    c.authorize(&user_arn(c, name))?;
    c.change(|s| {
        let key = user_key(s, name)?;
        let mut user = s.users.remove(&key).ok_or_else(|| no_such_user(name))?;
        if let Some(p) = new_path {
            user.path = p;
        }
        if let Some(n) = new_name.filter(|n| *n != key) {
            if s.user(n).is_some() {
                return Err(IamError::EntityAlreadyExists(format!(
                    "User with name {n} already exists."
                )));
            }
            user.name = n.to_owned();
            for g in s.groups.values_mut() {
                if g.members.remove(&key) {
                    g.members.insert(n.to_owned());
                }
            }
            for k in s.access_keys.values_mut() {
                if k.user_name.as_deref() == Some(key.as_str()) {
                    k.user_name = Some(n.to_owned());
                }
            }
        }
        s.users.insert(user.name.clone(), user);
        Ok(())
    })?;
    Ok(String::new())
}

fn delete_user(c: &Ctx<'_>) -> Result<String, IamError> {
    let name = c.params.name("UserName", &USER_NAME)?;
    c.authorize(&user_arn(c, name))?;
    c.change(|s| {
        let key = user_key(s, name)?;
        let user = s.users.get(&key).ok_or_else(|| no_such_user(name))?;
        let conflict = |what: &str| {
            Err(IamError::DeleteConflict(format!(
                "Cannot delete entity, must {what} first."
            )))
        };
        if user.login_profile.is_some() {
            return conflict("delete login profile");
        }
        if s.access_keys
            .values()
            .any(|k| k.user_name.as_deref() == Some(key.as_str()))
        {
            return conflict("delete access keys");
        }
        if !user.inline_policies.is_empty() {
            return conflict("delete policies");
        }
        if !user.attached_policies.is_empty() {
            return conflict("detach all policies");
        }
        if s.groups.values().any(|g| g.members.contains(&key)) {
            return conflict("remove users from group");
        }
        s.users.remove(&key);
        Ok(())
    })?;
    Ok(String::new())
}

/// The user named by `UserName` (or the caller), checked to exist; `None` = the root.
fn key_owner(c: &Ctx<'_>) -> Result<Option<String>, IamError> {
    let owner = c.user_or_caller()?;
    match &owner {
        None => c.authorize(&c.caller.arn)?,
        Some(name) => {
            c.authorize(&user_arn(c, name))?;
            return c.svc.store.read(|s| user_key(s, name)).map(Some);
        }
    }
    Ok(owner)
}

fn create_access_key(c: &Ctx<'_>) -> Result<String, IamError> {
    let owner = key_owner(c)?;
    let (id, secret) = crate::store_ids::new_long_term_key()?;
    let now = c.now();
    c.change(|s| {
        let count = s
            .access_keys
            .values()
            .filter(|k| k.user_name == owner)
            .count();
        if count >= crate::ACCESS_KEYS_PER_USER {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {}",
                crate::ACCESS_KEYS_PER_USER
            )));
        }
        s.access_keys.insert(
            id.clone(),
            AccessKeyRecord {
                id: id.clone(),
                user_name: owner.clone(),
                secret: secret.clone(),
                status: KeyStatus::Active,
                created: now,
                last_used: None,
            },
        );
        Ok(())
    })?;
    Ok(result(c.action, |x| {
        x.open("AccessKey")
            .text_opt("UserName", owner.as_deref())
            .text("AccessKeyId", &id)
            .text("Status", "Active")
            .text("SecretAccessKey", secret.expose())
            .time("CreateDate", now)
            .close("AccessKey");
    }))
}

fn list_access_keys(c: &Ctx<'_>) -> Result<String, IamError> {
    let owner = key_owner(c)?;
    let (max, marker) = c.params.paging()?;
    let keys: Vec<(String, AccessKeyRecord)> = c.svc.store.read(|s| {
        s.access_keys
            .values()
            .filter(|k| k.user_name == owner)
            .map(|k| (k.id.clone(), k.clone()))
            .collect()
    });
    let (shown, next) = page(&keys, max, marker);
    Ok(result(c.action, |x| {
        x.list("AccessKeyMetadata", &shown, |x, k| {
            x.text_opt("UserName", k.user_name.as_deref())
                .text("AccessKeyId", &k.id)
                .text("Status", k.status.as_str())
                .time("CreateDate", k.created);
        });
        x.paging(next.as_deref());
    }))
}

fn no_such_key(id: &str) -> IamError {
    IamError::NoSuchEntity(format!("The Access Key with id {id} cannot be found."))
}

fn update_access_key(c: &Ctx<'_>) -> Result<String, IamError> {
    let id = c.params.required("AccessKeyId", "accessKeyId")?;
    let status = match c.params.required("Status", "status")? {
        "Active" => KeyStatus::Active,
        "Inactive" => KeyStatus::Inactive,
        other => {
            return Err(IamError::constraint(
                "status",
                Some(other),
                "Member must satisfy enum value set: [Active, Inactive]",
            ));
        }
    };
    let owner = key_owner(c)?;
    c.change(|s| {
        let key = s
            .access_keys
            .get_mut(id)
            .filter(|k| k.user_name == owner)
            .ok_or_else(|| no_such_key(id))?;
        key.status = status;
        Ok(())
    })?;
    Ok(String::new())
}

fn delete_access_key(c: &Ctx<'_>) -> Result<String, IamError> {
    let id = c.params.required("AccessKeyId", "accessKeyId")?;
    let owner = key_owner(c)?;
    c.change(|s| {
        if s.access_keys.get(id).is_none_or(|k| k.user_name != owner) {
            return Err(no_such_key(id));
        }
        s.access_keys.remove(id);
        Ok(())
    })?;
    Ok(String::new())
}

fn access_key_last_used(c: &Ctx<'_>) -> Result<String, IamError> {
    let id = c.params.required("AccessKeyId", "accessKeyId")?;
    let owner = c
        .svc
        .store
        .read(|s| s.access_keys.get(id).map(|k| k.user_name.clone()))
        .ok_or_else(|| no_such_key(id))?;
    match &owner {
        None => c.authorize(&c.arn("root", "", ""))?,
        Some(name) => c.authorize(&user_arn(c, name))?,
    }
    let used = c.svc.store.last_used(id);
    Ok(result(c.action, |x| {
        x.text_opt("UserName", owner.as_deref());
        x.open("AccessKeyLastUsed");
        match &used {
            Some(u) => {
                x.time("LastUsedDate", u.at)
                    .text("ServiceName", &u.service)
                    .text("Region", &u.region);
            }
            None => {
                x.text("ServiceName", "N/A").text("Region", "N/A");
            }
        }
        x.close("AccessKeyLastUsed");
    }))
}

fn hash_password(password: &str) -> Result<String, IamError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| IamError::ServiceFailure)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| IamError::ServiceFailure)?;
    // Argon2id v19 with the crate's defaults (m = 19 MiB, t = 2, p = 1: OWASP's minimum).
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| IamError::ServiceFailure)
}

/// AWS's default password policy when the account sets none: 8 to 128 characters.
fn check_password(password: &str) -> Result<(), IamError> {
    let n = password.chars().count();
    if n > 128 {
        return Err(IamError::constraint(
            "password",
            None,
            "Member must have length less than or equal to 128",
        ));
    }
    if n < 8 {
        return Err(IamError::PasswordPolicyViolation(
            "Password should have a minimum length of 8".to_owned(),
        ));
    }
    Ok(())
}

fn write_login_profile(x: &mut Xml, user: &str, p: &LoginProfile) {
    x.open("LoginProfile")
        .text("UserName", user)
        .time("CreateDate", p.created)
        .bool("PasswordResetRequired", p.password_reset_required)
        .close("LoginProfile");
}

fn no_login_profile(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("Login Profile for User {name} cannot be found."))
}

fn create_login_profile(c: &Ctx<'_>) -> Result<String, IamError> {
    let name = c
        .user_or_caller()?
        .ok_or_else(|| IamError::constraint("userName", None, "Member must not be null"))?;
    let password = c.params.required("Password", "password")?;
    let reset = c.params.bool("PasswordResetRequired").unwrap_or(false);
    c.authorize(&user_arn(c, &name))?;
    check_password(password)?;
    let hash = hash_password(password)?;
    let now = c.now();
    let (key, profile) = c.change(|s| {
        let key = user_key(s, &name)?;
        let user = s.users.get_mut(&key).ok_or_else(|| no_such_user(&name))?;
        if user.login_profile.is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "Login Profile for user {key} already exists."
            )));
        }
        let profile = LoginProfile {
            password_hash: hash,
            created: now,
            password_reset_required: reset,
        };
        user.login_profile = Some(profile.clone());
        Ok((key, profile))
    })?;
    Ok(result(c.action, |x| write_login_profile(x, &key, &profile)))
}

fn get_login_profile(c: &Ctx<'_>) -> Result<String, IamError> {
    let name = c
        .user_or_caller()?
        .ok_or_else(|| IamError::constraint("userName", None, "Member must not be null"))?;
    c.authorize(&user_arn(c, &name))?;
    let (key, profile) = c.svc.store.read(|s| {
        let u = s.user(&name).ok_or_else(|| no_such_user(&name))?;
        let p = u
            .login_profile
            .clone()
            .ok_or_else(|| no_login_profile(&u.name))?;
        Ok::<_, IamError>((u.name.clone(), p))
    })?;
    Ok(result(c.action, |x| write_login_profile(x, &key, &profile)))
}

fn update_login_profile(c: &Ctx<'_>) -> Result<String, IamError> {
    let name = c.params.name("UserName", &USER_NAME)?;
    let password = c.params.get("Password");
    let reset = c.params.bool("PasswordResetRequired");
    c.authorize(&user_arn(c, name))?;
    let hash = match password {
        Some(p) => {
            check_password(p)?;
            Some(hash_password(p)?)
        }
        None => None,
    };
    c.change(|s| {
        let key = user_key(s, name)?;
        let user = s.users.get_mut(&key).ok_or_else(|| no_such_user(name))?;
        let profile = user
            .login_profile
            .as_mut()
            .ok_or_else(|| no_login_profile(&key))?;
        if let Some(h) = hash {
            profile.password_hash = h;
        }
        if let Some(r) = reset {
            profile.password_reset_required = r;
        }
        Ok(())
    })?;
    Ok(String::new())
}

fn delete_login_profile(c: &Ctx<'_>) -> Result<String, IamError> {
    let name = c.params.name("UserName", &USER_NAME)?;
    c.authorize(&user_arn(c, name))?;
    c.change(|s| {
        let key = user_key(s, name)?;
        let user = s.users.get_mut(&key).ok_or_else(|| no_such_user(name))?;
        user.login_profile
            .take()
            .map(|_| ())
            .ok_or_else(|| no_login_profile(&key))
    })?;
    Ok(String::new())
}

/// The refusal of a wrong current password (AWS publishes no text for it).
const WRONG_OLD_PASSWORD: &str = "The old password is incorrect.";

/// ChangePassword: the calling IAM user's own console password, given the current one
/// (`iam:ChangePassword` on the user's own ARN). It clears PasswordResetRequired, so a
/// user made to choose a new password at sign-in is done with it.
fn change_password(c: &Ctx<'_>) -> Result<String, IamError> {
    let old = c.params.required("OldPassword", "oldPassword")?;
    let new = c.params.required("NewPassword", "newPassword")?;
    let sealdb_common::PrincipalKind::User { user_name, .. } = &c.caller.kind else {
        return Err(IamError::InvalidUserType(
            "Only an IAM user can change its own password with ChangePassword.".to_owned(),
        ));
    };
    c.authorize(&user_arn(c, user_name))?;
    let stored = c.svc.store.read(|s| {
        s.user(user_name)
            .and_then(|u| u.login_profile.as_ref())
            .map(|p| p.password_hash.clone())
    });
    let Some(stored) = stored else {
        return Err(no_login_profile(user_name));
    };
    if !password_matches(old, &stored) {
        return Err(IamError::AccessDenied(WRONG_OLD_PASSWORD.to_owned()));
    }
    check_password(new)?;
    let hash = hash_password(new)?;
    c.change(|s| {
        let key = user_key(s, user_name)?;
        let user = s.users.get_mut(&key).ok_or_else(|| no_such_user(&key))?;
        let profile = user
            .login_profile
            .as_mut()
            .ok_or_else(|| no_login_profile(&key))?;
        // The password checked above must still be the stored one.
        if profile.password_hash != stored {
            return Err(IamError::AccessDenied(WRONG_OLD_PASSWORD.to_owned()));
        }
        profile.password_hash = hash;
        profile.password_reset_required = false;
        Ok(())
    })?;
    Ok(String::new())
}

/// Whether `password` matches a stored Argon2id PHC string.
fn password_matches(password: &str, stored: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(stored).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Users as tag actions see them.
const TAGGED_USER: super::tagging::Taggable = super::tagging::Taggable {
    member: "UserName",
    rule: &USER_NAME,
    arn: user_arn,
    tags: |s, name| s.user(name).map(|u| u.tags.clone()),
    tags_mut: |s, name| {
        let key = s.user(name)?.name.clone();
        s.users.get_mut(&key).map(|u| &mut u.tags)
    },
    missing: no_such_user,
};
