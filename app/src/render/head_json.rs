//! A head's JSON object, written by hand in the order and with the omissions of the `Serialize`
//! derives of [`SummaryHead`] and its rows, which stay the definition (a test holds the two
//! to the same bytes). A tenant's first answer writes the JSON of every head it renders, 14,500
//! of them for a hundred probes' processes, and through serde most of that time went to
//! escaping field names that never need it and to growing each head's buffer. Values still
//! go through `serde_json`, so strings are escaped and numbers formatted as it does.

use serde::Serialize;

use super::head::SummaryHead;
use super::summary::{MetadataRow, MetricRow, ParentRow};

/// Room for a typical head's JSON (a process's is about 900 bytes), so it is written without
/// growing its buffer, and shrunk in place after.
const TYPICAL: usize = 1024;

/// The head as a JSON object, as `serde_json::to_vec` writes it.
pub(super) fn head_json(head: &SummaryHead) -> Box<[u8]> {
    let mut json = Vec::with_capacity(TYPICAL);
    let mut out = Object::open(&mut json);
    out.string("id", &head.id);
    out.string("label", &head.label);
    out.string("labelMinor", &head.label_minor);
    out.string("rank", &head.rank);
    out.unless_empty("shape", &head.shape);
    out.unless_empty("tag", &head.tag);
    if head.stack {
        out.raw("stack", b"true");
    }
    if head.pseudo {
        out.raw("pseudo", b"true");
    }
    if !head.metadata.is_empty() {
        out.array("metadata", &head.metadata, metadata_row);
    }
    if !head.parents.is_empty() {
        out.array("parents", &head.parents, parent_row);
    }
    if !head.metrics.is_empty() {
        out.array("metrics", &head.metrics, metric_row);
    }
    out.close();
    json.into_boxed_slice()
}

fn metadata_row(row: &MetadataRow, out: &mut Vec<u8>) {
    let mut o = Object::open(out);
    o.string("id", &row.id);
    o.string("label", &row.label);
    o.string("value", &row.value);
    o.unless_zero("priority", &row.priority);
    o.unless_empty("dataType", &row.data_type);
    o.unless_zero("truncate", &row.truncate);
    o.close();
}

fn parent_row(row: &ParentRow, out: &mut Vec<u8>) {
    let mut o = Object::open(out);
    o.string("id", &row.id);
    o.string("label", &row.label);
    o.string("topologyId", row.topology_id);
    o.close();
}

fn metric_row(row: &MetricRow, out: &mut Vec<u8>) {
    let mut o = Object::open(out);
    o.string("id", &row.id);
    o.string("label", &row.label);
    o.unless_empty("format", &row.format);
    o.unless_empty("group", &row.group);
    o.value("value", &row.value);
    o.unless_zero("priority", &row.priority);
    o.value("samples", &row.samples);
    o.value("min", &row.min);
    o.value("max", &row.max);
    o.string("url", &row.url);
    o.close();
}

