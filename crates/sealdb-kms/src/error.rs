//! KMS errors. Each variant owns its wire form (bare AWS names, as KMS sends them).

/// An error answered to a KMS client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KmsError {
    /// Unknown key, alias or grant.
    NotFound(String),
    /// The key is disabled.
    Disabled(String),
    /// The key's state does not allow the operation.
    InvalidState(String),
    /// A ciphertext that does not decrypt (changed, truncated, other context).
    InvalidCiphertext(String),
    /// The named key is not the one that encrypted the ciphertext.
    IncorrectKey(String),
    /// The key's usage or spec does not fit the operation.
    InvalidKeyUsage(String),
    /// Shape-level validation failure.
    Validation(String),
    /// Malformed alias name.
    InvalidAliasName(String),
    /// Alias exists.
    AlreadyExists(String),
    /// Malformed key ARN.
    InvalidArn(String),
    /// Malformed grant id.
    InvalidGrantId(String),
    /// Malformed grant token.
    InvalidGrantToken(String),
    /// Bad pagination marker.
    InvalidMarker(String),
    /// A quota or length limit.
    LimitExceeded(String),
    /// A key policy that does not parse.
    MalformedPolicyDocument(String),
    /// Bad tags.
    Tag(String),
    /// The operation does not apply to this key.
    UnsupportedOperation(String),
    /// `DryRun` was set and the request would have succeeded.
    DryRunOperation,
    /// The caller is not allowed.
    AccessDenied(String),
    /// Not a KMS operation.
    UnknownOperation,
    /// Malformed JSON.
    Serialization(String),
    /// VerifyMac: the MAC does not match.
    InvalidMac(String),
    /// Verify: the signature does not match.
    InvalidSignature(String),
    /// ImportKeyMaterial: the token is not for this key.
    InvalidImportToken(String),
    /// ImportKeyMaterial: the token has expired.
    ExpiredImportToken(String),
    /// ImportKeyMaterial: other material than the key had before.
    IncorrectKeyMaterial(String),
    /// A custom key store of that name exists.
    CustomKeyStoreNameInUse(String),
    /// No custom key store with that id or name.
    CustomKeyStoreNotFound(String),
    /// The custom key store's connection state does not allow the operation.
    CustomKeyStoreInvalidState(String),
    /// The custom key store still holds KMS keys.
    CustomKeyStoreHasCmks(String),
    /// No CloudHSM cluster (configured token) with that id.
    CloudHsmClusterNotFound(String),
    /// Another custom key store uses that cluster.
    CloudHsmClusterInUse(String),
    /// UpdateCustomKeyStore: the new cluster is not the store's token.
    CloudHsmClusterNotRelated(String),
    /// One of the Xks* exceptions of external key stores.
    Xks(XksFault, String),
    /// Failure on our side (details logged, not sent).
    Internal,
}

/// The Xks* exceptions (external key stores), all HTTP 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XksFault {
    /// The external key backs another KMS key of the store.
    KeyAlreadyInUse,
    /// The external key is not AES_256, not ENCRYPT and DECRYPT, or not ENABLED.
    KeyInvalidConfiguration,
    /// The proxy does not know the external key.
    KeyNotFound,
    /// The proxy refused the store's credential.
    ProxyIncorrectAuthenticationCredential,
    /// The proxy is not configured as the store says.
    ProxyInvalidConfiguration,
    /// The proxy's answer is not the specification's.
    ProxyInvalidResponse,
    /// Another store uses that endpoint.
    ProxyUriEndpointInUse,
    /// Another store uses that endpoint and path.
    ProxyUriInUse,
    /// The proxy cannot be reached (or all its key managers are unavailable).
    ProxyUriUnreachable,
    /// Another store uses that VPC endpoint service.
    ProxyVpcEndpointServiceInUse,
    /// The VPC endpoint service is not configured as KMS needs.
    ProxyVpcEndpointServiceInvalidConfiguration,
    /// No such VPC endpoint service.
    ProxyVpcEndpointServiceNotFound,
}

