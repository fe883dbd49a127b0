//! Imported key material: GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial.

use super::*;

/// GetParametersForImport.
pub(super) fn get_parameters_for_import(
    c: &mut Ctx<'_>,
    op: &str,
    input: &GetParametersForImportInput,
) -> Result<Value, KmsError> {
    let mut k = c.managed_key(op, &input.key_id)?;
    let alg = input.wrapping_algorithm.as_str();
    let spec = input.wrapping_key_spec.as_str();
    if k.origin != Origin::External {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} origin is {} which is not valid for this operation.",
            c.key_arn(&k.id),
            k.origin
        )));
    }
    c.not_pending_deletion(&k)?;
    if ![
        "RSAES_OAEP_SHA_1",
        "RSAES_OAEP_SHA_256",
        "RSA_AES_KEY_WRAP_SHA_1",
        "RSA_AES_KEY_WRAP_SHA_256",
    ]
    .contains(&alg)
    {
        return Err(validation(format!(
            "Value '{alg}' at 'wrappingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256]"
        )));
    }
    if !asym::is_rsa(spec) {
        return Err(validation(format!(
            "Value '{spec}' at 'wrappingKeySpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096]"
        )));
    }
    let wrapping = asym::generate(spec)?;
    let public = asym::public_key(spec, &wrapping)?;
    // Version 0 holds the wrapping key of the outstanding import parameters.
    c.store.put_material(&k.id, 0, &wrapping)?;
    let token = hex::encode(crypto::random(24)?.as_slice());
    let valid = now(c.cfg) + DAY;
    k.import_params = Some((token.clone(), alg.to_owned(), valid));
    c.store.put_key(&k)?;
    Ok(
        json!({"KeyId": c.key_arn(&k.id), "ImportToken": B64.encode(token.as_bytes()), "PublicKey": B64.encode(public), "ParametersValidTo": valid}),
    )
}

/// ImportKeyMaterial.
pub(super) fn import_key_material(
    c: &mut Ctx<'_>,
    op: &str,
    input: &ImportKeyMaterialInput,
) -> Result<Value, KmsError> {
    let mut k = c.managed_key(op, &input.key_id)?;
    let token = &input.import_token.0;
    let wrapped = &input.encrypted_key_material.0;
    let model = input
        .expiration_model
        .as_deref()
        .unwrap_or("KEY_MATERIAL_EXPIRES");
    if k.origin != Origin::External {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} origin is {} which is not valid for this operation.",
            c.key_arn(&k.id),
            k.origin
        )));
    }
    c.not_pending_deletion(&k)?;
    let valid_to = match (model, input.valid_to) {
        ("KEY_MATERIAL_EXPIRES", Some(v)) if v > now(c.cfg) => Some(v),
        ("KEY_MATERIAL_EXPIRES", _) => {
            return Err(KmsError::Validation("A ValidTo date in the future is required when ExpirationModel is KEY_MATERIAL_EXPIRES.".into()));
        }
        ("KEY_MATERIAL_DOES_NOT_EXPIRE", None) => None,
        ("KEY_MATERIAL_DOES_NOT_EXPIRE", Some(_)) => {
            return Err(KmsError::Validation(
                "ValidTo must not be set when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE."
                    .into(),
            ));
        }
        (other, _) => {
            return Err(validation(format!(
                "Value '{other}' at 'expirationModel' failed to satisfy constraint: Member must satisfy enum value set: [KEY_MATERIAL_EXPIRES, KEY_MATERIAL_DOES_NOT_EXPIRE]"
            )));
        }
    };
    let Some((want, alg, until)) = k.import_params.clone() else {
        return Err(KmsError::InvalidImportToken(
            "The import token is not valid for this key.".into(),
        ));
    };
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        token.as_slice(),
        want.as_bytes(),
    )) {
        return Err(KmsError::InvalidImportToken(
            "The import token is not valid for this key.".into(),
        ));
    }
    if now(c.cfg) > until {
        return Err(KmsError::ExpiredImportToken(
            "The import token has expired.".into(),
        ));
    }
    let wrapping = c.store.material(&k.id, 0)?.ok_or(KmsError::Internal)?;
    let material = asym::unwrap_import(&wrapping, &alg, wrapped)?;
    if material.len() != 32 {
        return Err(KmsError::InvalidCiphertext(
            "Symmetric key material must be 32 bytes.".into(),
        ));
    }
    let hash =
        hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &material).as_ref());
    // A multi-Region key takes the material first imported into any of its related keys.
    if c.related_imported_hash(&k)?.is_some_and(|h| h != hash) {
        return Err(KmsError::IncorrectKeyMaterial(
            "The key material is not the material previously imported into this key.".into(),
        ));
    }
    c.store.put_material(&k.id, 1, &material)?;
    c.store.delete_material(&k.id, 0)?;
    c.share_imported_hash(&k.id, &hash)?;
    k.imported_hash = Some(hash);
    k.valid_to = valid_to;
    k.expiration_model = Some(model.to_owned());
    k.import_params = None;
    k.state = KeyState::Enabled;
    c.store.put_key(&k)?;
    Ok(json!({"KeyId": c.key_arn(&k.id), "KeyMaterialId": material_id(&k.id, 1)}))
}

/// DeleteImportedKeyMaterial.
pub(super) fn delete_imported_key_material(
    c: &mut Ctx<'_>,
    op: &str,
    input: &DeleteImportedKeyMaterialInput,
) -> Result<Value, KmsError> {
    let mut k = c.managed_key(op, &input.key_id)?;
    if k.origin != Origin::External {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} origin is {} which is not valid for this operation.",
            c.key_arn(&k.id),
            k.origin
        )));
    }
    c.store.delete_material(&k.id, 1)?;
    k.valid_to = None;
    if k.state != KeyState::PendingDeletion {
        k.state = KeyState::PendingImport;
    }
    c.store.put_key(&k)?;
    Ok(json!({"KeyId": c.key_arn(&k.id), "KeyMaterialId": material_id(&k.id, 1)}))
}
