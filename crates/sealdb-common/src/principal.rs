//! The authenticated caller of a request.

/// Who made a request, as established by SigV4 verification in the front door.
///
/// Every credential maps to an IAM-style principal in the server's account: the
/// admin credential is the account root (`arn:aws:iam::<account>:root`), others are
/// users (`arn:aws:iam::<account>:user/<name>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The access key id the request was signed with (not secret).
    pub access_key_id: String,
    /// `arn:aws:iam::<account>:root` or `arn:aws:iam::<account>:user/<name>`.
    pub arn: String,
    /// The 12-digit account id of this server.
    pub account_id: String,
    /// The user name, or `None` for the account root.
    pub user_name: Option<String>,
    /// The region this server answers for.
    pub region: String,
    /// The caller's address as seen by the listener, for audit records.
    pub source_ip: String,
}

impl Principal {
    /// The account root principal.
    pub fn root(access_key_id: &str, account_id: &str, region: &str, source_ip: &str) -> Self {
        Principal {
            access_key_id: access_key_id.to_owned(),
            arn: format!("arn:aws:iam::{account_id}:root"),
            account_id: account_id.to_owned(),
            user_name: None,
            region: region.to_owned(),
            source_ip: source_ip.to_owned(),
        }
    }

    /// A named IAM-style user of the account.
    pub fn user(
        access_key_id: &str,
        account_id: &str,
        user_name: &str,
        region: &str,
        source_ip: &str,
    ) -> Self {
        Principal {
            access_key_id: access_key_id.to_owned(),
            arn: format!("arn:aws:iam::{account_id}:user/{user_name}"),
            account_id: account_id.to_owned(),
            user_name: Some(user_name.to_owned()),
            region: region.to_owned(),
            source_ip: source_ip.to_owned(),
        }
    }

    /// True for the account root.
    pub fn is_root(&self) -> bool {
        self.user_name.is_none()
    }
}
