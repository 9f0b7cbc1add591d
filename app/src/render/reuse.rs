//! Taking over summaries from an earlier render of the same view. Between two versions of a
//! live window only the nodes of the reports merged in between change: at a hundred probes, a
//! new report changes one host's processes of a hundred hosts'. A render given the heads of the
//! earlier render (in id order) and a way to tell whether a node changed since keeps the heads
//! of the nodes whose summary reads nothing that changed, and summarises only the rest. Edges
//! are found anew, as an edge joins nodes of two hosts, either of which may have changed; but
//! the endpoints they come from are numbered once per state ([`EndpointIndex`]), and each
//! render renumbers only those that changed.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use stormscope_shared::model::Topology;
use stormscope_shared::{Report, TopologyKind};

pub use super::endpoint_index::EndpointIndex;
use super::endpoint_index::{self, ToNode};
use super::summary::SharedHead;
use super::wiring::EndpointEdges;

/// The views that take over heads: the large ones whose summaries read only their own node,
/// its parents, and their topology's frame.
const REUSING: [(&str, TopologyKind); 2] = [
    ("processes", TopologyKind::Process),
    ("hosts", TopologyKind::Host),
];

/// Whether renders of `view` take over heads (and so keep theirs).
pub fn takes_over(view: &str) -> bool {
    REUSING.iter().any(|(v, _)| *v == view)
}

/// What every summary of a view reads besides its nodes: the frame of the topology its nodes
/// come from (shape, tag, labels, templates, controls). Heads are taken over only from a
/// render of an equal frame. `None` for views that do not take over heads.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame(Topology);

impl Frame {
    pub fn of(report: &Report, view: &str) -> Option<Frame> {
        let (_, kind) = REUSING.iter().find(|(v, _)| *v == view)?;
        let t = report.topology(*kind);
        Some(Frame(Topology {
            shape: t.shape.clone(),
            tag: t.tag.clone(),
            label: t.label.clone(),
            label_plural: t.label_plural.clone(),
            nodes: BTreeMap::new(),
            controls: t.controls.clone(),
            metadata_templates: t.metadata_templates.clone(),
            metric_templates: t.metric_templates.clone(),
            table_templates: t.table_templates.clone(),
        }))
    }
}

/// The heads of an earlier render of a view of an equal [`Frame`], in id order, and which
/// nodes changed since it; that render's endpoint index, and this render's once made.
pub struct Reuse<'a> {
    heads: &'a [SharedHead],
    changed: &'a (dyn Fn(&str) -> bool + Sync),
    taken: AtomicUsize,
    /// Whether this render makes an endpoint index for the next (see [`Reuse::with_index`]).
    indexes: bool,
    /// The earlier render's endpoint index, until this render takes it.
    kept_index: Mutex<Option<EndpointIndex>>,
    /// The ids of the nodes changed since the earlier render, of any topology.
    touched: Vec<&'a str>,
    /// This render's endpoint index, once made.
    made_index: Mutex<Option<EndpointIndex>>,
}

impl<'a> Reuse<'a> {
    pub fn new(heads: &'a [SharedHead], changed: &'a (dyn Fn(&str) -> bool + Sync)) -> Self {
        Reuse {
            heads,
            changed,
            taken: AtomicUsize::new(0),
            indexes: false,
            kept_index: Mutex::new(None),
            touched: Vec::new(),
            made_index: Mutex::new(None),
        }
    }

    /// With the endpoint index of the earlier render, and the ids of every node that changed
    /// since (`changed` of each of them holds); without one, this render makes one. Only
    /// renders that follow an earlier one do: making an index costs more than finding the
    /// edges once, and a state's first render is often a tenant's first answer, waited for.
    pub fn with_index(self, index: Option<EndpointIndex>, changed: Vec<&'a str>) -> Self {
        Reuse {
            indexes: true,
            kept_index: Mutex::new(index),
            touched: changed,
            ..self
        }
    }

