//! The binary batch envelope (version 2): what edges publish.
//!
//! Version 1 of the envelope is JSON ([`Batch::encode`]); decoding it cost the aggregator
//! more CPU than anything but DuckDB itself. Version 2 carries the same [`Batch`] in a
//! compact, hand-written layout that decodes with one bounds-checked pass and no parsing of
//! text. [`Batch::decode`] reads both and tells them apart by the first byte: a binary
//! envelope starts with `0xFF`, a byte that never begins UTF-8 text, so never JSON.
//!
//! # Layout
//!
//! Integers of fixed width are little-endian. A *varint* is an unsigned LEB128 integer
//! (7 bits per byte, low bits first, the high bit set on every byte but the last) of at most
//! 5 bytes, so at most `u32::MAX`. A *string* is a varint byte length followed by that many
//! bytes of UTF-8.
//!
//! | bytes | field |
//! |---|---|
//! | 3 | magic `FF 48 4B` (`0xFF`, `H`, `K`) |
//! | 1 | version: `2` |
//! | string | batch id (1 to 64 characters of `[A-Za-z0-9._:-]`) |
//! | string | edge name (same alphabet) |
//! | varint | number of hits (at most [`MAX_BATCH_HITS`]) |
//! | ... | the hits, each as below, back to back |
//! | 4 | CRC-32 (IEEE, as in zlib and Ethernet) of every byte before it, `u32` |
//!
//! The first three fields (magic, version, batch id) are the *preamble*, and every future
//! binary version keeps it, so that an aggregator can answer and dead-letter a batch of a
//! version it does not know under its id ([`Batch::probe_id`]). The checksum makes a
//! damaged payload (a flipped bit in a spool file on a failing disk, say) a
//! [`DecodeError::Malformed`] batch in the dead-letter table rather than wrong rows: it
//! detects every change of up to 32 consecutive bits.
//!
//! One hit:
//!
//! | bytes | field |
//! |---|---|
//! | 8 | `ts`, `i64` |
//! | 8 | `visitor`, `u64` |
//! | 8 | `visitor_prev`, `u64` |
//! | 1 | `kind`, [`EventKind::code`] |
//! | 1 | `channel`, [`Channel::code`] |
//! | 1 | `device`, [`Device::code`] |
//! | 2 | flags, `u16`: bits 0 to 13 tell which optional strings follow, in this order: `referrer`, `source`, `utm.source`, `utm.medium`, `utm.campaign`, `utm.content`, `utm.term`, `country`, `region`, `city`, `browser`, `browser_version`, `os`, `os_version`; bit 14: `revenue` follows; bit 15: `interactive` |
//! | 4 strings | `domain`, `name`, `hostname`, `path` |
//! | strings | the optional strings whose bits are set, in bit order |
//! | varint | number of `props`, then each as two strings, key and value |
//! | 8 + string | when bit 14 is set: `revenue.amount_micros` (`i64`) and `revenue.currency` |
//!
//! Decoding checks the envelope exactly as for JSON: [`DecodeError::TooLarge`] above
//! [`MAX_BATCH_BYTES`], [`DecodeError::UnsupportedVersion`] for another version byte,
//! [`DecodeError::InvalidId`], [`DecodeError::TooManyHits`], and
//! [`DecodeError::Malformed`] for everything else (a wrong checksum, a truncated field, an
//! unknown enum code, a string that is not UTF-8, bytes left over). Hits are not validated
//! here: as with JSON, [`Hit::validate`] judges each one, so that one bad hit does not take
//! its neighbours down with it. No input makes decoding panic or allocate more than a small
//! multiple of its own size.
//!
//! Edges keep each accepted hit encoded ([`encode_hit`]) and assemble a batch by
//! concatenation ([`encode_batch`]), so a batch is encoded once, when it is cut.

use crate::limits::{MAX_BATCH_BYTES, MAX_BATCH_HITS};
use crate::{
    Batch, Channel, DecodeError, Device, ENVELOPE_VERSION, EventKind, Hit, HitRef, RevenueRef, UtmRef,
    is_valid_id,
};

/// The first bytes of every binary envelope.
pub const MAGIC: [u8; 3] = [0xFF, b'H', b'K'];

/// The version of the binary envelope this crate writes and reads.
pub const BINARY_ENVELOPE_VERSION: u8 = 2;

