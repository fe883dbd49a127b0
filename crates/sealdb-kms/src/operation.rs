//! The KMS operations as a type: each knows its wire name, whether CloudTrail marks it
//! read-only, and which request members its audit record keeps.

macro_rules! operations {
    ($($op:ident),+ $(,)?) => {
        /// A KMS API operation (`TrentService.<name>`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Operation {
            $(
                #[allow(missing_docs)]
                $op,
            )+
        }

        impl Operation {
            /// Every operation this service answers.
            pub const ALL: &'static [Operation] = &[$(Operation::$op),+];

            /// The wire name (`Encrypt`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Operation::$op => stringify!($op),)+
                }
            }
        }
    };
}

operations!(
    CancelKeyDeletion,
    ConnectCustomKeyStore,
    CreateAlias,
    CreateCustomKeyStore,
    CreateGrant,
    CreateKey,
    Decrypt,
    DeleteAlias,
    DeleteCustomKeyStore,
    DeleteImportedKeyMaterial,
    DescribeCustomKeyStores,
    DescribeKey,
    DisableKey,
    DisableKeyRotation,
    DisconnectCustomKeyStore,
    EnableKey,
    EnableKeyRotation,
    Encrypt,
    GenerateDataKey,
    GenerateDataKeyPair,
    GenerateDataKeyPairWithoutPlaintext,
    GenerateDataKeyWithoutPlaintext,
    GenerateMac,
    GenerateRandom,
    GetKeyPolicy,
    GetKeyRotationStatus,
    GetParametersForImport,
    GetPublicKey,
    ImportKeyMaterial,
    ListAliases,
    ListGrants,
    ListKeyPolicies,
    ListKeyRotations,
    ListKeys,
    ListResourceTags,
    ListRetirableGrants,
    PutKeyPolicy,
    ReEncrypt,
    ReplicateKey,
    RetireGrant,
    RevokeGrant,
    RotateKeyOnDemand,
    ScheduleKeyDeletion,
    Sign,
    TagResource,
    UntagResource,
    UpdateAlias,
    UpdateCustomKeyStore,
    UpdateKeyDescription,
    UpdatePrimaryRegion,
    Verify,
    VerifyMac,
);

