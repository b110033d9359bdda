//! Event groups: several `POST /api/event` requests handed to the collector component in one
//! `wasi:http` request, and its replies to them in one response.
//!
//! Every request into a WASM component costs the host a store, an instance and a dozen
//! `wasi:http` resources, several times what the collector's own work on an event costs. Our
//! host (`hitkeep-edge`, and `hitkeep serve` which embeds it) therefore queues the events
//! that arrive while the component is busy and sends them together: one
//! `POST` [`GROUP_PATH`] whose body is a [`GroupRequest`] list, answered with one
//! [`GroupReply`] per event, in order. Each event still gets exactly the answer it would
//! have had alone; the accepted hits of the whole group leave the component as one batch.
//!
//! The route is internal. The component serves it only when the environment variable
//! `HITKEEP_GROUP_KEY` is set and the request's [`GROUP_KEY_HEADER`] matches it; our host
//! sets both (a fresh random key per process) and strips every client-sent `x-hitkeep-*`
//! header, so no client can reach it. Under Spin or `wasmtime serve` nothing sets the key and
//! the path answers 404.
//!
//! # Layout
//!
//! Big-endian integers, no padding:
//!
//! ```text
//! group    = magic:u8[4] count:u32 item{count}
//! request  = header-list body                         (magic "HKQ1")
//! reply    = status:u16 header-list body              (magic "HKR1")
//! header-list = n:u16 (name-len:u16 name value-len:u32 value){n}
//! body     = len:u32 bytes
//! ```
//!
//! Names are lower-case ASCII header names; values are raw bytes. Decoding checks every
//! length against the bytes left and against [`MAX_GROUP_EVENTS`] and
//! [`MAX_GROUP_HEADERS`], so a corrupt group is an error, never a panic or a huge allocation.

/// The internal path of event groups.
pub const GROUP_PATH: &str = "/.hitkeep/events";

/// The request header carrying the host's group key.
pub const GROUP_KEY_HEADER: &str = "x-hitkeep-group-key";

/// Most events in one group.
pub const MAX_GROUP_EVENTS: usize = 128;

/// Most headers of one event in a group (the host refuses requests with more before).
pub const MAX_GROUP_HEADERS: usize = 128;

/// Most bytes of an encoded group (requests or replies).
pub const MAX_GROUP_BYTES: usize = 4 * 1024 * 1024;

const REQUEST_MAGIC: &[u8; 4] = b"HKQ1";
const REPLY_MAGIC: &[u8; 4] = b"HKR1";

/// A header: lower-case name, raw value.
pub type Header = (String, Vec<u8>);

/// One `POST /api/event` as the host passes it on: its headers (the host's
/// `x-hitkeep-client-ip` and geo headers included) and its body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupRequest {
    /// Headers, names lower-case.
    pub headers: Vec<Header>,
    /// The body.
    pub body: Vec<u8>,
}

/// The component's answer to one [`GroupRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupReply {
    /// HTTP status.
    pub status: u16,
    /// Headers, names lower-case.
    pub headers: Vec<Header>,
    /// The body.
    pub body: Vec<u8>,
}

/// Why bytes are not a group.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// The bytes do not start with the expected magic.
    #[error("not an event group (bad magic)")]
    BadMagic,
    /// A length points past the end of the bytes.
    #[error("event group truncated")]
    Truncated,
    /// Bytes are left after the last item.
    #[error("{0} bytes after the last item of the event group")]
    TrailingBytes(usize),
    /// More items or headers than the limits allow, or too many bytes.
    #[error("event group over its limits: {0}")]
    TooLarge(&'static str),
    /// A header name is not lower-case ASCII.
    #[error("invalid header name in event group")]
    InvalidHeaderName,
}

/// Encodes a group of requests.
pub fn encode_requests(requests: &[GroupRequest]) -> Vec<u8> {
    let size: usize = requests.iter().map(|r| encoded_len(&r.headers, &r.body)).sum();
    let mut out = Vec::with_capacity(8 + size);
    out.extend_from_slice(REQUEST_MAGIC);
    put_u32(&mut out, requests.len());
    for request in requests {
        put_headers(&mut out, &request.headers);
        put_bytes(&mut out, &request.body);
    }
    out
}

