//! Go's `time.Time` as Scope reports carry it: RFC3339Nano strings in JSON, and the 15-byte
//! `time.MarshalBinary` blob (written as a msgpack *str*) in msgpack.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Seconds between Go's zero time (0001-01-01T00:00:00Z) and the Unix epoch.
const GO_ZERO_TO_UNIX_SECS: i64 = 62_135_596_800;

/// 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z, counted from Go's zero time: the range
/// RFC 3339 can write.
const YEAR_0_SECS: i64 = -31_622_400;
const YEAR_10000_SECS: i64 = 315_537_897_600;

/// An instant with nanosecond precision, normalised to UTC.
///
/// Counted from Go's zero time so that `Timestamp::default()` is Go's zero `time.Time`, which
/// reports use for "unset" (`"0001-01-01T00:00:00Z"`). The zone offset of the wire form is
/// dropped: every comparison Scope makes is between instants.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    secs_since_go_zero: i64,
    nanos: u32,
}

/// Why a wire timestamp could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimestampError {
    #[error("binary time has unsupported version {0}")]
    BinaryVersion(u8),
    #[error("binary time has {0} bytes, expected 15 or 16")]
    BinaryLength(usize),
    #[error("binary time has nanoseconds {0} out of range")]
    BinaryNanos(i32),
    #[error("binary time is outside the years 0 to 9999")]
    BinaryRange,
    #[error("time {0:?} is not RFC 3339")]
    Text(String),
}

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp {
        secs_since_go_zero: 0,
        nanos: 0,
    };

    pub fn from_unix_nanos(nanos: i128) -> Self {
        let secs = nanos.div_euclid(1_000_000_000) as i64;
        let sub = nanos.rem_euclid(1_000_000_000) as u32;
        Timestamp {
            secs_since_go_zero: secs + GO_ZERO_TO_UNIX_SECS,
            nanos: sub,
        }
    }

    pub fn from_unix_millis(millis: i64) -> Self {
        Self::from_unix_nanos(millis as i128 * 1_000_000)
    }

    pub fn now() -> Self {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self::from_unix_nanos(d.as_nanos() as i128)
    }

    pub fn unix_nanos(self) -> i128 {
        (self.secs_since_go_zero - GO_ZERO_TO_UNIX_SECS) as i128 * 1_000_000_000
            + self.nanos as i128
    }

    pub fn unix_millis(self) -> i64 {
        self.unix_nanos().div_euclid(1_000_000) as i64
    }

    pub fn is_zero(self) -> bool {
        self == Self::ZERO
    }

    /// Go's `time.MarshalBinary` (version 1, UTC): version byte, seconds since year 1 (i64 BE),
    /// nanoseconds (i32 BE), zone offset in minutes (i16 BE, -1 meaning UTC).
    pub fn to_go_binary(self) -> [u8; 15] {
        let mut out = [0u8; 15];
        out[0] = 1;
        out[1..9].copy_from_slice(&self.secs_since_go_zero.to_be_bytes());
        out[9..13].copy_from_slice(&(self.nanos as i32).to_be_bytes());
        out[13..15].copy_from_slice(&(-1i16).to_be_bytes());
        out
    }

    /// Reads versions 1 (15 bytes) and 2 (16 bytes, with a seconds part of the zone offset).
    /// The offset only changes how Go prints the instant, so it is ignored.
    pub fn from_go_binary(buf: &[u8]) -> Result<Self, TimestampError> {
        match (buf.first(), buf.len()) {
            (Some(1), 15) | (Some(2), 16) => {}
            (Some(&v), 15 | 16) => return Err(TimestampError::BinaryVersion(v)),
            (_, n) => return Err(TimestampError::BinaryLength(n)),
        }
        let secs = i64::from_be_bytes(buf[1..9].try_into().expect("slice of 8"));
        let nanos = i32::from_be_bytes(buf[9..13].try_into().expect("slice of 4"));
        if !(0..1_000_000_000).contains(&nanos) {
            return Err(TimestampError::BinaryNanos(nanos));
        }
        // Go refuses to write such times as JSON; refusing them here keeps every decoded
        // report encodable in both codecs.
        if !(YEAR_0_SECS..YEAR_10000_SECS).contains(&secs) {
            return Err(TimestampError::BinaryRange);
        }
        Ok(Timestamp {
            secs_since_go_zero: secs,
            nanos: nanos as u32,
        })
    }

    pub fn parse_rfc3339(text: &str) -> Result<Self, TimestampError> {
        let parsed = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|_| TimestampError::Text(text.chars().take(64).collect()))?;
        Ok(Self::from_unix_nanos(parsed.unix_timestamp_nanos()))
    }

    /// Go's RFC3339Nano layout: fractional seconds without trailing zeros, `Z` for UTC.
    pub fn to_rfc3339(self) -> String {
        let dt = OffsetDateTime::from_unix_timestamp_nanos(self.unix_nanos())
            .ok()
            .and_then(|dt| dt.to_offset(UtcOffset::UTC).format(&Rfc3339).ok());
        match dt {
            Some(text) => text,
            // Years outside 0..=9999 cannot be written as RFC 3339; Go writes them anyway but no
            // probe sends one, so the nearest representable instant is the honest fallback.
            None if self.secs_since_go_zero < 0 => "0000-01-01T00:00:00Z".to_owned(),
            None => "9999-12-31T23:59:59.999999999Z".to_owned(),
        }
    }

    /// Accepts either wire form. A binary blob whose bytes happen to be valid UTF-8 arrives as a
    /// string, so a 15/16-byte string starting with a version byte is tried as binary first.
    pub(crate) fn from_wire(bytes: &[u8]) -> Result<Self, TimestampError> {
        if matches!(bytes.first(), Some(1 | 2)) && matches!(bytes.len(), 15 | 16) {
            return Self::from_go_binary(bytes);
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::parse_rfc3339(text),
            Err(_) => Self::from_go_binary(bytes),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

struct TimestampVisitor;

impl<'de> Visitor<'de> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an RFC 3339 time string or a Go binary time")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
        Timestamp::from_wire(v.as_bytes()).map_err(E::custom)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Timestamp, E> {
        Timestamp::from_wire(v).map_err(E::custom)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Timestamp, E> {
        Ok(Timestamp::ZERO)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TimestampVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_time_is_go_zero() {
        assert_eq!(Timestamp::ZERO.to_rfc3339(), "0001-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::parse_rfc3339("0001-01-01T00:00:00Z").unwrap(),
            Timestamp::ZERO
        );
    }

    #[test]
    fn rfc3339_trims_trailing_zeros_like_go() {
        let t = Timestamp::parse_rfc3339("2026-11-26T13:01:40.81794264Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-26T13:01:40.81794264Z");
        let t = Timestamp::parse_rfc3339("2016-01-22T11:35:54.004344313Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2016-01-22T11:35:54.004344313Z");
        let whole = Timestamp::from_unix_millis(1_700_000_000_000);
        assert_eq!(whole.to_rfc3339(), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn offsets_normalise_to_utc() {
        let a = Timestamp::parse_rfc3339("2026-11-26T14:00:00+01:00").unwrap();
        let b = Timestamp::parse_rfc3339("2026-11-26T13:00:00Z").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn go_binary_round_trips() {
        let t = Timestamp::parse_rfc3339("2026-11-26T13:00:35.825316672Z").unwrap();
        let bin = t.to_go_binary();
        assert_eq!(bin[0], 1);
        assert_eq!(&bin[13..], &[0xff, 0xff]);
        assert_eq!(Timestamp::from_go_binary(&bin).unwrap(), t);
        assert_eq!(Timestamp::from_wire(&bin).unwrap(), t);
    }

    #[test]
    fn go_binary_errors_are_typed() {
        assert_eq!(
            Timestamp::from_go_binary(&[1, 2, 3]),
            Err(TimestampError::BinaryLength(3))
        );
        let mut bad = Timestamp::ZERO.to_go_binary();
        bad[0] = 9;
        assert_eq!(
            Timestamp::from_go_binary(&bad),
            Err(TimestampError::BinaryVersion(9))
        );
        bad[0] = 1;
        bad[9..13].copy_from_slice(&(-5i32).to_be_bytes());
        assert_eq!(
            Timestamp::from_go_binary(&bad),
            Err(TimestampError::BinaryNanos(-5))
        );
    }
}
