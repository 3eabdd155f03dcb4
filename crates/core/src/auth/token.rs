//! Access tokens: HS256 JWTs with `sub`, `iat`, `exp`, `jti` and `iss`.
//! Expiry is checked against the [`Clock`](crate::ports::Clock) port rather than
//! jsonwebtoken's own clock, so tests can move time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, TimeZone, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::JwtConfig;

pub const ISSUER: &str = "todo-spin";
/// Tolerated clock skew for `iat` in the future, in seconds.
const MAX_SKEW_SECS: i64 = 60;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: i64,
    exp: i64,
    jti: String,
    iss: String,
}

pub struct IssuedToken {
    pub token: String,
    pub expires_in: i64,
}

/// By hand, so that the token (a bearer credential) never reaches a log.
impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"***")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct VerifiedToken {
    pub user_id: Uuid,
    pub jti: Uuid,
    pub expires_at: DateTime<Utc>,
}

pub fn issue(cfg: &JwtConfig, user_id: Uuid, now: DateTime<Utc>) -> Result<IssuedToken, String> {
    let claims = Claims {
        sub: user_id.to_string(),
        iat: now.timestamp(),
        exp: (now + Duration::seconds(cfg.ttl_seconds)).timestamp(),
        jti: Uuid::new_v4().to_string(),
        iss: ISSUER.to_owned(),
    };
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&cfg.secret),
    )
    .map_err(|e| format!("signing a token failed: {e}"))?;
    Ok(IssuedToken {
        token,
        expires_in: cfg.ttl_seconds,
    })
}

