//! Edges between the nodes of a view. A view of a hundred probes' processes has tens of
//! thousands of edges, many joining the same two nodes, and finding a node by its id in the
//! view's ordered map compares long shared prefixes (`host-001.synth.local;`) again and again.
//! So a view's nodes are numbered once, found by hashing, and edges are told apart by their
//! numbers.

use std::borrow::Cow;
use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt, HashSet};
use stormscope_shared::model::Node;
use stormscope_shared::{Report, TopologyKind};

use super::endpoints::{LocalNetworks, endpoint_target};
use super::parallel::{par_chunks, par_map};
use super::summary::{NodeSummary, pseudo_node};

/// Adds each edge whose both ends are nodes of the view, creating pseudo nodes on use (`to`
/// only once `from` is a node, as edge by edge).
pub fn add_edges<'a>(
    nodes: &mut BTreeMap<String, NodeSummary>,
    edges: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    let mut wiring = Wiring::new(nodes);
    for (from, to) in edges {
        if let Some(from) = wiring.number(from)
            && let Some(to) = wiring.number(to)
        {
            wiring.connect(from, to);
        }
    }
    let created = wiring.finish();
    nodes.extend(created.into_iter().map(|node| (node.id.clone(), node)));
}

/// Scope's `MapEndpoints` (`render/endpoint.go`) for a view whose nodes are those of a report
/// topology (processes, hosts): the edges its endpoints' connections imply, found before the
/// view's nodes are made, so that the two can be made together ([`EndpointEdges::add_to`]
/// then adds them as [`add_edges`] would). `to_node` names the view's node of an endpoint its
/// probe placed on a host; see [`endpoint_target`]. Each endpoint's node is numbered once, on
/// all cores, so that each connection takes one lookup.
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
    let mut numbers = HashMap::with_capacity(ids.len());
    numbers.extend(ids.iter().enumerate().map(|(number, id)| (*id, number)));
    let local = LocalNetworks::of(report);
    let endpoints: Vec<(&String, &Node)> = report
        .topology(TopologyKind::Endpoint)
        .nodes
        .iter()
        .collect();
    let targets = par_map(&endpoints, |(id, endpoint)| {
        let target = endpoint_target(&local, id, endpoint, &to_node)?;
        Some(numbers.get(target.as_ref()).copied().ok_or(target))
    });
    // Ids the view lacks are numbered after its nodes if they name pseudo nodes, made when an
    // edge first uses them; other ids are no node (`None`).
    let mut pseudo: HashMap<String, usize> = HashMap::new();
    let mut number_of = |target: Result<usize, Cow<str>>| match target {
        Ok(number) => Some(number),
        Err(id) => {
            if let Some(number) = pseudo.get(id.as_ref()) {
                return Some(*number);
            }
            pseudo_node(&id)?;
            let number = ids.len() + pseudo.len();
            pseudo.insert(id.into_owned(), number);
            Some(number)
        }
    };
    let mut ends: HashMap<&str, Option<usize>> = HashMap::with_capacity(endpoints.len());
    for ((id, _), target) in endpoints.iter().zip(targets) {
        if let Some(target) = target {
            ends.insert(id.as_str(), number_of(target));
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
            // An endpoint mapped to no node of the view has no edges; one mapped to a node has
            // an edge to each connected endpoint that is mapped, to a node or not (`None`).
            let Some(Some(from)) = ends.get(id.as_str()) else {
                continue;
            };
            pairs.extend(
                endpoint
                    .adjacency
                    .iter()
                    .filter_map(|to| Some((*from, *ends.get(to.as_str())?))),
            );
        }
        pairs
    });
    let mut seen = HashSet::default();
    let mut pseudo: Vec<(String, usize)> = pseudo.into_iter().collect();
    pseudo.sort_by_key(|(_, number)| *number);
    EndpointEdges {
        ids,
        pseudo: pseudo.into_iter().map(|(id, _)| id).collect(),
        pairs: pairs
            .into_iter()
            .flatten()
            .filter(|pair| seen.insert(*pair))
            .collect(),
    }
}

