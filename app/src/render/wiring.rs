//! Edges between the nodes of a view. A view of a hundred probes' processes has tens of
//! thousands of edges, many joining the same two nodes, and finding a node by its id in the
//! view's ordered map compares long shared prefixes (`host-001.synth.local;`) again and again.
//! So the ends of the edges are numbered through a hash index first, then the edges added by
//! number.

use std::borrow::Cow;
use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt, HashSet};
use stormscope_shared::model::Node;
use stormscope_shared::{Report, TopologyKind};

use super::endpoints::endpoint_targets;
use super::parallel::par_chunks;
use super::summary::{NodeSummary, pseudo_node};

/// Adds each edge whose both ends are nodes of the view, making pseudo nodes on use (`to`
/// only once `from` is a node, as edge by edge).
pub fn add_edges<'a>(
    nodes: &mut BTreeMap<String, NodeSummary>,
    edges: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    let numbers = index(nodes.keys().map(String::as_str));
    let mut numbered = Numbered::new(numbers.len());
    for (from, to) in edges {
        let mut number = |id| match numbers.get(id) {
            Some(number) => Some(*number),
            None => numbered.other(Cow::Borrowed(id)),
        };
        if let Some(from) = number(from) {
            let to = number(to);
            numbered.push((from, to));
        }
    }
    drop(numbers);
    numbered.add_to(nodes);
}

/// Scope's `MapEndpoints` (`render/endpoint.go`) for a view whose nodes are those of a report
/// topology (processes, hosts): the edges its endpoints' connections imply, found apart from
/// the view's nodes so that the two can be made at the same time; [`EndpointEdges::add_to`]
/// adds them as [`add_edges`] would. `to_node` names the view's node of an endpoint its probe
/// placed on a host (see [`endpoint_target`]). Each endpoint's node is numbered once, on all
/// cores, so that each connection takes one lookup.
pub fn endpoint_edges<'r>(
    report: &'r Report,
    view: TopologyKind,
    to_node: impl Fn(&'r Node, &'r str) -> Option<Cow<'r, str>> + Sync,
) -> EndpointEdges<'r> {
    let ids: Vec<&str> = report
        .topology(view)
        .nodes
        .keys()
        .map(String::as_str)
        .collect();
    let numbers = index(ids.iter().copied());
    let (endpoints, targets) = endpoint_targets(report, to_node, |target| {
        numbers.get(target.as_ref()).copied().ok_or(target)
    });
    let mut numbered = Numbered::new(ids.len());
    // Each mapped endpoint's node: a number, or none if the view has no such node.
    let mut ends: HashMap<&str, Option<usize>> = HashMap::with_capacity(endpoints.len());
    for ((id, _), target) in endpoints.iter().zip(targets) {
        if let Some(target) = target {
            ends.insert(id, target.map_or_else(|id| numbered.other(id), Some));
        }
    }
    // Endpoints without connections of their own (their peers name them) need no lookup.
    let connected: Vec<&(&String, &Node)> = endpoints
        .iter()
        .filter(|(_, endpoint)| !endpoint.adjacency.is_empty())
        .collect();
    let ends = &ends;
    let pairs = par_chunks(&connected, |part| {
        let mut pairs = Vec::new();
        for (id, endpoint) in part {
            let Some(Some(from)) = ends.get(id.as_str()) else {
                continue;
            };
            let to = endpoint
                .adjacency
                .iter()
                .filter_map(|to| ends.get(to.as_str()));
            pairs.extend(to.map(|to| (*from, *to)));
        }
        pairs
    });
    for pair in pairs.into_iter().flatten() {
        numbered.push(pair);
    }
    EndpointEdges { ids, numbered }
}

/// The edges [`endpoint_edges`] found, to add to the view.
pub struct EndpointEdges<'r> {
    /// The view's node ids, in order: the nodes the edges are numbered by.
    ids: Vec<&'r str>,
    numbered: Numbered,
}

