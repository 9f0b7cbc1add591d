//! Hostile and broken bodies: each is refused with a typed error that names what is wrong,
//! without a panic and without spending memory the limits do not allow.

mod common;

use std::io::Write;

use flate2::Compression as Level;
use flate2::write::GzEncoder;
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::{DecodeError, Format, Limit, Limits};

fn decode(body: &[u8], compression: Compression, format: Format) -> DecodeError {
    codec::decode(body, compression, format, &Limits::default())
        .expect_err("bad input must not decode")
}

fn gzip(plain: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Level::best());
    enc.write_all(plain).unwrap();
    enc.finish().unwrap()
}

/// A single gzip member that inflates to `gib` GiB of zeros, streamed so the test never holds
/// the plain text.
fn gzip_bomb(gib: usize) -> Vec<u8> {
    let zeros = vec![0u8; 1 << 20];
    let mut enc = GzEncoder::new(Vec::new(), Level::best());
    for _ in 0..gib * 1024 + 1 {
        enc.write_all(&zeros).unwrap();
    }
    enc.finish().unwrap()
}

#[test]
fn empty_body_is_refused() {
    assert!(matches!(
        decode(b"", Compression::Identity, Format::Json),
        DecodeError::Empty
    ));
    assert!(matches!(
        decode(&gzip(b""), Compression::Gzip, Format::Msgpack),
        DecodeError::Empty
    ));
}

#[test]
fn truncated_gzip_is_refused() {
    let body = common::read("scope-probe/hostA-01-full.msgpack.gz");
    for cut in [10, body.len() / 2, body.len() - 3] {
        let err = decode(&body[..cut], Compression::Gzip, Format::Msgpack);
        assert_eq!(err.kind(), "gzip", "cut at {cut}: {err}");
    }
    let err = decode(b"not gzip at all", Compression::Gzip, Format::Msgpack);
    assert_eq!(err.kind(), "gzip");
}

#[test]
fn truncated_msgpack_is_refused() {
    let body = common::read("scope-probe/hostA-01-full.msgpack.gz");
    let plain = common::inflate(&body);
    for cut in [1, 100, plain.len() / 2, plain.len() - 1] {
        let err = decode(&plain[..cut], Compression::Identity, Format::Msgpack);
        assert_eq!(err.kind(), "msgpack", "cut at {cut}: {err}");
    }
}

