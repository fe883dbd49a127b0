//! Symmetric cryptography: Encrypt, Decrypt, ReEncrypt, GenerateDataKey*, GenerateRandom.

use super::*;
use super::{cloudhsm_keys, xks_keys};

pub(crate) fn decrypt_blob(
    c: &mut Ctx<'_>,
    ct: &[u8],
    named: Option<&str>,
    ctx: &BTreeMap<String, String>,
    action: &str,
    grant_op: &str,
) -> Result<(KeyRecord, zeroize::Zeroizing<Vec<u8>>), KmsError> {
    let (id, version) = crypto::blob_key(ct)?;
    let k = match c.live_key(&id)? {
        Some(k) => k,
        None => return Err(KmsError::InvalidCiphertext(String::new())),
    };
    c.resource = Some(c.key_arn(&k.id));
    if let Some(named) = named {
        let want = c.resolve(named, true)?;
        if want.id != k.id {
            return Err(KmsError::IncorrectKey(
                "The key ID in the request does not identify a CMK that can perform this operation.".into(),
            ));
        }
    }
    c.resource = Some(c.key_arn(&k.id));
    c.authorize(&k, action, Some(grant_op), ctx)?;
    c.usable(&k)?;
    c.symmetric(&k)?;
    if k.custom_key_store_id.is_some() {
        let pt = if k.origin == Origin::ExternalKeyStore {
            xks_keys::open(c, &k, ct, ctx)?
        } else {
            cloudhsm_keys::open(c, &k, ct, ctx)?
        };
        return Ok((k, pt));
    }
    if ct
        .first()
        .is_some_and(|v| [cloudhsm_keys::BLOB_V3_CLOUDHSM, xks_keys::BLOB_V4_XKS].contains(v))
    {
        return Err(KmsError::InvalidCiphertext(String::new()));
    }
    let m = c.material(&k, version)?;
    let pt = crypto::open(ct, &m, ctx)?;
    Ok((k, pt))
}

