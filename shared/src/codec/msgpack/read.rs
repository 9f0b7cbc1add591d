//! The msgpack reader: written against the model rather than through serde because decoding
//! real probe bodies is the collector's hot path. It borrows from the inflated body, matches keys
//! as bytes, reads times straight from their binary form, and counts nesting as it goes. The
//! rare, static parts (templates, controls, DNS, plugins, legacy node fields) still go through
//! serde on their byte span, so the two decoders share their definitions.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use crate::codec::error::{DecodeError, Limit};
use crate::codec::limits::Limits;
use crate::model::{
    LatestEntry, LatestMap, LegacyControls, Metric, Node, NodeSet, PluginSpec, Report, Sample,
    Sets, StringSet, Topology, TopologyKind, fold_legacy_controls, fold_legacy_counters,
};
use crate::time::Timestamp;

type Result<T> = std::result::Result<T, DecodeError>;

pub fn decode(plain: &[u8], limits: &Limits) -> Result<Report> {
    let mut r = Reader {
        buf: plain,
        pos: 0,
        depth: 0,
        max_depth: limits.max_depth,
    };
    let report = r.report()?;
    if r.pos != plain.len() {
        return Err(r.error("trailing bytes after the report"));
    }
    Ok(report)
}

pub(super) struct Reader<'a> {
    pub(super) buf: &'a [u8],
    pub(super) pos: usize,
    pub(super) depth: usize,
    pub(super) max_depth: usize,
}

const NIL: u8 = 0xc0;

impl<'a> Reader<'a> {
    pub(super) fn error(&self, what: &str) -> DecodeError {
        DecodeError::Msgpack(format!("{what} at byte {}", self.pos))
    }

