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

/// Scope's `MapEndpoints` (`render/endpoint.go`) for a view: the edges its nodes' endpoints'
/// connections imply, added as [`add_edges`] would add them. `to_node` names the view's node of
/// an endpoint its probe placed on a host; see [`endpoint_target`]. Each endpoint's node is
/// numbered once, on all cores, so the connections need one lookup each.
pub fn connect_endpoints<'r>(
    report: &'r Report,
    nodes: &mut BTreeMap<String, NodeSummary>,
    to_node: impl Fn(&'r Node, &'r str) -> Option<Cow<'r, str>> + Sync,
) {
    let local = LocalNetworks::of(report);
    let endpoints: Vec<(&String, &Node)> = report
        .topology(TopologyKind::Endpoint)
        .nodes
        .iter()
        .collect();
    let mut wiring = Wiring::new(nodes);
    let known = &wiring.numbers;
    let ends = par_map(&endpoints, |(id, endpoint)| {
        let target = endpoint_target(&local, id, endpoint, &to_node)?;
        Some(match known.get(target.as_ref()) {
            Some(number) => End::Node(*number),
            None => End::Other(target),
        })
    });
    let mut by_endpoint = HashMap::with_capacity(endpoints.len());
    by_endpoint.extend(
        endpoints
            .iter()
            .zip(ends)
            .filter_map(|((id, _), end)| Some((id.as_str(), end?))),
    );
    // Endpoints without connections of their own (their peers name them) need no lookup.
    let connected: Vec<&(&String, &Node)> = endpoints
        .iter()
        .filter(|(_, endpoint)| !endpoint.adjacency.is_empty())
        .collect();
    let by_endpoint = &by_endpoint;
    let edges = par_chunks(&connected, |part| {
        let mut edges = Vec::new();
        for (id, endpoint) in part {
            let Some(from) = by_endpoint.get(id.as_str()) else {
                continue;
            };
            for to in &endpoint.adjacency {
                edges.extend(by_endpoint.get(to.as_str()).map(|to| (from, to)));
            }
        }
        edges
    });
    for (from, to) in edges.iter().flatten() {
        if let Some(from) = wiring.number_end(from)
            && let Some(to) = wiring.number_end(to)
        {
            wiring.connect(from, to);
        }
    }
    let created = wiring.finish();
    nodes.extend(created.into_iter().map(|node| (node.id.clone(), node)));
}

/// Where an endpoint lands: a node of the view, by number, or an id the view does not have
/// (yet: a pseudo node is made when an edge first uses it).
enum End<'r> {
    Node(usize),
    Other(Cow<'r, str>),
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

    fn number_end(&mut self, end: &'a End) -> Option<usize> {
        match end {
            End::Node(number) => Some(*number),
            End::Other(id) => self.number(id),
        }
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