/// Decodes a group of requests.
pub fn decode_requests(bytes: &[u8]) -> Result<Vec<GroupRequest>, GroupError> {
    let mut reader = Reader::open(bytes, REQUEST_MAGIC)?;
    let count = reader.count()?;
    let mut requests = Vec::with_capacity(count);
    for _ in 0..count {
        let headers = reader.headers()?;
        let body = reader.bytes()?.to_vec();
        requests.push(GroupRequest { headers, body });
    }
    reader.finish()?;
    Ok(requests)
}

/// Encodes the replies to a group.
pub fn encode_replies(replies: &[GroupReply]) -> Vec<u8> {
    let size: usize = replies.iter().map(|r| 2 + encoded_len(&r.headers, &r.body)).sum();
    let mut out = Vec::with_capacity(8 + size);
    out.extend_from_slice(REPLY_MAGIC);
    put_u32(&mut out, replies.len());
    for reply in replies {
        out.extend_from_slice(&reply.status.to_be_bytes());
        put_headers(&mut out, &reply.headers);
        put_bytes(&mut out, &reply.body);
    }
    out
}

/// Decodes the replies to a group.
pub fn decode_replies(bytes: &[u8]) -> Result<Vec<GroupReply>, GroupError> {
    let mut reader = Reader::open(bytes, REPLY_MAGIC)?;
    let count = reader.count()?;
    let mut replies = Vec::with_capacity(count);
    for _ in 0..count {
        let status = reader.u16()?;
        let headers = reader.headers()?;
        let body = reader.bytes()?.to_vec();
        replies.push(GroupReply { status, headers, body });
    }
    reader.finish()?;
    Ok(replies)
}

fn encoded_len(headers: &[Header], body: &[u8]) -> usize {
    2 + headers.iter().map(|(name, value)| 6 + name.len() + value.len()).sum::<usize>() + 4 + body.len()
}

