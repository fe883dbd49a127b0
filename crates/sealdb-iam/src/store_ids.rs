//! Identifiers as AWS makes them: unique ids (`AIDA…`, `AROA…`, `AGPA…`, `ANPA…`, 21
//! characters), access key ids (`AKIA…` long-term, `ASIA…` temporary, 20 characters)
//! and 40-character secrets.

use sealdb_common::secret::SecretString;

/// The characters of AWS ids after the prefix.
const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// The characters of secret access keys.
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The system random generator failed.
#[derive(Debug, Clone, Copy)]
pub struct RandomError;

fn random_chars(alphabet: &[u8], n: usize) -> Result<zeroize::Zeroizing<String>, RandomError> {
    let mut raw = zeroize::Zeroizing::new(vec![0u8; n]);
    aws_lc_rs::rand::fill(raw.as_mut_slice()).map_err(|_| RandomError)?;
    // Both alphabets have a power-of-two length, so the modulo has no bias.
    Ok(zeroize::Zeroizing::new(
        raw.iter()
            .map(|b| char::from(alphabet[usize::from(*b) % alphabet.len()]))
            .collect(),
    ))
}

/// A unique id: `prefix` (4 letters) and 17 characters.
pub fn unique_id(prefix: &str) -> Result<String, RandomError> {
    Ok(format!(
        "{prefix}{}",
        random_chars(ID_ALPHABET, 17)?.as_str()
    ))
}

/// An access key id: `prefix` (`AKIA` or `ASIA`) and 16 characters.
pub fn access_key_id(prefix: &str) -> Result<String, RandomError> {
    Ok(format!(
        "{prefix}{}",
        random_chars(ID_ALPHABET, 16)?.as_str()
    ))
}

/// A 40-character secret access key.
pub fn secret_access_key() -> Result<SecretString, RandomError> {
    Ok(SecretString::new(
        random_chars(SECRET_ALPHABET, 40)?.as_str().to_owned(),
    ))
}

/// A new long-term key pair: `AKIA…` and its secret.
pub fn new_long_term_key() -> Result<(String, SecretString), RandomError> {
    Ok((access_key_id("AKIA")?, secret_access_key()?))
}

impl std::fmt::Display for RandomError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("random generator failed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let id = unique_id("AIDA").unwrap();
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("AIDA"));
        let key = access_key_id("AKIA").unwrap();
        assert_eq!(key.len(), 20);
        assert_ne!(key, access_key_id("AKIA").unwrap());
        assert_eq!(secret_access_key().unwrap().expose().len(), 40);
    }
}
