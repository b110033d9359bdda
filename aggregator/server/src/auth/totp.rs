//! Time-based one-time passwords (RFC 6238, what authenticator apps speak): SHA-1, 6 digits,
//! 30-second steps, a 160-bit secret, one step of clock drift either way. Each code is
//! accepted once: the store keeps the step of the last code accepted and takes only later
//! ones (see `Store::accept_totp_step`).
//!
//! Recovery codes are the way in when the phone is lost: ten random codes of 80 bits, shown
//! once, kept as digests, each usable once.

use totp_rs::{Builder, Secret, Totp};

use crate::auth::secret::digest;

/// Length of a step, in seconds.
pub const STEP_SECS: u64 = 30;
/// Bytes of a new secret (160 bits, what RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;
/// Recovery codes per set.
pub const RECOVERY_CODES: usize = 10;

/// A fresh secret.
pub fn new_secret() -> [u8; SECRET_BYTES] {
    let mut secret = [0u8; SECRET_BYTES];
    getrandom::fill(&mut secret).expect("the operating system provides randomness");
    secret
}

fn totp(secret: &[u8]) -> Option<Totp> {
    Builder::new().with_secret(secret.to_vec()).with_skew(1).with_step_duration(STEP_SECS).build().ok()
}

/// The secret as authenticator apps take it when typed in (base32).
pub fn base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

/// The time step of `code` if it is right at `now_ms` (one step of drift either way).
pub fn check(secret: &[u8], code: &str, now_ms: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now_secs = u64::try_from(now_ms / 1000).ok()?;
    totp(secret)?.check(&code, now_secs).and_then(|step| i64::try_from(step).ok())
}

/// The code for `now_ms` (tests, and the benchmark).
pub fn code_at(secret: &[u8], now_ms: i64) -> String {
    let totp = totp(secret).expect("a valid secret");
    totp.generate(u64::try_from(now_ms / 1000).unwrap_or(0)).to_string()
}

/// The `otpauth://` URL of the enrolment QR code.
pub fn otpauth_url(secret: &[u8], issuer: &str, account: &str) -> String {
    let (issuer, account) = (percent_encode(issuer), percent_encode(account));
    format!(
        "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits=6&period={STEP_SECS}",
        base32(secret)
    )
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The QR code of `text` as an SVG document, drawn here (never by a third party).
pub fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M) {
        Ok(code) => {
            code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build()
        }
        // An otpauth URL is far below the largest QR code; this is for the impossible case.
        Err(_) => String::new(),
    }
}

/// Lower-case base32 without padding or look-alikes' confusion: `a-z`, `2-7`.
const CODE_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A new set of recovery codes (`xxxx-xxxx-xxxx-xxxx`, 80 random bits each) and their
/// digests.
pub fn new_recovery_codes() -> (Vec<String>, Vec<[u8; 32]>) {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).expect("the operating system provides randomness");
            let mut code = String::with_capacity(19);
            for (i, byte) in bytes.iter().enumerate() {
                if i > 0 && i % 4 == 0 {
                    code.push('-');
                }
                code.push(CODE_ALPHABET[usize::from(byte & 31)] as char);
            }
            let key = recovery_digest(&code).expect("a code of our own shape");
            (code, key)
        })
        .unzip()
}

/// The digest of a recovery code as typed (case, spaces and dashes do not matter); `None`
/// when it cannot be one.
pub fn recovery_digest(typed: &str) -> Option<[u8; 32]> {
    let code: String =
        typed.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_lowercase()).collect();
    (code.len() == 16 && code.bytes().all(|b| CODE_ALPHABET.contains(&b)))
        .then(|| digest(&format!("recovery:{code}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238's SHA-1 test secret and vectors (8 digits there; the last 6 here).
    #[test]
    fn codes_follow_rfc_6238() {
        let secret = b"12345678901234567890";
        assert_eq!(code_at(secret, 59_000), "287082");
        assert_eq!(code_at(secret, 1_111_111_109_000), "081804");
        assert_eq!(code_at(secret, 1_234_567_890_000), "005924");
        assert_eq!(check(secret, "287082", 59_000), Some(1));
        assert_eq!(check(secret, "287 082", 59_000), Some(1), "spaces are ignored");
        assert_eq!(check(secret, "287082", 59_000 + 30_000), Some(1), "one step late");
        assert_eq!(check(secret, "287082", 59_000 + 60_000), None, "two steps late");
        assert_eq!(check(secret, "28708", 59_000), None);
        assert_eq!(check(secret, "abcdef", 59_000), None);
    }

    #[test]
    fn enrolment_urls_and_qr_codes() {
        let url = otpauth_url(b"12345678901234567890", "Hitkeep", "ada@example.com");
        assert_eq!(
            url,
            "otpauth://totp/Hitkeep:ada%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Hitkeep&algorithm=SHA1&digits=6&period=30"
        );
        let svg = qr_svg(&url);
        assert!(svg.starts_with("<?xml") && svg.contains("<svg") && svg.contains("<path"), "{svg}");
    }

    #[test]
    fn recovery_codes_are_random_and_forgiving_to_type() {
        let (codes, digests) = new_recovery_codes();
        assert_eq!((codes.len(), digests.len()), (RECOVERY_CODES, RECOVERY_CODES));
        let first = &codes[0];
        assert_eq!(first.len(), 19);
        assert_eq!(recovery_digest(first), Some(digests[0]));
        assert_eq!(recovery_digest(&first.to_uppercase().replace('-', " ")), Some(digests[0]));
        assert_ne!(codes[0], codes[1]);
        assert_eq!(recovery_digest("123456"), None);
        assert_eq!(recovery_digest("aaaa-aaaa-aaaa-aaa1"), None);
    }
}
