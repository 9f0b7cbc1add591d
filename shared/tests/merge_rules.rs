//! One test per merge rule of scope-compat.md §3, written from the spec.

mod common;

use stormscope_shared::merge::{fast_merge, merge_metric, merged_id};
use stormscope_shared::model::{
    Control, DnsRecord, LatestEntry, MetadataTemplate, Metric, MetricTemplate, PluginSpec, Sample,
};
use stormscope_shared::{Node, Report, Timestamp, Topology, TopologyKind};

fn t(secs: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_700_000_000_000 + secs * 1000)
}

fn entry(secs: i64, value: &str) -> LatestEntry {
    LatestEntry {
        timestamp: t(secs),
        value: value.into(),
    }
}

fn process(id: &str) -> Node {
    Node::new(id, "process")
}

fn with_process(node: Node) -> Report {
    let mut r = Report::default();
    r.topology_mut(TopologyKind::Process).add_node(node);
    r
}

fn merged_process(ours: Node, theirs: Node) -> Node {
    let id = ours.id.clone();
    let mut report = with_process(ours);
    report.merge(&with_process(theirs));
    report.topology(TopologyKind::Process).nodes[&id].clone()
}

fn metric(samples: &[(i64, f64)]) -> Metric {
    let samples: Vec<Sample> = samples
        .iter()
        .map(|&(s, v)| Sample {
            date: t(s),
            value: v,
        })
        .collect();
    let min = samples
        .iter()
        .map(|s| s.value)
        .fold(f64::INFINITY, f64::min);
    let max = samples
        .iter()
        .map(|s| s.value)
        .fold(f64::NEG_INFINITY, f64::max);
    Metric { samples, min, max }
}

// §3.1 Report

#[test]
fn report_ts_is_the_earliest_non_zero() {
    let (mut a, mut b) = (Report::default(), Report::default());
    a.ts = t(10);
    b.ts = t(5);
    a.merge(&b);
    assert_eq!(a.ts, t(5));
    let mut zero = Report::default();
    zero.merge(&b);
    assert_eq!(zero.ts, t(5), "a zero TS is replaced");
    let mut keeps = b.clone();
    keeps.merge(&Report::default());
    assert_eq!(keeps.ts, t(5), "a zero TS never wins");
}

#[test]
fn report_window_and_sampling_are_added() {
    let (mut a, mut b) = (Report::default(), Report::default());
    a.window = 3_000_000_000;
    b.window = 2_000_000_000;
    a.sampling.count = 1;
    a.sampling.total = 4;
    b.sampling.count = 2;
    b.sampling.total = 5;
    a.merge(&b);
    assert_eq!(a.window, 5_000_000_000);
    assert_eq!((a.sampling.count, a.sampling.total), (3, 9));
}

#[test]
fn report_plugins_unite_and_theirs_win() {
    let spec = |id: &str, label: &str| PluginSpec {
        id: id.into(),
        label: label.into(),
        ..PluginSpec::default()
    };
    let (mut a, mut b) = (Report::default(), Report::default());
    a.plugins.insert("p1".into(), spec("p1", "ours"));
    a.plugins.insert("p2".into(), spec("p2", "only ours"));
    b.plugins.insert("p1".into(), spec("p1", "theirs"));
    b.plugins.insert("p3".into(), spec("p3", "only theirs"));
    a.merge(&b);
    assert_eq!(a.plugins.len(), 3);
    assert_eq!(a.plugins["p1"].label, "theirs");
}

#[test]
fn report_shortcut_and_id_are_not_merged() {
    let (mut a, mut b) = (Report::default(), Report::default());
    a.id = "ours".into();
    b.id = "theirs".into();
    b.shortcut = true;
    a.merge(&b);
    assert_eq!(a.id, "ours");
    assert!(!a.shortcut);
}

#[test]
fn dns_records_unite_forward_and_reverse_per_address() {
    let rec = |f: &[&str], r: &[&str]| DnsRecord {
        forward: f.iter().map(|s| s.to_string()).collect(),
        reverse: r.iter().map(|s| s.to_string()).collect(),
    };
    let (mut a, mut b) = (Report::default(), Report::default());
    a.dns.insert("10.0.0.1".into(), rec(&["a.example"], &["a"]));
    b.dns.insert("10.0.0.1".into(), rec(&["b.example"], &["a"]));
    b.dns.insert("10.0.0.2".into(), rec(&[], &["c"]));
    a.merge(&b);
    assert_eq!(a.dns["10.0.0.1"], rec(&["a.example", "b.example"], &["a"]));
    assert_eq!(a.dns["10.0.0.2"], rec(&[], &["c"]));
}

