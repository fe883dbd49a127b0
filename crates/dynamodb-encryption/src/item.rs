//! Encrypting and decrypting whole items (reference §5.3, §10).

use crate::actions::AttributeActions;
use crate::attribute_crypto::{AttributeDecryptor, AttributeEncryptor};
use crate::error::{Error, Result};
use crate::materials::{
    CryptographicMaterialsProvider, DecryptionMaterials, EncryptionContext, EncryptionMaterials,
};
use crate::serialize::{Dialect, canonical_number};
use crate::signature::string_to_sign_as;
use crate::{Action, Attribute, Item, material_description};

/// Description key naming the attribute cipher's mode and padding (under the default
/// prefix; see [`AttributeActions::with_description_prefix`]).
pub const SYM_MODE_KEY: &str = "amzn-ddb-map-sym-mode";
/// The only mode either library writes.
pub const SYM_MODE_CBC: &str = "/CBC/PKCS5Padding";
/// Description key naming the signature algorithm (written by Python for every key), under
/// the default prefix.
pub const SIGNING_ALG_KEY: &str = "amzn-ddb-map-signingAlg";

/// The same value with every number in Java-canonical form. Signed numbers are stored this
/// way so that Python and Java render them identically when they verify (reference §9.1)
/// and the KMS encryption context sees the value DynamoDB will hand back (§9.8).
fn canonical_numbers(value: &Attribute) -> Result<Attribute> {
    Ok(match value {
        Attribute::N(n) => Attribute::N(canonical_number(n)?),
        Attribute::Ns(ns) => Attribute::Ns(
            ns.iter()
                .map(|n| canonical_number(n))
                .collect::<Result<_, _>>()?,
        ),
        Attribute::L(items) => {
            Attribute::L(items.iter().map(canonical_numbers).collect::<Result<_>>()?)
        }
        Attribute::M(map) => Attribute::M(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), canonical_numbers(v)?)))
                .collect::<Result<_>>()?,
        ),
        other => other.clone(),
    })
}

/// The actions for this context's table: the primary key is never encrypted.
fn effective_actions(
    context: &EncryptionContext,
    actions: &AttributeActions,
) -> Result<AttributeActions> {
    actions.for_primary_key(context.key_names())
}

/// The item as it will be stored before encryption, with signed numbers canonical, and the
/// actions that apply. `None` when nothing is to be done.
fn prepare_encrypt(
    item: &Item,
    context: &EncryptionContext,
    actions: &AttributeActions,
) -> Result<Option<(Item, AttributeActions)>> {
    for reserved in [
        actions.signature_attribute(),
        actions.description_attribute(),
    ] {
        if item.contains_key(reserved) {
            return Err(Error::ReservedAttribute(reserved.to_owned()));
        }
    }
    if actions.takes_no_action() {
        return Ok(None);
    }
    let actions = effective_actions(context, actions)?;
    let prepared = item
        .iter()
        .map(|(name, value)| {
            let value = match actions.action(name) {
                Action::SignOnly => canonical_numbers(value)?,
                Action::EncryptAndSign | Action::DoNothing => value.clone(),
            };
            Ok((name.clone(), value))
        })
        .collect::<Result<Item>>()?;
    Ok(Some((prepared, actions)))
}

/// Encrypts and signs `item` with materials from `provider`.
pub async fn encrypt_item<P: CryptographicMaterialsProvider>(
    item: &Item,
    context: &EncryptionContext,
    actions: &AttributeActions,
    provider: &P,
) -> Result<Item> {
    let Some((prepared, actions)) = prepare_encrypt(item, context, actions)? else {
        return Ok(item.clone());
    };
    let mut provider_context = context.clone();
    provider_context.attributes = prepared.clone();
    provider_context.material_description.clear();
    let materials = provider.encryption_materials(&provider_context).await?;
    seal(prepared, context, &actions, &materials)
}

/// Encrypts and signs `item` with materials already at hand.
pub fn encrypt_item_with_materials(
    item: &Item,
    context: &EncryptionContext,
    actions: &AttributeActions,
    materials: &EncryptionMaterials,
) -> Result<Item> {
    match prepare_encrypt(item, context, actions)? {
        None => Ok(item.clone()),
        Some((prepared, actions)) => seal(prepared, context, &actions, materials),
    }
}

fn seal(
    mut item: Item,
    context: &EncryptionContext,
    actions: &AttributeActions,
    materials: &EncryptionMaterials,
) -> Result<Item> {
    let mut description = materials.material_description.clone();
    // Built on the first attribute to encrypt, then shared by the others.
    let mut encryptor: Option<AttributeEncryptor> = None;
    for (name, value) in item.iter_mut() {
        if actions.action(name) != Action::EncryptAndSign {
            continue;
        }
        let encryptor = match &mut encryptor {
            Some(e) => e,
            None => {
                let key = materials.encryption_key.as_ref().ok_or_else(|| {
                    Error::MissingMaterials(format!("no encryption key for attribute {name}"))
                })?;
                encryptor.insert(AttributeEncryptor::new(key.bytes())?)
            }
        };
        *value = Attribute::B(encryptor.encrypt(value)?);
    }
    if materials.encryption_key.is_some() {
        description.insert(actions.cipher_mode_key(), SYM_MODE_CBC.into());
    }
    // Python writes the signature algorithm for every key, Java only for asymmetric ones;
    // both ignore it where it does not apply.
    description.insert(
        actions.signing_algorithm_key(),
        materials.signing_key.algorithm().to_owned(),
    );
    let to_sign = string_to_sign_as(
        context.table_name.as_deref(),
        &item,
        |n| actions.action(n),
        Dialect::Standard,
    )?;
    let signature = materials.signing_key.sign(&to_sign)?;
    item.insert(
        actions.signature_attribute().into(),
        Attribute::B(signature),
    );
    item.insert(
        actions.description_attribute().into(),
        Attribute::B(material_description::serialize(&description)),
    );
    Ok(item)
}

