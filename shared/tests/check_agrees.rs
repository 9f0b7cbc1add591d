//! `codec::check` (the collector's validate-without-building path) judges every body as
//! `codec::decode` does, and reports the node counts the full decode sees.

mod common;

use stormscope_shared::codec::{self, Checked, Compression};
use stormscope_shared::{Format, Limits};

fn agree(body: &[u8], compression: Compression, what: &str) {
    let limits = Limits {
        max_string_bytes: 4096,
        max_depth: 24,
        ..Limits::default()
    };
    let decoded = codec::decode(body, compression, Format::Msgpack, &limits);
    let checked = codec::check(body, compression, Format::Msgpack, &limits);
    match (&decoded, &checked) {
        (Ok(report), Ok(c)) => assert_eq!(c, &Checked::of(report), "{what}: counts"),
        // Both refuse; with several faults in one body they may name different ones first.
        (Err(_), Err(_)) => {}
        _ => panic!(
            "{what}: decode {:?} but check {:?}",
            decoded.as_ref().err(),
            checked.as_ref().err()
        ),
    }
}

#[test]
fn real_probe_bodies() {
    for stem in common::probe_bodies() {
        agree(
            &common::read(&format!("scope-probe/{stem}.msgpack.gz")),
            Compression::Gzip,
            &stem,
        );
    }
    agree(
        &common::read("scope-reference/fixture.msgpack.gz"),
        Compression::Gzip,
        "fixture",
    );
}

#[test]
fn a_current_probe_report_needs_no_massage_so_its_body_is_kept() {
    let body = common::read("scope-probe/bench-01-full.msgpack.gz");
    let checked = checked_probe_body(&body);
    assert!(!checked.may_need_massage(10_000));
    assert!(
        checked.may_need_massage(100),
        "360 endpoints are over a limit of 100"
    );
}

#[test]
fn truncations_and_corruptions_of_a_real_body() {
    let body = common::read("scope-probe/hostB-04-full.msgpack.gz");
    let plain = common::inflate(&body);
    for cut in (0..plain.len()).step_by(97) {
        agree(
            &plain[..cut],
            Compression::Identity,
            &format!("cut at {cut}"),
        );
    }
    let mut rng = 7u64;
    for i in 0..400 {
        let mut bad = plain.clone();
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let at = (rng >> 33) as usize % bad.len();
        bad[at] = (rng >> 7) as u8;
        agree(
            &bad,
            Compression::Identity,
            &format!("byte {at} flipped ({i})"),
        );
    }
}

#[test]
fn kept_fuzz_inputs() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        for compression in [Compression::Gzip, Compression::Identity] {
            let limits = Limits::default();
            if codec::check(&data, compression, Format::Msgpack, &limits).is_ok() {
                assert!(
                    codec::decode(&data, compression, Format::Msgpack, &limits).is_ok(),
                    "{}: check accepted what decode refuses",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn real_probe_bodies_are_told_full_or_delta_as_their_probe_sent_them() {
    use stormscope_shared::report_kind::ReportKind;
    for stem in common::probe_bodies() {
        let body = common::read(&format!("scope-probe/{stem}.msgpack.gz"));
        let checked = checked_probe_body(&body);
        let decoded = codec::decode(
            &body,
            Compression::Gzip,
            Format::Msgpack,
            &Limits::default(),
        )
        .unwrap();
        let expected = if stem.ends_with("-full") {
            ReportKind::Full
        } else {
            assert!(stem.ends_with("-delta"), "{stem}");
            ReportKind::Delta
        };
        assert_eq!(checked.kind(), expected, "{stem}");
        assert_eq!(decoded.kind(), expected, "{stem}");
    }
}

/// What the collector's check finds in a probe's gzip msgpack body, which must pass it.
fn checked_probe_body(body: &[u8]) -> Checked {
    codec::check(body, Compression::Gzip, Format::Msgpack, &Limits::default()).unwrap()
}
