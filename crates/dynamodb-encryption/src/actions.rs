//! Which action applies to which attribute (reference §7.1).

use crate::error::{Error, Result};
use crate::{Action, MATERIAL_DESCRIPTION_ATTRIBUTE, SIGNATURE_ATTRIBUTE};
use std::collections::BTreeMap;

/// Java's default prefix of the two material-description keys the item encryptor writes
/// (`amzn-ddb-map-sym-mode`, `amzn-ddb-map-signingAlg`).
pub const DEFAULT_DESCRIPTION_PREFIX: &str = "amzn-ddb-map-";

/// A default action plus per-attribute overrides, as Python's `AttributeActions`, and the
/// names the encryptor writes under, which Java lets a deployment change: the two
/// attributes it adds and the prefix of its two material-description keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeActions {
    default: Action,
    overrides: BTreeMap<String, Action>,
    signature_attribute: String,
    description_attribute: String,
    description_prefix: String,
}

impl Default for AttributeActions {
    /// Everything encrypted and signed (Python's default).
    fn default() -> Self {
        AttributeActions::new(Action::EncryptAndSign)
    }
}

/// The weaker of two actions: DO_NOTHING < SIGN_ONLY < ENCRYPT_AND_SIGN.
fn strength(a: Action) -> u8 {
    match a {
        Action::DoNothing => 0,
        Action::SignOnly => 1,
        Action::EncryptAndSign => 2,
    }
}

impl AttributeActions {
    /// Every attribute gets `default`.
    pub fn new(default: Action) -> Self {
        AttributeActions {
            default,
            overrides: BTreeMap::new(),
            signature_attribute: SIGNATURE_ATTRIBUTE.to_owned(),
            description_attribute: MATERIAL_DESCRIPTION_ATTRIBUTE.to_owned(),
            description_prefix: DEFAULT_DESCRIPTION_PREFIX.to_owned(),
        }
    }

    /// Gives `name` its own action. The two reserved attributes cannot have one.
    pub fn with_action(mut self, name: impl Into<String>, action: Action) -> Result<Self> {
        let name = name.into();
        if self.is_reserved(&name) {
            return Err(Error::InvalidConfiguration(format!(
                "{name} is reserved and cannot have an action"
            )));
        }
        self.overrides.insert(name, action);
        Ok(self)
    }

    /// Other names for the signature and material-description attributes, as Java's
    /// `setSignatureFieldName` / `setMaterialDescriptionFieldName`; both sides of a
    /// deployment must use the same ones.
    pub fn with_reserved_names(
        mut self,
        signature: impl Into<String>,
        material_description: impl Into<String>,
    ) -> Result<Self> {
        let (signature, description) = (signature.into(), material_description.into());
        if signature.is_empty() || description.is_empty() || signature == description {
            return Err(Error::InvalidConfiguration(
                "the signature and material-description attributes need two distinct names".into(),
            ));
        }
        if let Some(name) = [&signature, &description]
            .into_iter()
            .find(|n| self.overrides.contains_key(n.as_str()))
        {
            return Err(Error::InvalidConfiguration(format!(
                "{name} has an action and cannot be reserved"
            )));
        }
        self.signature_attribute = signature;
        self.description_attribute = description;
        Ok(self)
    }