// §3.2 Topology

#[test]
fn topology_keeps_our_shape_and_tag_unless_empty() {
    let mut ours = Topology {
        shape: "square".into(),
        ..Topology::default()
    };
    let theirs = Topology {
        shape: "circle".into(),
        tag: "camera".into(),
        ..Topology::default()
    };
    ours.merge(&theirs);
    assert_eq!(
        (ours.shape.as_str(), ours.tag.as_str()),
        ("square", "camera")
    );
}

#[test]
fn topology_takes_label_and_plural_together_only_when_ours_is_empty() {
    let mut ours = Topology {
        label_plural: "ours-plural".into(),
        ..Topology::default()
    };
    let theirs = Topology {
        label: "host".into(),
        label_plural: "hosts".into(),
        ..Topology::default()
    };
    ours.merge(&theirs);
    assert_eq!(
        (ours.label.as_str(), ours.label_plural.as_str()),
        ("host", "hosts")
    );
    let mut labelled = Topology {
        label: "mine".into(),
        ..Topology::default()
    };
    labelled.merge(&theirs);
    assert_eq!(
        (labelled.label.as_str(), labelled.label_plural.as_str()),
        ("mine", "")
    );
}

#[test]
fn topology_controls_unite_and_theirs_win() {
    let control = |human: &str| Control {
        id: "c".into(),
        human: human.into(),
        ..Control::default()
    };
    let mut ours = Topology::default();
    ours.controls.insert("c".into(), control("ours"));
    ours.controls.insert("d".into(), control("d"));
    let mut theirs = Topology::default();
    theirs.controls.insert("c".into(), control("theirs"));
    ours.merge(&theirs);
    assert_eq!(ours.controls["c"].human, "theirs");
    assert_eq!(ours.controls.len(), 2);
}

#[test]
fn templates_of_higher_priority_win() {
    let meta = |label: &str, priority: f64| MetadataTemplate {
        id: "pid".into(),
        label: label.into(),
        priority,
        ..MetadataTemplate::default()
    };
    let met = |label: &str, priority: f64| MetricTemplate {
        id: "cpu".into(),
        label: label.into(),
        priority,
        ..MetricTemplate::default()
    };
    let mut ours = Topology::default();
    ours.metadata_templates
        .insert("pid".into(), meta("low", 1.0));
    ours.metric_templates.insert("cpu".into(), met("high", 5.0));
    let mut theirs = Topology::default();
    theirs
        .metadata_templates
        .insert("pid".into(), meta("high", 2.0));
    theirs
        .metric_templates
        .insert("cpu".into(), met("low", 1.0));
    ours.merge(&theirs);
    assert_eq!(ours.metadata_templates["pid"].label, "high");
    assert_eq!(ours.metric_templates["cpu"].label, "high");
}

#[test]
fn topology_nodes_unite_by_id() {
    let mut a = with_process(process("h;1"));
    a.merge(&with_process(process("h;2")));
    assert_eq!(a.topology(TopologyKind::Process).nodes.len(), 2);
}

// §3.3 Node

#[test]
fn latest_newer_timestamp_wins_per_key() {
    let mut ours = process("h;1");
    ours.latest.insert("name".into(), entry(10, "new"));
    ours.latest.insert("pid".into(), entry(1, "old-pid"));
    let mut theirs = process("h;1");
    theirs.latest.insert("name".into(), entry(5, "old"));
    theirs.latest.insert("pid".into(), entry(9, "new-pid"));
    let merged = merged_process(ours, theirs);
    assert_eq!(merged.latest_value("name"), Some("new"));
    assert_eq!(merged.latest_value("pid"), Some("new-pid"));
}

#[test]
fn latest_tie_goes_to_the_longer_map() {
    let mut ours = process("h;1");
    ours.latest.insert("a".into(), entry(1, "ours"));
    ours.latest.insert("b".into(), entry(1, "ours"));
    let mut theirs = process("h;1");
    theirs.latest.insert("a".into(), entry(1, "theirs"));
    assert_eq!(
        merged_process(ours.clone(), theirs.clone()).latest_value("a"),
        Some("ours")
    );
    assert_eq!(
        merged_process(theirs, ours).latest_value("a"),
        Some("ours"),
        "and it is symmetric"
    );
}

