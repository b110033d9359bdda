//! Subject syntax: validation of subscription filters (with `*` and `>`) and publish subjects.
//!
//! A subject is a non-empty list of non-empty tokens separated by `.`, without whitespace or
//! control bytes. In a filter, `*` (one token) and `>` (one or more trailing tokens) are
//! wildcards only as whole tokens, and `>` only as the last token; `a*b` is a literal token.

/// The single-token wildcard.
pub(crate) const ONE: &[u8] = b"*";
/// The trailing wildcard.
pub(crate) const TAIL: &[u8] = b">";

/// Whether `filter` is a valid subscription subject.
pub(crate) fn is_valid_filter(filter: &[u8]) -> bool {
    let mut tokens = filter.split(|&byte| byte == b'.').peekable();
    while let Some(token) = tokens.next() {
        if !is_valid_token(token) || (token == TAIL && tokens.peek().is_some()) {
            return false;
        }
    }
    true
}

/// Whether `subject` is a valid subject to publish to: valid and without wildcards.
pub(crate) fn is_valid_literal(subject: &[u8]) -> bool {
    subject.split(|&byte| byte == b'.').all(|token| is_valid_token(token) && token != ONE && token != TAIL)
}

fn is_valid_token(token: &[u8]) -> bool {
    !token.is_empty() && token.iter().all(|&byte| byte > b' ' && byte != 0x7f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        for valid in
            ["foo", "foo.bar", "*", ">", "foo.*", "foo.>", "*.bar.>", "a*b.c>d", "_INBOX.abc.*", "ü.ñ"]
        {
            assert!(is_valid_filter(valid.as_bytes()), "{valid}");
        }
        for invalid in
            ["", ".", "foo.", ".foo", "foo..bar", ">.foo", "foo.>.bar", "fo o", "foo\tbar", "a\u{7f}"]
        {
            assert!(!is_valid_filter(invalid.as_bytes()), "{invalid:?}");
        }
    }

    #[test]
    fn literals() {
        for valid in ["foo", "foo.bar", "a*b", "a>", "_INBOX.x.1"] {
            assert!(is_valid_literal(valid.as_bytes()), "{valid}");
        }
        for invalid in ["", "foo.*", "foo.>", "*", ">", "foo..bar", "foo.", "a b"] {
            assert!(!is_valid_literal(invalid.as_bytes()), "{invalid:?}");
        }
    }
}