/// The edges of a view's nodes, by number ([`endpoint_edges`]).
pub struct EndpointEdges<'r> {
    /// The view's node ids, in order.
    ids: Vec<&'r str>,
    /// Ids of pseudo nodes the edges may make, numbered after the view's nodes.
    pseudo: Vec<String>,
    /// Each edge once; `None` for one to an id that is no node, which still makes its source.
    pairs: Vec<(usize, Option<usize>)>,
}

impl EndpointEdges<'_> {
    /// Adds the edges to the view's nodes, made from the topology the edges were found for.
    pub fn add_to(self, nodes: &mut BTreeMap<String, NodeSummary>) {
        assert_eq!(nodes.len(), self.ids.len(), "edges found for other nodes");
        let mut slots: Vec<&mut NodeSummary> = Vec::with_capacity(nodes.len());
        for ((id, node), expected) in nodes.iter_mut().zip(&self.ids) {
            assert_eq!(id, expected, "edges found for other nodes");
            slots.push(node);
        }
        let own = slots.len();
        let mut created: Vec<Option<NodeSummary>> = self.pseudo.iter().map(|_| None).collect();
        let id_of = |number: usize| match number.checked_sub(own) {
            None => self.ids[number],
            Some(pseudo) => self.pseudo[pseudo].as_str(),
        };
        for (from, to) in self.pairs {
            let target = to.map(|to| {
                numbered(&mut slots, &mut created, &self.pseudo, to);
                id_of(to).to_owned()
            });
            let from = numbered(&mut slots, &mut created, &self.pseudo, from);
            from.adjacency.extend(target);
        }
        drop(slots);
        nodes.extend(
            created
                .into_iter()
                .flatten()
                .map(|node| (node.id.clone(), node)),
        );
    }
}

/// The node numbered `number`: one of the view's (`slots`), or a pseudo node, made on first use.
fn numbered<'s>(
    slots: &'s mut [&mut NodeSummary],
    created: &'s mut [Option<NodeSummary>],
    pseudo: &[String],
    number: usize,
) -> &'s mut NodeSummary {
    match number.checked_sub(slots.len()) {
        None => &mut *slots[number],
        Some(i) => created[i]
            .get_or_insert_with(|| pseudo_node(&pseudo[i]).expect("numbered as a pseudo node")),
    }
}

/// A view's nodes by number: its own in id order, then the pseudo nodes edges create.
struct Wiring<'a> {
    ids: Vec<&'a str>,
    slots: Vec<&'a mut NodeSummary>,
    numbers: HashMap<&'a str, usize>,
    created: Vec<NodeSummary>,
    /// Edges added, by the numbers of their ends.
    seen: HashSet<(usize, usize)>,
}

impl<'a> Wiring<'a> {
    fn new(nodes: &'a mut BTreeMap<String, NodeSummary>) -> Self {
        let mut wiring = Wiring {
            ids: Vec::with_capacity(nodes.len()),
            slots: Vec::with_capacity(nodes.len()),
            numbers: HashMap::with_capacity(nodes.len()),
            created: Vec::new(),
            seen: HashSet::default(),
        };
        for (id, node) in nodes.iter_mut() {
            wiring.numbers.insert(id, wiring.ids.len());
            wiring.ids.push(id);
            wiring.slots.push(node);
        }
        wiring
    }

    /// The number of node `id`, made a pseudo node if it names one the view lacks.
    fn number(&mut self, id: &'a str) -> Option<usize> {
        if let Some(number) = self.numbers.get(id) {
            return Some(*number);
        }
        self.created.push(pseudo_node(id)?);
        let number = self.ids.len();
        self.numbers.insert(id, number);
        self.ids.push(id);
        Some(number)
    }

    fn connect(&mut self, from: usize, to: usize) {
        if !self.seen.insert((from, to)) {
            return;
        }
        let to = self.ids[to].to_owned();
        match from.checked_sub(self.slots.len()) {
            None => self.slots[from].adjacency.insert(to),
            Some(created) => self.created[created].adjacency.insert(to),
        };
    }

    /// The pseudo nodes the edges made, for the view to take in.
    fn finish(self) -> Vec<NodeSummary> {
        self.created
    }
}
