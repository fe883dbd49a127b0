//! Secret holders: zeroized on drop, redacted in `Debug`, compared in constant time.

use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A 256-bit secret key (root key, table key, derived file key).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey32([u8; 32]);

impl SecretKey32 {
    /// Wraps raw key bytes. The caller should wipe its own copy.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SecretKey32(bytes)
    }

    /// Builds a key from a slice, which must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; 32] = bytes.try_into().ok()?;
        Some(SecretKey32(arr))
    }

    /// A fresh random key from the system CSPRNG.
    pub fn random() -> Result<Self, aws_lc_rs::error::Unspecified> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes)?;
        Ok(SecretKey32(bytes))
    }

    /// The key bytes. Keep the borrow short and never log it.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex of the key, in a zeroizing string (for SQLCipher's `x'..'` key form).
    pub fn to_hex_secret(&self) -> SecretString {
        SecretString(hex::encode(self.0))
    }
}

impl fmt::Debug for SecretKey32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey32(<redacted>)")
    }
}

impl PartialEq for SecretKey32 {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for SecretKey32 {}

/// Secret bytes of any length (a secret access key, a plaintext data key).
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Takes ownership of the bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(bytes)
    }

    /// The bytes. Keep the borrow short and never log it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        self.0.ct_eq(other).into()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

/// A secret string (a secret access key, a hex key), zeroized on drop.
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct SecretString(String);

impl SecretString {
    /// Takes ownership of the string.
    pub fn new(s: String) -> Self {
        SecretString(s)
    }

    /// The string. Keep the borrow short and never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_secrets() {
        let k = SecretKey32::from_bytes([0x41; 32]);
        let s = format!("{k:?}");
        assert_eq!(s, "SecretKey32(<redacted>)");
        let b = SecretBytes::new(b"hunter2".to_vec());
        assert!(!format!("{b:?}").contains("hunter2"));
        let t = SecretString::new("wJalrXUtnFEMI".into());
        assert!(!format!("{t:?}").contains("wJalr"));
    }

    #[test]
    fn constant_time_equality() {
        let a = SecretKey32::from_bytes([1; 32]);
        let b = SecretKey32::from_bytes([1; 32]);
        let c = SecretKey32::from_bytes([2; 32]);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(SecretBytes::new(vec![1, 2]).ct_eq(&[1, 2]));
        assert!(!SecretBytes::new(vec![1, 2]).ct_eq(&[1, 3]));
    }
}
