//! Opaque tokens: data sealed (encrypted and authenticated) with a key
//! derived from the JWT secret, so a client can hand a token back but can
//! neither read nor forge it. List cursors carry sort keys such as a
//! lowercased title, which must not end up readable in URLs and logs.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const NONCE_BYTES: usize = 24;

/// A key for one `purpose`, so tokens of one kind never open as another.
fn cipher(secret: &[u8], purpose: &str) -> XChaCha20Poly1305 {
    let key = Sha256::new()
        .chain_update(b"todo-spin sealed token\0")
        .chain_update(purpose.as_bytes())
        .chain_update([0])
        .chain_update(secret)
        .finalize();
    XChaCha20Poly1305::new(&key)
}

/// `plain` sealed as URL-safe base64 (a random 192-bit nonce, then the
/// ciphertext and its tag).
pub fn seal(secret: &[u8], purpose: &str, plain: &[u8]) -> String {
    let mut nonce = [0u8; NONCE_BYTES];
    nonce[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    nonce[16..].copy_from_slice(&Uuid::new_v4().as_bytes()[..8]);
    seal_with(secret, purpose, plain, nonce)
}

/// [`seal`] with a nonce derived from the key and `plain` (a synthetic IV):
/// the same data always seals to the same text, which tells only that two
/// tokens are equal. For tokens a client compares, such as sync tokens.
pub fn seal_stable(secret: &[u8], purpose: &str, plain: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(b"todo-spin sealed nonce\0")
        .chain_update(purpose.as_bytes())
        .chain_update([0])
        .chain_update(secret)
        .chain_update([0])
        .chain_update(plain)
        .finalize();
    let mut nonce = [0u8; NONCE_BYTES];
    nonce.copy_from_slice(&digest[..NONCE_BYTES]);
    seal_with(secret, purpose, plain, nonce)
}

fn seal_with(secret: &[u8], purpose: &str, plain: &[u8], nonce: [u8; NONCE_BYTES]) -> String {
    let nonce = XNonce::from(nonce);
    let payload = Payload {
        msg: plain,
        aad: purpose.as_bytes(),
    };
    // Encryption into a Vec cannot fail for inputs of this size.
    let sealed = cipher(secret, purpose)
        .encrypt(&nonce, payload)
        .unwrap_or_default();
    let mut token = nonce.to_vec();
    token.extend(sealed);
    URL_SAFE_NO_PAD.encode(token)
}

/// The data of a token made by [`seal`] with the same secret and purpose;
/// `None` for anything else (tampered, truncated, another key).
pub fn open(secret: &[u8], purpose: &str, token: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    if bytes.len() < NONCE_BYTES {
        return None;
    }
    let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
    let payload = Payload {
        msg: sealed,
        aad: purpose.as_bytes(),
    };
    cipher(secret, purpose)
        .decrypt(&XNonce::from(nonce), payload)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_sealed_token_opens_only_with_its_secret_and_purpose() {
        let token = seal(SECRET, "cursor", b"buy milk");
        assert!(!token.contains("milk"));
        assert_eq!(open(SECRET, "cursor", &token), Some(b"buy milk".to_vec()));
        assert_eq!(
            open(b"another secret of 32 bytes at l", "cursor", &token),
            None
        );
        assert_eq!(open(SECRET, "other", &token), None);
        // Two seals of the same data differ (random nonce).
        assert_ne!(token, seal(SECRET, "cursor", b"buy milk"));
    }

    #[test]
    fn a_tampered_or_malformed_token_does_not_open() {
        let token = seal(SECRET, "cursor", b"keys");
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap_or_default();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(
            open(SECRET, "cursor", &URL_SAFE_NO_PAD.encode(&bytes)),
            None
        );
        for bad in ["", "!!", "abc", &token[..token.len() - 2]] {
            assert_eq!(open(SECRET, "cursor", bad), None, "{bad:?}");
        }
    }
}
