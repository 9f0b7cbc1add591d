//! A view's endpoints numbered once and kept between renders of one live state. Finding a
//! view's edges from its endpoints ([`super::wiring::endpoint_edges`]) hashes every endpoint's
//! id, the node it lands on and each connection's far end: at a hundred probes that is about
//! a hundred thousand long strings, most of a `hosts` render. Between two versions of a live
//! state only the endpoints of the reports merged in between change, and within a state merges
//! never remove an endpoint or a connection (a rebuild starts a new state). So the index keeps
//! each endpoint's number, the view node it lands on and the endpoints it connects to, and a
//! later render renumbers only the endpoints merged since.

use std::borrow::Cow;

use foldhash::{HashMap, HashMapExt};
use stormscope_shared::model::Node;
use stormscope_shared::{Report, TopologyKind};

use super::endpoints::{LocalNetworks, endpoint_target, endpoint_targets};
use super::wiring::{EndpointEdges, Numbered, index};

/// What an endpoint lands on when it lands on no node, or is only named by a connection.
const NOWHERE: u32 = u32::MAX;

/// The endpoints of one version of a report, numbered, for the edges of one view.
pub struct EndpointIndex {
    view: TopologyKind,
    /// The networks the hosts called local: an endpoint outside them lands on the Internet.
    local: LocalNetworks,
    /// Every endpoint's id, and every id a connection names, to its number.
    numbers: HashMap<String, u32>,
    /// By endpoint number: the target (an index into `targets`) it lands on, or [`NOWHERE`].
    lands_on: Vec<u32>,
    /// By endpoint number: the endpoints its connections go to.
    connects_to: Vec<Box<[u32]>>,
    /// The ids of the nodes endpoints land on (the view's, or pseudo nodes), each once.
    targets: Vec<String>,
    target_numbers: HashMap<String, u32>,
}

/// Says where an endpoint the probe placed on a host (given its `host_node_id`) lands.
pub trait ToNode<'r>: Fn(&'r Node, &'r str) -> Option<Cow<'r, str>> + Sync {}
impl<'r, F: Fn(&'r Node, &'r str) -> Option<Cow<'r, str>> + Sync> ToNode<'r> for F {}

