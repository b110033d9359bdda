//! Inbound protocol parser: splits the bytes a client sent into ops (CONNECT, PUB, HPUB, SUB,
//! UNSUB, PING, PONG), within the control-line and payload limits.
//!
//! The parser is stateless and borrows from the read buffer: [`parse`] looks at the front of
//! the buffer and either returns one complete op with the number of bytes it spans, or says how
//! many bytes a complete op needs. An op split across reads is parsed again once it is whole,
//! which costs one short control line per read and keeps payloads uncopied until routing.

/// Limits the parser enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_control_line: usize,
    pub(crate) max_payload: usize,
}

/// One client op, borrowing from the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Op<'a> {
    /// The JSON object of a CONNECT.
    Connect(&'a [u8]),
    Pub(Publish<'a>),
    Sub {
        subject: &'a [u8],
        queue: Option<&'a [u8]>,
        sid: &'a [u8],
    },
    Unsub {
        sid: &'a [u8],
        max: Option<u64>,
    },
    Ping,
    Pong,
    /// `+OK`, `-ERR`, `INFO` or an empty line from a client: accepted and ignored.
    Ignored,
}

/// A PUB or HPUB.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Publish<'a> {
    pub(crate) subject: &'a [u8],
    pub(crate) reply: Option<&'a [u8]>,
    /// Length of the header block at the start of `data`, for HPUB.
    pub(crate) header_len: Option<usize>,
    /// Headers (for HPUB) followed by the payload.
    pub(crate) data: &'a [u8],
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed<'a> {
    /// A complete op spanning the first `consumed` bytes.
    Op { op: Op<'a>, consumed: usize },
    /// The buffer holds only part of an op; a complete one is at least `needed` bytes.
    Incomplete { needed: usize },
}

/// A protocol violation; the connection is answered with [`ParseError::message`] and closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseError {
    ControlLineTooLong,
    UnknownOp,
    InvalidArguments,
    MaxPayload,
    MissingPayloadTerminator,
}

impl ParseError {
    /// The text of the `-ERR` line.
    pub(crate) fn message(self) -> &'static str {
        match self {
            ParseError::ControlLineTooLong => "Maximum Control Line Exceeded",
            ParseError::UnknownOp => "Unknown Protocol Operation",
            ParseError::InvalidArguments | ParseError::MissingPayloadTerminator => "Parser Error",
            ParseError::MaxPayload => "Maximum Payload Violation",
        }
    }

    /// A short label for logs and metrics.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            ParseError::ControlLineTooLong => "control_line_too_long",
            ParseError::UnknownOp => "unknown_op",
            ParseError::InvalidArguments => "invalid_arguments",
            ParseError::MaxPayload => "max_payload",
            ParseError::MissingPayloadTerminator => "missing_payload_terminator",
        }
    }
}