/// A stored item split into its signature, its description and the rest.
struct Opened {
    item: Item,
    signature: Vec<u8>,
    context: EncryptionContext,
    actions: AttributeActions,
}

fn open(
    stored: &Item,
    context: &EncryptionContext,
    actions: &AttributeActions,
) -> Result<Option<Opened>> {
    if actions.takes_no_action() {
        return Ok(None);
    }
    let actions = effective_actions(context, actions)?;
    let mut item = stored.clone();
    let signature = match item.remove(actions.signature_attribute()) {
        Some(Attribute::B(sig)) => sig,
        Some(_) => return Err(Error::Malformed("signature attribute is not binary".into())),
        None => return Err(Error::Malformed("item has no signature attribute".into())),
    };
    let description = match item.remove(actions.description_attribute()) {
        Some(Attribute::B(bytes)) => material_description::parse(&bytes)?,
        Some(_) => {
            return Err(Error::Malformed(
                "material description attribute is not binary".into(),
            ));
        }
        // Java omits the description when it would be empty.
        None => Default::default(),
    };
    let mut context = context.clone();
    context.attributes = item.clone();
    context.material_description = description;
    Ok(Some(Opened {
        item,
        signature,
        context,
        actions,
    }))
}

/// Verifies and decrypts a stored item with materials from `provider`. The signature is
/// checked before any attribute is decrypted.
pub async fn decrypt_item<P: CryptographicMaterialsProvider>(
    stored: &Item,
    context: &EncryptionContext,
    actions: &AttributeActions,
    provider: &P,
) -> Result<Item> {
    let Some(opened) = open(stored, context, actions)? else {
        return Ok(stored.clone());
    };
    let materials = provider.decryption_materials(&opened.context).await?;
    unseal(opened, &materials)
}

/// Verifies and decrypts a stored item with materials already at hand.
pub fn decrypt_item_with_materials(
    stored: &Item,
    context: &EncryptionContext,
    actions: &AttributeActions,
    materials: &DecryptionMaterials,
) -> Result<Item> {
    match open(stored, context, actions)? {
        None => Ok(stored.clone()),
        Some(opened) => unseal(opened, materials),
    }
}

/// Checks the signature in the standard rendering, then, as a compatibility fallback, in
/// Python's and Java's renderings where those differ (reference §9.1, §9.2): a signed
/// number such as `-0` or a signed binary set with high bytes hashes differently in each.
fn verify(opened: &Opened, materials: &DecryptionMaterials) -> Result<()> {
    let described = opened
        .context
        .material_description
        .get(&opened.actions.signing_algorithm_key())
        .map(String::as_str);
    let described_key = materials
        .verification_key
        .for_described_algorithm(described);
    let key = described_key
        .as_ref()
        .unwrap_or(&materials.verification_key);
    let mut tried: Vec<Vec<u8>> = Vec::new();
    for dialect in [Dialect::Standard, Dialect::Python, Dialect::Java] {
        let to_sign = match string_to_sign_as(
            opened.context.table_name.as_deref(),
            &opened.item,
            |n| opened.actions.action(n),
            dialect,
        ) {
            Ok(bytes) => bytes,
            // A rendering that cannot express a value (Python beyond 28 digits) is skipped.
            Err(_) if dialect != Dialect::Standard => continue,
            Err(e) => return Err(e.into()),
        };
        if tried.contains(&to_sign) {
            continue;
        }
        match key.verify(&to_sign, &opened.signature) {
            Ok(()) => return Ok(()),
            Err(Error::SignatureMismatch) => tried.push(to_sign),
            Err(e) => return Err(e),
        }
    }
    Err(Error::SignatureMismatch)
}

fn unseal(opened: Opened, materials: &DecryptionMaterials) -> Result<Item> {
    verify(&opened, materials)?;
    let mut item = opened.item;
    let mut encrypted = item
        .iter_mut()
        .filter(|(name, _)| opened.actions.action(name) == Action::EncryptAndSign)
        .peekable();
    let Some((first, _)) = encrypted.peek() else {
        return Ok(item);
    };
    // Mode and key are the same for every attribute: check them once.
    match opened
        .context
        .material_description
        .get(&opened.actions.cipher_mode_key())
        .map(String::as_str)
    {
        Some(SYM_MODE_CBC) => {}
        Some(other) => return Err(Error::UnsupportedAlgorithm(format!("AES{other}"))),
        None => {
            return Err(Error::Malformed(
                "encrypted attributes but no cipher mode in the description".into(),
            ));
        }
    }
    let key = materials.decryption_key.as_ref().ok_or_else(|| {
        Error::MissingMaterials(format!("no decryption key for attribute {first}"))
    })?;
    let decryptor = AttributeDecryptor::new(key.bytes())
        .map_err(|_| Error::Malformed(format!("attribute {first} does not decrypt")))?;
    for (name, value) in encrypted {
        let Attribute::B(stored) = value else {
            return Err(Error::Malformed(format!(
                "encrypted attribute {name} is not binary"
            )));
        };
        *value = decryptor
            .decrypt(stored)
            .map_err(|_| Error::Malformed(format!("attribute {name} does not decrypt")))?;
    }
    Ok(item)
}