impl EndpointIndex {
    /// Every endpoint of `report`, landing on `view`'s nodes as `to_node` says.
    pub fn build<'r>(report: &'r Report, view: TopologyKind, to_node: impl ToNode<'r>) -> Self {
        let endpoints = &report.topology(TopologyKind::Endpoint).nodes;
        let mut index = EndpointIndex {
            view,
            local: LocalNetworks::of(report),
            numbers: HashMap::with_capacity(endpoints.len()),
            lands_on: Vec::with_capacity(endpoints.len()),
            connects_to: Vec::with_capacity(endpoints.len()),
            targets: Vec::new(),
            target_numbers: HashMap::new(),
        };
        for id in endpoints.keys() {
            index.number(id);
        }
        let (listed, targets) = endpoint_targets(report, to_node, |target| target);
        let mut last = None;
        for (number, ((_, node), target)) in listed.into_iter().zip(targets).enumerate() {
            index.lands_on[number] = match target {
                Some(target) => index.target(target, &mut last),
                None => NOWHERE,
            };
            index.connects_to[number] = index.connections(node);
        }
        index
    }

    /// Brings the index up to a later version of the same live state, in which at most the
    /// nodes `touched` changed (ids of any topology). Rebuilt if the local networks changed:
    /// they decide where every remote endpoint lands.
    pub fn update<'r, 't>(
        &mut self,
        report: &'r Report,
        touched: impl IntoIterator<Item = &'t str>,
        to_node: impl ToNode<'r>,
    ) {
        let local = LocalNetworks::of(report);
        if local != self.local {
            *self = EndpointIndex::build(report, self.view, to_node);
            return;
        }
        let endpoints = &report.topology(TopologyKind::Endpoint).nodes;
        let mut last = None;
        for id in touched {
            let Some((id, node)) = endpoints.get_key_value(id) else {
                continue;
            };
            let number = self.number(id) as usize;
            self.lands_on[number] = match endpoint_target(&self.local, id, node, &to_node) {
                Some(target) => self.target(target, &mut last),
                None => NOWHERE,
            };
            self.connects_to[number] = self.connections(node);
        }
    }

    /// The edges between the nodes of the view of `report` (the version last built or
    /// updated for) that the endpoints' connections imply, as [`super::wiring::endpoint_edges`]
    /// finds them.
    pub fn edges<'r>(&self, report: &'r Report) -> EndpointEdges<'r> {
        let ids: Vec<&str> = report
            .topology(self.view)
            .nodes
            .keys()
            .map(String::as_str)
            .collect();
        let numbers = index(ids.iter().copied());
        let mut numbered = Numbered::new(ids.len());
        // Each target's node: a number, or none if the view has no such node.
        let ends: Vec<Option<usize>> = self
            .targets
            .iter()
            .map(|target| match numbers.get(target.as_str()) {
                Some(number) => Some(*number),
                None => numbered.other(Cow::Borrowed(target)),
            })
            .collect();
        let end = |endpoint: u32| match self.lands_on[endpoint as usize] {
            NOWHERE => None,
            target => Some(ends[target as usize]),
        };
        for (from, to) in self.lands_on.iter().zip(&self.connects_to) {
            if to.is_empty() || *from == NOWHERE {
                continue;
            }
            let Some(from) = ends[*from as usize] else {
                continue;
            };
            for to in to.iter().filter_map(|to| end(*to)) {
                numbered.push((from, to));
            }
        }
        EndpointEdges::new(ids, numbered)
    }

    /// The bytes the index holds, about.
    pub fn bytes(&self) -> usize {
        let map = |map: &HashMap<String, u32>| {
            map.capacity() * (size_of::<(String, u32)>() + 1)
                + map.keys().map(String::capacity).sum::<usize>()
        };
        map(&self.numbers)
            + map(&self.target_numbers)
            + self.lands_on.capacity() * size_of::<u32>()
            + self.connects_to.capacity() * size_of::<Box<[u32]>>()
            + self.connects_to.iter().map(|c| c.len() * 4).sum::<usize>()
            + self.targets.capacity() * size_of::<String>()
            + self.targets.iter().map(String::capacity).sum::<usize>()
    }

    /// The number of endpoint `id`, given one if it has none.
    fn number(&mut self, id: &str) -> u32 {
        if let Some(number) = self.numbers.get(id) {
            return *number;
        }
        let number = u32::try_from(self.lands_on.len()).expect("fewer than 4 billion endpoints");
        self.numbers.insert(id.to_owned(), number);
        self.lands_on.push(NOWHERE);
        self.connects_to.push(Box::default());
        number
    }

    fn connections(&mut self, node: &Node) -> Box<[u32]> {
        node.adjacency.iter().map(|to| self.number(to)).collect()
    }

    /// The number of target `id`. Endpoints in id order land on the same node in runs (a
    /// host's addresses sort together), so the `last` one is compared before hashing.
    fn target(&mut self, id: Cow<str>, last: &mut Option<u32>) -> u32 {
        if let Some(last) = *last
            && self.targets[last as usize] == id.as_ref()
        {
            return last;
        }
        let number = match self.target_numbers.get(id.as_ref()) {
            Some(number) => *number,
            None => {
                let number = u32::try_from(self.targets.len()).expect("fewer than 4 billion");
                self.targets.push(id.clone().into_owned());
                self.target_numbers.insert(id.into_owned(), number);
                number
            }
        };
        *last = Some(number);
        number
    }
}

impl std::fmt::Debug for EndpointIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointIndex")
            .field("view", &self.view)
            .field("endpoints", &self.lands_on.len())
            .field("targets", &self.targets.len())
            .finish()
    }
}