/// Bytes of the checksum that ends a version-2 envelope.
const CHECKSUM_LEN: usize = 4;
/// The longest varint: 5 bytes hold 35 bits, enough for a `u32`.
const MAX_VARINT_LEN: usize = 5;

/// The fewest bytes a hit can take: the fixed fields, four empty strings, no props.
const MIN_HIT_LEN: usize = 8 + 8 + 8 + 1 + 1 + 1 + 2 + 4 + 1;

const FLAG_REVENUE: u16 = 1 << 14;
const FLAG_INTERACTIVE: u16 = 1 << 15;
/// Bits of the optional strings, 0 to 13.
const OPTIONAL_STRINGS: usize = 14;

/// True when `payload` is (or claims to be) a binary envelope rather than JSON.
pub fn is_binary(payload: &[u8]) -> bool {
    payload.first() == Some(&MAGIC[0])
}

/// Appends the version-2 encoding of one hit to `out`.
pub fn encode_hit(hit: &Hit, out: &mut Vec<u8>) {
    out.extend_from_slice(&hit.ts.to_le_bytes());
    out.extend_from_slice(&hit.visitor.to_le_bytes());
    out.extend_from_slice(&hit.visitor_prev.to_le_bytes());
    out.extend_from_slice(&[hit.kind.code(), hit.channel.code(), hit.device.code()]);
    let optional = optional_strings(hit);
    let mut flags = 0u16;
    for (bit, value) in optional.iter().enumerate() {
        if value.is_some() {
            flags |= 1 << bit;
        }
    }
    if hit.revenue.is_some() {
        flags |= FLAG_REVENUE;
    }
    if hit.interactive {
        flags |= FLAG_INTERACTIVE;
    }
    out.extend_from_slice(&flags.to_le_bytes());
    for value in [&hit.domain, &hit.name, &hit.hostname, &hit.path] {
        put_str(out, value);
    }
    for value in optional.into_iter().flatten() {
        put_str(out, value);
    }
    put_varint(out, hit.props.len());
    for (key, value) in &hit.props {
        put_str(out, key);
        put_str(out, value);
    }
    if let Some(revenue) = &hit.revenue {
        out.extend_from_slice(&revenue.amount_micros.to_le_bytes());
        put_str(out, &revenue.currency);
    }
}

/// Assembles a version-2 envelope from hits encoded with [`encode_hit`].
///
/// Nothing is checked here: an invalid id, too many hits or a hit that is not the output of
/// [`encode_hit`] make a payload that [`Batch::decode`] refuses.
pub fn encode_batch<H: AsRef<[u8]>>(id: &str, edge: &str, hits: &[H]) -> Vec<u8> {
    let hit_bytes: usize = hits.iter().map(|hit| hit.as_ref().len()).sum();
    let mut out = envelope_start(id, edge, hits.len(), hit_bytes);
    for hit in hits {
        out.extend_from_slice(hit.as_ref());
    }
    envelope_finish(out)
}

impl Batch {
    /// Encodes the batch as a version-2 binary envelope (see [`crate::binary`]).
    pub fn encode_binary(&self) -> Vec<u8> {
        let mut out = envelope_start(&self.id, &self.edge, self.hits.len(), self.hits.len() * 160);
        for hit in &self.hits {
            encode_hit(hit, &mut out);
        }
        envelope_finish(out)
    }
}

/// The envelope up to its first hit, in a buffer with room for `hit_bytes` more.
fn envelope_start(id: &str, edge: &str, hits: usize, hit_bytes: usize) -> Vec<u8> {
    let header = MAGIC.len() + 1 + 2 * MAX_VARINT_LEN + id.len() + edge.len() + MAX_VARINT_LEN;
    let mut out = Vec::with_capacity(header + hit_bytes + CHECKSUM_LEN);
    out.extend_from_slice(&MAGIC);
    out.push(BINARY_ENVELOPE_VERSION);
    put_str(&mut out, id);
    put_str(&mut out, edge);
    put_varint(&mut out, hits);
    out
}

