//! Mode `passphrase`: the root key sealed with AES-256-GCM under a key derived with
//! Argon2id from a passphrase. The parameters and salt are in the header, and the
//! header's other lines are the seal's AAD, so that editing them fails the open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sealdb_common::secret::SecretString;
use sealdb_common::{RootKey, SecretKey32};

/// The least memory (KiB) and passes a header may ask for: 64 MiB, 3 passes (the issue's
/// floor, above OWASP's). Parsing refuses less, so a forged header cannot cheapen guessing.
pub(crate) const MIN_M_KIB: u32 = 64 * 1024;
pub(crate) const MIN_T: u32 = 3;
/// Upper bounds, so a damaged header cannot make a start take the machine's memory.
const MAX_M_KIB: u32 = 4 * 1024 * 1024;
const MAX_T: u32 = 64;
const MAX_P: u32 = 64;
/// Salt length in bytes.
pub(crate) const SALT_LEN: usize = 16;
/// nonce ‖ sealed 32-byte key ‖ tag.
const WRAPPED_LEN: usize = NONCE_LEN + 32 + 16;

/// The Argon2id parameters of a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Kdf {
    pub(crate) m_kib: u32,
    pub(crate) t: u32,
    pub(crate) p: u32,
    pub(crate) salt: [u8; SALT_LEN],
}

impl Kdf {
    /// The default parameters with a fresh salt.
    pub(crate) fn fresh() -> Result<Kdf, String> {
        let mut salt = [0u8; SALT_LEN];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| "random generator failed".to_owned())?;
        Ok(Kdf {
            m_kib: MIN_M_KIB,
            t: MIN_T,
            p: 1,
            salt,
        })
    }

    /// The header line `argon2id m=.. t=.. p=..`'s value.
    pub(crate) fn render(&self) -> String {
        format!("m={} t={} p={}", self.m_kib, self.t, self.p)
    }

    /// Parses `m=.. t=.. p=..` and a hex salt, refusing parameters outside the bounds.
    pub(crate) fn parse(cost: &str, salt: &str) -> Result<Kdf, String> {
        let mut it = cost.split(' ');
        let mut num = |name: &str| -> Result<u32, String> {
            it.next()
                .and_then(|f| f.strip_prefix(name))
                .and_then(|v| v.strip_prefix('='))
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("argon2id parameters '{cost}' are not m=KiB t=N p=N"))
        };
        let (m_kib, t, p) = (num("m")?, num("t")?, num("p")?);
        if !(MIN_M_KIB..=MAX_M_KIB).contains(&m_kib)
            || !(MIN_T..=MAX_T).contains(&t)
            || !(1..=MAX_P).contains(&p)
        {
            return Err(format!(
                "argon2id parameters '{cost}' are outside the accepted range (at least m={MIN_M_KIB} t={MIN_T} p=1)"
            ));
        }
        let salt = hex::decode(salt)
            .ok()
            .and_then(|s| <[u8; SALT_LEN]>::try_from(s).ok())
            .ok_or("the salt is not 16 bytes of hex")?;
        Ok(Kdf { m_kib, t, p, salt })
    }

    fn derive(&self, passphrase: &SecretString) -> Result<LessSafeKey, String> {
        let params = argon2::Params::new(self.m_kib, self.t, self.p, Some(32))
            .map_err(|e| format!("argon2id parameters: {e}"))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = zeroize::Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(passphrase.expose().as_bytes(), &self.salt, out.as_mut())
            .map_err(|e| format!("argon2id: {e}"))?;
        let key = UnboundKey::new(&AES_256_GCM, out.as_ref()).map_err(|_| "AES-256-GCM key")?;
        Ok(LessSafeKey::new(key))
    }
}

/// Seals the root key under the passphrase: `nonce ‖ AES-256-GCM(root) ‖ tag`, AAD `aad`.
pub(crate) fn seal(
    root: &RootKey,
    passphrase: &SecretString,
    kdf: &Kdf,
    aad: &[u8],
) -> Result<Vec<u8>, String> {
    let key = kdf.derive(passphrase)?;
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| "random generator failed".to_owned())?;
    let mut body = root.key().expose().to_vec();
    let sealed = key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut body,
    );
    if sealed.is_err() {
        zeroize::Zeroize::zeroize(&mut body);
        return Err("cannot seal the root key".into());
    }
    let mut out = nonce.to_vec();
    out.extend_from_slice(&body);
    Ok(out)
}

/// Opens a sealed root key; `Ok(None)` when the passphrase (or the header) is wrong.
pub(crate) fn open(
    wrapped: &[u8],
    passphrase: &SecretString,
    kdf: &Kdf,
    aad: &[u8],
) -> Result<Option<RootKey>, String> {
    if wrapped.len() != WRAPPED_LEN {
        return Err("the wrapped root key has the wrong length".into());
    }
    let key = kdf.derive(passphrase)?;
    let (nonce, body) = wrapped.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| "nonce")?;
    let mut body = zeroize::Zeroizing::new(body.to_vec());
    let Ok(plain) = key.open_in_place(nonce, Aad::from(aad), &mut body) else {
        return Ok(None);
    };
    Ok(SecretKey32::from_slice(plain).map(RootKey::from_key))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn seal_open_and_refusals() {
        let kdf = Kdf::fresh().unwrap();
        let root = RootKey::generate().unwrap();
        let good = SecretString::new("correct horse".into());
        let sealed = seal(&root, &good, &kdf, b"header").unwrap();
        let opened = open(&sealed, &good, &kdf, b"header").unwrap().unwrap();
        assert_eq!(opened.key().expose(), root.key().expose());
        // A wrong passphrase or an edited header does not open it.
        let bad = SecretString::new("wrong horse".into());
        assert!(open(&sealed, &bad, &kdf, b"header").unwrap().is_none());
        assert!(open(&sealed, &good, &kdf, b"headed").unwrap().is_none());
        // Parameters below the floor are refused when parsed.
        let salt = hex::encode(kdf.salt);
        assert_eq!(Kdf::parse("m=65536 t=3 p=1", &salt).unwrap(), kdf);
        assert!(Kdf::parse("m=65535 t=3 p=1", &salt).is_err());
        assert!(Kdf::parse("m=65536 t=2 p=1", &salt).is_err());
        assert!(Kdf::parse("m=65536 t=3 p=0", &salt).is_err());
        assert!(Kdf::parse("m=65536 t=3", &salt).is_err());
        assert!(Kdf::parse("m=65536 t=3 p=1", "00").is_err());
    }
}
