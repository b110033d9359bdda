//! Outbound protocol: the INFO line, MSG/HMSG framing, control replies, and the CONNECT
//! options a client sends (the JSON halves of the handshake).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::outbound::Frame;
use crate::parser::Publish;

pub(crate) const PING: &[u8] = b"PING\r\n";
pub(crate) const PONG: &[u8] = b"PONG\r\n";
pub(crate) const OK: &[u8] = b"+OK\r\n";

/// The header block of a no-responders status message.
const NO_RESPONDERS_HEADERS: &[u8] = b"NATS/1.0 503\r\n\r\n";

/// Protocol version announced in INFO. Clients gate features (headers, no-responders) on the
/// server version, and this broker implements the client protocol of the 2.10 series.
pub(crate) const PROTOCOL_SERVER_VERSION: &str = "2.10.0";

/// The server half of the handshake.
#[derive(Debug, Serialize)]
pub(crate) struct ServerInfo<'a> {
    pub(crate) server_id: &'a str,
    pub(crate) server_name: &'a str,
    pub(crate) version: &'a str,
    /// Names the implementation; nats-server puts its Go version here.
    pub(crate) go: &'a str,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) proto: u8,
    pub(crate) headers: bool,
    pub(crate) max_payload: usize,
    pub(crate) client_id: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) tls_required: bool,
}

impl ServerInfo<'_> {
    pub(crate) fn line(&self) -> Vec<u8> {
        let mut line = b"INFO ".to_vec();
        // Serializing plain strings and numbers cannot fail.
        serde_json::to_writer(&mut line, self).unwrap_or_default();
        line.extend_from_slice(b"\r\n");
        line
    }
}

/// The client half of the handshake. Unknown fields (jwt, nkey, sig, ...) are ignored. No
/// `Debug`: it holds secrets.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub(crate) struct ConnectOptions {
    pub(crate) verbose: bool,
    pub(crate) pedantic: bool,
    pub(crate) echo: bool,
    pub(crate) headers: bool,
    pub(crate) no_responders: bool,
    pub(crate) auth_token: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) pass: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) lang: Option<String>,
    pub(crate) version: Option<String>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            verbose: false,
            pedantic: false,
            echo: true,
            headers: false,
            no_responders: false,
            auth_token: None,
            user: None,
            pass: None,
            name: None,
            lang: None,
            version: None,
        }
    }
}

/// A `-ERR` line.
pub(crate) fn err(frame: &mut Frame<'_>, message: &str) {
    frame.put(b"-ERR '");
    frame.put(message.as_bytes());
    frame.put(b"'\r\n");
}

/// A decimal number formatted once and written into many frames.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decimal {
    digits: [u8; 20],
    start: usize,
}

impl Decimal {
    pub(crate) fn new(mut value: usize) -> Self {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        Self { digits, start }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.digits[self.start..]
    }
}

/// One published message, prepared once for delivery to many subscribers.
#[derive(Debug)]
pub(crate) struct Outgoing<'a> {
    subject: &'a [u8],
    reply: Option<&'a [u8]>,
    /// Headers and payload, and the split between them (0 without headers).
    data: &'a [u8],
    header_len: usize,
    has_headers: bool,
    /// `data` as a shared buffer, when it is large enough to be worth sharing.
    shared: Option<Bytes>,
    total_len: Decimal,
    header_len_text: Decimal,
    payload_len: Decimal,
}

impl<'a> Outgoing<'a> {
    pub(crate) fn new(publish: &Publish<'a>) -> Self {
        let header_len = publish.header_len.unwrap_or(0);
        let shared = (publish.data.len() >= crate::outbound::SHARE_THRESHOLD)
            .then(|| Bytes::copy_from_slice(publish.data));
        Self {
            subject: publish.subject,
            reply: publish.reply,
            data: publish.data,
            header_len,
            has_headers: publish.header_len.is_some(),
            shared,
            total_len: Decimal::new(publish.data.len()),
            header_len_text: Decimal::new(header_len),
            payload_len: Decimal::new(publish.data.len() - header_len),
        }
    }

    /// An upper bound of the frame's size for one subscriber.
    pub(crate) fn size_hint(&self, sid: &[u8]) -> usize {
        const FIXED: usize = "HMSG    \r\n\r\n".len() + 40;
        FIXED + self.subject.len() + sid.len() + self.reply.map_or(0, <[u8]>::len) + self.data.len()
    }