/// Appends the checksum.
fn envelope_finish(mut out: Vec<u8>) -> Vec<u8> {
    let checksum = crc32fast::hash(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}

fn optional_strings(hit: &Hit) -> [Option<&String>; OPTIONAL_STRINGS] {
    [
        hit.referrer.as_ref(),
        hit.source.as_ref(),
        hit.utm.source.as_ref(),
        hit.utm.medium.as_ref(),
        hit.utm.campaign.as_ref(),
        hit.utm.content.as_ref(),
        hit.utm.term.as_ref(),
        hit.country.as_ref(),
        hit.region.as_ref(),
        hit.city.as_ref(),
        hit.browser.as_ref(),
        hit.browser_version.as_ref(),
        hit.os.as_ref(),
        hit.os_version.as_ref(),
    ]
}

fn put_varint(out: &mut Vec<u8>, value: usize) {
    let mut value = value as u64;
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_str(out: &mut Vec<u8>, value: &str) {
    put_varint(out, value.len());
    out.extend_from_slice(value.as_bytes());
}

/// Decodes a payload that [`is_binary`], at most [`MAX_BATCH_BYTES`] long.
pub(crate) fn decode(payload: &[u8]) -> Result<Batch, DecodeError> {
    BinaryBatch::open(payload)?.to_batch()
}

/// A binary envelope whose frame is checked (size, magic, version, checksum, id, edge name,
/// hit count) and whose hits are read in place, without a string of their own, by
/// [`BinaryBatch::hits`]: what the aggregator does with every batch an edge publishes.
/// [`Batch::decode`] is the same two steps, with the hits copied into a [`Batch`].
#[derive(Debug, Clone)]
pub struct BinaryBatch<P> {
    payload: P,
    id: String,
    edge: String,
    count: usize,
    /// Where the first hit starts.
    hits_at: usize,
}

impl<P: AsRef<[u8]>> BinaryBatch<P> {
    /// Checks the frame of a payload that [`is_binary`]: the same errors as
    /// [`Batch::decode`], except those of the hits themselves (see [`BinaryBatch::hits`]).
    pub fn open(payload: P) -> Result<Self, DecodeError> {
        let bytes = payload.as_ref();
        if bytes.len() > MAX_BATCH_BYTES {
            return Err(DecodeError::TooLarge { len: bytes.len(), max: MAX_BATCH_BYTES });
        }
        let version = preamble(bytes)?;
        if version != BINARY_ENVELOPE_VERSION {
            return Err(DecodeError::UnsupportedVersion { found: u64::from(version) });
        }
        let Some(body_len) = bytes.len().checked_sub(CHECKSUM_LEN).filter(|len| *len > PREAMBLE_FIXED) else {
            return Err(malformed(bytes.len(), "the envelope ends before its checksum"));
        };
        let (body, checksum) = bytes.split_at(body_len);
        let checksum = u32::from_le_bytes(checksum.try_into().expect("four bytes"));
        if crc32fast::hash(body) != checksum {
            return Err(DecodeError::Malformed(
                "binary envelope: checksum mismatch, the payload is damaged".into(),
            ));
        }
        let mut reader = Reader { bytes: body, at: PREAMBLE_FIXED };
        let id = reader.id("id")?;
        let edge = reader.id("edge")?;
        let count = reader.varint()?;
        if count > MAX_BATCH_HITS {
            return Err(DecodeError::TooManyHits { count, max: MAX_BATCH_HITS });
        }
        let hits_at = reader.at;
        Ok(Self { payload, id, edge, count, hits_at })
    }

    /// The batch id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The edge's name.
    pub fn edge(&self) -> &str {
        &self.edge
    }

    /// Hits the envelope says it holds.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when it holds no hit.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The envelope as it arrived.
    pub fn payload(&self) -> &[u8] {
        self.payload.as_ref()
    }

    /// The envelope as it arrived, given back.
    pub fn into_payload(self) -> P {
        self.payload
    }

    /// The hits, borrowing their strings from the payload. [`DecodeError::Malformed`] when a
    /// hit is truncated, has an unknown code or a string that is not UTF-8, or when bytes
    /// are left after the last one: as with JSON, the whole batch is refused then.
    pub fn hits(&self) -> Result<Vec<HitRef<'_>>, DecodeError> {
        let bytes = self.payload.as_ref();
        let mut reader = Reader { bytes: &bytes[..bytes.len() - CHECKSUM_LEN], at: self.hits_at };
        let mut hits = Vec::with_capacity(self.count.min(reader.remaining() / MIN_HIT_LEN));
        for _ in 0..self.count {
            hits.push(reader.hit()?);
        }
        if reader.remaining() > 0 {
            return Err(malformed(reader.at, "bytes left after the last hit"));
        }
        Ok(hits)
    }

    /// The batch, its hits copied out of the payload.
    pub fn to_batch(&self) -> Result<Batch, DecodeError> {
        let hits = self.hits()?.iter().map(HitRef::to_hit).collect();
        Ok(Batch { v: ENVELOPE_VERSION, id: self.id.clone(), edge: self.edge.clone(), hits })
    }
}

/// The batch id in the preamble of a payload that [`is_binary`], whatever its version and
/// whether or not the rest decodes.
pub(crate) fn probe_id(payload: &[u8]) -> Option<String> {
    preamble(payload).ok()?;
    let mut reader = Reader { bytes: payload, at: PREAMBLE_FIXED };
    reader.id("id").ok()
}

/// Magic and version byte.
const PREAMBLE_FIXED: usize = MAGIC.len() + 1;

/// Checks the magic and returns the version byte.
fn preamble(payload: &[u8]) -> Result<u8, DecodeError> {
    match payload {
        [a, b, c, version, ..] if [*a, *b, *c] == MAGIC => Ok(*version),
        _ => Err(DecodeError::Malformed("binary envelope: no magic and version at its start".into())),
    }
}

fn malformed(at: usize, what: &str) -> DecodeError {
    DecodeError::Malformed(format!("binary envelope: {what} (at byte {at})"))
}

/// A cursor over the envelope; every read is bounds-checked.
struct Reader<'p> {
    bytes: &'p [u8],
    at: usize,
}

