//! Proof of work for the logins of an email under attack: what bounds the
//! guesses of many addresses at one email, now that no login waits on the
//! server. Past [`LOGINS_PER_EMAIL_UNDER_ATTACK`](super::LOGINS_PER_EMAIL_UNDER_ATTACK)
//! attempts in the window, a login must carry a proof: a nonce that makes
//! `SHA-256("<challenge>:<hex SHA-256 of the password>:<nonce>")` start with
//! as many zero bits as the challenge says, which grows with the email's
//! attempts. The challenge is sealed with a key derived from the JWT secret
//! (see [`crate::sealed`]), so the server stores nothing: it names the
//! email, when it was issued and its difficulty, and cannot be forged.
//!
//! The proof covers the password, so one proof serves one guess: sent again
//! with another password it proves nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::sealed;

/// The zero bits asked of a login when its email has just come under
/// attack: 2^15 hashes expected, a tenth of a second in a browser.
pub const BASE_BITS: u32 = 15;
/// The most ever asked: 2^18 hashes expected, about half a second of the
/// web UI's solver (`static/js/proof.js`: 500,000 hashes a second under
/// Node 20's V8 on the development machine; a slow phone may take a few
/// seconds), so the owner always gets in.
pub const MAX_BITS: u32 = 18;
/// How long a challenge may be used after it was issued, in seconds: about
/// a login window, so a solved proof stays good while its user retries.
pub const CHALLENGE_SECONDS: i64 = 15 * 60;

const PURPOSE: &str = "login proof of work";

/// What a 401 for an email under attack carries, for the next attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Challenge {
    pub token: String,
    /// Leading zero bits the proof's digest must have.
    pub difficulty: u32,
}

/// The `proof` a login may carry: a challenge it was given, and its solution.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    pub challenge: String,
    pub nonce: String,
}

