//! Personal access tokens: `todo_pat_<id><secret>`, where `id` (32 hex
//! digits) names the token's row and `secret` is 256 random bits in URL-safe
//! base64. The fixed prefix and length let secret scanners recognise a
//! leaked token. Only the secret's SHA-256 digest is stored; the digest of a
//! presented secret is compared with it in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

pub const PREFIX: &str = "todo_pat_";
const ID_LEN: usize = 32;
/// 32 bytes in base64 without padding.
const SECRET_LEN: usize = 43;
/// How long a token may live, in days, and how long it lives when its
/// maker does not say.
pub const MAX_DAYS: i64 = 365;
pub const DEFAULT_DAYS: i64 = 30;
/// Live tokens one account may hold.
pub const MAX_PER_USER: i64 = 50;

/// A token as presented in an `Authorization` header, taken apart.
#[derive(PartialEq, Eq)]
pub struct Presented {
    pub id: Uuid,
    secret: String,
}

/// A new token: the text shown once to its maker, and what is stored.
pub struct Minted {
    pub id: Uuid,
    pub token: String,
    pub secret_sha256: String,
}

// Written by hand so that no log line or panic message ever shows a
// token's secret: only the id, which names the token without opening it.
impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presented")
            .field("id", &self.id)
            .field("secret", &"***")
            .finish()
    }
}

impl std::fmt::Debug for Minted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minted")
            .field("id", &self.id)
            .field("token", &"***")
            .field("secret_sha256", &"***")
            .finish()
    }
}

/// Whether `token` has the shape of a personal access token (rather than a
/// session JWT); [`parse`] then tells whether it is well formed.
pub fn is_access_token(token: &str) -> bool {
    token.starts_with(PREFIX)
}

pub fn parse(token: &str) -> Option<Presented> {
    let rest = token.strip_prefix(PREFIX)?;
    if rest.len() != ID_LEN + SECRET_LEN || !rest.is_ascii() {
        return None;
    }
    let (id, secret) = rest.split_at(ID_LEN);
    if !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let id = Uuid::try_parse(id).ok()?;
    let bytes = URL_SAFE_NO_PAD.decode(secret).ok()?;
    (bytes.len() == 32).then(|| Presented {
        id,
        secret: secret.to_owned(),
    })
}

impl Presented {
    /// The digest of this token's secret, as stored for a genuine token.
    pub fn sha256(&self) -> String {
        digest(&self.secret)
    }

    /// The same digest, as bytes.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.secret.as_bytes()).into()
    }

    /// Whether this token's secret is the one whose digest was stored.
    pub fn matches(&self, stored_sha256: &str) -> bool {
        self.sha256()
            .as_bytes()
            .ct_eq(stored_sha256.as_bytes())
            .into()
    }
}

pub fn mint() -> Result<Minted, getrandom::Error> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)?;
    let secret = URL_SAFE_NO_PAD.encode(secret);
    let id = Uuid::new_v4();
    Ok(Minted {
        id,
        token: format!("{PREFIX}{}{secret}", id.simple()),
        secret_sha256: digest(&secret),
    })
}

/// How a listing names a token without revealing it: the prefix and the
/// start of its id, which is where every such token begins.
pub fn hint(id: Uuid) -> String {
    let simple = id.simple().to_string();
    format!("{PREFIX}{}", &simple[..8])
}

fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_parses_back_and_matches_only_its_own_digest() {
        let minted = mint().unwrap();
        assert!(minted.token.starts_with("todo_pat_"));
        assert_eq!(minted.token.len(), PREFIX.len() + ID_LEN + SECRET_LEN);
        assert!(minted.token.starts_with(&hint(minted.id)));
        let presented = parse(&minted.token).unwrap();
        assert_eq!(presented.id, minted.id);
        assert!(presented.matches(&minted.secret_sha256));
        let other = mint().unwrap();
        assert!(!presented.matches(&other.secret_sha256));
        assert!(!presented.matches(""));
        assert_ne!(minted.token, other.token);
    }

    #[test]
    fn debug_output_never_shows_a_tokens_secret() {
        let minted = mint().unwrap();
        let secret = &minted.token[PREFIX.len() + ID_LEN..];
        let presented = parse(&minted.token).unwrap();
        for shown in [format!("{minted:?}"), format!("{presented:?}")] {
            assert!(!shown.contains(secret), "{shown}");
            assert!(!shown.contains(&minted.secret_sha256), "{shown}");
            assert!(shown.contains(&minted.id.to_string()), "{shown}");
        }
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let token = mint().unwrap().token;
        let cases = [
            String::new(),
            PREFIX.to_owned(),
            token[..token.len() - 1].to_owned(),
            format!("{token}A"),
            token.replacen("todo_pat_", "todo_pax_", 1),
            // An upper-case id: the token is exactly as minted or nothing.
            format!("{PREFIX}{}", token[PREFIX.len()..].to_uppercase()),
            // A secret that is not base64.
            format!(
                "{}!{}",
                &token[..token.len() - 43],
                &token[token.len() - 42..]
            ),
            format!("{}é{}", &token[..20], &token[22..]),
        ];
        for case in cases {
            assert_eq!(parse(&case), None, "{case}");
        }
    }
}