impl<'p> Reader<'p> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, len: usize) -> Result<&'p [u8], DecodeError> {
        if len > self.remaining() {
            return Err(malformed(self.at, "truncated"));
        }
        let taken = &self.bytes[self.at..self.at + len];
        self.at += len;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        Ok(self.take(N)?.try_into().expect("take returns N bytes"))
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn varint(&mut self) -> Result<usize, DecodeError> {
        let start = self.at;
        let mut value = 0u64;
        for index in 0..MAX_VARINT_LEN {
            let byte = self.u8()?;
            value |= u64::from(byte & 0x7F) << (7 * index);
            if byte & 0x80 == 0 {
                return u32::try_from(value)
                    .map(|value| value as usize)
                    .map_err(|_| malformed(start, "varint above u32::MAX"));
            }
        }
        Err(malformed(start, "varint longer than 5 bytes"))
    }

    fn str(&mut self) -> Result<&'p str, DecodeError> {
        let len = self.varint()?;
        let start = self.at;
        std::str::from_utf8(self.take(len)?).map_err(|_| malformed(start, "string is not UTF-8"))
    }

    /// A batch id or edge name: [`DecodeError::InvalidId`] when it breaks the id rule.
    fn id(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let len = self.varint()?;
        let bytes = self.take(len)?;
        match std::str::from_utf8(bytes) {
            Ok(id) if is_valid_id(id) => Ok(id.to_owned()),
            _ => Err(DecodeError::InvalidId { field }),
        }
    }

    fn hit(&mut self) -> Result<HitRef<'p>, DecodeError> {
        let ts = self.i64()?;
        let visitor = self.u64()?;
        let visitor_prev = self.u64()?;
        let at = self.at;
        let [kind, channel, device] = self.array()?;
        let kind = EventKind::from_code(kind).ok_or_else(|| malformed(at, "unknown event kind"))?;
        let channel = Channel::from_code(channel).ok_or_else(|| malformed(at + 1, "unknown channel"))?;
        let device = Device::from_code(device).ok_or_else(|| malformed(at + 2, "unknown device"))?;
        let flags = u16::from_le_bytes(self.array()?);
        let domain = self.str()?;
        let name = self.str()?;
        let hostname = self.str()?;
        let path = self.str()?;
        let mut optional: [Option<&'p str>; OPTIONAL_STRINGS] = [None; OPTIONAL_STRINGS];
        for (bit, value) in optional.iter_mut().enumerate() {
            if flags & (1 << bit) != 0 {
                *value = Some(self.str()?);
            }
        }
        let [
            referrer,
            source,
            utm_source,
            utm_medium,
            utm_campaign,
            utm_content,
            utm_term,
            country,
            region,
            city,
            browser,
            browser_version,
            os,
            os_version,
        ] = optional;
        let count = self.varint()?;
        // Each property takes at least two bytes: a bound on what a lying count can reserve.
        let mut props = Vec::with_capacity(count.min(self.remaining() / 2));
        for _ in 0..count {
            props.push((self.str()?, self.str()?));
        }
        let revenue = if flags & FLAG_REVENUE != 0 {
            Some(RevenueRef { amount_micros: self.i64()?, currency: self.str()? })
        } else {
            None
        };
        Ok(HitRef {
            ts,
            domain,
            kind,
            name,
            visitor,
            visitor_prev,
            hostname,
            path,
            referrer,
            source,
            channel,
            utm: UtmRef {
                source: utm_source,
                medium: utm_medium,
                campaign: utm_campaign,
                content: utm_content,
                term: utm_term,
            },
            country,
            region,
            city,
            browser,
            browser_version,
            os,
            os_version,
            device,
            props,
            revenue,
            interactive: flags & FLAG_INTERACTIVE != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::option;
    use proptest::prelude::*;

    use super::*;
    use crate::hit::tests::sample;
    use crate::{Revenue, Utm};

    fn full() -> Hit {
        Hit {
            kind: EventKind::Custom,
            name: "Purchäse".into(),
            referrer: Some("news.ycombinator.com/item".into()),
            source: Some("Hacker News".into()),
            channel: Channel::PaidOther,
            utm: Utm {
                source: Some("hn".into()),
                medium: Some(String::new()),
                campaign: Some("launch".into()),
                content: Some("c".into()),
                term: Some("t".into()),
            },
            region: Some("DE-BE".into()),
            city: Some("Berlin".into()),
            os: Some("Linux".into()),
            os_version: Some("6".into()),
            device: Device::Tablet,
            props: vec![("plan".into(), "pro".into()), ("seats".into(), "x".repeat(300))],
            revenue: Some(Revenue { amount_micros: -49_000_000, currency: "EUR".into() }),
            interactive: false,
            ..sample()
        }
    }

    #[test]
    fn round_trip() {
        let batch = Batch::new("edge-a-1", "edge-a", vec![sample(), full(), sample()]);
        let payload = batch.encode_binary();
        assert!(is_binary(&payload));
        assert!(payload.len() < batch.encode().len() / 2, "{} bytes", payload.len());
        assert_eq!(Batch::decode(&payload), Ok(batch.clone()));
        assert_eq!(Batch::probe_id(&payload), Some("edge-a-1".into()));
        let empty = Batch::new("e-1", "e", Vec::new());
        assert_eq!(Batch::decode(&empty.encode_binary()), Ok(empty));
    }

    #[test]
    fn concatenated_hits_make_the_same_envelope() {
        let hits = [sample(), full()];
        let encoded: Vec<Vec<u8>> = hits
            .iter()
            .map(|hit| {
                let mut out = Vec::new();
                encode_hit(hit, &mut out);
                out
            })
            .collect();
        let batch = Batch::new("e-1-1", "e", hits.to_vec());
        assert_eq!(encode_batch("e-1-1", "e", &encoded), batch.encode_binary());
    }

    #[test]
    fn envelope_errors_have_the_json_codes() {
        let batch = Batch::new("b-1", "e", vec![sample()]);
        let payload = batch.encode_binary();

        let mut future = payload.clone();
        future[3] = 3;
        assert_eq!(Batch::decode(&future), Err(DecodeError::UnsupportedVersion { found: 3 }));
        // The preamble is the same in every version: the id is still found.
        assert_eq!(Batch::probe_id(&future), Some("b-1".into()));

        let bad_id = Batch::new("has space", "e", vec![sample()]).encode_binary();
        assert_eq!(Batch::decode(&bad_id), Err(DecodeError::InvalidId { field: "id" }));
        assert_eq!(Batch::probe_id(&bad_id), None);
        let bad_edge = Batch::new("b-1", "", vec![]).encode_binary();
        assert_eq!(Batch::decode(&bad_edge), Err(DecodeError::InvalidId { field: "edge" }));
        let long_id = Batch::new("x".repeat(300), "e", vec![]).encode_binary();
        assert_eq!(Batch::decode(&long_id), Err(DecodeError::InvalidId { field: "id" }));

        let many = Batch::new("b-2", "e", vec![sample(); MAX_BATCH_HITS + 1]).encode_binary();
        assert!(many.len() <= MAX_BATCH_BYTES, "{}", many.len());
        assert_eq!(
            Batch::decode(&many),
            Err(DecodeError::TooManyHits { count: MAX_BATCH_HITS + 1, max: MAX_BATCH_HITS })
        );

        let mut huge = payload.clone();
        huge.resize(MAX_BATCH_BYTES + 1, 0);
        assert_eq!(Batch::decode(&huge).unwrap_err().code(), "too_large");

        let mut damaged = payload.clone();
        damaged[20] ^= 0x10;
        let error = Batch::decode(&damaged).unwrap_err();
        assert!(matches!(&error, DecodeError::Malformed(detail) if detail.contains("checksum")), "{error}");

        assert_eq!(Batch::decode(&[0xFF]).unwrap_err().code(), "malformed");
        assert_eq!(Batch::decode(&[0xFF, b'H', b'X', 2, 0, 0, 0, 0]).unwrap_err().code(), "malformed");
    }

    /// Re-seals a body with a correct checksum, so that the structure checks behind it are
    /// what is tested.
    fn sealed(body: &[u8]) -> Vec<u8> {
        envelope_finish(body.to_vec())
    }

    #[test]
    fn structural_errors_behind_a_good_checksum() {
        let payload = Batch::new("b-1", "e", vec![sample()]).encode_binary();
        let body = &payload[..payload.len() - CHECKSUM_LEN];
        // The hit count says two, one follows.
        let mut two = body.to_vec();
        let count_at = PREAMBLE_FIXED + 1 + 3 + 1 + 1;
        assert_eq!(two[count_at], 1);
        two[count_at] = 2;
        assert_eq!(Batch::decode(&sealed(&two)).unwrap_err().code(), "malformed");
        // Bytes after the last hit.
        let mut trailing = body.to_vec();
        trailing.push(0);
        assert_eq!(Batch::decode(&sealed(&trailing)).unwrap_err().code(), "malformed");
        // An unknown channel code.
        let mut channel = body.to_vec();
        channel[count_at + 1 + 24 + 1] = 16;
        let error = Batch::decode(&sealed(&channel)).unwrap_err();
        assert!(error.to_string().contains("unknown channel"), "{error}");
        // A string that is not UTF-8 (the domain's first byte).
        let mut text = body.to_vec();
        text[count_at + 1 + 24 + 3 + 2 + 1] = 0xC0;
        let error = Batch::decode(&sealed(&text)).unwrap_err();
        assert!(error.to_string().contains("UTF-8"), "{error}");
        // A varint that does not end.
        let mut endless = body[..count_at].to_vec();
        endless.extend_from_slice(&[0xFF; 6]);
        let error = Batch::decode(&sealed(&endless)).unwrap_err();
        assert!(error.to_string().contains("varint"), "{error}");
        // A count of hits far beyond what the bytes can hold reserves nothing dangerous.
        let mut lying = body[..count_at].to_vec();
        put_varint(&mut lying, MAX_BATCH_HITS);
        assert_eq!(Batch::decode(&sealed(&lying)).unwrap_err().code(), "malformed");
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![".{0,12}", "[a-z./]{0,40}", any::<String>()]
    }

    fn id() -> impl Strategy<Value = String> {
        "[A-Za-z0-9._:-]{1,64}"
    }

    prop_compose! {
        fn utm()(
            source in option::of(text()), medium in option::of(text()), campaign in option::of(text()),
            content in option::of(text()), term in option::of(text()),
        ) -> Utm {
            Utm { source, medium, campaign, content, term }
        }
    }

    prop_compose! {
        fn place()(
            country in option::of(text()), region in option::of(text()), city in option::of(text()),
        ) -> (Option<String>, Option<String>, Option<String>) {
            (country, region, city)
        }
    }

    prop_compose! {
        fn software()(
            browser in option::of(text()), browser_version in option::of(text()),
            os in option::of(text()), os_version in option::of(text()),
        ) -> [Option<String>; 4] {
            [browser, browser_version, os, os_version]
        }
    }

    prop_compose! {
        fn hit()(
            ts in any::<i64>(), visitor in any::<u64>(), visitor_prev in any::<u64>(),
            kind in 0u8..3, channel in 0u8..16, device in 0u8..4,
            strings in [text(), text(), text(), text()],
            referrer in option::of(text()), source in option::of(text()),
            utm in utm(), place in place(), software in software(),
            props in vec((text(), text()), 0..4),
            revenue in option::of((any::<i64>(), text())),
            interactive in any::<bool>(),
        ) -> Hit {
            let [domain, name, hostname, path] = strings;
            let (country, region, city) = place;
            let [browser, browser_version, os, os_version] = software;
            Hit {
                ts, domain, name, visitor, visitor_prev, hostname, path, referrer, source, utm,
                country, region, city, browser, browser_version, os, os_version, props, interactive,
                kind: EventKind::from_code(kind).unwrap(),
                channel: Channel::from_code(channel).unwrap(),
                device: Device::from_code(device).unwrap(),
                revenue: revenue.map(|(amount_micros, currency)| Revenue { amount_micros, currency }),
            }
        }
    }

    prop_compose! {
        fn batch()(id in id(), edge in id(), hits in vec(hit(), 0..6)) -> Batch {
            Batch::new(id, edge, hits)
        }
    }

    proptest! {
        #[test]
        fn any_batch_round_trips(batch in batch()) {
            let payload = batch.encode_binary();
            prop_assert_eq!(Batch::probe_id(&payload), Some(batch.id.clone()));
            prop_assert_eq!(Batch::decode(&payload), Ok(batch));
        }

        /// The hits read in place are the hits encoded, borrowed.
        #[test]
        fn hits_read_in_place_are_the_hits(batch in batch()) {
            let payload = batch.encode_binary();
            let framed = BinaryBatch::open(payload.as_slice()).unwrap();
            prop_assert_eq!((framed.id(), framed.edge(), framed.len()), (batch.id.as_str(), batch.edge.as_str(), batch.hits.len()));
            let views: Vec<HitRef<'_>> = batch.hits.iter().map(Hit::view).collect();
            prop_assert_eq!(framed.hits().unwrap(), views);
            prop_assert_eq!(framed.payload(), payload.as_slice());
        }

        #[test]
        fn every_truncation_is_an_error(batch in batch()) {
            let payload = batch.encode_binary();
            for len in 0..payload.len() {
                let truncated = &payload[..len];
                prop_assert!(Batch::decode(truncated).is_err(), "{} of {} bytes decoded", len, payload.len());
                let _ = Batch::probe_id(truncated);
            }
        }

        #[test]
        fn every_damaged_byte_is_an_error(batch in batch(), flip in 1u8..=255) {
            let payload = batch.encode_binary();
            for index in 0..payload.len() {
                let mut damaged = payload.clone();
                damaged[index] ^= flip;
                prop_assert!(Batch::decode(&damaged).is_err(), "byte {} ^ {:#x} decoded", index, flip);
                let _ = Batch::probe_id(&damaged);
            }
        }

        /// Arbitrary bytes behind a valid preamble and checksum reach every structural check;
        /// none may panic, and what decodes must encode back to the same bytes.
        #[test]
        fn arbitrary_sealed_bodies_never_panic(id in id(), rest in vec(any::<u8>(), 0..400)) {
            let mut body = MAGIC.to_vec();
            body.push(BINARY_ENVELOPE_VERSION);
            put_str(&mut body, &id);
            body.extend_from_slice(&rest);
            let payload = sealed(&body);
            if let Ok(batch) = Batch::decode(&payload) {
                prop_assert_eq!(batch.encode_binary(), payload);
            }
        }

        /// The same for bytes derived from a real envelope by overwriting a few of them.
        #[test]
        fn damaged_sealed_envelopes_never_panic(
            batch in batch(),
            edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        ) {
            let payload = batch.encode_binary();
            let mut body = payload[..payload.len() - CHECKSUM_LEN].to_vec();
            for (index, byte) in edits {
                let index = index.index(body.len());
                body[index] = byte;
            }
            let _ = Batch::decode(&sealed(&body));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..300)) {
            let _ = Batch::decode(&bytes);
            let _ = Batch::probe_id(&bytes);
            let mut binary = MAGIC.to_vec();
            binary.extend_from_slice(&bytes);
            let _ = Batch::decode(&binary);
            let _ = Batch::probe_id(&binary);
        }
    }
}
