//! A [`NodeSummary`] is its head (everything the UI shows of the node but its edges), shared,
//! and its adjacency. A node's head rarely changes between two versions of a window while its
//! edges may, so a render can take over the heads of the nodes that did not change from the
//! render before it (see [`super::reuse`]) without copying them, and each head's JSON is
//! written once however many answers carry it.

use std::collections::BTreeSet;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, OnceLock};

use serde::Serialize;

use super::summary::{MetadataRow, MetricRow, ParentRow};

fn is_false(b: &bool) -> bool {
    !*b
}

/// Everything of a summary but its adjacency, in the order Scope writes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SummaryHead {
    pub id: String,
    pub label: String,
    #[serde(rename = "labelMinor")]
    pub label_minor: String,
    pub rank: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub shape: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tag: String,
    #[serde(skip_serializing_if = "is_false")]
    pub stack: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub pseudo: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<MetadataRow>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<ParentRow>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricRow>,
}

/// A head shared between summaries, with its JSON object once written.
#[derive(Clone, Debug, Default)]
pub struct SharedHead(Arc<HeadCell>);

#[derive(Clone, Debug, Default)]
struct HeadCell {
    head: SummaryHead,
    json: OnceLock<Box<[u8]>>,
}

impl SharedHead {
    pub fn new(head: SummaryHead) -> Self {
        SharedHead(Arc::new(HeadCell {
            head,
            json: OnceLock::new(),
        }))
    }

    /// The head as a JSON object, written on first use.
    fn json(&self) -> &[u8] {
        self.0
            .json
            .get_or_init(|| super::head_json::head_json(&self.0.head))
    }
}

impl Deref for SharedHead {
    type Target = SummaryHead;

    fn deref(&self) -> &SummaryHead {
        &self.0.head
    }
}

/// What the UI shows of one node of a view (`render/detailed/summary.go`). Reads of the head's
/// fields go through to it; a write copies the head first if another summary shares it, and
/// forgets its JSON.
#[derive(Clone, Debug, Default)]
pub struct NodeSummary {
    head: SharedHead,
    pub adjacency: BTreeSet<String>,
}

impl NodeSummary {
    /// A summary with `head` and no edges.
    pub fn of(head: impl Into<SharedHead>) -> Self {
        NodeSummary {
            head: head.into(),
            adjacency: BTreeSet::new(),
        }
    }

    pub fn with_adjacency(mut self, adjacency: BTreeSet<String>) -> Self {
        self.adjacency = adjacency;
        self
    }

    /// The same node without its edges, its head shared.
    pub fn without_adjacency(&self) -> Self {
        NodeSummary::of(self.head.clone())
    }

    pub fn head(&self) -> &SharedHead {
        &self.head
    }

    /// Whether the two summaries share one head (not merely equal heads).
    pub fn shares_head(&self, other: &NodeSummary) -> bool {
        Arc::ptr_eq(&self.head.0, &other.head.0)
    }

    /// Appends the summary's JSON object to `out`: the head's, written once, then the edges.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        self.write_json_to(out)
            .expect("writing to memory cannot fail");
    }

    /// The length of [`NodeSummary::write_json`]'s output, the head's JSON written if it was
    /// not yet.
    pub fn json_len(&self) -> usize {
        let mut counter = super::json::Counter(0);
        self.write_json_to(&mut counter)
            .expect("counting cannot fail");
        counter.0
    }

    fn write_json_to(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let head = self.head.json();
        if self.adjacency.is_empty() {
            return out.write_all(head);
        }
        out.write_all(&head[..head.len() - 1])?;
        out.write_all(b",\"adjacency\":[")?;
        for (at, id) in self.adjacency.iter().enumerate() {
            if at > 0 {
                out.write_all(b",")?;
            }
            super::json::write_str(out, id)?;
        }
        out.write_all(b"]}")
    }
}