/// The edges of `view` of `report` that its endpoints imply, found with the index `kept` (made
/// for an earlier version of the same live state, the nodes `touched` changed since) brought
/// up to date, or with a new one; and the index, to keep for the next version.
pub fn edges_with<'r, 't>(
    report: &'r Report,
    view: TopologyKind,
    to_node: impl ToNode<'r>,
    kept: Option<(EndpointIndex, impl IntoIterator<Item = &'t str>)>,
) -> (EndpointEdges<'r>, EndpointIndex) {
    let index = match kept {
        Some((mut index, touched)) if index.view == view => {
            index.update(report, touched, to_node);
            index
        }
        _ => EndpointIndex::build(report, view, to_node),
    };
    (index.edges(report), index)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use stormscope_shared::Timestamp;
    use stormscope_shared::model::keys;

    use super::*;
    use crate::render::processes::process_of_endpoint;
    use crate::render::summary::{NodeSummary, SummaryHead};
    use crate::render::wiring::endpoint_edges;

    fn ts() -> Timestamp {
        Timestamp::from_unix_millis(1_764_162_000_000)
    }

    fn host(name: &str, network: &str) -> (TopologyKind, Node) {
        let node =
            Node::new(format!("{name};<host>"), "host").with_set("local_networks", &[network]);
        (TopologyKind::Host, node)
    }

    fn process(id: &str) -> (TopologyKind, Node) {
        (TopologyKind::Process, Node::new(id, "process"))
    }

    /// An endpoint its probe placed on `host` (and process `pid`), or a remote one.
    fn endpoint(id: &str, on: Option<(&str, &str)>, to: &[&str]) -> (TopologyKind, Node) {
        let mut node = Node::new(id, "endpoint");
        if let Some((host, pid)) = on {
            node = node
                .with_latest(keys::HOST_NODE_ID, ts(), format!("{host};<host>"))
                .with_latest(keys::PID, ts(), pid);
        }
        for to in to {
            node = node.with_adjacent(*to);
        }
        (TopologyKind::Endpoint, node)
    }

    fn report(nodes: Vec<(TopologyKind, Node)>) -> Report {
        let mut report = Report::default();
        for (kind, node) in nodes {
            report.topology_mut(kind).add_node(node);
        }
        report
    }

    fn view_nodes(report: &Report, view: TopologyKind) -> BTreeMap<String, NodeSummary> {
        let ids = report.topology(view).nodes.keys();
        ids.map(|id| {
            let head = SummaryHead {
                id: id.clone(),
                ..SummaryHead::default()
            };
            (id.clone(), NodeSummary::from(head))
        })
        .collect()
    }

    /// Merges each step into the report in turn; after each, the edges found with the index
    /// brought up to date equal those found from scratch, for hosts and processes.
    #[test]
    fn an_index_brought_up_to_date_finds_the_edges_found_from_scratch() {
        let a = ";10.0.1.1;80";
        let b = ";10.0.2.1;5000";
        let (dns, client) = (";8.8.8.8;53", ";10.0.1.1;6000");
        let steps = [
            // `b` is only named by a connection; `dns` is remote and connects to nothing.
            vec![
                host("h1", "10.0.1.0/24"),
                host("h2", "10.0.2.0/24"),
                process("h1;1"),
                process("h2;2"),
                endpoint(a, Some(("h1", "1")), &[b]),
                endpoint(client, Some(("h1", "1")), &[dns]),
                endpoint(dns, None, &[]),
            ],
            // `b` arrives: the connection named before now lands.
            vec![endpoint(b, Some(("h2", "2")), &[a])],
            // `dns` connects in, so it lands on the inbound Internet; `client` is untouched.
            vec![endpoint(dns, None, &[client])],
            // A connection to a process that is no node yet, then that process.
            vec![
                endpoint(a, Some(("h1", "1")), &[";10.0.2.1;7000"]),
                endpoint(";10.0.2.1;7000", Some(("h2", "9")), &[]),
            ],
            vec![process("h2;9")],
            // A host whose network holds `dns`: it is local now and lands nowhere.
            vec![host("h3", "8.8.8.0/24")],
            // An endpoint moved to another host.
            vec![endpoint(client, Some(("h2", "2")), &[])],
        ];
        type ToNodeFn = for<'r> fn(&'r Node, &'r str) -> Option<Cow<'r, str>>;
        fn to_host<'r>(_: &'r Node, host: &'r str) -> Option<Cow<'r, str>> {
            Some(Cow::Borrowed(host))
        }
        let views: [(TopologyKind, ToNodeFn); 2] = [
            (TopologyKind::Host, to_host),
            (TopologyKind::Process, process_of_endpoint),
        ];
        for (view, to_node) in views {
            let mut merged = Report::default();
            let mut index: Option<EndpointIndex> = None;
            for (n, step) in steps.iter().enumerate() {
                let incoming = report(step.clone());
                merged.merge(&incoming);
                let touched = incoming.topologies().flat_map(|(_, t)| t.nodes.keys());
                let kept = index.take().map(|i| (i, touched.map(String::as_str)));
                let (edges, updated) = edges_with(&merged, view, to_node, kept);
                index = Some(updated);
                let mut ours = view_nodes(&merged, view);
                edges.add_to(&mut ours);
                let mut fresh = view_nodes(&merged, view);
                endpoint_edges(&merged, view, to_node).add_to(&mut fresh);
                assert_eq!(ours, fresh, "{view:?} after step {n}");
            }
        }
    }

    #[test]
    fn an_index_names_its_size() {
        let merged = report(vec![
            host("h1", "10.0.1.0/24"),
            endpoint(";10.0.1.1;80", Some(("h1", "1")), &[";10.0.1.1;81"]),
        ]);
        let index = EndpointIndex::build(&merged, TopologyKind::Host, |_, host| {
            Some(Cow::Borrowed(host))
        });
        assert!(index.bytes() > 2 * ";10.0.1.1;80".len());
        let debug = format!("{index:?}");
        assert!(
            debug.contains("endpoints: 2") && debug.contains("targets: 1"),
            "{debug}"
        );
    }
}