    /// The MSG or HMSG for subscription `sid`. Clients that did not announce header support get
    /// a MSG with the headers stripped.
    pub(crate) fn write(&self, frame: &mut Frame<'_>, sid: &[u8], client_headers: bool) {
        let with_headers = self.has_headers && client_headers;
        frame.put(if with_headers { b"HMSG " } else { b"MSG " });
        frame.put(self.subject);
        frame.put(b" ");
        frame.put(sid);
        frame.put(b" ");
        if let Some(reply) = self.reply {
            frame.put(reply);
            frame.put(b" ");
        }
        let body = if with_headers {
            frame.put(self.header_len_text.as_bytes());
            frame.put(b" ");
            frame.put(self.total_len.as_bytes());
            self.data
        } else {
            frame.put(self.payload_len.as_bytes());
            &self.data[self.header_len..]
        };
        frame.put(b"\r\n");
        match &self.shared {
            Some(shared) if body.len() == shared.len() => frame.put_shared(shared),
            Some(shared) => frame.put_shared(&shared.slice(self.header_len..)),
            None => frame.put(body),
        }
        frame.put(b"\r\n");
    }
}

/// The 503 status a client with `no_responders` gets when its request reached nobody.
pub(crate) fn no_responders(frame: &mut Frame<'_>, reply: &[u8], sid: &[u8]) {
    let len = Decimal::new(NO_RESPONDERS_HEADERS.len());
    frame.put(b"HMSG ");
    frame.put(reply);
    frame.put(b" ");
    frame.put(sid);
    frame.put(b" ");
    frame.put(len.as_bytes());
    frame.put(b" ");
    frame.put(len.as_bytes());
    frame.put(b"\r\n");
    frame.put(NO_RESPONDERS_HEADERS);
    frame.put(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::{Batch, Outbound, Take};

    fn render(write: impl FnOnce(&mut Frame<'_>)) -> Vec<u8> {
        let outbound = Outbound::new(1 << 20);
        outbound.enqueue(64, write);
        let mut batch = Batch::new();
        assert_eq!(outbound.take(&mut batch), Take::Data);
        let mut bytes = batch.contiguous.to_vec();
        batch.segments.iter().for_each(|segment| bytes.extend_from_slice(segment));
        bytes
    }

    #[test]
    fn decimal() {
        for value in [0, 7, 10, 128, 1_048_576, usize::MAX] {
            assert_eq!(Decimal::new(value).as_bytes(), value.to_string().as_bytes());
        }
    }

    #[test]
    fn msg_and_hmsg_framing() {
        let plain = Publish { subject: b"foo", reply: None, header_len: None, data: b"hello" };
        assert_eq!(render(|f| Outgoing::new(&plain).write(f, b"9", true)), b"MSG foo 9 5\r\nhello\r\n");

        let headers = Publish {
            subject: b"foo",
            reply: Some(b"_INBOX.1"),
            header_len: Some(12),
            data: b"NATS/1.0\r\n\r\nhi",
        };
        assert_eq!(
            render(|f| Outgoing::new(&headers).write(f, b"1", true)),
            b"HMSG foo 1 _INBOX.1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
        );
        // A client without header support gets the payload only.
        assert_eq!(
            render(|f| Outgoing::new(&headers).write(f, b"1", false)),
            b"MSG foo 1 _INBOX.1 2\r\nhi\r\n"
        );
    }

    #[test]
    fn large_payloads_are_shared_and_framed_the_same() {
        let mut data = b"NATS/1.0\r\n\r\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 20_000));
        let publish = Publish { subject: b"big", reply: None, header_len: Some(12), data: &data };
        let outgoing = Outgoing::new(&publish);
        assert!(outgoing.shared.is_some());
        let stripped = render(|f| outgoing.write(f, b"2", false));
        assert_eq!(&stripped[..17], b"MSG big 2 20000\r\n");
        assert_eq!(stripped.len(), 17 + 20_000 + 2);
        let full = render(|f| outgoing.write(f, b"2", true));
        assert!(full.starts_with(b"HMSG big 2 12 20012\r\nNATS/1.0\r\n\r\nxx"));
        assert!(full.ends_with(b"xx\r\n"));
    }

    #[test]
    fn no_responders_status() {
        assert_eq!(
            render(|f| no_responders(f, b"_INBOX.a.1", b"3")),
            b"HMSG _INBOX.a.1 3 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
        );
    }

    #[test]
    fn connect_defaults_and_info_line() {
        let options: ConnectOptions = serde_json::from_str(r#"{"lang":"rust","unknown":1}"#).unwrap();
        assert!(options.echo && !options.verbose && !options.headers);
        let info = ServerInfo {
            server_id: "N1",
            server_name: "hk",
            version: PROTOCOL_SERVER_VERSION,
            go: "hitkeep-broker",
            host: "127.0.0.1".into(),
            port: 4222,
            proto: 1,
            headers: true,
            max_payload: 1024,
            client_id: 5,
            auth_required: false,
            tls_required: true,
        };
        let line = String::from_utf8(info.line()).unwrap();
        assert!(line.starts_with("INFO {") && line.ends_with("}\r\n"), "{line}");
        assert!(line.contains(r#""headers":true"#) && line.contains(r#""max_payload":1024"#), "{line}");
        assert!(line.contains(r#""tls_required":true"#) && !line.contains("auth_required"), "{line}");
    }
}