impl Proof {
    /// A nonce must be 1 to 32 letters or digits; anything else is a
    /// malformed request (422), not a wrong proof.
    pub fn check_shape(&self) -> Result<(), String> {
        let sane = (1..=32).contains(&self.nonce.len())
            && self.nonce.bytes().all(|b| b.is_ascii_alphanumeric());
        if sane {
            Ok(())
        } else {
            Err("nonce must be 1 to 32 letters or digits".into())
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    email: String,
    issued: i64,
    difficulty: u32,
}

/// The zero bits a login needs when its email has had `attempts` counted
/// in the window before it (successes given back): none up to
/// `under_attack`, then [`BASE_BITS`], one more each time the attempts
/// double, at most [`MAX_BITS`].
pub fn required_bits(attempts: i64, under_attack: i64) -> u32 {
    if attempts < under_attack || under_attack <= 0 {
        return 0;
    }
    let doublings = (attempts / under_attack).ilog2();
    BASE_BITS.saturating_add(doublings).min(MAX_BITS)
}

/// The most attempts an email may have had for a proof of `bits` to be
/// enough (the inverse of [`required_bits`]).
pub fn enough_up_to(bits: u32, under_attack: i64) -> i64 {
    if bits < BASE_BITS {
        return under_attack - 1;
    }
    if bits >= MAX_BITS {
        return i64::MAX;
    }
    // required_bits(a) <= bits while a / under_attack < 2^(bits - BASE_BITS + 1).
    under_attack
        .saturating_mul(1_i64 << (bits - BASE_BITS + 1))
        .saturating_sub(1)
}

/// A challenge of `difficulty` bits for `email`, issued at `now`.
pub fn challenge(secret: &[u8], email: &str, difficulty: u32, now: DateTime<Utc>) -> Challenge {
    let sealed = Sealed {
        email: email.to_owned(),
        issued: now.timestamp(),
        difficulty,
    };
    let plain = serde_json::to_vec(&sealed).unwrap_or_default();
    Challenge {
        token: sealed::seal(secret, PURPOSE, &plain),
        difficulty,
    }
}

/// The zero bits `proof` proves for a login of `email` with `password` at
/// `now`: its challenge's difficulty when the challenge is ours, for this
/// email, not stale, and the digest starts with that many zero bits; 0 for
/// anything else (which is no proof at all).
pub fn proven_bits(
    secret: &[u8],
    email: &str,
    password: &str,
    proof: &Proof,
    now: DateTime<Utc>,
) -> u32 {
    if proof.check_shape().is_err() || proof.challenge.len() > 2048 {
        return 0;
    }
    let Some(sealed) = sealed::open(secret, PURPOSE, &proof.challenge)
        .and_then(|plain| serde_json::from_slice::<Sealed>(&plain).ok())
    else {
        return 0;
    };
    let age = now.timestamp() - sealed.issued;
    if sealed.email != email || !(-60..=CHALLENGE_SECONDS).contains(&age) {
        return 0;
    }
    if zero_bits(&digest(&proof.challenge, password, &proof.nonce)) < sealed.difficulty {
        return 0;
    }
    sealed.difficulty
}

/// `SHA-256("<challenge>:<hex SHA-256 of password>:<nonce>")`.
pub fn digest(challenge: &str, password: &str, nonce: &str) -> [u8; 32] {
    prefix(challenge, password)
        .chain_update(nonce.as_bytes())
        .finalize()
        .into()
}

/// The hash state after `"<challenge>:<hex SHA-256 of password>:"`.
fn prefix(challenge: &str, password: &str) -> Sha256 {
    let password = Sha256::digest(password.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in password {
        use std::fmt::Write;
        let _ = write!(hex, "{b:02x}");
    }
    Sha256::new()
        .chain_update(challenge.as_bytes())
        .chain_update(b":")
        .chain_update(hex.as_bytes())
        .chain_update(b":")
}

/// Leading zero bits of a digest.
pub fn zero_bits(digest: &[u8]) -> u32 {
    let mut bits = 0;
    for b in digest {
        bits += b.leading_zeros();
        if *b != 0 {
            break;
        }
    }
    bits
}

/// A nonce that solves `challenge` for `password`, by trying 0, 1, 2, …
/// (what the web UI does; for tests and scripts).
pub fn solve(challenge: &Challenge, password: &str) -> Proof {
    let prefix = prefix(&challenge.token, password);
    let nonce = (0_u64..)
        .find(|n| {
            let digest = prefix.clone().chain_update(n.to_string()).finalize();
            zero_bits(&digest) >= challenge.difficulty
        })
        .unwrap_or_default();
    Proof {
        challenge: challenge.token.clone(),
        nonce: nonce.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_difficulty_grows_with_each_doubling_of_the_attempts_up_to_a_cap() {
        let bits: Vec<u32> = [0, 49, 50, 99, 100, 199, 200, 399, 400, 10_000, i64::MAX]
            .iter()
            .map(|a| required_bits(*a, 50))
            .collect();
        assert_eq!(bits, [0, 0, 15, 15, 16, 16, 17, 17, 18, 18, 18]);
    }

    #[test]
    fn a_proof_of_some_bits_is_enough_exactly_where_those_bits_are_required() {
        for attempts in [0, 1, 49, 50, 51, 99, 100, 101, 199, 200, 399, 400, 100_000] {
            let need = required_bits(attempts, 50);
            for bits in [0, BASE_BITS - 1, BASE_BITS, 16, 17, MAX_BITS, 30] {
                assert_eq!(
                    attempts <= enough_up_to(bits, 50),
                    bits >= need,
                    "{attempts} attempts, {bits} bits"
                );
            }
        }
    }

    #[test]
    fn a_solved_challenge_proves_its_bits_for_that_email_and_password_only() {
        // A proof for one password also proves 8 bits for another when that
        // password's digest happens to start with 8 zero bits too (1 in 256,
        // with the challenge's random seal): take a challenge where it does
        // not, so that the test says the same on every run.
        let proof = std::iter::repeat_with(|| {
            solve(
                &challenge(SECRET, "ada@example.com", 8, now()),
                "correct horse",
            )
        })
        .find(|p| zero_bits(&digest(&p.challenge, "correct horsf", &p.nonce)) < 8)
        .unwrap();
        let bits = |email: &str, password: &str, proof: &Proof, at: DateTime<Utc>| {
            proven_bits(SECRET, email, password, proof, at)
        };
        assert_eq!(bits("ada@example.com", "correct horse", &proof, now()), 8);
        // Another password, another email, a stale challenge, another key:
        // no proof.
        assert_eq!(bits("ada@example.com", "correct horsf", &proof, now()), 0);
        assert_eq!(bits("bob@example.com", "correct horse", &proof, now()), 0);
        let late = now() + chrono::Duration::seconds(CHALLENGE_SECONDS + 1);
        assert_eq!(bits("ada@example.com", "correct horse", &proof, late), 0);
        let other = proven_bits(
            b"another secret, just as long....",
            "ada@example.com",
            "correct horse",
            &proof,
            now(),
        );
        assert_eq!(other, 0);
        // A nonce that does not solve it, or is no nonce.
        for nonce in ["", "x y", &"9".repeat(33)] {
            let bad = Proof {
                nonce: nonce.to_owned(),
                ..proof.clone()
            };
            assert!(bad.check_shape().is_err(), "{nonce:?}");
            assert_eq!(bits("ada@example.com", "correct horse", &bad, now()), 0);
        }
        assert_eq!(proof.check_shape(), Ok(()));
        let unsolved = (0_u64..)
            .map(|n| n.to_string())
            .find(|n| zero_bits(&digest(&proof.challenge, "correct horse", n)) < 8)
            .unwrap();
        let bad = Proof {
            nonce: unsolved,
            ..proof
        };
        assert_eq!(bits("ada@example.com", "correct horse", &bad, now()), 0);
    }

    #[test]
    fn zero_bits_are_counted_across_bytes() {
        assert_eq!(zero_bits(&[0xff]), 0);
        assert_eq!(zero_bits(&[0x00, 0x01]), 15);
        assert_eq!(zero_bits(&[0x00, 0x00, 0x80]), 16);
        assert_eq!(zero_bits(&[0x00, 0x00]), 16);
    }

    #[test]
    fn the_digest_is_what_the_web_ui_computes() {
        // SHA-256("c:" + hex(SHA-256("pw")) + ":7"), computed with
        // `printf 'c:%s:7' "$(printf pw | sha256sum | cut -d' ' -f1)" | sha256sum`.
        let hex: String = digest("c", "pw", "7")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, EXPECTED_DIGEST);
    }

    const EXPECTED_DIGEST: &str =
        "d3baef6429a7b732e4e11952445dc60600d40d186a7805e3dd34477120f8fb8c";
}
