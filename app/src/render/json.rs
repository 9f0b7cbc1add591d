//! The JSON of a rendered view, as `/api/topology/{view}` answers it.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use super::NodeSummary;
use super::parallel::par_chunks;
use crate::window::Degraded;

/// `{"nodes": {id: summary}, "degraded"?}` for a view rendered once (history).
pub fn view_body(nodes: &BTreeMap<String, NodeSummary>, degraded: &Degraded) -> Vec<u8> {
    body(&write_all(nodes).0, degraded)
}

/// A view's `nodes` object as JSON, and where each node's entry lies in it. The next version
/// of the view copies the entries of the nodes that did not change instead of writing them
/// again: between two queries of a large view most nodes are the same, and comparing a node is
/// much cheaper than writing it.
#[derive(Debug)]
pub struct NodesJson {
    /// The nodes written, to compare the next version with.
    nodes: Arc<BTreeMap<String, NodeSummary>>,
    json: Vec<u8>,
    spans: Vec<Range<usize>>,
}

impl NodesJson {
    pub fn write(nodes: Arc<BTreeMap<String, NodeSummary>>, previous: Option<&NodesJson>) -> Self {
        let (json, spans) = match previous {
            None => write_all(&nodes),
            Some(previous) => write_reusing(&nodes, previous),
        };
        NodesJson { nodes, json, spans }
    }

    /// The whole answer: `{"nodes": …}`, with `"degraded"` when the window lacked something.
    pub fn body(&self, degraded: &Degraded) -> Vec<u8> {
        body(&self.json, degraded)
    }
}

fn body(nodes_json: &[u8], degraded: &Degraded) -> Vec<u8> {
    let mut body = Vec::with_capacity(nodes_json.len() + 128);
    body.extend_from_slice(b"{\"nodes\":");
    body.extend_from_slice(nodes_json);
    if degraded.is_degraded() {
        body.extend_from_slice(b",\"degraded\":");
        serde_json::to_writer(&mut body, degraded).expect("serialises");
    }
    body.push(b'}');
    body
}

fn write_entry(out: &mut Vec<u8>, id: &str, node: &NodeSummary) {
    serde_json::to_writer(&mut *out, id).expect("strings serialise");
    out.push(b':');
    serde_json::to_writer(&mut *out, node).expect("summaries serialise");
}

/// Every entry written, on all cores.
fn write_all(nodes: &BTreeMap<String, NodeSummary>) -> (Vec<u8>, Vec<Range<usize>>) {
    let entries: Vec<(&String, &NodeSummary)> = nodes.iter().collect();
    let parts = par_chunks(&entries, |part| {
        let mut out = Vec::with_capacity(part.len() * 512);
        let mut spans = Vec::with_capacity(part.len());
        for (id, node) in part {
            let start = out.len();
            write_entry(&mut out, id, node);
            spans.push(start..out.len());
        }
        (out, spans)
    });
    let mut json = Vec::with_capacity(parts.iter().map(|(p, _)| p.len() + 1).sum::<usize>() + 2);
    let mut spans = Vec::with_capacity(entries.len());
    json.push(b'{');
    for (part, part_spans) in parts {
        for span in part_spans {
            if !spans.is_empty() {
                json.push(b',');
            }
            let start = json.len();
            json.extend_from_slice(&part[span]);
            spans.push(start..json.len());
        }
    }
    json.push(b'}');
    (json, spans)
}

/// Entries of nodes equal to their previous version copied, the others written.
fn write_reusing(
    nodes: &BTreeMap<String, NodeSummary>,
    previous: &NodesJson,
) -> (Vec<u8>, Vec<Range<usize>>) {
    let mut json = Vec::with_capacity(previous.json.len() + 4096);
    let mut spans = Vec::with_capacity(nodes.len());
    // Both are in id order: one pass through the previous version.
    let mut before = previous.nodes.iter().zip(&previous.spans).peekable();
    json.push(b'{');
    for (id, node) in nodes {
        if !spans.is_empty() {
            json.push(b',');
        }
        while before.next_if(|((old, _), _)| *old < id).is_some() {}
        let start = json.len();
        match before.peek() {
            Some(((old_id, old), span)) if *old_id == id && *old == node => {
                json.extend_from_slice(&previous.json[(*span).clone()]);
            }
            _ => write_entry(&mut json, id, node),
        }
        spans.push(start..json.len());
    }
    json.push(b'}');
    (json, spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_version_written_from_the_previous_is_the_json_of_the_whole() {
        let node = |id: &str, label: &str| NodeSummary {
            id: id.to_owned(),
            label: label.to_owned(),
            ..NodeSummary::default()
        };
        let first: BTreeMap<String, NodeSummary> = (0..5_000)
            .map(|i| (format!("n{i:05}"), node(&format!("n{i:05}"), "a")))
            .collect();
        let first = Arc::new(first);
        let written = NodesJson::write(first.clone(), None);
        // Some nodes changed, some left, some arrived (before, between and after the others).
        let mut next = (*first).clone();
        next.remove("n00000");
        next.remove("n02500");
        next.insert("m".into(), node("m", "new"));
        next.insert("n02500x".into(), node("n02500x", "new"));
        next.insert("z".into(), node("z", "new"));
        next.get_mut("n04999").unwrap().label = "changed".into();
        next.get_mut("n00001").unwrap().label = "changed".into();
        let next = Arc::new(next);
        let rewritten = NodesJson::write(next.clone(), Some(&written));
        for (json, nodes) in [(&written, &first), (&rewritten, &next)] {
            let ours: serde_json::Value =
                serde_json::from_slice(&json.body(&Degraded::default())).unwrap();
            assert_eq!(ours, serde_json::json!({ "nodes": nodes }));
        }
    }

    #[test]
    fn written_in_parts_it_is_the_json_of_the_whole() {
        for count in [0, 1, 10_000] {
            let nodes: BTreeMap<String, NodeSummary> = (0..count)
                .map(|i| {
                    let id = format!("host-{i};<host>\"");
                    let node = NodeSummary {
                        id: id.clone(),
                        label: format!("h{i}"),
                        ..NodeSummary::default()
                    };
                    (id, node)
                })
                .collect();
            for degraded in [
                Degraded::default(),
                Degraded {
                    sources: vec!["cache"],
                    missing_reports: 2,
                },
            ] {
                let ours: serde_json::Value =
                    serde_json::from_slice(&view_body(&nodes, &degraded)).unwrap();
                let mut expected = serde_json::json!({ "nodes": nodes });
                if degraded.is_degraded() {
                    expected["degraded"] = serde_json::to_value(&degraded).unwrap();
                }
                assert_eq!(ours, expected, "{count} nodes, {degraded:?}");
            }
        }
    }
}
