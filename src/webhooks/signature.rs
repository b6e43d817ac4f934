//! Signing secrets and the Standard Webhooks signature (<https://www.standardwebhooks.com>).
//!
//! A secret is `whsec_` and the base64 of 32 random bytes; its key is those bytes. A
//! delivery carries `webhook-id` (the event id), `webhook-timestamp` (unix seconds of the
//! attempt) and `webhook-signature`: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")),
//! one per secret that signs, separated by spaces, so a receiver that still holds the old
//! secret during a rotation verifies as well as one that holds the new.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What every secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a secret made here (the specification allows 24 to 64).
const SECRET_KEY_BYTES: usize = 32;
/// Bounds the specification sets on a secret's key.
const SECRET_KEY_BYTES_MIN: usize = 24;
const SECRET_KEY_BYTES_MAX: usize = 64;

/// A new secret from the operating system's random generator.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut key = [0_u8; SECRET_KEY_BYTES];
    getrandom::fill(&mut key)?;
    Ok(format!("{SECRET_PREFIX}{}", STANDARD.encode(key)))
}

/// The key of a `whsec_` secret, or why it is not one.
pub fn secret_key(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret
        .strip_prefix(SECRET_PREFIX)
        .ok_or_else(|| format!("a secret starts with {SECRET_PREFIX}"))?;
    let key = STANDARD
        .decode(encoded)
        .map_err(|error| format!("not base64 after {SECRET_PREFIX}: {error}"))?;
    if !(SECRET_KEY_BYTES_MIN..=SECRET_KEY_BYTES_MAX).contains(&key.len()) {
        return Err(format!(
            "a key of {SECRET_KEY_BYTES_MIN} to {SECRET_KEY_BYTES_MAX} bytes, got {}",
            key.len()
        ));
    }
    Ok(key)
}

/// One signature, `v1,` + base64 of the HMAC of `id.timestamp.body` under `key`.
pub fn sign_with_key(key: &[u8], id: &str, timestamp_seconds: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: one signature per key, space-separated.
pub fn signature_header(keys: &[Vec<u8>], id: &str, timestamp_seconds: i64, body: &[u8]) -> String {
    let signatures: Vec<String> = keys
        .iter()
        .map(|key| sign_with_key(key, id, timestamp_seconds, body))
        .collect();
    signatures.join(" ")
}

/// Whether one of the header's signatures is `secret`'s: what a receiver checks (the
/// server only signs; the tests verify).
#[cfg(test)]
pub fn verifies(secret: &str, header: &str, id: &str, timestamp_seconds: i64, body: &[u8]) -> bool {
    let Ok(key) = secret_key(secret) else {
        return false;
    };
    let expected = sign_with_key(&key, id, timestamp_seconds, body);
    header.split(' ').any(|signature| {
        // Same length first, then every byte, so the time taken says nothing about where
        // a forged signature differs.
        signature.len() == expected.len()
            && signature
                .bytes()
                .zip(expected.bytes())
                .fold(0_u8, |difference, (a, b)| difference | (a ^ b))
                == 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector the specification's reference libraries share.
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TIMESTAMP: i64 = 1_614_265_330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn the_specifications_vector_signs_as_published() {
        let key = secret_key(VECTOR_SECRET).expect("the vector's secret");
        let signature = sign_with_key(&key, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY);
        assert_eq!(signature, VECTOR_SIGNATURE);
        assert!(verifies(
            VECTOR_SECRET,
            VECTOR_SIGNATURE,
            VECTOR_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY
        ));
    }

    #[test]
    fn a_changed_id_timestamp_or_body_does_not_verify() {
        let key = secret_key(VECTOR_SECRET).expect("the vector's secret");
        let header = signature_header(&[key], VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY);
        assert!(!verifies(
            VECTOR_SECRET,
            &header,
            "msg_other",
            VECTOR_TIMESTAMP,
            VECTOR_BODY
        ));
        let later = VECTOR_TIMESTAMP + 1;
        assert!(!verifies(
            VECTOR_SECRET,
            &header,
            VECTOR_ID,
            later,
            VECTOR_BODY
        ));
        let body = br#"{"test": 2432232315}"#;
        assert!(!verifies(
            VECTOR_SECRET,
            &header,
            VECTOR_ID,
            VECTOR_TIMESTAMP,
            body
        ));
    }

    #[test]
    fn during_a_rotation_both_secrets_sign() {
        let old = new_secret().expect("a secret");
        let new = new_secret().expect("a secret");
        assert_ne!(old, new);
        let keys = [
            secret_key(&new).expect("new"),
            secret_key(&old).expect("old"),
        ];
        let header = signature_header(&keys, "evt_0000000000010000", 1_700_000_000, b"{}");
        let signatures: Vec<&str> = header.split(' ').collect();
        assert_eq!(signatures.len(), 2, "{header}");
        assert!(signatures
            .iter()
            .all(|signature| signature.starts_with("v1,")));
        for secret in [&old, &new] {
            assert!(verifies(
                secret,
                &header,
                "evt_0000000000010000",
                1_700_000_000,
                b"{}"
            ));
        }
        let stranger = new_secret().expect("a secret");
        assert!(!verifies(
            &stranger,
            &header,
            "evt_0000000000010000",
            1_700_000_000,
            b"{}"
        ));
    }

    #[test]
    fn new_secrets_have_the_prefix_and_a_32_byte_key() {
        let secret = new_secret().expect("a secret");
        assert!(secret.starts_with(SECRET_PREFIX), "{secret}");
        assert_eq!(secret_key(&secret).expect("its key").len(), 32);
    }

    #[test]
    fn malformed_secrets_are_refused() {
        assert!(
            secret_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err(),
            "no prefix"
        );
        assert!(secret_key("whsec_not base64!").is_err());
        assert!(
            secret_key(&format!("whsec_{}", STANDARD.encode([1_u8; 8]))).is_err(),
            "short"
        );
        assert!(
            secret_key(&format!("whsec_{}", STANDARD.encode([1_u8; 65]))).is_err(),
            "long"
        );
    }
}
