//! HMAC, signing and asymmetric keys: GenerateMac/VerifyMac, Sign/Verify, GetPublicKey, data key pairs.

use super::*;

pub(super) fn mac_algorithm(spec: &str) -> Option<&'static str> {
    match spec {
        "HMAC_224" => Some("HMAC_SHA_224"),
        "HMAC_256" => Some("HMAC_SHA_256"),
        "HMAC_384" => Some("HMAC_SHA_384"),
        "HMAC_512" => Some("HMAC_SHA_512"),
        _ => None,
    }
}

pub(super) fn mac(c: &mut Ctx<'_>, op: &str, input: &MacInput) -> Result<Value, KmsError> {
    let k = c.resolve(&input.key_id, true)?;
    let msg = input.message.0.as_slice();
    let alg = input.mac_algorithm.as_str();
    c.authorize(&k, op, Some(op), &BTreeMap::new())?;
    c.usable(&k)?;
    let Some((algorithm, _)) = crypto::hmac_algorithm(k.key_spec.as_str()) else {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} key usage is {} which is not valid for {op}.",
            c.key_arn(&k.id),
            k.key_usage
        )));
    };
    if mac_algorithm(k.key_spec.as_str()) != Some(alg) {
        return Err(KmsError::InvalidKeyUsage(format!(
            "Algorithm {alg} is incompatible with key spec {}.",
            k.key_spec
        )));
    }
    let m = c.material(&k, 1)?;
    let key = aws_lc_rs::hmac::Key::new(algorithm, &m);
    if op == "GenerateMac" {
        let tag = aws_lc_rs::hmac::sign(&key, msg);
        return Ok(
            json!({"Mac": B64.encode(tag.as_ref()), "MacAlgorithm": alg, "KeyId": c.key_arn(&k.id)}),
        );
    }
    let given = input
        .mac
        .as_ref()
        .map(|m| m.0.as_slice())
        .unwrap_or_default();
    if aws_lc_rs::hmac::verify(&key, msg, given).is_err() {
        return Err(KmsError::InvalidMac(String::new()));
    }
    Ok(json!({"KeyId": c.key_arn(&k.id), "MacValid": true, "MacAlgorithm": alg}))
}

/// GetPublicKey.
pub(super) fn get_public_key(
    c: &mut Ctx<'_>,
    op: &str,
    input: &GetPublicKeyInput,
) -> Result<Value, KmsError> {
    let k = c.resolve(&input.key_id, true)?;
    c.authorize(&k, op, Some(op), &BTreeMap::new())?;
    c.usable(&k)?;
    if !k.key_spec.is_rsa() && !k.key_spec.is_ecc() {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} key spec {} is not valid for this operation.",
            c.key_arn(&k.id),
            k.key_spec
        )));
    }
    let m = c.material(&k, 1)?;
    let mut out = json!({"KeyId": c.key_arn(&k.id), "PublicKey": B64.encode(asym::public_key(k.key_spec.as_str(), &m)?),
                         "KeySpec": k.key_spec, "CustomerMasterKeySpec": k.key_spec, "KeyUsage": k.key_usage});
    if k.key_usage == KeyUsage::EncryptDecrypt {
        out["EncryptionAlgorithms"] = json!(asym::RSA_ENCRYPTION_ALGORITHMS);
    } else {
        out["SigningAlgorithms"] = json!(asym::signing_algorithms(k.key_spec.as_str()));
    }
    Ok(out)
}

/// Sign and Verify.
pub(super) fn sign_or_verify(
    c: &mut Ctx<'_>,
    op: &str,
    input: &SignInput,
) -> Result<Value, KmsError> {
    let k = c.resolve(&input.key_id, true)?;
    let msg = input.message.0.as_slice();
    let alg = input.signing_algorithm.as_str();
    let is_digest = match input.message_type.as_deref().unwrap_or("RAW") {
        "RAW" => false,
        "DIGEST" => true,
        other => {
            return Err(KmsError::UnsupportedOperation(format!(
                "MessageType {other} is not supported by this key service."
            )));
        }
    };
    c.authorize(&k, op, Some(op), &BTreeMap::new())?;
    c.usable(&k)?;
    if k.key_usage != KeyUsage::SignVerify {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} key usage is {} which is not valid for {op}.",
            c.key_arn(&k.id),
            k.key_usage
        )));
    }
    let m = c.material(&k, 1)?;
    if op == "Sign" {
        let sig = asym::sign(k.key_spec.as_str(), &m, alg, msg, is_digest)?;
        return Ok(
            json!({"KeyId": c.key_arn(&k.id), "Signature": B64.encode(sig), "SigningAlgorithm": alg}),
        );
    }
    let sig = input
        .signature
        .as_ref()
        .map(|s| s.0.as_slice())
        .unwrap_or_default();
    if !asym::verify(k.key_spec.as_str(), &m, alg, msg, is_digest, sig)? {
        return Err(KmsError::InvalidSignature(String::new()));
    }
    Ok(json!({"KeyId": c.key_arn(&k.id), "SignatureValid": true, "SigningAlgorithm": alg}))
}

/// GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext.
pub(super) fn generate_data_key_pair(
    c: &mut Ctx<'_>,
    op: &str,
    input: &GenerateDataKeyPairInput,
) -> Result<Value, KmsError> {
    let mut k = c.resolve(&input.key_id, true)?;
    let pair_spec = input.key_pair_spec.as_str();
    if !asym::is_rsa(pair_spec) && !asym::is_ecc(pair_spec) {
        // In AWS's enum (the input checked that), but not made here.
        return Err(KmsError::UnsupportedOperation(format!(
            "KeyPairSpec {pair_spec} is not supported by this key service."
        )));
    }
    let ctx = &input.encryption_context;
    c.authorize(&k, op, Some(op), ctx)?;
    c.usable(&k)?;
    c.symmetric(&k)?;
    let (private, public) = asym::data_key_pair(pair_spec)?;
    // Under the current material (rotating first if due), or in the key's token.
    let ct = crypt::seal_current(c, &mut k, &private, ctx)?;
    let mut out = json!({"PrivateKeyCiphertextBlob": B64.encode(ct), "PublicKey": B64.encode(public),
                         "KeyId": c.key_arn(&k.id), "KeyPairSpec": pair_spec});
    if op == "GenerateDataKeyPair" {
        out["PrivateKeyPlaintext"] = Value::from(B64.encode(private.as_slice()));
    }
    Ok(out)
}
