//! The typed members of a key record (KMS's KeySpec, KeyUsage and Origin), parsed once
//! from their wire names and stored under those same names, so records written before
//! these types existed read unchanged.

use serde::{Deserialize, Serialize};

/// An enum whose variants are written under AWS's wire names.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub(crate) enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $v,)*
        }

        impl $name {
            /// The wire name.
            pub(crate) fn as_str(self) -> &'static str {
                match self { $($name::$v => $s,)* }
            }

            /// The value with this wire name, if there is one.
            pub(crate) fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$v),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum! {
    /// The key specs this service makes (AWS's enum has more; CreateKey refuses those).
    KeySpec {
        SymmetricDefault = "SYMMETRIC_DEFAULT",
        Rsa2048 = "RSA_2048",
        Rsa3072 = "RSA_3072",
        Rsa4096 = "RSA_4096",
        EccNistP256 = "ECC_NIST_P256",
        EccNistP384 = "ECC_NIST_P384",
        EccNistP521 = "ECC_NIST_P521",
        EccSecgP256k1 = "ECC_SECG_P256K1",
        Hmac224 = "HMAC_224",
        Hmac256 = "HMAC_256",
        Hmac384 = "HMAC_384",
        Hmac512 = "HMAC_512",
    }
}

impl KeySpec {
    pub(crate) fn is_rsa(self) -> bool {
        matches!(self, KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096)
    }

    pub(crate) fn is_ecc(self) -> bool {
        matches!(
            self,
            KeySpec::EccNistP256
                | KeySpec::EccNistP384
                | KeySpec::EccNistP521
                | KeySpec::EccSecgP256k1
        )
    }

    pub(crate) fn is_hmac(self) -> bool {
        matches!(
            self,
            KeySpec::Hmac224 | KeySpec::Hmac256 | KeySpec::Hmac384 | KeySpec::Hmac512
        )
    }
}

wire_enum! {
    /// KeyUsage (AWS's whole enum; CreateKey refuses the usages no spec here allows).
    KeyUsage {
        EncryptDecrypt = "ENCRYPT_DECRYPT",
        SignVerify = "SIGN_VERIFY",
        GenerateVerifyMac = "GENERATE_VERIFY_MAC",
        KeyAgreement = "KEY_AGREEMENT",
        EncapsulateDecapsulate = "ENCAPSULATE_DECAPSULATE",
    }
}

wire_enum! {
    /// Origin: where the key material comes from.
    Origin {
        AwsKms = "AWS_KMS",
        /// Imported material.
        External = "EXTERNAL",
        /// A key in a CloudHSM key store.
        AwsCloudHsm = "AWS_CLOUDHSM",
        /// A key in an external key store (XKS).
        ExternalKeyStore = "EXTERNAL_KEY_STORE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_and_store_as_before() {
        for s in [
            KeySpec::SymmetricDefault,
            KeySpec::EccSecgP256k1,
            KeySpec::Hmac512,
        ] {
            assert_eq!(KeySpec::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert_eq!(
            serde_json::from_str::<Origin>("\"EXTERNAL_KEY_STORE\"").unwrap(),
            Origin::ExternalKeyStore
        );
        assert_eq!(KeyUsage::parse("SIGN_VERIFY"), Some(KeyUsage::SignVerify));
        assert_eq!(KeySpec::parse("SM2"), None);
        assert!(serde_json::from_str::<Origin>("\"aws_kms\"").is_err());
    }
}
