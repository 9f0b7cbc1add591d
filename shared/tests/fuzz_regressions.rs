//! Inputs kept from fuzzing the decoder (`fuzz/`, `cargo fuzz run decode`): a sample of the
//! corpus it grew, replayed on every test run with the fuzz target's own property, so what the
//! fuzzer once explored stays covered without the fuzzer.

use stormscope_shared::codec::{self, Compression};
use stormscope_shared::{Format, Limits};

fn check(data: &[u8]) {
    let limits = Limits {
        max_decompressed_bytes: 4 << 20,
        ..Limits::default()
    };
    let mut decoded = vec![codec::decode_sniffed(data, &limits)];
    for format in [Format::Json, Format::Msgpack] {
        for compression in [Compression::Identity, Compression::Gzip] {
            decoded.push(codec::decode(data, compression, format, &limits));
        }
    }
    for report in decoded.into_iter().flatten() {
        for format in [Format::Json, Format::Msgpack] {
            let first = codec::encode(&report, format, Compression::Identity);
            let again = codec::decode(&first, Compression::Identity, format, &Limits::default())
                .expect("our own output decodes");
            assert_eq!(codec::encode(&again, format, Compression::Identity), first);
        }
    }
}

#[test]
fn kept_fuzz_inputs_still_hold_the_property() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/regressions") {
        let path = entry.unwrap().path();
        check(&std::fs::read(&path).unwrap());
        n += 1;
    }
    assert!(n >= 32, "expected the kept corpus, found {n} files");
}

#[test]
fn found_by_reasoning_about_the_fuzz_property() {
    // NaN metric values: JSON writes them as null, which must read back (as NaN).
    let nan = br#"{"Host":{"nodes":{"h;<host>":{"metrics":{"cpu":{"samples":[{"date":"2026-11-26T13:00:00Z","value":null}],"min":null,"max":1}}}}}}"#;
    check(nan);
    let report =
        codec::decode(nan, Compression::Identity, Format::Json, &Limits::default()).unwrap();
    let metric =
        &report.topology(stormscope_shared::TopologyKind::Host).nodes["h;<host>"].metrics["cpu"];
    assert!(metric.samples[0].value.is_nan() && metric.min.is_nan());
    // A binary time beyond year 9999 cannot be written as JSON, so it is refused on the way in.
    let mut far = b"\x81\xa2TS\xaf".to_vec();
    far.push(1);
    far.extend_from_slice(&i64::MAX.to_be_bytes());
    far.extend_from_slice(&[0, 0, 0, 0, 0xff, 0xff]);
    let err = codec::decode(
        &far,
        Compression::Identity,
        Format::Msgpack,
        &Limits::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("years 0 to 9999"), "{err}");
}
