//! Any byte string given to the decoder either fails with a typed error or yields a report
//! that re-encodes stably in both codecs.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::{Format, Limits};

fuzz_target!(|data: &[u8]| {
    // Small limits keep each run fast; the limit paths are exercised all the more.
    let limits = Limits { max_decompressed_bytes: 4 << 20, ..Limits::default() };
    let mut decoded = vec![codec::decode_sniffed(data, &limits)];
    for format in [Format::Json, Format::Msgpack] {
        for compression in [Compression::Identity, Compression::Gzip] {
            decoded.push(codec::decode(data, compression, format, &limits));
        }
    }
    // The collector's check-only path must never accept what a full decode refuses.
    for compression in [Compression::Identity, Compression::Gzip] {
        if codec::check(data, compression, Format::Msgpack, &limits).is_ok() {
            assert!(codec::decode(data, compression, Format::Msgpack, &limits).is_ok(), "check accepted what decode refuses");
        }
    }
    for report in decoded.into_iter().flatten() {
        for format in [Format::Json, Format::Msgpack] {
            // Encoding is deterministic, so re-encoding what we decoded from our own output
            // must reproduce it byte for byte (this also holds for NaN, unlike `==`).
            let first = codec::encode(&report, format, Compression::Identity);
            let again = codec::decode(&first, Compression::Identity, format, &Limits::default())
                .unwrap_or_else(|e| panic!("our own {format:?} did not decode: {e}"));
            assert_eq!(codec::encode(&again, format, Compression::Identity), first, "{format:?} re-encoding changed");
        }
    }
});
