//! Passwords: argon2id, hashed and checked on the blocking pool.
//!
//! OWASP's password storage cheat sheet recommends argon2id with at least 19 MiB of memory,
//! two passes and one lane. With those a sign-in cost only 14 ms on this project's two-core
//! machine (`cargo bench -p hitkeep --bench auth`), so the memory stays at 19 MiB and the
//! passes are raised to seven: about 50 ms per sign-in, the cost the accounts issue aims at,
//! without more memory per concurrent sign-in. The parameters sit in every PHC string the
//! server writes, so they can change without breaking old hashes (a hash with other
//! parameters is replaced at the next sign-in).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory cost in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Passes over the memory (OWASP's baseline is 2 at this memory cost).
pub const ITERATIONS: u32 = 7;
/// Lanes.
pub const PARALLELISM: u32 = 1;

/// Argon2 computations running at once at most: each holds 19 MiB for about 50 ms, so this
/// bounds the memory that a crowd of sign-ins (or an attacker's) can take to 152 MiB; the
/// rest wait their turn.
pub const MAX_CONCURRENT: usize = 8;

static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_CONCURRENT);

/// Runs argon2 work (a [`hash`] or a [`verify`]) on the blocking pool, at most
/// [`MAX_CONCURRENT`] at a time.
pub async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    let _slot = SLOTS.acquire().await.expect("the semaphore is never closed");
    tokio::task::spawn_blocking(work).await
}

/// Shortest password accepted.
pub const MIN_LEN: usize = 10;
/// Longest password accepted (argon2 takes any length; this bounds the work per request).
pub const MAX_LEN: usize = 1024;

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Why a new password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    /// Shorter than [`MIN_LEN`] characters.
    #[error("a password needs at least {MIN_LEN} characters")]
    TooShort,
    /// Longer than [`MAX_LEN`] bytes.
    #[error("a password may have at most {MAX_LEN} bytes")]
    TooLong,
    /// The same as the e-mail address or its local part.
    #[error("the password must not be the e-mail address")]
    IsEmail,
}

/// Checks a new password: long enough, bounded, not the e-mail address. Length beats rules
/// about character classes (NIST SP 800-63B), so there are none.
pub fn check_new(password: &str, email: &str) -> Result<(), WeakPassword> {
    if password.chars().count() < MIN_LEN {
        return Err(WeakPassword::TooShort);
    }
    if password.len() > MAX_LEN {
        return Err(WeakPassword::TooLong);
    }
    let lower = password.to_lowercase();
    let local = email.split('@').next().unwrap_or(email);
    if lower == email.to_lowercase() || lower == local.to_lowercase() {
        return Err(WeakPassword::IsEmail);
    }
    Ok(())
}

/// The PHC string of a new password (`$argon2id$v=19$m=19456,t=7,p=1$...`).
pub fn hash(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system provides randomness");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    argon2().hash_password(password.as_bytes(), &salt).expect("argon2 hashes any password").to_string()
}

/// Whether `password` matches the PHC string `stored`. A string that does not parse matches
/// nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    if password.len() > MAX_LEN {
        return false;
    }
    PasswordHash::new(stored)
        .is_ok_and(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Whether a stored hash was made with weaker parameters than today's, so that it is
/// replaced at the next successful sign-in.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return true };
    let param = |name: &str| parsed.params.get_decimal(name).unwrap_or(0);
    parsed.algorithm.as_str() != "argon2id"
        || param("m") < MEMORY_KIB
        || param("t") < ITERATIONS
        || param("p") < PARALLELISM
}

/// A hash of a random password, made once: checking a password against it costs what a
/// real check costs, so a sign-in for an unknown account takes as long as one for a known
/// account with a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash(&crate::auth::secret::SecretKind::Setup.generate()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_a_few_hashes_run_at_once() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..3 * MAX_CONCURRENT)
            .map(|_| {
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(off_thread(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let most = most.load(Ordering::SeqCst);
        assert!(most <= MAX_CONCURRENT && most > 1, "{most} at once");
    }

    #[test]
    fn hashes_verify_and_carry_owasp_parameters() {
        let stored = hash("correct horse battery");
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=7,p=1$"), "{stored}");
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batterY", &stored));
        assert!(!verify("correct horse battery", "not a phc string"));
        assert_ne!(stored, hash("correct horse battery"), "salted");
        assert!(!needs_rehash(&stored));
        let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8, 1, 1, None).unwrap());
        let salt = SaltString::encode_b64(&[1; 16]).unwrap();
        let old = weak.hash_password(b"x", &salt).unwrap().to_string();
        assert!(needs_rehash(&old));
        assert!(!verify(&"x".repeat(MAX_LEN + 1), &stored));
    }

    #[test]
    fn new_passwords_are_long_bounded_and_not_the_address() {
        assert_eq!(check_new("short", "a@example.com"), Err(WeakPassword::TooShort));
        assert_eq!(check_new(&"x".repeat(MAX_LEN + 1), "a@example.com"), Err(WeakPassword::TooLong));
        assert_eq!(
            check_new("Ada.Lovelace@example.com", "ada.lovelace@example.com"),
            Err(WeakPassword::IsEmail)
        );
        assert_eq!(check_new("ada.lovelace", "ada.lovelace@example.com"), Err(WeakPassword::IsEmail));
        assert_eq!(check_new("four words is plenty", "a@example.com"), Ok(()));
        assert_eq!(check_new("ünïcödé✓✓✓✓", "a@example.com"), Ok(()));
    }
}