impl<'r> EndpointEdges<'r> {
    pub(super) fn new(ids: Vec<&'r str>, numbered: Numbered) -> Self {
        EndpointEdges { ids, numbered }
    }

    /// Adds the edges to the view's nodes, made from the topology they were found for.
    pub fn add_to(self, nodes: &mut BTreeMap<String, NodeSummary>) {
        assert!(
            nodes.keys().map(String::as_str).eq(self.ids),
            "edges found for other nodes"
        );
        self.numbered.add_to(nodes);
    }
}

/// A view's node ids to their numbers (their places in id order).
pub(super) fn index<'a>(ids: impl ExactSizeIterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    let mut numbers = HashMap::with_capacity(ids.len());
    numbers.extend(ids.enumerate().map(|(number, id)| (id, number)));
    numbers
}

/// Edges by the numbers of their ends: a view's nodes are numbered in id order, and the
/// pseudo nodes the edges name after them, to be made when an edge uses them.
pub(super) struct Numbered {
    /// How many nodes the view has.
    own: usize,
    pseudo: Vec<String>,
    pseudo_numbers: HashMap<String, usize>,
    /// Each edge once. An edge to an id that is no node (`None`) is kept: its source is
    /// still made, as edge by edge.
    pairs: Vec<(usize, Option<usize>)>,
    seen: HashSet<(usize, Option<usize>)>,
}

impl Numbered {
    pub(super) fn new(own: usize) -> Self {
        Numbered {
            own,
            pseudo: Vec::new(),
            pseudo_numbers: HashMap::new(),
            pairs: Vec::new(),
            seen: HashSet::default(),
        }
    }

    /// The number of `id`, which the view lacks: a pseudo node's, or none.
    pub(super) fn other(&mut self, id: Cow<str>) -> Option<usize> {
        if let Some(number) = self.pseudo_numbers.get(id.as_ref()) {
            return Some(*number);
        }
        pseudo_node(&id)?;
        let number = self.own + self.pseudo.len();
        self.pseudo.push(id.clone().into_owned());
        self.pseudo_numbers.insert(id.into_owned(), number);
        Some(number)
    }

    pub(super) fn push(&mut self, pair: (usize, Option<usize>)) {
        if self.seen.insert(pair) {
            self.pairs.push(pair);
        }
    }

    fn add_to(self, nodes: &mut BTreeMap<String, NodeSummary>) {
        let mut ids: Vec<&str> = Vec::with_capacity(nodes.len());
        let mut slots: Vec<&mut NodeSummary> = Vec::with_capacity(nodes.len());
        for (id, node) in nodes.iter_mut() {
            ids.push(id);
            slots.push(node);
        }
        assert_eq!(slots.len(), self.own, "edges numbered for other nodes");
        ids.extend(self.pseudo.iter().map(String::as_str));
        let mut made: Vec<Option<NodeSummary>> = self.pseudo.iter().map(|_| None).collect();
        for (from, to) in self.pairs {
            let target = to.map(|to| {
                node(&mut slots, &mut made, &self.pseudo, to);
                ids[to].to_owned()
            });
            node(&mut slots, &mut made, &self.pseudo, from)
                .adjacency
                .extend(target);
        }
        drop(slots);
        let made = made.into_iter().flatten();
        nodes.extend(made.map(|node| (node.id.clone(), node)));
    }
}

/// Node `number`: one of the view's (`slots`), or a pseudo node, made on first use.
fn node<'s>(
    slots: &'s mut [&mut NodeSummary],
    made: &'s mut [Option<NodeSummary>],
    pseudo: &[String],
    number: usize,
) -> &'s mut NodeSummary {
    match number.checked_sub(slots.len()) {
        None => &mut *slots[number],
        Some(i) => made[i].get_or_insert_with(|| pseudo_node(&pseudo[i]).expect("a pseudo node")),
    }
}
