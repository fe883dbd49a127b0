//! The KMS JSON request decoders and validations, through `KmsService::call` on a real key
//! store (a temporary data dir with a symmetric key `alias/fuzz` and an HMAC key
//! `alias/fuzz-hmac`). The first byte picks the operation, the rest is the body.
#![no_main]

#[path = "kms_harness.rs"]
mod kms_harness;

use libfuzzer_sys::fuzz_target;

/// Every operation but those that make RSA keys (slow) or lock the harness's keys away.
const OPERATIONS: &[&str] = &[
    "CancelKeyDeletion", "CreateAlias", "CreateGrant", "Decrypt", "DeleteAlias",
    "DeleteImportedKeyMaterial", "DescribeKey", "DisableKeyRotation", "EnableKey",
    "EnableKeyRotation", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
    "GenerateMac", "GenerateRandom", "GetKeyPolicy", "GetKeyRotationStatus",
    "GetParametersForImport", "GetPublicKey", "ImportKeyMaterial", "ListAliases", "ListGrants",
    "ListKeyPolicies", "ListKeyRotations", "ListKeys", "ListResourceTags", "ListRetirableGrants",
    "ReEncrypt", "RetireGrant", "RevokeGrant", "RotateKeyOnDemand", "Sign", "TagResource",
    "UntagResource", "UpdateAlias", "UpdateKeyDescription", "Verify", "VerifyMac",
];

fuzz_target!(|data: &[u8]| {
    let Some((first, body)) = data.split_first() else { return };
    let name = OPERATIONS[usize::from(*first) % OPERATIONS.len()];
    let _ = kms_harness::harness().call(name, body);
});