    pub(super) fn byte(&mut self) -> Result<u8> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| self.error("unexpected end of data"))?;
        self.pos += 1;
        Ok(b)
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.buf.len());
        let end = end.ok_or_else(|| self.error("unexpected end of data"))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    pub(super) fn be<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("take returns N bytes"))
    }

    pub(super) fn len16(&mut self) -> Result<usize> {
        Ok(u16::from_be_bytes(self.be()?) as usize)
    }

    pub(super) fn len32(&mut self) -> Result<usize> {
        Ok(u32::from_be_bytes(self.be()?) as usize)
    }

    /// Consumes a nil if one is next.
    pub(super) fn nil(&mut self) -> bool {
        let is_nil = self.buf.get(self.pos) == Some(&NIL);
        self.pos += usize::from(is_nil);
        is_nil
    }

    pub(super) fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(DecodeError::limit(Limit::NestingDepth, self.max_depth));
        }
        Ok(())
    }

    pub(super) fn leave(&mut self) {
        self.depth -= 1;
    }

    /// The length of a map, or 0 for nil (Go writes nil maps as nil).
    pub(super) fn map_len(&mut self) -> Result<usize> {
        match self.byte()? {
            NIL => Ok(0),
            b @ 0x80..=0x8f => Ok((b & 0x0f) as usize),
            0xde => self.len16(),
            0xdf => self.len32(),
            _ => Err(self.error("expected a map")),
        }
    }

    pub(super) fn array_len(&mut self) -> Result<usize> {
        match self.byte()? {
            NIL => Ok(0),
            b @ 0x90..=0x9f => Ok((b & 0x0f) as usize),
            0xdc => self.len16(),
            0xdd => self.len32(),
            _ => Err(self.error("expected an array")),
        }
    }

    /// A claimed count of items of at least `min_bytes` each, as far as the rest of the body
    /// can hold them: what a collection is sized for, so a body claiming billions of entries
    /// cannot make the decoder allocate for them.
    pub(super) fn bounded(&self, len: usize, min_bytes: usize) -> usize {
        len.min((self.buf.len() - self.pos) / min_bytes)
    }

    /// A map's length, and how many entries to make room for: as many as the rest of the body
    /// can hold at two bytes (a key and a value) each.
    pub(super) fn sized_map(&mut self) -> Result<(usize, usize)> {
        let len = self.map_len()?;
        Ok((len, self.bounded(len, 2)))
    }

    /// A raw of any spelling: old-spec raw, new-spec str or bin.
    pub(super) fn raw(&mut self) -> Result<&'a [u8]> {
        let len = match self.byte()? {
            b @ 0xa0..=0xbf => (b & 0x1f) as usize,
            0xd9 | 0xc4 => self.byte()? as usize,
            0xda | 0xc5 => self.len16()?,
            0xdb | 0xc6 => self.len32()?,
            _ => return Err(self.error("expected a string")),
        };
        self.take(len)
    }

    pub(super) fn str(&mut self) -> Result<&'a str> {
        let at = self.pos;
        let bytes = self.raw()?;
        utf8(bytes).ok_or_else(|| DecodeError::Msgpack(format!("string is not UTF-8 at byte {at}")))
    }

    /// A string, with nil read as empty.
    pub(super) fn string(&mut self) -> Result<String> {
        if self.nil() {
            Ok(String::new())
        } else {
            Ok(self.str()?.to_owned())
        }
    }

    pub(super) fn time(&mut self) -> Result<Timestamp> {
        if self.nil() {
            return Ok(Timestamp::ZERO);
        }
        let at = self.pos;
        let bytes = self.raw()?;
        Timestamp::from_wire(bytes).map_err(|e| DecodeError::Msgpack(format!("{e} at byte {at}")))
    }

    pub(super) fn int(&mut self) -> Result<i64> {
        let b = self.byte()?;
        let v = match b {
            0x00..=0x7f => b as i64,
            0xe0..=0xff => b as i8 as i64,
            NIL => 0,
            0xcc => self.byte()? as i64,
            0xcd => u16::from_be_bytes(self.be()?) as i64,
            0xce => u32::from_be_bytes(self.be()?) as i64,
            0xcf => i64::try_from(u64::from_be_bytes(self.be()?))
                .map_err(|_| self.error("integer out of range"))?,
            0xd0 => i8::from_be_bytes(self.be()?) as i64,
            0xd1 => i16::from_be_bytes(self.be()?) as i64,
            0xd2 => i32::from_be_bytes(self.be()?) as i64,
            0xd3 => i64::from_be_bytes(self.be()?),
            _ => return Err(self.error("expected an integer")),
        };
        Ok(v)
    }

    pub(super) fn float(&mut self) -> Result<f64> {
        match self.buf.get(self.pos) {
            Some(0xcb) => {
                self.pos += 1;
                Ok(f64::from_be_bytes(self.be()?))
            }
            Some(0xca) => {
                self.pos += 1;
                Ok(f32::from_be_bytes(self.be()?) as f64)
            }
            // JSON writes NaN as null; reading null back as NaN keeps the two codecs agreeing.
            Some(&NIL) => {
                self.pos += 1;
                Ok(f64::NAN)
            }
            _ => Ok(self.int()? as f64),
        }
    }

    pub(super) fn bool(&mut self) -> Result<bool> {
        match self.byte()? {
            0xc2 | NIL => Ok(false),
            0xc3 => Ok(true),
            _ => Err(self.error("expected a boolean")),
        }
    }

    /// Skips one value of any type, counting its nesting.
    pub(super) fn skip(&mut self) -> Result<()> {
        let b = self.byte()?;
        let (maps, arrays, bytes) = match b {
            0x00..=0x7f | 0xe0..=0xff | NIL | 0xc2 | 0xc3 => (0, 0, 0),
            0x80..=0x8f => ((b & 0x0f) as usize, 0, 0),
            0x90..=0x9f => (0, (b & 0x0f) as usize, 0),
            0xa0..=0xbf => (0, 0, (b & 0x1f) as usize),
            0xc4 | 0xd9 => (0, 0, self.byte()? as usize),
            0xc5 | 0xda => (0, 0, self.len16()?),
            0xc6 | 0xdb => (0, 0, self.len32()?),
            0xc7 => (0, 0, self.byte()? as usize + 1),
            0xc8 => (0, 0, self.len16()? + 1),
            0xc9 => (0, 0, self.len32()? + 1),
            0xca => (0, 0, 4),
            0xcb => (0, 0, 8),
            0xcc | 0xd0 => (0, 0, 1),
            0xcd | 0xd1 => (0, 0, 2),
            0xce | 0xd2 => (0, 0, 4),
            0xcf | 0xd3 => (0, 0, 8),
            0xd4 => (0, 0, 2),
            0xd5 => (0, 0, 3),
            0xd6 => (0, 0, 5),
            0xd7 => (0, 0, 9),
            0xd8 => (0, 0, 17),
            0xdc => (0, self.len16()?, 0),
            0xdd => (0, self.len32()?, 0),
            0xde => (self.len16()?, 0, 0),
            0xdf => (self.len32()?, 0, 0),
            0xc1 => return Err(self.error("reserved marker 0xc1")),
        };
        self.take(bytes)?;
        if maps + arrays > 0 {
            self.enter()?;
            for _ in 0..maps * 2 + arrays {
                self.skip()?;
            }
            self.leave();
        }
        Ok(())
    }

    /// Reads the next value through serde, for the parts of a report that are static in
    /// practice and not worth a hand-written reader.
    pub(super) fn serde<T: DeserializeOwned>(&mut self) -> Result<T> {
        let start = self.pos;
        self.skip()?;
        let span = &self.buf[start..self.pos];
        let mut de = rmp_serde::Deserializer::from_read_ref(span);
        de.set_max_depth(self.max_depth.saturating_sub(self.depth));
        T::deserialize(&mut de).map_err(|e| DecodeError::Msgpack(format!("{e} at byte {start}")))
    }

    /// Calls `entry` for each key of a map (nil is an empty map), with nesting counted.
    pub(super) fn each_entry(
        &mut self,
        entry: impl FnMut(&mut Self, &'a [u8]) -> Result<()>,
    ) -> Result<()> {
        let len = self.map_len()?;
        self.entries(len, entry)
    }

    /// As [`Reader::each_entry`] for a map whose length was read, so the caller could make
    /// room for its entries first: collections sized once, rather than grown as entries come,
    /// are a good part of what decoding allocates and copies (see [`Reader::bounded`]).
    pub(super) fn entries(
        &mut self,
        len: usize,
        mut entry: impl FnMut(&mut Self, &'a [u8]) -> Result<()>,
    ) -> Result<()> {
        self.enter()?;
        for _ in 0..len {
            let key = self.raw()?;
            entry(self, key)?;
        }
        self.leave();
        Ok(())
    }

    pub(super) fn key_string(&self, key: &[u8]) -> Result<String> {
        utf8(key)
            .map(str::to_owned)
            .ok_or_else(|| self.error("map key is not UTF-8"))
    }

    fn report(&mut self) -> Result<Report> {
        if self
            .buf
            .first()
            .is_none_or(|&b| !matches!(b, 0x80..=0x8f | 0xde | 0xdf))
        {
            return Err(self.error("a report must be a map"));
        }
        let mut report = Report::default();
        self.each_entry(|r, key| {
            match key {
                b"TS" => report.ts = r.time()?,
                b"DNS" => report.dns = r.serde::<Option<_>>()?.unwrap_or_default(),
                b"nodes" => report.bug_dns = r.serde::<Option<_>>()?.unwrap_or_default(),
                b"Sampling" => report.sampling = r.serde::<Option<_>>()?.unwrap_or_default(),
                b"Window" => report.window = r.int()?,
                b"Shortcut" => report.shortcut = r.bool()?,
                b"Plugins" => {
                    let specs: Vec<PluginSpec> = r.serde::<Option<_>>()?.unwrap_or_default();
                    report.plugins = specs.into_iter().map(|p| (p.id.clone(), p)).collect();
                }
                b"ID" => report.id = r.string()?,
                other => match std::str::from_utf8(other)
                    .ok()
                    .and_then(TopologyKind::from_field_name)
                {
                    Some(kind) => *report.topology_mut(kind) = r.topology()?,
                    None => r.skip()?,
                },
            }
            Ok(())
        })?;
        Ok(report)
    }

    fn topology(&mut self) -> Result<Topology> {
        let mut t = Topology::default();
        self.each_entry(|r, key| {
            match key {
                b"shape" => t.shape = r.string()?,
                b"tag" => t.tag = r.string()?,
                b"label" => t.label = r.string()?,
                b"label_plural" => t.label_plural = r.string()?,
                b"nodes" => {
                    // Collected, then built at once: a B-tree built from its entries, sorted
                    // once, is built faster and packed tighter than one inserted into.
                    let (len, room) = r.sized_map()?;
                    let mut nodes = Vec::with_capacity(room);
                    r.entries(len, |r, id| {
                        let node = r.node()?;
                        nodes.push((r.key_string(id)?, node));
                        Ok(())
                    })?;
                    t.nodes = nodes.into_iter().collect();
                }
                b"controls" => t.controls = r.serde::<Option<_>>()?.unwrap_or_default(),
                b"metadata_templates" => {
                    t.metadata_templates = r.serde::<Option<_>>()?.unwrap_or_default()
                }
                b"metric_templates" => {
                    t.metric_templates = r.serde::<Option<_>>()?.unwrap_or_default()
                }
                b"table_templates" => {
                    t.table_templates = r.serde::<Option<_>>()?.unwrap_or_default()
                }
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(t)
    }

    fn node(&mut self) -> Result<Node> {
        let mut n = Node::default();
        self.each_entry(|r, key| {
            match key {
                b"id" => n.id = r.string()?,
                b"topology" => n.topology = r.string()?,
                b"sets" => n.sets = r.sets()?,
                b"parents" => n.parents = r.sets()?,
                b"adjacency" => n.adjacency = r.string_set()?,
                b"latest" => r.latest(&mut n.latest)?,
                b"metrics" => {
                    let (len, room) = r.sized_map()?;
                    n.metrics.reserve(room);
                    r.entries(len, |r, key| {
                        let metric = r.metric()?;
                        n.metrics.insert(r.key_string(key)?, metric);
                        Ok(())
                    })?
                }
                b"children" => n.children = r.children()?,
                b"latestControls" => {
                    let controls: LegacyControls = r.serde::<Option<_>>()?.unwrap_or_default();
                    fold_legacy_controls(&mut n.latest, controls);
                }
                b"counters" => {
                    let counters: BTreeMap<String, i64> =
                        r.serde::<Option<_>>()?.unwrap_or_default();
                    fold_legacy_counters(&mut n.latest, counters);
                }
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(n)
    }

    fn string_set(&mut self) -> Result<StringSet> {
        let len = self.array_len()?;
        self.enter()?;
        let mut set = StringSet::with_capacity(self.bounded(len, 1));
        for _ in 0..len {
            set.insert(self.string()?);
        }
        self.leave();
        Ok(set)
    }

    fn sets(&mut self) -> Result<Sets> {
        let (len, room) = self.sized_map()?;
        let mut sets = Sets::with_capacity(room);
        self.entries(len, |r, key| {
            let set = r.string_set()?;
            sets.insert(r.key_string(key)?, set);
            Ok(())
        })?;
        Ok(sets)
    }

    fn latest(&mut self, latest: &mut LatestMap) -> Result<()> {
        let (len, room) = self.sized_map()?;
        latest.reserve(room);
        self.entries(len, |r, key| {
            let mut entry = LatestEntry::default();
            r.each_entry(|r, field| {
                match field {
                    b"timestamp" => entry.timestamp = r.time()?,
                    b"value" => entry.value = r.string()?,
                    _ => r.skip()?,
                }
                Ok(())
            })?;
            latest.insert(r.key_string(key)?, entry);
            Ok(())
        })
    }

    fn metric(&mut self) -> Result<Metric> {
        let mut metric = Metric::default();
        self.each_entry(|r, key| {
            match key {
                b"samples" => {
                    let len = r.array_len()?;
                    r.enter()?;
                    // A claimed length is not trusted for allocation beyond what the body holds.
                    metric.samples = Vec::with_capacity(r.bounded(len, 1));
                    for _ in 0..len {
                        let mut sample = Sample::default();
                        r.each_entry(|r, field| {
                            match field {
                                b"date" => sample.date = r.time()?,
                                b"value" => sample.value = r.float()?,
                                _ => r.skip()?,
                            }
                            Ok(())
                        })?;
                        metric.samples.push(sample);
                    }
                    r.leave();
                }
                b"min" => metric.min = r.float()?,
                b"max" => metric.max = r.float()?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(metric)
    }

    fn children(&mut self) -> Result<NodeSet> {
        let len = self.array_len()?;
        self.enter()?;
        let mut children = NodeSet::new();
        for _ in 0..len {
            let child = self.node()?;
            children.insert(child.id.clone(), child);
        }
        self.leave();
        Ok(children)
    }
}

/// `bytes` as a string when they are UTF-8. A report's strings are mostly short and ASCII, where
/// a word-at-a-time ASCII test is cheaper than a full UTF-8 check (simdutf8 hands inputs this
/// short to std's); a decode of 200 reports spent 3 % of its time in std's check.
fn utf8(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: ASCII is UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        simdutf8::basic::from_utf8(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{"Process": {"nodes": <a map claiming u32::MAX entries>}}` and nothing after it.
    fn claiming_billions_of_nodes() -> Vec<u8> {
        let mut body = vec![0x81, 0xa7];
        body.extend_from_slice(b"Process");
        body.extend_from_slice(&[0x81, 0xa5]);
        body.extend_from_slice(b"nodes");
        body.extend_from_slice(&[0xdf, 0xff, 0xff, 0xff, 0xff]);
        body
    }

    #[test]
    fn a_claimed_length_sizes_nothing_beyond_what_the_body_can_hold() {
        let body = claiming_billions_of_nodes();
        let reader = Reader {
            buf: &body,
            pos: body.len() - 10,
            depth: 0,
            max_depth: 64,
        };
        assert_eq!(reader.bounded(u32::MAX as usize, 2), 5);
        assert_eq!(reader.bounded(3, 2), 3);
        assert_eq!(reader.bounded(u32::MAX as usize, 1), 10);
    }

    /// A report whose strings, map keys among them, are UTF-8 but not ASCII.
    fn report_with_non_ascii_strings() -> crate::Report {
        let mut report = crate::Report::make();
        let node = crate::model::Node::new("zürich;<host>", "host").with_latest(
            "städte",
            crate::time::Timestamp::from_unix_millis(1_764_162_000_000),
            "Zürich ☃",
        );
        report
            .topology_mut(crate::model::TopologyKind::Host)
            .add_node(node);
        report
    }

    fn encoded(report: &crate::Report) -> Vec<u8> {
        crate::codec::encode(
            report,
            crate::Format::Msgpack,
            crate::codec::Compression::Identity,
        )
        .to_vec()
    }

    #[test]
    fn strings_and_keys_beyond_ascii_decode_and_invalid_utf8_is_refused() {
        let report = report_with_non_ascii_strings();
        let body = encoded(&report);
        assert_eq!(decode(&body, &Limits::default()).unwrap(), report);

        // "ü" is 0xc3 0xbc; 0xff 0xbc is not UTF-8. Every "ü" (in an id, a key and a value) is
        // broken in turn.
        let at: Vec<usize> = body
            .windows(2)
            .enumerate()
            .filter(|(_, w)| *w == [0xc3, 0xbc])
            .map(|(i, _)| i)
            .collect();
        assert!(at.len() >= 3, "the id, the key and the value hold an ü");
        for i in at {
            let mut broken = body.clone();
            broken[i] = 0xff;
            let err = decode(&broken, &Limits::default()).unwrap_err();
            assert!(err.to_string().contains("not UTF-8"), "byte {i}: {err}");
        }
    }

    #[test]
    fn a_body_claiming_billions_of_nodes_is_refused() {
        let err = decode(&claiming_billions_of_nodes(), &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("unexpected end of data"), "{err}");
    }
}