fn put_u32(out: &mut Vec<u8>, value: usize) {
    let value = u32::try_from(value).expect("event group lengths fit in 32 bits");
    out.extend_from_slice(&value.to_be_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(out, bytes.len());
    out.extend_from_slice(bytes);
}

fn put_headers(out: &mut Vec<u8>, headers: &[Header]) {
    let count = u16::try_from(headers.len()).expect("header counts fit in 16 bits");
    out.extend_from_slice(&count.to_be_bytes());
    for (name, value) in headers {
        let len = u16::try_from(name.len()).expect("header names fit in 16 bits");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        put_bytes(out, value);
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn open(bytes: &'a [u8], magic: &[u8; 4]) -> Result<Self, GroupError> {
        if bytes.len() > MAX_GROUP_BYTES {
            return Err(GroupError::TooLarge("bytes"));
        }
        let rest = bytes.strip_prefix(magic.as_slice()).ok_or(GroupError::BadMagic)?;
        Ok(Self { rest })
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], GroupError> {
        if len > self.rest.len() {
            return Err(GroupError::Truncated);
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    fn u16(&mut self) -> Result<u16, GroupError> {
        let bytes = self.take(2)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn u32(&mut self) -> Result<usize, GroupError> {
        let bytes = self.take(4)?;
        let value = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        usize::try_from(value).map_err(|_| GroupError::TooLarge("length"))
    }

    fn count(&mut self) -> Result<usize, GroupError> {
        let count = self.u32()?;
        if count > MAX_GROUP_EVENTS {
            return Err(GroupError::TooLarge("events"));
        }
        Ok(count)
    }

    fn bytes(&mut self) -> Result<&'a [u8], GroupError> {
        let len = self.u32()?;
        self.take(len)
    }

    fn headers(&mut self) -> Result<Vec<Header>, GroupError> {
        let count = usize::from(self.u16()?);
        if count > MAX_GROUP_HEADERS {
            return Err(GroupError::TooLarge("headers"));
        }
        let mut headers = Vec::with_capacity(count);
        for _ in 0..count {
            let len = usize::from(self.u16()?);
            let name = self.take(len)?;
            let valid = !name.is_empty()
                && name.iter().all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase() && *b != b':');
            if !valid {
                return Err(GroupError::InvalidHeaderName);
            }
            let name = String::from_utf8(name.to_vec()).map_err(|_| GroupError::InvalidHeaderName)?;
            let value = self.bytes()?.to_vec();
            headers.push((name, value));
        }
        Ok(headers)
    }

    fn finish(self) -> Result<(), GroupError> {
        if self.rest.is_empty() { Ok(()) } else { Err(GroupError::TrailingBytes(self.rest.len())) }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn request(n: u8) -> GroupRequest {
        GroupRequest {
            headers: vec![
                ("user-agent".into(), b"Mozilla/5.0".to_vec()),
                ("x-hitkeep-client-ip".into(), format!("203.0.113.{n}").into_bytes()),
            ],
            body: format!(r#"{{"n":"pageview","u":"https://example.com/{n}","d":"example.com"}}"#)
                .into_bytes(),
        }
    }

    #[test]
    fn requests_and_replies_roundtrip() {
        let requests = vec![request(1), request(2), GroupRequest::default()];
        assert_eq!(decode_requests(&encode_requests(&requests)).unwrap(), requests);
        let replies = vec![
            GroupReply {
                status: 202,
                headers: vec![("x-hitkeep-dropped".into(), b"bot".to_vec())],
                body: vec![],
            },
            GroupReply { status: 400, headers: vec![], body: br#"{"error":{}}"#.to_vec() },
        ];
        assert_eq!(decode_replies(&encode_replies(&replies)).unwrap(), replies);
        assert_eq!(decode_replies(&encode_replies(&[])).unwrap(), vec![]);
    }

    #[test]
    fn requests_are_not_replies() {
        let bytes = encode_requests(&[request(1)]);
        assert_eq!(decode_replies(&bytes), Err(GroupError::BadMagic));
        assert_eq!(decode_requests(b"HKQ"), Err(GroupError::BadMagic));
    }

    #[test]
    fn limits_hold() {
        let mut bytes = REQUEST_MAGIC.to_vec();
        bytes.extend_from_slice(&(MAX_GROUP_EVENTS as u32 + 1).to_be_bytes());
        assert_eq!(decode_requests(&bytes), Err(GroupError::TooLarge("events")));
        let mut bytes = REQUEST_MAGIC.to_vec();
        bytes.extend_from_slice(&1u32.to_be_bytes());
        bytes.extend_from_slice(&(MAX_GROUP_HEADERS as u16 + 1).to_be_bytes());
        assert_eq!(decode_requests(&bytes), Err(GroupError::TooLarge("headers")));
        // A length far past the end is refused before anything is allocated for it.
        let mut bytes = REQUEST_MAGIC.to_vec();
        bytes.extend_from_slice(&1u32.to_be_bytes());
        bytes.extend_from_slice(&0u16.to_be_bytes());
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(decode_requests(&bytes), Err(GroupError::Truncated));
        assert_eq!(decode_requests(&vec![0; MAX_GROUP_BYTES + 1]), Err(GroupError::TooLarge("bytes")));
    }

    #[test]
    fn header_names_must_be_lower_case_tokens() {
        for name in ["User-Agent", "", "a b", "a:b"] {
            let requests = vec![GroupRequest { headers: vec![(name.into(), vec![])], body: vec![] }];
            assert_eq!(
                decode_requests(&encode_requests(&requests)),
                Err(GroupError::InvalidHeaderName),
                "{name:?}"
            );
        }
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = encode_requests(&[request(1)]);
        bytes.push(0);
        assert_eq!(decode_requests(&bytes), Err(GroupError::TrailingBytes(1)));
    }

    fn arb_headers() -> impl Strategy<Value = Vec<Header>> {
        prop::collection::vec(("[a-z][a-z0-9-]{0,20}", prop::collection::vec(any::<u8>(), 0..40)), 0..6)
    }

    proptest! {
        #[test]
        fn any_group_roundtrips(
            requests in prop::collection::vec((arb_headers(), prop::collection::vec(any::<u8>(), 0..200)), 0..8),
        ) {
            let requests: Vec<GroupRequest> =
                requests.into_iter().map(|(headers, body)| GroupRequest { headers, body }).collect();
            prop_assert_eq!(decode_requests(&encode_requests(&requests)).unwrap(), requests);
        }

        #[test]
        fn every_truncation_is_an_error(
            replies in prop::collection::vec((any::<u16>(), arb_headers(), prop::collection::vec(any::<u8>(), 0..50)), 1..4),
        ) {
            let replies: Vec<GroupReply> = replies
                .into_iter()
                .map(|(status, headers, body)| GroupReply { status, headers, body })
                .collect();
            let bytes = encode_replies(&replies);
            for len in 0..bytes.len() {
                prop_assert!(decode_replies(&bytes[..len]).is_err());
            }
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let mut with_magic = REQUEST_MAGIC.to_vec();
            with_magic.extend_from_slice(&bytes);
            let _ = decode_requests(&with_magic);
            let _ = decode_requests(&bytes);
        }
    }
}