    /// The endpoint index this render made, to give the next one.
    pub fn into_index(self) -> Option<EndpointIndex> {
        self.made_index.into_inner().expect("made index lock")
    }

    /// How many heads renders took over.
    pub fn taken(&self) -> usize {
        self.taken.load(Ordering::Relaxed)
    }

    /// A pass over the heads, for nodes asked for in id order.
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor {
            reuse: self,
            next: 0,
        }
    }
}

/// See [`Reuse::cursor`].
pub struct Cursor<'a> {
    reuse: &'a Reuse<'a>,
    next: usize,
}

impl Cursor<'_> {
    /// The earlier head of node `id` when neither the node nor any node its summary reads
    /// (`reads`) changed since. Ids must be asked for in increasing order.
    pub fn take<'i>(
        &mut self,
        id: &str,
        reads: impl IntoIterator<Item = &'i str>,
    ) -> Option<SharedHead> {
        let heads = self.reuse.heads;
        while heads.get(self.next).is_some_and(|h| h.id.as_str() < id) {
            self.next += 1;
        }
        let head = heads.get(self.next).filter(|h| h.id == id)?;
        let changed = self.reuse.changed;
        if changed(id) || reads.into_iter().any(changed) {
            return None;
        }
        self.reuse.taken.fetch_add(1, Ordering::Relaxed);
        Some(head.clone())
    }
}

/// The edges of `view` of `report` that its endpoints imply (what
/// [`super::wiring::endpoint_edges`] finds): with `reuse`, found with the earlier render's
/// endpoint index brought up to date, or a new one, which is kept for [`Reuse::into_index`];
/// without an index when there is no `reuse` or it makes none.
pub(super) fn endpoint_edges<'r>(
    reuse: Option<&Reuse>,
    report: &'r Report,
    view: TopologyKind,
    to_node: impl ToNode<'r>,
) -> EndpointEdges<'r> {
    let Some(reuse) = reuse.filter(|r| r.indexes) else {
        return super::wiring::endpoint_edges(report, view, to_node);
    };
    let kept = reuse.kept_index.lock().expect("kept index lock").take();
    let kept = kept.map(|index| (index, reuse.touched.iter().copied()));
    let (edges, index) = endpoint_index::edges_with(report, view, to_node, kept);
    *reuse.made_index.lock().expect("made index lock") = Some(index);
    edges
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::SummaryHead;

    fn head(id: &str) -> SharedHead {
        SharedHead::new(SummaryHead {
            id: id.into(),
            ..SummaryHead::default()
        })
    }

    #[test]
    fn takes_over_only_unchanged_nodes_reading_nothing_changed() {
        let heads = [head("a"), head("c"), head("d"), head("e")];
        let changed = |id: &str| id == "d" || id == "host-2";
        let reuse = Reuse::new(&heads, &changed);
        let mut cursor = reuse.cursor();
        assert!(cursor.take("a", ["host-1"]).is_some());
        assert!(cursor.take("b", []).is_none(), "no earlier head");
        assert!(
            cursor.take("c", ["host-2"]).is_none(),
            "reads a changed node"
        );
        assert!(cursor.take("d", []).is_none(), "changed itself");
        let kept = cursor.take("e", ["host-1"]).expect("unchanged");
        assert_eq!(kept.id, "e");
        assert!(cursor.take("f", []).is_none(), "past the end");
        assert_eq!(reuse.taken(), 2);
    }

    #[test]
    fn frames_differ_when_templates_do() {
        let mut report = Report::default();
        let before = Frame::of(&report, "processes").expect("processes reuse");
        assert_eq!(Frame::of(&report, "processes"), Some(before.clone()));
        report.topology_mut(TopologyKind::Process).shape = "square".into();
        assert_ne!(Frame::of(&report, "processes"), Some(before));
        assert_eq!(Frame::of(&report, "containers"), None);
    }
}
