//! Signatures of payment notifications: `X-Signature` is the lowercase hex of
//! HMAC-SHA256(`payment.secret`, raw body).
//!
//! Verification compares MACs in constant time (`Mac::verify_slice`), so a forger learns
//! nothing from how long a wrong signature takes to refuse.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-signature";

/// Lowercase hex of HMAC-SHA256(`secret`, `body`).
pub fn sign(secret: impl AsRef<[u8]>, body: impl AsRef<[u8]>) -> String {
    hex::encode(mac(secret.as_ref(), body.as_ref()).finalize().into_bytes())
}

/// Whether `header_value` (hex, surrounding whitespace ignored) is the signature of `body`.
/// Anything that is not 64 hex digits is simply a wrong signature.
pub fn verify(secret: impl AsRef<[u8]>, body: impl AsRef<[u8]>, header_value: &str) -> bool {
    let Ok(signature) = hex::decode(header_value.trim()) else {
        return false;
    };
    mac(secret.as_ref(), body.as_ref())
        .verify_slice(&signature)
        .is_ok()
}

fn mac(secret: &[u8], body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length (long keys are hashed), so this cannot fail;
    // an empty key is refused earlier, by config validation.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_4231_test_vector() {
        let key = [0x0b; 20];
        let expected = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
        assert_eq!(sign(key, "Hi There"), expected);
    }

    #[test]
    fn verifies_its_own_signature() {
        let body = br#"{"tradeNo":"T1","orderId":"o1","amount":990}"#;
        let signature = sign("secret", body);
        assert!(verify("secret", body, &signature));
        assert!(verify("secret", body, &format!(" {signature}\n")));
    }

    #[test]
    fn refuses_wrong_secret_body_or_garbage() {
        let signature = sign("secret", "body");
        assert!(!verify("other", "body", &signature));
        assert!(!verify("secret", "body2", &signature));
        assert!(!verify("secret", "body", "not hex"));
        assert!(!verify("secret", "body", &signature[..62]));
        assert!(!verify("secret", "body", ""));
    }
}
