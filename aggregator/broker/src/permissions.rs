//! Per-connection permissions: the subjects a client may publish to and subscribe to, as
//! nats-server's `permissions` block has them (allow lists with `*` and `>`).

use std::fmt;

use crate::subject::{ONE, TAIL};

/// What a connected client may do. A list of `None` allows everything; `Some` allows exactly
/// the subjects its patterns match (`*` one token, `>` the rest).
///
/// A subscription is allowed only when *every* subject it could receive is allowed: `foo.*`
/// under an allowed `foo.>` is, `foo.>` under an allowed `foo.*` is not.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    publish: Option<Vec<String>>,
    subscribe: Option<Vec<String>>,
}

impl Permissions {
    /// Everything: what a client with the broker's own credentials gets.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only these subjects (patterns).
    pub fn only<P, S>(publish: P, subscribe: S) -> Self
    where
        P: IntoIterator,
        P::Item: Into<String>,
        S: IntoIterator,
        S::Item: Into<String>,
    {
        Self {
            publish: Some(publish.into_iter().map(Into::into).collect()),
            subscribe: Some(subscribe.into_iter().map(Into::into).collect()),
        }
    }

    /// Whether the client may publish to `subject`. Publish subjects are literal; one with a
    /// wildcard token reaches nobody, and is allowed only where the same filter would be.
    pub fn may_publish(&self, subject: &[u8]) -> bool {
        self.publish.as_ref().is_none_or(|allowed| allowed.iter().any(|p| covers(p.as_bytes(), subject)))
    }

    /// Whether the client may subscribe to `filter`.
    pub fn may_subscribe(&self, filter: &[u8]) -> bool {
        self.subscribe.as_ref().is_none_or(|allowed| allowed.iter().any(|p| covers(p.as_bytes(), filter)))
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list =
            |l: &Option<Vec<String>>| l.as_ref().map_or_else(|| "everything".to_owned(), |l| l.join(","));
        f.debug_struct("Permissions")
            .field("publish", &list(&self.publish))
            .field("subscribe", &list(&self.subscribe))
            .finish()
    }
}

fn tokens(subject: &[u8]) -> impl Iterator<Item = &[u8]> {
    subject.split(|&byte| byte == b'.')
}

/// Whether every subject `filter` matches is matched by `pattern` (for a literal subject:
/// whether the pattern matches it).
fn covers(pattern: &[u8], filter: &[u8]) -> bool {
    let mut filter = tokens(filter);
    for token in tokens(pattern) {
        if token == TAIL {
            return filter.next().is_some();
        }
        match filter.next() {
            Some(given) if given == TAIL => return false,
            Some(given) if token == ONE || token == given => {}
            _ => return false,
        }
    }
    filter.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_patterns_match_literal_subjects() {
        let cases = [
            ("foo", "foo", true),
            ("foo", "foo.bar", false),
            ("foo.*", "foo.bar", true),
            ("foo.*", "foo", false),
            ("foo.*", "foo.bar.baz", false),
            ("foo.>", "foo.bar.baz", true),
            ("foo.>", "foo", false),
            (">", "anything.at.all", true),
            ("*.bar", "x.bar", true),
            ("*.bar", "x.baz", false),
        ];
        for (pattern, subject, expected) in cases {
            assert_eq!(covers(pattern.as_bytes(), subject.as_bytes()), expected, "{pattern} {subject}");
        }
    }

    #[test]
    fn subscriptions_must_stay_inside_an_allowed_pattern() {
        let cases = [
            ("_INBOX.a.>", "_INBOX.a.xyz.*", true),
            ("_INBOX.a.>", "_INBOX.a.>", true),
            ("_INBOX.a.>", "_INBOX.>", false),
            ("_INBOX.a.>", "_INBOX.*.xyz", false),
            ("_INBOX.a.>", "_INBOX.b.xyz", false),
            ("foo.*", "foo.>", false),
            ("foo.*", "foo.*", true),
            ("foo.bar", "foo.*", false),
            ("foo.bar", "foo.bar", true),
            (">", ">", true),
        ];
        for (pattern, filter, expected) in cases {
            assert_eq!(covers(pattern.as_bytes(), filter.as_bytes()), expected, "{pattern} {filter}");
        }
    }

    #[test]
    fn permissions_allow_only_their_lists() {
        let all = Permissions::all();
        assert!(all.may_publish(b"x") && all.may_subscribe(b">"));
        let edge = Permissions::only(["hitkeep.ingest.v1"], ["_INBOX.e1.>"]);
        assert!(edge.may_publish(b"hitkeep.ingest.v1"));
        assert!(!edge.may_publish(b"hitkeep.ingest.v2"));
        assert!(edge.may_subscribe(b"_INBOX.e1.abc.*"));
        assert!(!edge.may_subscribe(b"hitkeep.ingest.v1"));
        assert!(!edge.may_subscribe(b"_INBOX.>"));
        let none = Permissions::only(Vec::<String>::new(), Vec::<String>::new());
        assert!(!none.may_publish(b"x") && !none.may_subscribe(b"x"));
        assert_eq!(
            format!("{edge:?}"),
            r#"Permissions { publish: "hitkeep.ingest.v1", subscribe: "_INBOX.e1.>" }"#
        );
    }
}