/// Encrypt.
pub(super) fn encrypt(c: &mut Ctx<'_>, input: &EncryptInput) -> Result<Value, KmsError> {
    let mut k = c.resolve(&input.key_id, true)?;
    let plaintext = &input.plaintext.0;
    let ctx = &input.encryption_context;
    c.authorize(&k, "Encrypt", Some("Encrypt"), ctx)?;
    c.usable(&k)?;
    if k.key_spec.is_rsa() && k.key_usage == KeyUsage::EncryptDecrypt {
        let alg = input
            .encryption_algorithm
            .as_deref()
            .unwrap_or("SYMMETRIC_DEFAULT");
        if !ctx.is_empty() {
            return Err(KmsError::InvalidKeyUsage(
                "EncryptionContext is not supported for asymmetric keys.".into(),
            ));
        }
        let m = c.material(&k, 1)?;
        let ct = asym::rsa_encrypt(&m, alg, plaintext)?;
        return Ok(
            json!({"CiphertextBlob": B64.encode(ct), "KeyId": c.key_arn(&k.id), "EncryptionAlgorithm": alg}),
        );
    }
    c.symmetric(&k)?;
    let ct = seal_current(c, &mut k, plaintext, ctx)?;
    Ok(
        json!({"CiphertextBlob": B64.encode(ct), "KeyId": c.key_arn(&k.id), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
    )
}

/// Seals `plaintext` under the key's current material (rotating first if it is due).
pub(super) fn seal_current(
    c: &mut Ctx<'_>,
    k: &mut KeyRecord,
    plaintext: &[u8],
    ctx: &BTreeMap<String, String>,
) -> Result<Vec<u8>, KmsError> {
    if k.origin == Origin::ExternalKeyStore {
        return xks_keys::seal(c, k, plaintext, ctx);
    }
    if k.custom_key_store_id.is_some() {
        return cloudhsm_keys::seal(c, k, plaintext, ctx);
    }
    c.rotate_if_due(k)?;
    let m = c.material(k, k.current_version)?;
    crypto::seal(&k.id, k.current_version, &m, plaintext, ctx)
}

/// Encrypt with a symmetric key (the typed path other services use).
pub(crate) fn encrypt_symmetric(
    c: &mut Ctx<'_>,
    key_id: &str,
    plaintext: &[u8],
    ctx: &BTreeMap<String, String>,
) -> Result<(KeyRecord, Vec<u8>), KmsError> {
    let mut k = c.resolve(key_id, true)?;
    c.authorize(&k, "Encrypt", Some("Encrypt"), ctx)?;
    c.usable(&k)?;
    c.symmetric(&k)?;
    let ct = seal_current(c, &mut k, plaintext, ctx)?;
    Ok((k, ct))
}

/// Decrypt.
pub(super) fn decrypt(c: &mut Ctx<'_>, input: &DecryptInput) -> Result<Value, KmsError> {
    let ct = &input.ciphertext_blob.0;
    let ctx = &input.encryption_context;
    if let Some(alg) = input.encryption_algorithm.as_deref()
        && alg != "SYMMETRIC_DEFAULT"
    {
        // An asymmetric ciphertext does not name its key.
        let key_id = input.key_id.as_deref().ok_or_else(|| {
            validation(
                "Value null at 'keyId' failed to satisfy constraint: Member must not be null",
            )
        })?;
        let k = c.resolve(key_id, true)?;
        c.authorize(&k, "Decrypt", Some("Decrypt"), ctx)?;
        c.usable(&k)?;
        if !k.key_spec.is_rsa() || k.key_usage != KeyUsage::EncryptDecrypt {
            return Err(KmsError::InvalidKeyUsage(format!(
                "{} is not an RSA encryption key.",
                c.key_arn(&k.id)
            )));
        }
        let m = c.material(&k, 1)?;
        let pt = asym::rsa_decrypt(&m, alg, ct)?;
        return Ok(
            json!({"KeyId": c.key_arn(&k.id), "Plaintext": B64.encode(pt.as_slice()), "EncryptionAlgorithm": alg}),
        );
    }
    let (k, pt) = decrypt_blob(c, ct, input.key_id.as_deref(), ctx, "Decrypt", "Decrypt")?;
    Ok(
        json!({"KeyId": c.key_arn(&k.id), "Plaintext": B64.encode(pt.as_slice()), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
              "KeyMaterialId": material_id(&k.id, crypto::blob_key(ct)?.1)}),
    )
}

/// ReEncrypt.
pub(super) fn re_encrypt(c: &mut Ctx<'_>, input: &ReEncryptInput) -> Result<Value, KmsError> {
    let (src, dst, new_ct) = re_encrypt_blob(
        c,
        &input.ciphertext_blob.0,
        input.source_key_id.as_deref(),
        &input.source_encryption_context,
        &input.destination_key_id,
        &input.destination_encryption_context,
    )?;
    Ok(
        json!({"CiphertextBlob": B64.encode(new_ct), "SourceKeyId": c.key_arn(&src.id), "KeyId": c.key_arn(&dst.id),
              "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
    )
}

/// ReEncrypt of a symmetric blob: decrypt under its key (ReEncryptFrom), seal under the
/// destination (ReEncryptTo). Returns both keys and the new blob.
pub(crate) fn re_encrypt_blob(
    c: &mut Ctx<'_>,
    ct: &[u8],
    source_key: Option<&str>,
    src_ctx: &BTreeMap<String, String>,
    destination_key: &str,
    dst_ctx: &BTreeMap<String, String>,
) -> Result<(KeyRecord, KeyRecord, Vec<u8>), KmsError> {
    let (src, pt) = decrypt_blob(c, ct, source_key, src_ctx, "ReEncryptFrom", "ReEncryptFrom")?;
    let mut dst = c.resolve(destination_key, true)?;
    c.authorize(&dst, "ReEncryptTo", Some("ReEncryptTo"), dst_ctx)?;
    c.usable(&dst)?;
    c.symmetric(&dst)?;
    let new_ct = seal_current(c, &mut dst, &pt, dst_ctx)?;
    Ok((src, dst, new_ct))
}

/// GenerateDataKey and GenerateDataKeyWithoutPlaintext.
pub(super) fn generate_data_key(
    c: &mut Ctx<'_>,
    op: &str,
    input: &GenerateDataKeyInput,
) -> Result<Value, KmsError> {
    let len = input.length()?;
    let dk = new_data_key(c, op, &input.key_id, len, &input.encryption_context)?;
    let mut out = json!({"CiphertextBlob": B64.encode(&dk.ciphertext), "KeyId": c.key_arn(&dk.key.id),
                         "KeyMaterialId": material_id(&dk.key.id, dk.version)});
    if op == "GenerateDataKey" {
        out["Plaintext"] = Value::from(B64.encode(dk.plaintext.as_slice()));
    }
    Ok(out)
}

/// A fresh data key of `len` bytes and its blob under `key_id`; `action` is
/// GenerateDataKey or GenerateDataKeyWithoutPlaintext (what is authorized).
pub(crate) fn new_data_key(
    c: &mut Ctx<'_>,
    action: &str,
    key_id: &str,
    len: usize,
    ctx: &BTreeMap<String, String>,
) -> Result<NewDataKey, KmsError> {
    let mut k = c.resolve(key_id, true)?;
    c.authorize(&k, action, Some(action), ctx)?;
    c.usable(&k)?;
    c.symmetric(&k)?;
    let data_key = crypto::random(len)?;
    let ct = seal_current(c, &mut k, &data_key, ctx)?;
    Ok(NewDataKey {
        version: k.current_version,
        key: k,
        plaintext: data_key,
        ciphertext: ct,
    })
}

/// A data key made by GenerateDataKey.
pub(crate) struct NewDataKey {
    pub(crate) key: KeyRecord,
    /// The material version that sealed it.
    pub(crate) version: u32,
    pub(crate) plaintext: zeroize::Zeroizing<Vec<u8>>,
    pub(crate) ciphertext: Vec<u8>,
}

/// GenerateRandom.
pub(super) fn generate_random(
    c: &mut Ctx<'_>,
    input: &GenerateRandomInput,
) -> Result<Value, KmsError> {
    c.authorize_identity("GenerateRandom")?;
    if let Some(store_id) = &input.custom_key_store_id {
        let rec = c.custom_key_store(store_id)?;
        if rec.store_type == crate::custom_key_store::StoreType::ExternalKeyStore {
            // AWS: GenerateRandom takes CloudHSM key stores only.
            return Err(KmsError::UnsupportedOperation(format!(
                "GenerateRandom is not supported in custom key store {} of type EXTERNAL_KEY_STORE.",
                rec.id
            )));
        }
        let (state, _) = c.cks.state(&rec.id);
        if state != crate::custom_key_store::ConnectionState::Connected {
            return Err(KmsError::CustomKeyStoreInvalidState(format!(
                "Custom key store {} is {}: GenerateRandom in it needs it CONNECTED.",
                rec.id,
                state.as_str()
            )));
        }
    }
    let n = input.number_of_bytes.unwrap_or(32);
    let bytes = crypto::random(usize::try_from(n).unwrap_or(1))?;
    Ok(json!({"Plaintext": B64.encode(bytes.as_slice())}))
}