impl XksFault {
    /// The `__type`.
    pub fn error_type(self) -> &'static str {
        match self {
            XksFault::KeyAlreadyInUse => "XksKeyAlreadyInUseException",
            XksFault::KeyInvalidConfiguration => "XksKeyInvalidConfigurationException",
            XksFault::KeyNotFound => "XksKeyNotFoundException",
            XksFault::ProxyIncorrectAuthenticationCredential => {
                "XksProxyIncorrectAuthenticationCredentialException"
            }
            XksFault::ProxyInvalidConfiguration => "XksProxyInvalidConfigurationException",
            XksFault::ProxyInvalidResponse => "XksProxyInvalidResponseException",
            XksFault::ProxyUriEndpointInUse => "XksProxyUriEndpointInUseException",
            XksFault::ProxyUriInUse => "XksProxyUriInUseException",
            XksFault::ProxyUriUnreachable => "XksProxyUriUnreachableException",
            XksFault::ProxyVpcEndpointServiceInUse => "XksProxyVpcEndpointServiceInUseException",
            XksFault::ProxyVpcEndpointServiceInvalidConfiguration => {
                "XksProxyVpcEndpointServiceInvalidConfigurationException"
            }
            XksFault::ProxyVpcEndpointServiceNotFound => {
                "XksProxyVpcEndpointServiceNotFoundException"
            }
        }
    }
}