impl Operation {
    /// The operation named `name`, if this service answers it.
    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.iter().copied().find(|o| o.name() == name)
    }

    /// CloudTrail's `readOnly`: cryptographic use and reads change no key.
    pub fn is_read_only(self) -> bool {
        use Operation as O;
        matches!(
            self,
            O::Decrypt
                | O::DescribeCustomKeyStores
                | O::DescribeKey
                | O::Encrypt
                | O::GenerateDataKey
                | O::GenerateDataKeyPair
                | O::GenerateDataKeyPairWithoutPlaintext
                | O::GenerateDataKeyWithoutPlaintext
                | O::GenerateMac
                | O::GenerateRandom
                | O::GetKeyPolicy
                | O::GetKeyRotationStatus
                | O::GetPublicKey
                | O::ListAliases
                | O::ListGrants
                | O::ListKeyPolicies
                | O::ListKeyRotations
                | O::ListKeys
                | O::ListResourceTags
                | O::ListRetirableGrants
                | O::ReEncrypt
                | O::Sign
                | O::Verify
                | O::VerifyMac
        )
    }

    /// True when a grant may allow this operation (ReEncrypt through its two halves,
    /// ReEncryptFrom and ReEncryptTo).
    pub fn is_grantable(self) -> bool {
        use Operation as O;
        matches!(
            self,
            O::CreateGrant
                | O::Decrypt
                | O::DescribeKey
                | O::Encrypt
                | O::GenerateDataKey
                | O::GenerateDataKeyPair
                | O::GenerateDataKeyPairWithoutPlaintext
                | O::GenerateDataKeyWithoutPlaintext
                | O::GenerateMac
                | O::GetPublicKey
                | O::ReEncrypt
                | O::RetireGrant
                | O::Sign
                | O::Verify
                | O::VerifyMac
        )
    }

    /// True when DryRun stops the operation before it changes anything (the grant
    /// operations); the cryptographic operations run fully and then answer DryRun.
    pub fn dry_run_stops_early(self) -> bool {
        matches!(
            self,
            Operation::CreateGrant | Operation::RetireGrant | Operation::RevokeGrant
        )
    }

    /// The request members CloudTrail records for this operation. Plaintext,
    /// ciphertexts, messages, signatures, MACs, key material, import and grant tokens
    /// are never among them.
    pub(crate) fn audited_members(self) -> &'static [&'static str] {
        use Operation as O;
        const CONTEXT: &[&str] = &["KeyId", "EncryptionContext", "EncryptionAlgorithm"];
        match self {
            O::CreateKey => &[
                "Description",
                "KeyUsage",
                "KeySpec",
                "CustomerMasterKeySpec",
                "Origin",
                "Policy",
                "BypassPolicyLockoutSafetyCheck",
                "Tags",
                "MultiRegion",
                "CustomKeyStoreId",
                "XksKeyId",
            ],
            // Never KeyStorePassword nor XksProxyAuthenticationCredential.
            O::CreateCustomKeyStore => &[
                "CustomKeyStoreName",
                "CloudHsmClusterId",
                "TrustAnchorCertificate",
                "CustomKeyStoreType",
                "XksProxyUriEndpoint",
                "XksProxyUriPath",
                "XksProxyConnectivity",
                "XksProxyVpcEndpointServiceName",
            ],
            O::UpdateCustomKeyStore => &[
                "CustomKeyStoreId",
                "NewCustomKeyStoreName",
                "CloudHsmClusterId",
                "XksProxyUriEndpoint",
                "XksProxyUriPath",
                "XksProxyConnectivity",
                "XksProxyVpcEndpointServiceName",
            ],
            O::DescribeCustomKeyStores => {
                &["CustomKeyStoreId", "CustomKeyStoreName", "Limit", "Marker"]
            }
            O::ConnectCustomKeyStore | O::DisconnectCustomKeyStore | O::DeleteCustomKeyStore => {
                &["CustomKeyStoreId"]
            }
            O::Encrypt | O::Decrypt => CONTEXT,
            O::GenerateDataKey | O::GenerateDataKeyWithoutPlaintext => {
                &["KeyId", "KeySpec", "NumberOfBytes", "EncryptionContext"]
            }
            O::GenerateDataKeyPair | O::GenerateDataKeyPairWithoutPlaintext => {
                &["KeyId", "KeyPairSpec", "EncryptionContext"]
            }
            O::ReEncrypt => &[
                "SourceKeyId",
                "SourceEncryptionContext",
                "SourceEncryptionAlgorithm",
                "DestinationKeyId",
                "DestinationEncryptionContext",
                "DestinationEncryptionAlgorithm",
            ],
            O::GenerateRandom => &["NumberOfBytes", "CustomKeyStoreId"],
            O::GenerateMac | O::VerifyMac => &["KeyId", "MacAlgorithm"],
            O::Sign | O::Verify => &["KeyId", "MessageType", "SigningAlgorithm"],
            O::CreateGrant => &[
                "KeyId",
                "GranteePrincipal",
                "RetiringPrincipal",
                "Operations",
                "Constraints",
                "Name",
            ],
            O::RetireGrant | O::RevokeGrant => &["KeyId", "GrantId"],
            O::ListGrants => &["KeyId", "GrantId", "GranteePrincipal", "Limit", "Marker"],
            O::ListRetirableGrants => &["RetiringPrincipal", "Limit", "Marker"],
            O::CreateAlias | O::UpdateAlias => &["AliasName", "TargetKeyId"],
            O::DeleteAlias => &["AliasName"],
            O::ListAliases => &["KeyId", "Limit", "Marker"],
            O::ListKeys => &["Limit", "Marker"],
            O::PutKeyPolicy => &[
                "KeyId",
                "PolicyName",
                "Policy",
                "BypassPolicyLockoutSafetyCheck",
            ],
            O::GetKeyPolicy => &["KeyId", "PolicyName"],
            O::ScheduleKeyDeletion => &["KeyId", "PendingWindowInDays"],
            O::EnableKeyRotation => &["KeyId", "RotationPeriodInDays"],
            O::UpdateKeyDescription => &["KeyId", "Description"],
            O::TagResource => &["KeyId", "Tags"],
            O::UntagResource => &["KeyId", "TagKeys"],
            O::GetParametersForImport => &["KeyId", "WrappingAlgorithm", "WrappingKeySpec"],
            O::ImportKeyMaterial => &["KeyId", "ValidTo", "ExpirationModel"],
            O::ReplicateKey => &[
                "KeyId",
                "ReplicaRegion",
                "Description",
                "Policy",
                "BypassPolicyLockoutSafetyCheck",
                "Tags",
            ],
            O::UpdatePrimaryRegion => &["KeyId", "PrimaryRegion"],
            O::CancelKeyDeletion
            | O::DeleteImportedKeyMaterial
            | O::DescribeKey
            | O::DisableKey
            | O::DisableKeyRotation
            | O::EnableKey
            | O::GetKeyRotationStatus
            | O::GetPublicKey
            | O::ListKeyPolicies
            | O::ListKeyRotations
            | O::ListResourceTags
            | O::RotateKeyOnDemand => &["KeyId"],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(*op));
        }
        assert_eq!(Operation::ALL.len(), 52);
        assert_eq!(Operation::from_name("encrypt"), None);
        assert_eq!(Operation::from_name("Nope"), None);
    }

    #[test]
    fn no_secret_member_is_ever_audited() {
        let secrets = [
            "Plaintext",
            "CiphertextBlob",
            "Message",
            "Mac",
            "Signature",
            "EncryptedKeyMaterial",
            "ImportToken",
            "GrantToken",
            "GrantTokens",
            "KeyStorePassword",
        ];
        for op in Operation::ALL {
            for m in op.audited_members() {
                assert!(!secrets.contains(m), "{} audits {m}", op.name());
            }
        }
    }
}
