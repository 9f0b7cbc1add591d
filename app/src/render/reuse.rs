//! Taking over summaries from an earlier render of the same view. Between two versions of a
//! live window only the nodes of the reports merged in between change: at a hundred probes, a
//! new report changes one host's processes of a hundred hosts'. A render given the heads of the
//! earlier render (in id order) and a way to tell whether a node changed since keeps the heads
//! of the nodes whose summary reads nothing that changed, and summarises only the rest. Edges
//! are always found anew: an edge joins nodes of two hosts, either of which may have changed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use stormscope_shared::model::Topology;
use stormscope_shared::{Report, TopologyKind};

use super::summary::SharedHead;

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
/// nodes changed since it.
pub struct Reuse<'a> {
    heads: &'a [SharedHead],
    changed: &'a (dyn Fn(&str) -> bool + Sync),
    taken: AtomicUsize,
}

impl<'a> Reuse<'a> {
    pub fn new(heads: &'a [SharedHead], changed: &'a (dyn Fn(&str) -> bool + Sync)) -> Self {
        Reuse {
            heads,
            changed,
            taken: AtomicUsize::new(0),
        }
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