/// Parses the op at the front of `buf`.
pub(crate) fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, ParseError> {
    // A line may end in "\r\n" or a bare "\n".
    let window = &buf[..buf.len().min(limits.max_control_line + 2)];
    let Some(newline) = memchr::memchr(b'\n', window) else {
        if window.len() >= limits.max_control_line + 2 {
            return Err(ParseError::ControlLineTooLong);
        }
        return Ok(Parsed::Incomplete { needed: buf.len() + 1 });
    };
    let line = buf[..newline].strip_suffix(b"\r").unwrap_or(&buf[..newline]);
    if line.len() > limits.max_control_line {
        return Err(ParseError::ControlLineTooLong);
    }
    let line_end = newline + 1;
    let line = line.trim_ascii_start();
    let name_len = line.iter().position(|&byte| is_space(byte)).unwrap_or(line.len());
    let (name, rest) = line.split_at(name_len);
    let op_only = |op: Op<'a>| Ok(Parsed::Op { op, consumed: line_end });

    if name.is_empty() {
        return op_only(Op::Ignored);
    }
    if name.eq_ignore_ascii_case(b"PUB") {
        let (args, count) = split_args(rest)?;
        let (subject, reply, size) = match count {
            2 => (args[0], None, args[1]),
            3 => (args[0], Some(args[1]), args[2]),
            _ => return Err(ParseError::InvalidArguments),
        };
        let total = parse_size(size)?;
        return with_payload(buf, line_end, total, limits, |data| Publish {
            subject,
            reply,
            header_len: None,
            data,
        });
    }
    if name.eq_ignore_ascii_case(b"HPUB") {
        let (args, count) = split_args(rest)?;
        let (subject, reply, header_size, total_size) = match count {
            3 => (args[0], None, args[1], args[2]),
            4 => (args[0], Some(args[1]), args[2], args[3]),
            _ => return Err(ParseError::InvalidArguments),
        };
        let header_len = parse_size(header_size)?;
        let total = parse_size(total_size)?;
        if header_len > total {
            return Err(ParseError::InvalidArguments);
        }
        return with_payload(buf, line_end, total, limits, |data| Publish {
            subject,
            reply,
            header_len: Some(header_len),
            data,
        });
    }
    if name.eq_ignore_ascii_case(b"SUB") {
        let (args, count) = split_args(rest)?;
        return match count {
            2 => op_only(Op::Sub { subject: args[0], queue: None, sid: args[1] }),
            3 => op_only(Op::Sub { subject: args[0], queue: Some(args[1]), sid: args[2] }),
            _ => Err(ParseError::InvalidArguments),
        };
    }
    if name.eq_ignore_ascii_case(b"UNSUB") {
        let (args, count) = split_args(rest)?;
        return match count {
            1 => op_only(Op::Unsub { sid: args[0], max: None }),
            2 => op_only(Op::Unsub { sid: args[0], max: Some(parse_size(args[1])? as u64) }),
            _ => Err(ParseError::InvalidArguments),
        };
    }
    if name.eq_ignore_ascii_case(b"PING") {
        return op_only(Op::Ping);
    }
    if name.eq_ignore_ascii_case(b"PONG") {
        return op_only(Op::Pong);
    }
    if name.eq_ignore_ascii_case(b"CONNECT") {
        let json = rest.trim_ascii();
        if json.is_empty() {
            return Err(ParseError::InvalidArguments);
        }
        return op_only(Op::Connect(json));
    }
    if name == b"+OK" || name.eq_ignore_ascii_case(b"-ERR") || name.eq_ignore_ascii_case(b"INFO") {
        return op_only(Op::Ignored);
    }
    Err(ParseError::UnknownOp)
}

fn with_payload<'a>(
    buf: &'a [u8],
    line_end: usize,
    total: usize,
    limits: &Limits,
    publish: impl FnOnce(&'a [u8]) -> Publish<'a>,
) -> Result<Parsed<'a>, ParseError> {
    if total > limits.max_payload {
        return Err(ParseError::MaxPayload);
    }
    let data_end = line_end + total;
    let consumed = data_end + 2;
    if buf.len() < consumed {
        return Ok(Parsed::Incomplete { needed: consumed });
    }
    if &buf[data_end..consumed] != b"\r\n" {
        return Err(ParseError::MissingPayloadTerminator);
    }
    Ok(Parsed::Op { op: Op::Pub(publish(&buf[line_end..data_end])), consumed })
}