impl SummaryHead {
    /// The heap bytes the head holds (its rows' shared template text not counted).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let text = [
            &self.id,
            &self.label,
            &self.label_minor,
            &self.rank,
            &self.shape,
            &self.tag,
        ];
        text.iter().map(|s| s.capacity()).sum::<usize>()
            + self.metadata.capacity() * size_of::<super::summary::MetadataRow>()
            + self
                .metadata
                .iter()
                .map(|r| r.value.capacity())
                .sum::<usize>()
            + self.parents.capacity() * size_of::<super::summary::ParentRow>()
            + self
                .parents
                .iter()
                .map(|p| p.id.capacity() + p.label.capacity())
                .sum::<usize>()
            + self.metrics.capacity() * size_of::<super::summary::MetricRow>()
            + self
                .metrics
                .iter()
                .map(|m| {
                    m.url.capacity()
                        + m.samples.as_ref().map_or(0, |s| {
                            s.capacity() * size_of::<stormscope_shared::model::Sample>()
                        })
                })
                .sum::<usize>()
    }
}

impl SharedHead {
    /// Whether another summary, or the kept heads, hold this head too.
    pub fn is_shared(&self) -> bool {
        Arc::strong_count(&self.0) > 1
    }

    /// The heap bytes behind this handle: the head, and its JSON once written.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<HeadCell>()
            + self.0.head.heap_bytes()
            + self.0.json.get().map_or(0, |json| json.len())
    }
}

impl From<SummaryHead> for SharedHead {
    fn from(head: SummaryHead) -> Self {
        SharedHead::new(head)
    }
}

impl From<SummaryHead> for NodeSummary {
    fn from(head: SummaryHead) -> Self {
        NodeSummary::of(head)
    }
}

impl Deref for NodeSummary {
    type Target = SummaryHead;

    fn deref(&self) -> &SummaryHead {
        &self.head
    }
}

impl DerefMut for NodeSummary {
    fn deref_mut(&mut self) -> &mut SummaryHead {
        let cell = Arc::make_mut(&mut self.head.0);
        cell.json = OnceLock::new();
        &mut cell.head
    }
}

impl PartialEq for NodeSummary {
    fn eq(&self, other: &Self) -> bool {
        (Arc::ptr_eq(&self.head.0, &other.head.0) || *self.head == *other.head)
            && self.adjacency == other.adjacency
    }
}

impl Serialize for NodeSummary {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Whole<'a> {
            #[serde(flatten)]
            head: &'a SummaryHead,
            #[serde(skip_serializing_if = "BTreeSet::is_empty")]
            adjacency: &'a BTreeSet<String>,
        }
        Whole {
            head: &self.head,
            adjacency: &self.adjacency,
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(id: &str, label: &str, edges: &[&str]) -> NodeSummary {
        NodeSummary::from(SummaryHead {
            id: id.into(),
            label: label.into(),
            shape: "square".into(),
            ..SummaryHead::default()
        })
        .with_adjacency(edges.iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn written_json_is_the_summary_serialised() {
        for edges in [&[][..], &["b"], &["b", "c\"d"]] {
            let node = summary("a;<host>", "a \"quoted\" label", edges);
            let mut ours = Vec::new();
            node.write_json(&mut ours);
            assert_eq!(ours, serde_json::to_vec(&node).unwrap(), "edges {edges:?}");
            // Written again from the head's kept JSON.
            let mut again = Vec::new();
            node.write_json(&mut again);
            assert_eq!(again, ours);
        }
    }

    #[test]
    fn a_write_copies_a_shared_head_and_forgets_its_json() {
        let a = summary("a", "before", &[]);
        a.write_json(&mut Vec::new());
        let mut b = a.without_adjacency();
        assert!(Arc::ptr_eq(&a.head().0, &b.head().0));
        b.label = "after".into();
        assert_eq!(a.label, "before", "the other summary keeps its head");
        let mut json = Vec::new();
        b.write_json(&mut json);
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["label"], "after");
        assert_ne!(a, b);
        b.label = "before".into();
        assert_eq!(a, b, "equal heads compare equal, shared or not");
    }
}