/// A JSON object being written: `{`, then `"key":value` pairs separated by commas.
struct Object<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Object<'o> {
    fn open(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }

    fn close(self) {
        self.out.push(b'}');
    }

    /// `"key":`, after a comma unless it is the first. Keys are plain ASCII names.
    fn key(&mut self, key: &str) {
        if !std::mem::replace(&mut self.first, false) {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn raw(&mut self, key: &str, json: &[u8]) {
        self.key(key);
        self.out.extend_from_slice(json);
    }

    fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        super::json::push_str(self.out, value);
    }

    /// A string field that the derives skip when it is empty.
    fn unless_empty(&mut self, key: &str, value: &str) {
        if !value.is_empty() {
            self.string(key, value);
        }
    }

    /// A number field that the derives skip when it is zero.
    fn unless_zero<T: Serialize + Default + PartialEq>(&mut self, key: &str, value: &T) {
        if *value != T::default() {
            self.value(key, value);
        }
    }

    fn value<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        self.key(key);
        serde_json::to_writer(&mut *self.out, value).expect("writing JSON to memory cannot fail");
    }

    fn array<T>(&mut self, key: &str, items: &[T], item: fn(&T, &mut Vec<u8>)) {
        self.key(key);
        self.out.push(b'[');
        for (at, it) in items.iter().enumerate() {
            if at > 0 {
                self.out.push(b',');
            }
            item(it, self.out);
        }
        self.out.push(b']');
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use stormscope_shared::model::Sample;
    use stormscope_shared::synth::{SynthSpec, generate};
    use stormscope_shared::time::Timestamp;

    use super::*;
    use crate::render::{VIEWS, render};

    fn same_as_serde(head: &SummaryHead) {
        let ours = head_json(head);
        let theirs = serde_json::to_vec(head).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
    }

    #[test]
    fn every_head_of_every_view_is_written_as_serde_writes_it() {
        let report = generate(&SynthSpec {
            hosts: 3,
            pods_per_host: 4,
            ..SynthSpec::default()
        });
        let mut heads = Vec::new();
        for view in VIEWS {
            heads.extend(render(&report, view).unwrap().into_values());
        }
        for head in &heads {
            same_as_serde(head);
        }
        // Every optional part of a head was written somewhere.
        let having = |part: fn(&SummaryHead) -> bool| heads.iter().filter(|h| part(h)).count();
        assert!(having(|h| h.stack) > 0 && having(|h| h.pseudo) > 0);
        assert!(having(|h| !h.tag.is_empty()) + having(|h| !h.shape.is_empty()) > 0);
        assert!(having(|h| !h.metadata.is_empty()) > 100);
        assert!(having(|h| !h.parents.is_empty()) > 100);
        assert!(having(|h| !h.metrics.is_empty()) > 100);
    }

    #[test]
    fn omitted_fields_odd_numbers_and_strings_that_need_escaping() {
        let text = |s: &str| -> Arc<str> { Arc::from(s) };
        let metadata = |priority: f64, data_type: &str, truncate: i64| MetadataRow {
            id: text("cmd"),
            label: text("Command \"line\""),
            value: "a\tb\u{1}c\\d é 😀".into(),
            priority,
            data_type: text(data_type),
            truncate,
        };
        let metric = |value: f64, priority: f64, samples: Option<Vec<Sample>>| MetricRow {
            id: text("cpu"),
            label: text("CPU"),
            format: text(if priority == 0.0 { "" } else { "percent" }),
            group: text(if samples.is_some() { "g" } else { "" }),
            value,
            priority,
            samples,
            min: f64::NEG_INFINITY,
            max: 1.8446744073709552e19,
            url: "http://x/\"y\"".into(),
        };
        let sample = Sample {
            date: Timestamp::from_unix_millis(1_764_162_000_000),
            value: 0.5,
        };
        let heads = [
            SummaryHead::default(),
            SummaryHead {
                id: "host;<host>".into(),
                label: "\"quoted\"\n".into(),
                label_minor: "\u{7f}\u{2028}".into(),
                rank: "r".into(),
                shape: "circle".into(),
                tag: "camera".into(),
                stack: true,
                pseudo: true,
                metadata: vec![
                    metadata(0.0, "", 0),
                    metadata(-0.0, "number", -3),
                    metadata(f64::NAN, "", 7),
                    metadata(2.5, "datetime", 0),
                ],
                parents: vec![ParentRow {
                    id: "p;<host>".into(),
                    label: "p".into(),
                    topology_id: "hosts",
                }],
                metrics: vec![
                    metric(0.0, 0.0, None),
                    metric(f64::NAN, 1.0, Some(vec![sample, sample])),
                    metric(-1e-7, -0.0, Some(Vec::new())),
                ],
            },
        ];
        for head in &heads {
            same_as_serde(head);
        }
    }
}