impl KmsError {
    /// The `__type` AWS sends.
    pub fn error_type(&self) -> &'static str {
        match self {
            KmsError::NotFound(_) => "NotFoundException",
            KmsError::Disabled(_) => "DisabledException",
            KmsError::InvalidState(_) => "KMSInvalidStateException",
            KmsError::InvalidCiphertext(_) => "InvalidCiphertextException",
            KmsError::IncorrectKey(_) => "IncorrectKeyException",
            KmsError::InvalidKeyUsage(_) => "InvalidKeyUsageException",
            KmsError::Validation(_) => "ValidationException",
            KmsError::InvalidAliasName(_) => "InvalidAliasNameException",
            KmsError::AlreadyExists(_) => "AlreadyExistsException",
            KmsError::InvalidArn(_) => "InvalidArnException",
            KmsError::InvalidGrantId(_) => "InvalidGrantIdException",
            KmsError::InvalidGrantToken(_) => "InvalidGrantTokenException",
            KmsError::InvalidMarker(_) => "InvalidMarkerException",
            KmsError::LimitExceeded(_) => "LimitExceededException",
            KmsError::MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            KmsError::Tag(_) => "TagException",
            KmsError::UnsupportedOperation(_) => "UnsupportedOperationException",
            KmsError::DryRunOperation => "DryRunOperationException",
            KmsError::AccessDenied(_) => "AccessDeniedException",
            KmsError::UnknownOperation => "UnknownOperationException",
            KmsError::Serialization(_) => "SerializationException",
            KmsError::InvalidMac(_) => "KMSInvalidMacException",
            KmsError::InvalidSignature(_) => "KMSInvalidSignatureException",
            KmsError::InvalidImportToken(_) => "InvalidImportTokenException",
            KmsError::ExpiredImportToken(_) => "ExpiredImportTokenException",
            KmsError::IncorrectKeyMaterial(_) => "IncorrectKeyMaterialException",
            KmsError::CustomKeyStoreNameInUse(_) => "CustomKeyStoreNameInUseException",
            KmsError::CustomKeyStoreNotFound(_) => "CustomKeyStoreNotFoundException",
            KmsError::CustomKeyStoreInvalidState(_) => "CustomKeyStoreInvalidStateException",
            KmsError::CustomKeyStoreHasCmks(_) => "CustomKeyStoreHasCMKsException",
            KmsError::CloudHsmClusterNotFound(_) => "CloudHsmClusterNotFoundException",
            KmsError::CloudHsmClusterInUse(_) => "CloudHsmClusterInUseException",
            KmsError::CloudHsmClusterNotRelated(_) => "CloudHsmClusterNotRelatedException",
            KmsError::Xks(f, _) => f.error_type(),
            KmsError::Internal => "KMSInternalException",
        }
    }

    /// HTTP status.
    pub fn http_status(&self) -> u16 {
        match self {
            KmsError::Internal => 500,
            KmsError::DryRunOperation => 412,
            KmsError::NotFound(_)
            | KmsError::Disabled(_)
            | KmsError::InvalidState(_)
            | KmsError::InvalidCiphertext(_)
            | KmsError::IncorrectKey(_)
            | KmsError::InvalidKeyUsage(_)
            | KmsError::Validation(_)
            | KmsError::InvalidAliasName(_)
            | KmsError::AlreadyExists(_)
            | KmsError::InvalidArn(_)
            | KmsError::InvalidGrantId(_)
            | KmsError::InvalidGrantToken(_)
            | KmsError::InvalidMarker(_)
            | KmsError::LimitExceeded(_)
            | KmsError::MalformedPolicyDocument(_)
            | KmsError::Tag(_)
            | KmsError::UnsupportedOperation(_)
            | KmsError::AccessDenied(_)
            | KmsError::UnknownOperation
            | KmsError::Serialization(_)
            | KmsError::InvalidMac(_)
            | KmsError::InvalidSignature(_)
            | KmsError::InvalidImportToken(_)
            | KmsError::ExpiredImportToken(_)
            | KmsError::IncorrectKeyMaterial(_)
            | KmsError::CustomKeyStoreNameInUse(_)
            | KmsError::CustomKeyStoreNotFound(_)
            | KmsError::CustomKeyStoreInvalidState(_)
            | KmsError::CustomKeyStoreHasCmks(_)
            | KmsError::CloudHsmClusterNotFound(_)
            | KmsError::CloudHsmClusterInUse(_)
            | KmsError::CloudHsmClusterNotRelated(_)
            | KmsError::Xks(..) => 400,
        }
    }

    /// The message.
    pub fn message(&self) -> String {
        match self {
            KmsError::NotFound(m)
            | KmsError::Disabled(m)
            | KmsError::InvalidState(m)
            | KmsError::InvalidCiphertext(m)
            | KmsError::IncorrectKey(m)
            | KmsError::InvalidKeyUsage(m)
            | KmsError::Validation(m)
            | KmsError::InvalidAliasName(m)
            | KmsError::AlreadyExists(m)
            | KmsError::InvalidArn(m)
            | KmsError::InvalidGrantId(m)
            | KmsError::InvalidGrantToken(m)
            | KmsError::InvalidMarker(m)
            | KmsError::LimitExceeded(m)
            | KmsError::MalformedPolicyDocument(m)
            | KmsError::Tag(m)
            | KmsError::UnsupportedOperation(m)
            | KmsError::AccessDenied(m)
            | KmsError::Serialization(m)
            | KmsError::InvalidMac(m)
            | KmsError::InvalidSignature(m)
            | KmsError::InvalidImportToken(m)
            | KmsError::ExpiredImportToken(m)
            | KmsError::IncorrectKeyMaterial(m)
            | KmsError::CustomKeyStoreNameInUse(m)
            | KmsError::CustomKeyStoreNotFound(m)
            | KmsError::CustomKeyStoreInvalidState(m)
            | KmsError::CustomKeyStoreHasCmks(m)
            | KmsError::CloudHsmClusterNotFound(m)
            | KmsError::CloudHsmClusterInUse(m)
            | KmsError::CloudHsmClusterNotRelated(m)
            | KmsError::Xks(_, m) => m.clone(),
            KmsError::UnknownOperation => String::new(),
            KmsError::Internal => "Internal error".into(),
            KmsError::DryRunOperation => {
                "The request would have succeeded, but the DryRun option is set.".into()
            }
        }
    }
}

impl From<rusqlite::Error> for KmsError {
    fn from(e: rusqlite::Error) -> Self {
        tracing::error!(error = %e, "key store failure");
        KmsError::Internal
    }
}

impl From<sealdb_storage::StorageError> for KmsError {
    fn from(e: sealdb_storage::StorageError) -> Self {
        tracing::error!(error = %e, "key store failure");
        KmsError::Internal
    }
}

/// `1 validation error detected: ...`.
pub(crate) fn validation(msg: impl std::fmt::Display) -> KmsError {
    KmsError::Validation(format!("1 validation error detected: {msg}"))
}