#[test]
fn latest_tie_between_equal_lengths_goes_to_the_map_with_the_newer_first_entry() {
    let mut ours = process("h;1");
    ours.latest.insert("a".into(), entry(1, "ours-a"));
    ours.latest.insert("b".into(), entry(7, "ours"));
    let mut theirs = process("h;1");
    theirs.latest.insert("a".into(), entry(2, "theirs-a"));
    theirs.latest.insert("b".into(), entry(7, "theirs"));
    let merged = merged_process(ours.clone(), theirs.clone());
    assert_eq!(merged.latest_value("b"), Some("theirs"));
    assert_eq!(merged.latest_value("a"), Some("theirs-a"));
    assert_eq!(
        merged_process(theirs, ours).latest_value("b"),
        Some("theirs")
    );
}

#[test]
fn latest_full_tie_goes_to_the_incoming_report() {
    let mut ours = process("h;1");
    ours.latest.insert("a".into(), entry(1, "ours"));
    let mut theirs = process("h;1");
    theirs.latest.insert("a".into(), entry(1, "theirs"));
    assert_eq!(
        merged_process(ours, theirs).latest_value("a"),
        Some("theirs")
    );
}

#[test]
fn counters_are_latest_entries_so_the_newest_wins_not_the_sum() {
    let mut ours = process("h;1");
    ours.latest.insert("count_process".into(), entry(1, "3"));
    let mut theirs = process("h;1");
    theirs.latest.insert("count_process".into(), entry(2, "4"));
    assert_eq!(
        merged_process(ours, theirs).latest_value("count_process"),
        Some("4")
    );
}

#[test]
fn sets_parents_and_adjacency_are_unions() {
    let ours = process("h;1")
        .with_set("ips", &["10.0.0.1"])
        .with_parent("host", "h;<host>")
        .with_adjacent("h;2");
    let theirs = process("h;1")
        .with_set("ips", &["10.0.0.2"])
        .with_parent("container", "c;<container>")
        .with_adjacent("h;3");
    let merged = merged_process(ours, theirs);
    assert_eq!(merged.sets["ips"].len(), 2);
    assert_eq!(merged.parents.len(), 2);
    assert_eq!(
        merged.adjacency.iter().cloned().collect::<Vec<_>>(),
        vec!["h;2".to_string(), "h;3".to_string()]
    );
}

#[test]
fn children_unite_and_the_smaller_set_overwrites_shared_ids() {
    let child =
        |id: &str, label: &str| Node::new(id, "container").with_latest("label", t(0), label);
    let mut big = process("h;1");
    big.children.insert("c;1".into(), child("c;1", "big"));
    big.children.insert("c;2".into(), child("c;2", "big"));
    let mut small = process("h;1");
    small.children.insert("c;1".into(), child("c;1", "small"));
    for merged in [
        merged_process(big.clone(), small.clone()),
        merged_process(small.clone(), big.clone()),
    ] {
        assert_eq!(merged.children.len(), 2);
        assert_eq!(merged.children["c;1"].latest_value("label"), Some("small"));
    }
    let mut ours = process("h;1");
    ours.children.insert("c;1".into(), child("c;1", "ours"));
    assert_eq!(
        merged_process(ours, small).children["c;1"].latest_value("label"),
        Some("ours"),
        "equal sizes: ours (Scope's `other`) overwrites"
    );
}

#[test]
fn metric_samples_merge_in_time_order_keeping_one_per_timestamp() {
    let receiver = metric(&[(1, 1.0), (3, 3.0), (5, 5.0)]);
    let other = metric(&[(2, 2.0), (3, 30.0), (6, 6.0)]);
    let merged = merge_metric(&receiver, &other);
    let got: Vec<(Timestamp, f64)> = merged.samples.iter().map(|s| (s.date, s.value)).collect();
    assert_eq!(
        got,
        vec![
            (t(1), 1.0),
            (t(2), 2.0),
            (t(3), 3.0),
            (t(5), 5.0),
            (t(6), 6.0)
        ]
    );
    // min and max widen from both metrics' own bounds, even where a sample was dropped.
    assert_eq!((merged.min, merged.max), (1.0, 30.0));
    let disjoint = merge_metric(&metric(&[(7, 7.0)]), &metric(&[(1, 1.0)]));
    assert_eq!(disjoint.samples.len(), 2);
    assert_eq!(
        disjoint.samples[0].date,
        t(1),
        "non-overlapping series concatenate in time order"
    );
}