#[test]
fn gzip_bomb_is_refused_by_its_trailer_before_inflating() {
    let bomb = gzip_bomb(1);
    assert!(
        bomb.len() < 2 << 20,
        "the bomb is a small body: {} bytes",
        bomb.len()
    );
    let started = std::time::Instant::now();
    let err = decode(&bomb, Compression::Gzip, Format::Msgpack);
    assert!(
        matches!(
            err,
            DecodeError::LimitExceeded {
                limit: Limit::DecompressedSize,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_too_large());
    // Not a performance assertion: inflating 1 GiB takes seconds; refusing from the trailer
    // takes nothing. A generous bound tells the two apart on any machine.
    assert!(
        started.elapsed().as_millis() < 500,
        "refusal must not inflate the body"
    );
}

#[test]
fn gzip_bomb_with_a_lying_trailer_stops_at_the_limit() {
    let mut bomb = gzip(&vec![0u8; 8 << 20]);
    let n = bomb.len();
    bomb[n - 4..].copy_from_slice(&1000u32.to_le_bytes());
    let limits = Limits {
        max_decompressed_bytes: 1 << 20,
        ..Limits::default()
    };
    let err = codec::decode(&bomb, Compression::Gzip, Format::Msgpack, &limits).unwrap_err();
    assert!(
        matches!(err, DecodeError::LimitExceeded { limit: Limit::DecompressedSize, max } if max == 1 << 20),
        "{err}"
    );
}

#[test]
fn multi_member_bomb_stops_at_the_limit() {
    let member = gzip(&vec![0u8; 1 << 20]);
    let bomb: Vec<u8> = member
        .iter()
        .copied()
        .cycle()
        .take(member.len() * 40)
        .collect();
    let limits = Limits {
        max_decompressed_bytes: 16 << 20,
        ..Limits::default()
    };
    let err = codec::decode(&bomb, Compression::Gzip, Format::Msgpack, &limits).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::LimitExceeded {
                limit: Limit::DecompressedSize,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn oversized_bodies_are_refused_before_reading() {
    let limits = Limits {
        max_compressed_bytes: 100,
        ..Limits::default()
    };
    let err =
        codec::decode(&[b' '; 101], Compression::Identity, Format::Json, &limits).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::LimitExceeded {
            limit: Limit::CompressedSize,
            max: 100
        }
    ));
    assert_eq!(
        err.to_string(),
        "body exceeds the compressed size limit of 100"
    );
}

#[test]
fn wrong_types_are_refused() {
    for body in [
        &br#"{"TS": 5}"#[..],
        br#"{"Window": "three seconds"}"#,
        br#"{"Host": "nodes"}"#,
        br#"{"Host": {"nodes": {"h;<host>": {"latest": {"a": {"timestamp": "yesterday", "value": "x"}}}}}}"#,
        br#"{"Process": {"nodes": {"h;1": {"adjacency": "h;2"}}}}"#,
        br#"["not", "a", "map"]"#,
        b"42",
    ] {
        let err = decode(body, Compression::Identity, Format::Json);
        assert_eq!(err.kind(), "json", "{}: {err}", String::from_utf8_lossy(body));
    }
    // The same in msgpack: `{"Window": "x"}` and a report that is an array.
    for body in [
        &b"\x81\xa6Window\xa1x"[..],
        b"\x92\x01\x02",
        b"\x81\xa2TS\x05",
    ] {
        let err = decode(body, Compression::Identity, Format::Msgpack);
        assert_eq!(err.kind(), "msgpack", "{body:?}: {err}");
    }
}

#[test]
fn ten_thousand_deep_nesting_is_refused_without_recursing() {
    let depth = 10_000;
    let mut json = br#"{"Unknown":"#.to_vec();
    json.extend(std::iter::repeat_n(b'[', depth));
    json.extend(std::iter::repeat_n(b']', depth));
    json.push(b'}');
    let err = decode(&json, Compression::Identity, Format::Json);
    assert!(
        matches!(
            err,
            DecodeError::LimitExceeded {
                limit: Limit::NestingDepth,
                max: 64
            }
        ),
        "{err}"
    );

    let mut msgpack = b"\x81\xa7Unknown".to_vec();
    msgpack.extend(std::iter::repeat_n(0x91u8, depth));
    msgpack.push(0xc0);
    let err = decode(&msgpack, Compression::Identity, Format::Msgpack);
    assert!(
        matches!(
            err,
            DecodeError::LimitExceeded {
                limit: Limit::NestingDepth,
                ..
            }
        ),
        "{err}"
    );

    // Nesting through the model itself: children inside children.
    let mut nested = br#"{"Process":{"nodes":{"h;1":"#.to_vec();
    for _ in 0..depth {
        nested.extend_from_slice(br#"{"id":"h;1","children":["#);
    }
    for _ in 0..depth {
        nested.extend_from_slice(b"]}");
    }
    nested.extend_from_slice(b"}}}");
    let err = decode(&nested, Compression::Identity, Format::Json);
    assert!(
        matches!(
            err,
            DecodeError::LimitExceeded {
                limit: Limit::NestingDepth,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn invalid_utf8_in_json_is_refused() {
    let err = decode(
        b"{\"ID\": \"\xff\xfe\"}",
        Compression::Identity,
        Format::Json,
    );
    assert_eq!(err.kind(), "json", "{err}");
}

#[test]
fn invalid_utf8_in_msgpack_strings_is_refused() {
    let err = decode(
        b"\x81\xa2ID\xa2\xff\xfe",
        Compression::Identity,
        Format::Msgpack,
    );
    assert_eq!(err.kind(), "msgpack", "{err}");
}

#[test]
fn overlong_strings_are_refused_naming_the_limit() {
    let body = format!(
        r#"{{"Process":{{"nodes":{{"h;1":{{"latest":{{"cmdline":{{"value":"{}"}}}}}}}}}}}}"#,
        "x".repeat(2000)
    );
    let limits = Limits {
        max_string_bytes: 1000,
        ..Limits::default()
    };
    let err = codec::decode(
        body.as_bytes(),
        Compression::Identity,
        Format::Json,
        &limits,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::LimitExceeded {
                limit: Limit::StringLength,
                max: 1000
            }
        ),
        "{err}"
    );
}

#[test]
fn node_ids_without_a_separator_are_invalid() {
    let err = decode(
        br#"{"Host":{"nodes":{"nosemicolon":{}}}}"#,
        Compression::Identity,
        Format::Json,
    );
    assert_eq!(err.kind(), "invalid", "{err}");
    let err = decode(
        br#"{"Host":{"nodes":{"a;b":{"id":"c;d"}}}}"#,
        Compression::Identity,
        Format::Json,
    );
    assert_eq!(err.kind(), "invalid", "{err}");
}

#[test]
fn content_types_map_as_the_original_app_does() {
    assert_eq!(
        Format::from_content_type("application/msgpack"),
        Some(Format::Msgpack)
    );
    assert_eq!(
        Format::from_content_type("application/json; charset=utf-8"),
        Some(Format::Json)
    );
    assert_eq!(Format::from_content_type("application/binary"), None);
    assert_eq!(
        Compression::from_content_encoding(Some("x-gzip")),
        Compression::Gzip
    );
    assert_eq!(
        Compression::from_content_encoding(None),
        Compression::Identity
    );
}