fn is_space(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// Splits up to four whitespace-separated arguments without allocating.
fn split_args(rest: &[u8]) -> Result<([&[u8]; 4], usize), ParseError> {
    let mut args: [&[u8]; 4] = [&[]; 4];
    let mut count = 0;
    for arg in rest.split(|&byte| is_space(byte)).filter(|arg| !arg.is_empty()) {
        *args.get_mut(count).ok_or(ParseError::InvalidArguments)? = arg;
        count += 1;
    }
    Ok((args, count))
}

fn parse_size(digits: &[u8]) -> Result<usize, ParseError> {
    if digits.is_empty() || digits.len() > 12 {
        return Err(ParseError::InvalidArguments);
    }
    digits.iter().try_fold(0usize, |size, &digit| {
        if digit.is_ascii_digit() {
            Ok(size * 10 + usize::from(digit - b'0'))
        } else {
            Err(ParseError::InvalidArguments)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_control_line: 64, max_payload: 16 };

    fn op(input: &[u8]) -> (Op<'_>, usize) {
        match parse(input, &LIMITS) {
            Ok(Parsed::Op { op, consumed }) => (op, consumed),
            other => panic!("expected an op from {:?}, got {other:?}", String::from_utf8_lossy(input)),
        }
    }

    fn publish<'a>(subject: &'a [u8], reply: Option<&'a [u8]>, data: &'a [u8]) -> Op<'a> {
        Op::Pub(Publish { subject, reply, header_len: None, data })
    }

    #[test]
    fn pub_with_and_without_reply() {
        assert_eq!(op(b"PUB foo 5\r\nhello\r\nPING\r\n"), (publish(b"foo", None, b"hello"), 18));
        assert_eq!(
            op(b"pub foo.bar _INBOX.1 2\r\nhi\r\n"),
            (publish(b"foo.bar", Some(b"_INBOX.1"), b"hi"), 28)
        );
        assert_eq!(op(b"PUB  foo \t 0\r\n\r\n"), (publish(b"foo", None, b""), 16));
    }

    #[test]
    fn payload_may_contain_crlf() {
        assert_eq!(op(b"PUB foo 4\r\n\r\n\r\n\r\n"), (publish(b"foo", None, b"\r\n\r\n"), 17));
    }

    #[test]
    fn hpub() {
        let input = b"HPUB foo rep 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
        let expected = Op::Pub(Publish {
            subject: b"foo",
            reply: Some(b"rep"),
            header_len: Some(12),
            data: b"NATS/1.0\r\n\r\nhi",
        });
        assert_eq!(op(input), (expected, input.len()));
        assert_eq!(parse(b"HPUB foo 5 4\r\n", &LIMITS), Err(ParseError::InvalidArguments));
    }

    #[test]
    fn split_ops_are_incomplete_until_whole() {
        let input = b"PUB foo 5\r\nhello\r\n";
        for cut in 0..input.len() {
            match parse(&input[..cut], &LIMITS) {
                Ok(Parsed::Incomplete { needed }) => {
                    assert!(needed > cut && needed <= input.len(), "cut {cut}")
                }
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        assert_eq!(parse(b"PUB foo 5\r\nhel", &LIMITS), Ok(Parsed::Incomplete { needed: 18 }));
    }

    #[test]
    fn sub_unsub_ping_pong_connect() {
        assert_eq!(op(b"SUB foo 1\r\n").0, Op::Sub { subject: b"foo", queue: None, sid: b"1" });
        assert_eq!(
            op(b"sub foo.* workers 22\n").0,
            Op::Sub { subject: b"foo.*", queue: Some(b"workers"), sid: b"22" }
        );
        assert_eq!(op(b"UNSUB 1\r\n").0, Op::Unsub { sid: b"1", max: None });
        assert_eq!(op(b"UNSUB 1 10\r\n").0, Op::Unsub { sid: b"1", max: Some(10) });
        assert_eq!(op(b"PING\r\n"), (Op::Ping, 6));
        assert_eq!(op(b"pong\n"), (Op::Pong, 5));
        assert_eq!(op(b"CONNECT {\"verbose\": true}\r\n").0, Op::Connect(b"{\"verbose\": true}"));
        assert_eq!(op(b"+OK\r\n").0, Op::Ignored);
        assert_eq!(op(b"\r\n").0, Op::Ignored);
    }

    #[test]
    fn protocol_violations() {
        let cases: [(&[u8], ParseError); 10] = [
            (b"FOO bar\r\n", ParseError::UnknownOp),
            (b"MSG foo 1 2\r\nhi\r\n", ParseError::UnknownOp),
            (b"PUB foo\r\n", ParseError::InvalidArguments),
            (b"PUB foo bar baz 1\r\n", ParseError::InvalidArguments),
            (b"PUB foo -1\r\n", ParseError::InvalidArguments),
            (b"PUB foo 17\r\n", ParseError::MaxPayload),
            (b"PUB foo 2\r\nhiXY", ParseError::MissingPayloadTerminator),
            (b"SUB foo\r\n", ParseError::InvalidArguments),
            (b"UNSUB 1 x\r\n", ParseError::InvalidArguments),
            (b"CONNECT\r\n", ParseError::InvalidArguments),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input, &LIMITS), Err(expected), "{:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn control_line_limit() {
        let long = [b'x'; 80];
        assert_eq!(parse(&long, &LIMITS), Err(ParseError::ControlLineTooLong));
        let mut line = b"SUB ".to_vec();
        line.extend_from_slice(&[b'a'; 70]);
        line.extend_from_slice(b" 1\r\n");
        assert_eq!(parse(&line, &LIMITS), Err(ParseError::ControlLineTooLong));
        // Up to the limit is fine, and a partial line below it is incomplete.
        let mut exact = b"SUB ".to_vec();
        exact.extend_from_slice(&[b'a'; 58]);
        exact.extend_from_slice(b" 1\r\n");
        assert!(matches!(parse(&exact, &LIMITS), Ok(Parsed::Op { .. })));
        assert!(matches!(parse(&long[..40], &LIMITS), Ok(Parsed::Incomplete { .. })));
    }

    #[test]
    fn sizes_do_not_overflow() {
        assert_eq!(parse(b"PUB foo 99999999999999999999\r\n", &LIMITS), Err(ParseError::InvalidArguments));
    }
}