#[test]
fn node_metrics_keep_the_incoming_sample_on_equal_timestamps() {
    let mut ours = process("h;1");
    ours.metrics.insert("cpu".into(), metric(&[(1, 1.0)]));
    let mut theirs = process("h;1");
    theirs.metrics.insert("cpu".into(), metric(&[(1, 9.0)]));
    theirs.metrics.insert("mem".into(), metric(&[(1, 2.0)]));
    let merged = merged_process(ours, theirs);
    assert_eq!(merged.metrics["cpu"].samples[0].value, 9.0);
    assert!(merged.metrics.contains_key("mem"));
}

#[test]
fn node_id_and_topology_fall_back_to_ours_when_theirs_is_blank() {
    let ours = process("h;1").with_latest("name", t(0), "full");
    let mut delta = Node::default();
    delta.metrics.insert("cpu".into(), metric(&[(9, 1.0)]));
    let mut report = with_process(ours);
    let mut incoming = Report::default();
    incoming
        .topology_mut(TopologyKind::Process)
        .nodes
        .insert("h;1".into(), delta);
    report.merge(&incoming);
    let node = &report.topology(TopologyKind::Process).nodes["h;1"];
    assert_eq!(
        (node.id.as_str(), node.topology.as_str()),
        ("h;1", "process")
    );
    assert_eq!(node.latest_value("name"), Some("full"));
}

#[test]
fn host_active_controls_are_united_with_the_newest_timestamp() {
    let host = |controls: &str, secs: i64| {
        let mut n = Node::new("h;<host>", "host");
        n.latest
            .insert("active_controls".into(), entry(secs, controls));
        n
    };
    let mut ours = Report::default();
    ours.topology_mut(TopologyKind::Host)
        .add_node(host("host_exec;restart", 5));
    let mut theirs = Report::default();
    theirs
        .topology_mut(TopologyKind::Host)
        .add_node(host("host_exec;pause", 3));
    ours.merge(&theirs);
    let merged = &ours.topology(TopologyKind::Host).nodes["h;<host>"].latest["active_controls"];
    let mut names: Vec<&str> = merged.value.split(';').collect();
    names.sort();
    assert_eq!(names, vec!["host_exec", "pause", "restart"]);
    assert_eq!(merged.timestamp, t(5));
}

// §3.6 Fast merger

#[test]
fn fast_merge_starts_from_make_report_and_hashes_input_ids() {
    let (mut a, mut b) = (Report::default(), Report::default());
    a.id = "1".into();
    b.id = "2".into();
    let merged = fast_merge([&a, &b]);
    assert_eq!(merged.topology(TopologyKind::Host).shape, "circle");
    assert_eq!(
        merged.topology(TopologyKind::Process).label_plural,
        "processes"
    );
    assert_eq!(merged.id, merged_id(b"12"));
    assert_eq!(fast_merge([&a, &b]).id, merged.id, "same inputs, same id");
    assert_ne!(fast_merge([&a]).id, merged.id);
    // murmur3 x64 128, seed 0, first half: a known vector for the empty input.
    assert_eq!(merged_id(b""), "0");
}

// §3.4 Deltas

#[test]
fn probe_deltas_merged_with_their_full_report_become_whole_nodes() {
    let full = common::decode_file("scope-probe/hostA-01-full.msgpack.gz");
    let delta = common::decode_file("scope-probe/hostA-02-delta.msgpack.gz");
    let mut alone = delta.clone();
    alone.remove_part_merged_nodes();
    assert!(
        alone.topology(TopologyKind::Process).nodes.is_empty(),
        "a delta alone holds only fragments"
    );
    let mut merged = fast_merge([&full, &delta]);
    merged.remove_part_merged_nodes();
    let processes = &merged.topology(TopologyKind::Process).nodes;
    assert_eq!(
        processes.len(),
        full.topology(TopologyKind::Process).nodes.len()
    );
    let loadgen = &processes["web-1.demo.local;5"];
    assert_eq!(loadgen.latest_value("name"), Some("/opt/demo/bin/loadgen"));
    let full_samples = full.topology(TopologyKind::Process).nodes["web-1.demo.local;5"].metrics["process_cpu_usage_percent"].samples.len();
    assert!(
        loadgen.metrics["process_cpu_usage_percent"].samples.len() > full_samples,
        "delta samples appended"
    );
}

// §3.7 Upgrade

