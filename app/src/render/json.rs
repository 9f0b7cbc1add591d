//! The JSON of a rendered view, as `/api/topology/{view}` answers it.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::NodeSummary;
use super::parallel::par_chunks;
use crate::window::Degraded;

/// `{"nodes": {id: summary}, "degraded"?}`, written straight from the rendered nodes on all
/// cores: a view can hold tens of thousands of nodes, and going through `serde_json::Value`
/// would copy each. Each head's JSON is written once and kept with it, so the nodes a render
/// took over from the one before cost a copy.
pub fn view_body(nodes: &BTreeMap<String, NodeSummary>, degraded: &Degraded) -> Vec<u8> {
    view_body_parts(nodes, degraded).concat()
}

/// [`view_body`] in the parts it is written in, to be sent one after another: joining them
/// would hold a large view's JSON twice (13 MB more for 14,500 processes).
pub fn view_body_parts(nodes: &BTreeMap<String, NodeSummary>, degraded: &Degraded) -> Vec<Bytes> {
    let entries: Vec<(&String, &NodeSummary)> = nodes.iter().collect();
    let written = par_chunks(&entries, |part| {
        let mut out = Vec::with_capacity(part.len() * 512);
        for (i, (id, node)) in part.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, id).expect("strings serialise");
            out.push(b':');
            node.write_json(&mut out);
        }
        out
    });
    let mut parts = vec![Bytes::from_static(b"{\"nodes\":{")];
    for (i, part) in written.into_iter().filter(|p| !p.is_empty()).enumerate() {
        if i > 0 {
            parts.push(Bytes::from_static(b","));
        }
        parts.push(Bytes::from(part));
    }
    let mut tail = b"}".to_vec();
    if degraded.is_degraded() {
        tail.extend_from_slice(b",\"degraded\":");
        serde_json::to_writer(&mut tail, degraded).expect("serialises");
    }
    tail.push(b'}');
    parts.push(Bytes::from(tail));
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::SummaryHead;

    #[test]
    fn written_in_parts_it_is_the_json_of_the_whole() {
        for count in [0, 1, 10_000] {
            let nodes: BTreeMap<String, NodeSummary> = (0..count)
                .map(|i| {
                    let id = format!("host-{i};<host>\"");
                    let node = NodeSummary::from(SummaryHead {
                        id: id.clone(),
                        label: format!("h{i}"),
                        ..SummaryHead::default()
                    });
                    (id, node)
                })
                .collect();
            for degraded in [
                Degraded::default(),
                Degraded {
                    sources: vec!["cache"],
                    missing_reports: 2,
                    ..Degraded::default()
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
