//! The JSON of a rendered view, as `/api/topology/{view}` answers it.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use super::NodeSummary;
use super::parallel::par_chunks;
use crate::window::Degraded;

type Nodes = BTreeMap<String, NodeSummary>;

/// Bytes of JSON written per chunk of a [`ViewBody`]: small enough that the HTTP server's
/// write buffer, which each chunk is copied into, stays small, and large enough that a chunk
/// is worth a call.
const CHUNK: usize = 32 * 1024;

/// `{"nodes": {id: summary}, "degraded"?}`, written a chunk at a time as it is sent, from the
/// rendered nodes themselves. A large view's JSON is never whole in memory: written at once,
/// 14,500 processes took 13 MB per answer, and the server's write buffer grew to each part's
/// size besides (BENCHMARKS.md). Each head's JSON is written once and kept with it, so a chunk
/// mostly copies kept bytes.
pub struct ViewBody {
    nodes: Arc<Nodes>,
    /// Where the next chunk starts: before the opening brace, after a node's id, or done.
    at: Position,
    tail: Vec<u8>,
    len: u64,
}

enum Position {
    Start,
    After(String),
    Done,
}

impl ViewBody {
    /// The body for `nodes`, its length counted (and every head's JSON written, on all cores)
    /// up front so the answer can say how long it is.
    pub fn new(nodes: Arc<Nodes>, degraded: &Degraded) -> Self {
        let mut tail = b"}".to_vec();
        if degraded.is_degraded() {
            tail.extend_from_slice(b",\"degraded\":");
            serde_json::to_writer(&mut tail, degraded).expect("serialises");
        }
        tail.push(b'}');
        let entries: Vec<(&String, &NodeSummary)> = nodes.iter().collect();
        let counted: usize = par_chunks(&entries, |part| {
            part.iter()
                .map(|(id, node)| json_len(id) + 1 + node.json_len())
                .sum::<usize>()
        })
        .into_iter()
        .sum();
        let commas = entries.len().saturating_sub(1);
        let len = (b"{\"nodes\":{".len() + counted + commas + tail.len()) as u64;
        ViewBody {
            nodes,
            at: Position::Start,
            tail,
            len,
        }
    }

    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Iterator for ViewBody {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        let mut out = Vec::with_capacity(CHUNK + CHUNK / 4);
        let rest = match &self.at {
            Position::Done => return None,
            Position::Start => {
                out.extend_from_slice(b"{\"nodes\":{");
                self.nodes
                    .range::<String, (Bound<&String>, Bound<&String>)>((
                        Bound::Unbounded,
                        Bound::Unbounded,
                    ))
            }
            Position::After(id) => self
                .nodes
                .range::<String, (Bound<&String>, Bound<&String>)>((
                    Bound::Excluded(id),
                    Bound::Unbounded,
                )),
        };
        let first = matches!(self.at, Position::Start);
        let mut last = None;
        for (id, node) in rest {
            if !first || last.is_some() {
                out.push(b',');
            }
            push_str(&mut out, id);
            out.push(b':');
            node.write_json(&mut out);
            last = Some(id);
            if out.len() >= CHUNK {
                break;
            }
        }
        self.at = match last {
            Some(id) if out.len() >= CHUNK => Position::After(id.clone()),
            _ => {
                out.extend_from_slice(&self.tail);
                Position::Done
            }
        };
        Some(Bytes::from(out))
    }
}

/// Appends `s` as a JSON string, as `serde_json` writes it. Most strings of a view need no
/// escaping; telling so takes one pass that the compiler vectorises, then one copy, where
/// `serde_json` looks each byte up on its own (4 % of a first answer's CPU).
pub fn write_str(out: &mut impl std::io::Write, s: &str) -> std::io::Result<()> {
    let needs_escaping = s.as_bytes().iter().fold(false, |any, &b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if needs_escaping {
        return serde_json::to_writer(out, s).map_err(std::io::Error::from);
    }
    out.write_all(b"\"")?;
    out.write_all(s.as_bytes())?;
    out.write_all(b"\"")
}

/// Appends `s` as a JSON string (see [`write_str`]).
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    write_str(out, s).expect("writing JSON to memory cannot fail");
}

/// The length of `s` written as a JSON string.
fn json_len(s: &str) -> usize {
    let mut counter = Counter(0);
    write_str(&mut counter, s).expect("counting cannot fail");
    counter.0
}

/// Counts the bytes written to it.
pub(super) struct Counter(pub usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The whole of a view's JSON at once (what [`ViewBody`] sends in chunks), for tests: it copies
/// the view.
#[cfg(test)]
pub fn view_body(nodes: &Nodes, degraded: &Degraded) -> Vec<u8> {
    ViewBody::new(Arc::new(nodes.clone()), degraded)
        .flat_map(|chunk| chunk.to_vec())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::SummaryHead;

    fn nodes(count: usize) -> Nodes {
        (0..count)
            .map(|i| {
                let id = format!("host-{i};<host>\"");
                let node = NodeSummary::from(SummaryHead {
                    id: id.clone(),
                    label: format!("h{i}"),
                    ..SummaryHead::default()
                })
                .with_adjacency([format!("host-{}", i + 1), format!("a\t\"far\" end {i}")].into());
                (id, node)
            })
            .collect()
    }

    #[test]
    fn sent_in_chunks_it_is_the_json_of_the_whole_and_as_long_as_it_says() {
        for count in [0, 1, 10_000] {
            let nodes = nodes(count);
            for degraded in [
                Degraded::default(),
                Degraded {
                    sources: vec!["cache"],
                    missing_reports: 2,
                    ..Degraded::default()
                },
            ] {
                let body = ViewBody::new(Arc::new(nodes.clone()), &degraded);
                let said = body.len();
                let chunks: Vec<Bytes> = body.collect();
                let whole: Vec<u8> = chunks.iter().flat_map(|c| c.to_vec()).collect();
                assert_eq!(whole.len() as u64, said, "{count} nodes, {degraded:?}");
                let ours: serde_json::Value = serde_json::from_slice(&whole).unwrap();
                let mut expected = serde_json::json!({ "nodes": nodes });
                if degraded.is_degraded() {
                    expected["degraded"] = serde_json::to_value(&degraded).unwrap();
                }
                assert_eq!(ours, expected, "{count} nodes, {degraded:?}");
                if count == 10_000 {
                    assert!(chunks.len() > 10, "{} chunks", chunks.len());
                    let largest = chunks.iter().map(Bytes::len).max().unwrap();
                    assert!(largest < 2 * CHUNK, "a chunk of {largest} bytes");
                }
            }
        }
    }
}
