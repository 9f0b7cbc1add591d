//! The msgpack writer. No serde msgpack serializer writes old-spec raws (rmp-serde writes
//! `str8` and `bin`, which Scope's 2017 decoder does not expect), so the model is written out
//! here field by field.

use rmp::encode as enc;
use serde_json::Value;

use crate::model::{LatestMap, Metric, Node, Report, Sets, StringSet, Topology};
use crate::time::Timestamp;

pub fn encode(report: &Report) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(64 * 1024));
    w.report(report);
    w.0
}

struct Writer(Vec<u8>);

impl Writer {
    fn map(&mut self, len: usize) {
        enc::write_map_len(&mut self.0, len as u32).expect("Vec write");
    }

    fn array(&mut self, len: usize) {
        enc::write_array_len(&mut self.0, len as u32).expect("Vec write");
    }

    /// Old-spec raw: fixraw, raw16 or raw32, never `str8`.
    fn raw(&mut self, bytes: &[u8]) {
        let len = bytes.len();
        if len < 32 {
            self.0.push(0xa0 | len as u8);
        } else if len <= u16::MAX as usize {
            self.0.push(0xda);
            self.0.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            self.0.push(0xdb);
            self.0.extend_from_slice(&(len as u32).to_be_bytes());
        }
        self.0.extend_from_slice(bytes);
    }

    fn str(&mut self, s: &str) {
        self.raw(s.as_bytes());
    }

    fn nil(&mut self) {
        self.0.push(0xc0);
    }

    fn int(&mut self, v: i64) {
        enc::write_sint(&mut self.0, v).expect("Vec write");
    }

    fn float(&mut self, v: f64) {
        enc::write_f64(&mut self.0, v).expect("Vec write");
    }

    fn time(&mut self, t: Timestamp) {
        self.raw(&t.to_go_binary());
    }

    fn report(&mut self, r: &Report) {
        let extra = usize::from(!r.dns.is_empty()) + usize::from(!r.bug_dns.is_empty());
        self.map(1 + r.topologies().count() + 5 + extra);
        self.str("TS");
        self.time(r.ts);
        for (kind, topology) in r.topologies() {
            self.str(kind.field_name());
            self.topology(topology);
        }
        if !r.dns.is_empty() {
            self.str("DNS");
            self.value(&to_value(&r.dns));
        }
        if !r.bug_dns.is_empty() {
            self.str("nodes");
            self.value(&to_value(&r.bug_dns));
        }
        self.str("Sampling");
        self.value(&to_value(&r.sampling));
        self.str("Window");
        self.int(r.window);
        self.str("Shortcut");
        enc::write_bool(&mut self.0, r.shortcut).expect("Vec write");
        self.str("Plugins");
        self.array(r.plugins.len());
        for spec in r.plugins.values() {
            self.value(&to_value(spec));
        }
        self.str("ID");
        self.str(&r.id);
    }

    fn topology(&mut self, t: &Topology) {
        let strings = [
            ("shape", &t.shape),
            ("tag", &t.tag),
            ("label", &t.label),
            ("label_plural", &t.label_plural),
        ];
        let statics = [
            ("controls", to_value(&t.controls)),
            ("metadata_templates", to_value(&t.metadata_templates)),
            ("metric_templates", to_value(&t.metric_templates)),
            ("table_templates", to_value(&t.table_templates)),
        ];
        let present_statics = statics.iter().filter(|(_, v)| !is_empty_value(v)).count();
        let present_strings = strings.iter().filter(|(_, v)| !v.is_empty()).count();
        self.map(present_strings + usize::from(!t.nodes.is_empty()) + present_statics);
        for (key, value) in strings.iter().filter(|(_, v)| !v.is_empty()) {
            self.str(key);
            self.str(value);
        }
        if !t.nodes.is_empty() {
            self.str("nodes");
            self.map(t.nodes.len());
            for (id, node) in &t.nodes {
                self.str(id);
                self.node(node);
            }
        }
        for (key, value) in statics.iter().filter(|(_, v)| !is_empty_value(v)) {
            self.str(key);
            self.value(value);
        }
    }

    fn node(&mut self, n: &Node) {
        let optional = usize::from(!n.id.is_empty())
            + usize::from(!n.topology.is_empty())
            + usize::from(!n.adjacency.is_empty())
            + usize::from(!n.latest.is_empty())
            + usize::from(!n.metrics.is_empty());
        self.map(optional + 3);
        if !n.id.is_empty() {
            self.str("id");
            self.str(&n.id);
        }
        if !n.topology.is_empty() {
            self.str("topology");
            self.str(&n.topology);
        }
        self.str("sets");
        self.sets(&n.sets);
        if !n.adjacency.is_empty() {
            self.str("adjacency");
            self.string_set(&n.adjacency);
        }
        if !n.latest.is_empty() {
            self.str("latest");
            self.latest(&n.latest);
        }
        if !n.metrics.is_empty() {
            self.str("metrics");
            self.map(n.metrics.len());
            for (key, metric) in &n.metrics {
                self.str(key);
                self.metric(metric);
            }
        }
        self.str("parents");
        self.sets(&n.parents);
        self.str("children");
        if n.children.is_empty() {
            self.nil();
        } else {
            self.array(n.children.len());
            for child in n.children.values() {
                self.node(child);
            }
        }
    }

    fn sets(&mut self, sets: &Sets) {
        if sets.is_empty() {
            return self.nil();
        }
        self.map(sets.len());
        for (key, set) in sets {
            self.str(key);
            self.string_set(set);
        }
    }

    fn string_set(&mut self, set: &StringSet) {
        self.array(set.len());
        for s in set {
            self.str(s);
        }
    }

    fn latest(&mut self, latest: &LatestMap) {
        self.map(latest.len());
        for (key, entry) in latest {
            self.str(key);
            self.map(2);
            self.str("timestamp");
            self.time(entry.timestamp);
            self.str("value");
            self.str(&entry.value);
        }
    }

    fn metric(&mut self, m: &Metric) {
        self.map(2 + usize::from(!m.samples.is_empty()));
        if !m.samples.is_empty() {
            self.str("samples");
            self.array(m.samples.len());
            for sample in &m.samples {
                self.map(2);
                self.str("date");
                self.time(sample.date);
                self.str("value");
                self.float(sample.value);
            }
        }
        self.str("min");
        self.float(m.min);
        self.str("max");
        self.float(m.max);
    }

    /// The small, static parts of a report (templates, controls, DNS, plugins) go through
    /// their JSON form: they hold no times, so the two encodings agree on them.
    fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.nil(),
            Value::Bool(b) => enc::write_bool(&mut self.0, *b).expect("Vec write"),
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => self.int(i),
                (None, Some(u), _) => enc::write_uint(&mut self.0, u)
                    .map(drop)
                    .expect("Vec write"),
                (None, None, Some(f)) => self.float(f),
                (None, None, None) => self.nil(),
            },
            Value::String(s) => self.str(s),
            Value::Array(items) => {
                self.array(items.len());
                items.iter().for_each(|item| self.value(item));
            }
            Value::Object(map) => {
                self.map(map.len());
                for (key, item) in map {
                    self.str(key);
                    self.value(item);
                }
            }
        }
    }
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("static report parts serialise to JSON")
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Object(map) => map.is_empty(),
        Value::Null => true,
        _ => false,
    }
}
