//! The Standard Webhooks signature: `v1,` + base64 of HMAC-SHA256 over `id.timestamp.body`,
//! keyed with the webhook's secret. Pure, so the test vector of the specification checks it.

use base64::Engine as _;
use hmac::{KeyInit, Mac};

use super::webhook::Secret;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The `webhook-signature` header's value for one message at one sending moment.
pub fn signature(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of every length (RFC 2104 hashes a long one first): `new_from_slice`
    // only fails for fixed-size MACs, never for HMAC.
    #[allow(clippy::expect_used)]
    let mut mac = HmacSha256::new_from_slice(secret.key()).expect("HMAC accepts any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_standard_webhooks_test_vector() {
        // The example of the Standard Webhooks specification and its reference libraries.
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = signature(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_changed_body_id_or_timestamp_changes_the_signature() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let base = signature(&secret, "a", 1, b"{}");
        assert_ne!(base, signature(&secret, "b", 1, b"{}"));
        assert_ne!(base, signature(&secret, "a", 2, b"{}"));
        assert_ne!(base, signature(&secret, "a", 1, b"{ }"));
    }
}