/// Checks signature (HS256 only, with `secret`), issuer and time; says
/// nothing about revocation.
///
/// Through jsonwebtoken's header and signature functions rather than its
/// `decode`: that one needs a `Validation`, whose hash sets seed std's
/// `RandomState`, and under Spin that first draw of randomness sets up the
/// WASI adapter's state (128 KiB) in every instance that checks a token.
pub fn verify(secret: &[u8], token: &str, now: DateTime<Utc>) -> Result<VerifiedToken, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    if header.alg != Algorithm::HS256 {
        return Err("not an HS256 token".into());
    }
    let (message, signature) = token.rsplit_once('.').ok_or("not a JWT")?;
    let signed = jsonwebtoken::crypto::verify(
        signature,
        message.as_bytes(),
        &DecodingKey::from_secret(secret),
        Algorithm::HS256,
    )
    .map_err(|e| e.to_string())?;
    if !signed {
        return Err("bad signature".into());
    }
    let (_, payload) = message.split_once('.').ok_or("not a JWT")?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| "claims are not base64url".to_owned())?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|e| e.to_string())?;
    if claims.iss != ISSUER {
        return Err("token from another issuer".into());
    }
    let now_secs = now.timestamp();
    if claims.exp <= now_secs {
        return Err("token expired".into());
    }
    if claims.iat > now_secs + MAX_SKEW_SECS {
        return Err("token issued in the future".into());
    }
    let user_id = Uuid::parse_str(&claims.sub).map_err(|_| "bad sub".to_owned())?;
    let jti = Uuid::parse_str(&claims.jti).map_err(|_| "bad jti".to_owned())?;
    let expires_at = Utc
        .timestamp_opt(claims.exp, 0)
        .single()
        .ok_or_else(|| "bad exp".to_owned())?;
    Ok(VerifiedToken {
        user_id,
        jti,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> JwtConfig {
        JwtConfig {
            secret: b"0123456789abcdef0123456789abcdef".to_vec(),
            ttl_seconds: 3600,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    /// Claims that would pass every check if they were signed with our key.
    fn claims_json() -> String {
        format!(
            r#"{{"sub":"{}","iat":{},"exp":{},"jti":"{}","iss":"{ISSUER}"}}"#,
            Uuid::new_v4(),
            now().timestamp(),
            now().timestamp() + 3600,
            Uuid::new_v4()
        )
    }

    #[test]
    fn an_issued_tokens_debug_output_hides_the_token() {
        let issued = issue(&cfg(), Uuid::new_v4(), now()).unwrap();
        let shown = format!("{issued:?}");
        assert!(!shown.contains(&issued.token), "{shown}");
        // Not even its signature, the part that is secret.
        let signature = issued.token.rsplit('.').next().unwrap();
        assert!(!shown.contains(signature), "{shown}");
        assert!(shown.contains("3600"), "{shown}");
    }

    #[test]
    fn an_issued_token_verifies_until_it_expires() {
        let user = Uuid::new_v4();
        let issued = issue(&cfg(), user, now()).unwrap();
        let verified = verify(&cfg().secret, &issued.token, now()).unwrap();
        assert_eq!(verified.user_id, user);
        assert_eq!(verified.expires_at, now() + Duration::seconds(3600));
        assert!(verify(
            &cfg().secret,
            &issued.token,
            now() + Duration::seconds(3599)
        )
        .is_ok());
        assert!(verify(
            &cfg().secret,
            &issued.token,
            now() + Duration::seconds(3600)
        )
        .is_err());
    }

    #[test]
    fn a_token_signed_with_another_key_is_rejected() {
        let other = JwtConfig {
            secret: b"another-secret-another-secret-xx".to_vec(),
            ttl_seconds: 3600,
        };
        let issued = issue(&other, Uuid::new_v4(), now()).unwrap();
        assert!(verify(&cfg().secret, &issued.token, now()).is_err());
    }

    #[test]
    fn a_tampered_payload_is_rejected() {
        let issued = issue(&cfg(), Uuid::new_v4(), now()).unwrap();
        let parts: Vec<&str> = issued.token.split('.').collect();
        let forged = claims_json();
        let token = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(forged.as_bytes()),
            parts[2]
        );
        assert!(verify(&cfg().secret, &token, now()).is_err());
    }

    #[test]
    fn unsigned_and_other_algorithm_tokens_are_rejected() {
        let payload = claims_json();
        let body = URL_SAFE_NO_PAD.encode(payload.as_bytes());
        for header in [
            r#"{"alg":"none","typ":"JWT"}"#,
            r#"{"alg":"RS256","typ":"JWT"}"#,
            r#"{"alg":"HS512","typ":"JWT"}"#,
        ] {
            let head = URL_SAFE_NO_PAD.encode(header.as_bytes());
            for sig in ["", "c2lnbmF0dXJl"] {
                let token = format!("{head}.{body}.{sig}");
                assert!(
                    verify(&cfg().secret, &token, now()).is_err(),
                    "{header} with sig {sig:?}"
                );
            }
        }
    }

    #[test]
    fn garbage_is_rejected() {
        for token in ["", "abc", "a.b.c", "....", "eyJhbGciOiJIUzI1NiJ9.e30."] {
            assert!(verify(&cfg().secret, token, now()).is_err(), "{token:?}");
        }
    }

    #[test]
    fn a_token_from_another_issuer_is_rejected() {
        let claims = Claims {
            sub: Uuid::new_v4().to_string(),
            iat: now().timestamp(),
            exp: now().timestamp() + 3600,
            jti: Uuid::new_v4().to_string(),
            iss: "someone-else".into(),
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&cfg().secret),
        )
        .unwrap();
        assert!(verify(&cfg().secret, &token, now()).is_err());
    }

    #[test]
    fn a_signed_token_lacking_a_claim_is_rejected() {
        let full: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&claims_json()).unwrap();
        let key = EncodingKey::from_secret(&cfg().secret);
        let token = |claims: &serde_json::Map<String, serde_json::Value>| {
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).unwrap()
        };
        assert!(verify(&cfg().secret, &token(&full), now()).is_ok());
        for claim in ["sub", "iat", "exp", "jti", "iss"] {
            let mut claims = full.clone();
            claims.remove(claim);
            assert!(
                verify(&cfg().secret, &token(&claims), now()).is_err(),
                "without {claim}"
            );
        }
    }
}