    /// Another prefix for the cipher-mode and signature-algorithm keys of the material
    /// description (`<prefix>sym-mode`, `<prefix>signingAlg`), as the `descriptionBase` of
    /// Java's `DynamoDBEncryptor.getInstance(provider, descriptionBase)`. The providers'
    /// own keys (`amzn-ddb-env-key`, `amzn-ddb-meta-id`, ...) keep their names, as in Java.
    /// Both sides of a deployment must use the same prefix.
    pub fn with_description_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.description_prefix = prefix.into();
        self
    }

    /// The prefix of the encryptor's description keys (`amzn-ddb-map-` unless changed).
    pub fn description_prefix(&self) -> &str {
        &self.description_prefix
    }

    /// The description key naming the attribute cipher's mode and padding.
    pub fn cipher_mode_key(&self) -> String {
        format!("{}sym-mode", self.description_prefix)
    }

    /// The description key naming the signature algorithm.
    pub fn signing_algorithm_key(&self) -> String {
        format!("{}signingAlg", self.description_prefix)
    }

    /// The attribute holding the signature (`*amzn-ddb-map-sig*` unless renamed).
    pub fn signature_attribute(&self) -> &str {
        &self.signature_attribute
    }

    /// The attribute holding the material description (`*amzn-ddb-map-desc*` unless
    /// renamed).
    pub fn description_attribute(&self) -> &str {
        &self.description_attribute
    }

    fn is_reserved(&self, name: &str) -> bool {
        name == self.signature_attribute || name == self.description_attribute
    }

    /// The action for an attribute.
    pub fn action(&self, name: &str) -> Action {
        self.overrides.get(name).copied().unwrap_or(self.default)
    }

    /// True when nothing is signed or encrypted: items then pass through untouched.
    pub fn takes_no_action(&self) -> bool {
        self.default == Action::DoNothing
            && self.overrides.values().all(|a| *a == Action::DoNothing)
    }

    /// The actions with the primary-key attributes lowered to at most SIGN_ONLY (key values
    /// must stay readable). An explicit ENCRYPT_AND_SIGN override on a key is an error, as in
    /// Python's `set_index_keys`.
    pub fn for_primary_key<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        let mut out = self.clone();
        for key in keys {
            let lowered = if strength(self.action(key)) > strength(Action::SignOnly) {
                Action::SignOnly
            } else {
                self.action(key)
            };
            match self.overrides.get(key) {
                Some(explicit) if *explicit != lowered => {
                    return Err(Error::InvalidConfiguration(format!(
                        "primary-key attribute {key} cannot be encrypted"
                    )));
                }
                _ => {
                    out.overrides.insert(key.to_owned(), lowered);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_default_and_reserved_names() {
        let actions = AttributeActions::new(Action::EncryptAndSign)
            .with_action("v", Action::SignOnly)
            .unwrap();
        assert_eq!(actions.action("v"), Action::SignOnly);
        assert_eq!(actions.action("other"), Action::EncryptAndSign);
        assert!(!actions.takes_no_action());
        for reserved in [SIGNATURE_ATTRIBUTE, MATERIAL_DESCRIPTION_ATTRIBUTE] {
            assert!(
                AttributeActions::default()
                    .with_action(reserved, Action::DoNothing)
                    .is_err()
            );
        }
        assert!(AttributeActions::new(Action::DoNothing).takes_no_action());
        assert!(
            !AttributeActions::new(Action::DoNothing)
                .with_action("x", Action::SignOnly)
                .unwrap()
                .takes_no_action()
        );
    }

    #[test]
    fn primary_keys_are_at_most_signed() {
        let keyed = AttributeActions::default()
            .for_primary_key(["pk", "sk"])
            .unwrap();
        assert_eq!(keyed.action("pk"), Action::SignOnly);
        assert_eq!(keyed.action("sk"), Action::SignOnly);
        assert_eq!(keyed.action("data"), Action::EncryptAndSign);
        let nothing = AttributeActions::new(Action::DoNothing)
            .for_primary_key(["pk"])
            .unwrap();
        assert_eq!(nothing.action("pk"), Action::DoNothing);
        let explicit = AttributeActions::default()
            .with_action("pk", Action::EncryptAndSign)
            .unwrap();
        assert!(explicit.for_primary_key(["pk"]).is_err());
        let signed = AttributeActions::default()
            .with_action("pk", Action::SignOnly)
            .unwrap();
        assert_eq!(
            signed.for_primary_key(["pk"]).unwrap().action("pk"),
            Action::SignOnly
        );
    }
}
