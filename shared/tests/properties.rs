//! Properties of the merge rules and codecs over generated reports.

mod common;

use proptest::collection::{btree_map, btree_set, vec};
use proptest::prelude::*;
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::model::{LatestEntry, Metric, Sample};
use stormscope_shared::{Format, Limits, Node, Report, Timestamp, TopologyKind};

const KINDS: [TopologyKind; 4] = [
    TopologyKind::Endpoint,
    TopologyKind::Process,
    TopologyKind::Host,
    TopologyKind::Container,
];

/// Times carry `salt` in their nanoseconds, so two generated reports never share a timestamp:
/// Scope's tie-breaks depend on map sizes and are not associative, real clocks rarely tie.
fn time(salt: u32) -> impl Strategy<Value = Timestamp> {
    (1_600_000_000i64..1_900_000_000, 0u32..1_000_000).prop_map(move |(secs, micros)| {
        Timestamp::from_unix_nanos(
            secs as i128 * 1_000_000_000 + micros as i128 * 1000 + salt as i128,
        )
    })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[a-z_]{1,8}", 1 => "\\PC{0,6}"]
}

fn metric(salt: u32) -> impl Strategy<Value = Metric> {
    vec((time(salt), -1e9f64..1e9), 0..4).prop_map(|mut samples| {
        samples.sort_by_key(|(t, _)| *t);
        samples.dedup_by_key(|(t, _)| *t);
        let samples: Vec<Sample> = samples
            .into_iter()
            .map(|(date, value)| Sample { date, value })
            .collect();
        let min = samples.iter().map(|s| s.value).fold(0.0, f64::min);
        let max = samples.iter().map(|s| s.value).fold(0.0, f64::max);
        Metric { samples, min, max }
    })
}

fn node(kind: TopologyKind, id: String, salt: u32) -> impl Strategy<Value = Node> {
    (
        btree_map("[a-z]{1,6}", (time(salt), text()), 0..5),
        btree_map("[a-z]{1,4}", btree_set(text(), 0..3), 0..3),
        btree_set("h[0-9];[0-9]{1,2}", 0..4),
        btree_map("[a-z]{1,4}", metric(salt), 0..3),
        btree_map("(host|container)", btree_set("[a-z]{1,3};<x>", 1..3), 0..2),
    )
        .prop_map(move |(latest, sets, adjacency, metrics, parents)| Node {
            id: id.clone(),
            topology: kind.name().to_owned(),
            latest: latest
                .into_iter()
                .map(|(k, (timestamp, value))| (k, LatestEntry { timestamp, value }))
                .collect(),
            sets: sets
                .into_iter()
                .map(|(k, set)| (k, set.into_iter().collect()))
                .collect(),
            adjacency: adjacency.into_iter().collect(),
            metrics: metrics.into_iter().collect(),
            parents: parents
                .into_iter()
                .map(|(k, set)| (k, set.into_iter().collect()))
                .collect(),
            children: Default::default(),
        })
}

fn report(salt: u32) -> impl Strategy<Value = Report> {
    let nodes = vec((0..KINDS.len(), "h[0-9];[0-9]{1,2}"), 0..8).prop_flat_map(move |ids| {
        ids.into_iter()
            .map(|(k, id)| node(KINDS[k], id, salt))
            .collect::<Vec<_>>()
    });
    (
        nodes,
        time(salt),
        0i64..10_000_000_000,
        "[0-9]{1,19}",
        0u64..100,
    )
        .prop_map(|(nodes, ts, window, id, count)| {
            let mut r = Report::default();
            r.ts = ts;
            r.window = window;
            r.id = id;
            r.sampling.count = count;
            r.sampling.total = count * 2;
            for n in nodes {
                let kind = TopologyKind::from_name(&n.topology).expect("generated kind");
                r.topology_mut(kind).add_node(n);
            }
            r
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn merge_is_associative(a in report(1), b in report(2), c in report(3)) {
        let mut left = a.clone();
        left.merge(&b);
        left.merge(&c);
        let mut bc = b.clone();
        bc.merge(&c);
        let mut right = a.clone();
        right.merge(&bc);
        // `ID` is not merged: it stays the receiver's on both sides.
        prop_assert_eq!(left, right);
    }

    #[test]
    fn an_owned_merge_equals_a_merge(a in report(1), b in report(2)) {
        // `b` and `a` rarely share a node; `b` with `a` merged in shares all of `a`'s.
        let mut overlapping = b.clone();
        overlapping.merge(&a);
        for other in [b, overlapping] {
            let mut copied = a.clone();
            copied.merge(&other);
            let mut owned = a.clone();
            owned.merge_owned(other);
            prop_assert_eq!(copied, owned);
        }
    }

    #[test]
    fn merging_a_report_into_itself_changes_no_latest_set_or_adjacency(r in report(1)) {
        let mut twice = r.clone();
        twice.merge(&r);
        for ((_, before), (_, after)) in r.topologies().zip(twice.topologies()) {
            prop_assert_eq!(before.nodes.len(), after.nodes.len());
            for (id, node) in &before.nodes {
                let merged = &after.nodes[id];
                prop_assert_eq!(&node.latest, &merged.latest);
                prop_assert_eq!(&node.sets, &merged.sets);
                prop_assert_eq!(&node.parents, &merged.parents);
                prop_assert_eq!(&node.adjacency, &merged.adjacency);
                prop_assert_eq!(&node.metrics, &merged.metrics);
            }
        }
    }

    #[test]
    fn decode_of_encode_is_identity(r in report(1)) {
        for format in [Format::Json, Format::Msgpack] {
            for compression in [Compression::Gzip, Compression::Identity] {
                let body = codec::encode(&r, format, compression);
                let back = codec::decode(&body, compression, format, &Limits::default());
                prop_assert!(back.is_ok(), "{:?}/{:?}: {:?}", format, compression, back.err());
                prop_assert_eq!(back.unwrap(), r.clone());
            }
        }
    }

    #[test]
    fn check_counts_what_decode_builds(r in report(1)) {
        let body = codec::encode(&r, Format::Msgpack, Compression::Gzip);
        let checked = codec::check(&body, Compression::Gzip, Format::Msgpack, &Limits::default()).unwrap();
        for (kind, t) in r.topologies() {
            prop_assert_eq!(checked.nodes(kind), t.nodes.len());
        }
    }

    #[test]
    fn sniffing_finds_what_encode_wrote(r in report(1)) {
        for format in [Format::Json, Format::Msgpack] {
            for compression in [Compression::Gzip, Compression::Identity] {
                let body = codec::encode(&r, format, compression);
                prop_assert_eq!(codec::decode_sniffed(&body, &Limits::default()).unwrap(), r.clone());
            }
        }
    }
}
