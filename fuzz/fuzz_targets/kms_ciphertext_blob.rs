//! The KMS ciphertext blob parser, through Decrypt and ReEncrypt on a real key store: the
//! first byte chooses raw bytes as the blob, or a real blob with the rest XORed into it,
//! or a real blob cut short; the service must refuse what it did not make.
#![no_main]

#[path = "kms_harness.rs"]
mod kms_harness;

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else { return };
    let h = kms_harness::harness();
    let real = &h.blob;
    let (blob, tampered) = match mode % 3 {
        0 => (rest.to_vec(), rest != real.as_slice()),
        1 => {
            let mut b = real.clone();
            for (i, x) in rest.iter().enumerate() {
                b[i % real.len()] ^= x;
            }
            let changed = b != *real;
            (b, changed)
        }
        _ => {
            let cut = rest.len() % real.len();
            (real[..cut].to_vec(), true)
        }
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(&blob);
    let body = serde_json::json!({"CiphertextBlob": b64}).to_string();
    let decrypted = h.call("Decrypt", body.as_bytes());
    if tampered {
        assert!(decrypted.is_err(), "a changed blob decrypted");
    }
    let body = serde_json::json!({"CiphertextBlob": b64, "DestinationKeyId": "alias/fuzz"}).to_string();
    let re = h.call("ReEncrypt", body.as_bytes());
    if tampered {
        assert!(re.is_err(), "a changed blob re-encrypted");
    }
});