#[test]
fn upgrade_points_pods_at_the_deployments_of_their_replica_sets() {
    let mut r = Report::default();
    r.topology_mut(TopologyKind::ReplicaSet).add_node(
        Node::new("rs1;<replica_set>", "replica_set").with_parent("deployment", "d1;<deployment>"),
    );
    r.topology_mut(TopologyKind::Pod).add_node(
        Node::new("p1;<pod>", "pod")
            .with_parent("replica_set", "rs1;<replica_set>")
            .with_parent("host", "h;<host>"),
    );
    assert!(r.upgrade());
    let pod = &r.topology(TopologyKind::Pod).nodes["p1;<pod>"];
    assert!(!pod.parents.contains_key("replica_set"));
    assert!(pod.parents["deployment"].contains("d1;<deployment>"));
    assert!(pod.parents["host"].contains("h;<host>"));
}

#[test]
fn upgrade_synthesises_namespaces_from_live_kubernetes_nodes() {
    let mut r = Report::default();
    r.ts = t(0);
    r.topology_mut(TopologyKind::Pod)
        .add_node(Node::new("p1;<pod>", "pod").with_latest("kubernetes_namespace", t(0), "prod"));
    r.topology_mut(TopologyKind::Service).add_node(
        Node::new("s1;<service>", "service")
            .with_latest("kubernetes_namespace", t(0), "gone")
            .with_latest("kubernetes_state", t(0), "deleted"),
    );
    r.upgrade();
    let namespaces = &r.topology(TopologyKind::Namespace).nodes;
    assert_eq!(
        namespaces.keys().collect::<Vec<_>>(),
        vec!["prod;<namespace>"]
    );
    assert_eq!(
        namespaces["prod;<namespace>"].latest_value("kubernetes_name"),
        Some("prod")
    );
    assert_eq!(
        namespaces["prod;<namespace>"].topology, "",
        "synthesised as Scope's MakeNodeWith does: no topology, so dropped before rendering"
    );
    let mut again = r.clone();
    again.upgrade();
    assert_eq!(again, r, "upgrade is idempotent");
}

#[test]
fn upgrade_moves_misplaced_dns_and_builds_dns_from_endpoints() {
    let mut bug = Report::default();
    bug.bug_dns.insert("10.0.0.1".into(), DnsRecord::default());
    bug.upgrade();
    assert!(bug.bug_dns.is_empty() && bug.dns.contains_key("10.0.0.1"));
    let mut old = Report::default();
    old.topology_mut(TopologyKind::Endpoint).add_node(
        Node::new(";10.0.0.9;80", "endpoint").with_set("snooped_dns_names", &["web.example"]),
    );
    old.topology_mut(TopologyKind::Endpoint)
        .add_node(Node::new(";10.0.0.8;80", "endpoint"));
    old.upgrade();
    assert_eq!(old.dns.len(), 1);
    assert!(old.dns["10.0.0.9"].forward.contains("web.example"));
}

// §3.8 DropTopologiesOver

#[test]
fn topologies_over_the_limit_are_emptied_and_named() {
    let mut r = Report::default();
    for i in 0..5 {
        r.topology_mut(TopologyKind::Process)
            .add_node(process(&format!("h;{i}")));
    }
    r.topology_mut(TopologyKind::Host)
        .add_node(Node::new("h;<host>", "host"));
    let mut limited = r.clone();
    assert_eq!(limited.drop_topologies_over(4), vec![TopologyKind::Process]);
    assert!(limited.topology(TopologyKind::Process).nodes.is_empty());
    assert_eq!(limited.topology(TopologyKind::Host).nodes.len(), 1);
    assert!(
        r.clone().drop_topologies_over(0).is_empty(),
        "0 disables the limit"
    );
    r.topology_mut(TopologyKind::Host)
        .add_node(Node::new("h2;<host>", "host"));
    let massaged = r.massage(4);
    assert!(massaged.dropped.is_empty(), "two hosts double the limit");
    let real = common::decode_file("scope-probe/hostA-01-full.msgpack.gz");
    assert!(
        !real.clone().massage(10_000).changed(),
        "a current probe's report needs no upgrade"
    );
}

#[test]
fn part_merged_nodes_are_removed() {
    let mut r = with_process(process("h;1"));
    r.topology_mut(TopologyKind::Process)
        .nodes
        .insert("h;2".into(), Node::default());
    r.remove_part_merged_nodes();
    assert_eq!(
        r.topology(TopologyKind::Process)
            .nodes
            .keys()
            .collect::<Vec<_>>(),
        vec!["h;1"]
    );
}
