//! The Inbound and Outbound tables of a node's details (`render/detailed/connections.go`):
//! the connections between this node's endpoints and those of the nodes it has edges with,
//! counted per remote node and destination port.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use stormscope_shared::Report;
use stormscope_shared::TopologyKind;
use stormscope_shared::model::{Node, keys};

use super::children::Column;
use super::processes::is_internet;
use super::summary::{MetadataRow, NodeSummary};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConnectionsTable {
    pub id: String,
    #[serde(rename = "topologyId")]
    pub topology_id: String,
    pub label: String,
    pub columns: Vec<Column>,
    pub connections: Vec<Connection>,
}

/// One row: a remote node and port, and how many connections use them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Connection {
    /// Unique within its table: remote node, Internet addresses, port.
    pub id: String,
    #[serde(rename = "nodeId")]
    pub node_id: String,
    pub label: String,
    #[serde(rename = "labelMinor", skip_serializing_if = "String::is_empty")]
    pub label_minor: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<MetadataRow>,
}

/// What makes a row: connections to the Internet are broken out by address.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    remote_node: String,
    remote_addr: String,
    local_addr: String,
    port: String,
}

/// The endpoints of a report, grouped by the view node that owns them.
pub(super) struct EndpointsByNode<'r> {
    report: &'r Report,
    owned: BTreeMap<String, BTreeSet<&'r str>>,
}

impl<'r> EndpointsByNode<'r> {
    /// `owners`: endpoint id → the view nodes it belongs to (a process's endpoints belong to
    /// every service its pod is in).
    pub(super) fn new(report: &'r Report, owners: &BTreeMap<String, Vec<String>>) -> Self {
        let mut owned: BTreeMap<String, BTreeSet<&'r str>> = BTreeMap::new();
        for id in report.topology(TopologyKind::Endpoint).nodes.keys() {
            for owner in owners.get(id).into_iter().flatten() {
                owned.entry(owner.clone()).or_default().insert(id.as_str());
            }
        }
        EndpointsByNode { report, owned }
    }

    fn of(&self, node: &str) -> impl Iterator<Item = (&'r str, &'r Node)> + '_ {
        self.owned
            .get(node)
            .into_iter()
            .flatten()
            .filter_map(|id| Some((*id, self.endpoint(id)?)))
    }

    fn contains(&self, node: &str, endpoint: &str) -> bool {
        self.owned.get(node).is_some_and(|s| s.contains(endpoint))
    }

    fn endpoint(&self, id: &str) -> Option<&'r Node> {
        self.report.topology(TopologyKind::Endpoint).nodes.get(id)
    }

    /// NAT makes copies of an endpoint (`copy_of`); a connection is counted against the
    /// original, so its port does not depend on which copy was seen.
    fn canonical(&self, id: &'r str) -> &'r str {
        self.endpoint(id)
            .and_then(|e| e.latest.get("copy_of"))
            .map_or(id, |original| original.value.as_str())
    }
}

struct Counter<'a> {
    report: &'a Report,
    counted: BTreeSet<&'a str>,
    counts: BTreeMap<RowKey, usize>,
}

/// An endpoint id's `(address, port)`.
fn address_and_port(id: &str) -> Option<(&str, &str)> {
    let mut parts = id.splitn(3, keys::SCOPE_DELIM);
    let (_scope, addr, port) = (parts.next()?, parts.next()?, parts.next()?);
    Some((addr, port))
}

impl<'a> Counter<'a> {
    /// Counts one connection between `local` (an endpoint of `node`) and `remote` (an endpoint
    /// of `remote_node`); `outgoing` says which side opened it.
    fn add(
        &mut self,
        outgoing: bool,
        node: &str,
        remote_node: &str,
        local: (&'a str, &'a Node),
        remote: (&'a str, &'a Node),
    ) {
        let (source, destination) = if outgoing {
            (local, remote)
        } else {
            (remote, local)
        };
        // A connection is known by its source endpoint before NAT, so each is counted once.
        let connection = source
            .1
            .latest
            .get("copy_of")
            .map_or(source.0, |original| original.value.as_str());
        if self.counted.contains(connection) {
            return;
        }
        let Some((_, port)) = address_and_port(destination.0) else {
            return;
        };
        let (Some(remote_addr), Some(local_addr)) = (
            self.internet_address(remote_node, remote.0),
            self.internet_address(node, local.0),
        ) else {
            return;
        };
        self.counted.insert(connection);
        *self
            .counts
            .entry(RowKey {
                remote_node: remote_node.to_owned(),
                remote_addr,
                local_addr,
                port: port.to_owned(),
            })
            .or_default() += 1;
    }

    /// The Internet is one node for many addresses, so its rows name the address (and the
    /// first DNS name seen for it); other nodes need no address.
    fn internet_address(&self, node: &str, endpoint: &str) -> Option<String> {
        if !is_internet(node) {
            return Some(String::new());
        }
        let (addr, _) = address_and_port(endpoint)?;
        let record = self.report.dns.get(addr);
        let name = record.and_then(|r| r.forward.iter().chain(&r.reverse).next());
        Some(match name {
            Some(name) => format!("{name} ({addr})"),
            None => addr.to_owned(),
        })
    }

    fn rows(
        self,
        nodes: &BTreeMap<String, NodeSummary>,
        local_is_internet: bool,
    ) -> Vec<Connection> {
        let mut rows: Vec<Connection> = self
            .counts
            .into_iter()
            .map(|(key, count)| {
                let remote = nodes.get(&key.remote_node);
                let (label, label_minor) = if key.remote_addr.is_empty() {
                    remote.map_or_else(Default::default, |r| {
                        (r.label.clone(), r.label_minor.clone())
                    })
                } else {
                    (key.remote_addr.clone(), String::new())
                };
                let mut metadata = Vec::new();
                if local_is_internet {
                    metadata.push(cell("remote", &key.local_addr));
                }
                metadata.push(cell("port", &key.port));
                metadata.push(cell("count", &count.to_string()));
                Connection {
                    id: format!(
                        "{}-{}-{}-{}",
                        key.remote_node, key.remote_addr, key.local_addr, key.port
                    ),
                    node_id: key.remote_node,
                    label,
                    label_minor,
                    metadata,
                }
            })
            .collect();
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        rows
    }
}

fn cell(id: &str, value: &str) -> MetadataRow {
    MetadataRow {
        id: id.into(),
        label: "".into(),
        value: value.to_owned(),
        priority: 0.0,
        data_type: "".into(),
        truncate: 0,
    }
}

/// The Inbound and Outbound tables of `node` in `view`, whose rendered nodes are `nodes`.
pub(super) fn connections<'r>(
    report: &'r Report,
    view: &str,
    node: &NodeSummary,
    nodes: &BTreeMap<String, NodeSummary>,
    endpoints: &EndpointsByNode<'r>,
) -> Vec<ConnectionsTable> {
    let counter = || Counter {
        report,
        counted: BTreeSet::new(),
        counts: BTreeMap::new(),
    };

    let mut incoming = counter();
    for (remote_id, _) in nodes.iter().filter(|(_, n)| n.adjacency.contains(&node.id)) {
        for remote in endpoints.of(remote_id) {
            for target in &remote.1.adjacency {
                if !endpoints.contains(&node.id, target) {
                    continue;
                }
                let local = endpoints.canonical(target);
                if let Some(local_node) = endpoints.endpoint(local) {
                    incoming.add(false, &node.id, remote_id, (local, local_node), remote);
                }
            }
        }
    }

    let mut outgoing = counter();
    for remote_id in node.adjacency.iter().filter(|id| nodes.contains_key(*id)) {
        for local in endpoints.of(&node.id) {
            for target in &local.1.adjacency {
                if !endpoints.contains(remote_id, target) {
                    continue;
                }
                let remote = endpoints.canonical(target);
                if let Some(remote_node) = endpoints.endpoint(remote) {
                    outgoing.add(true, &node.id, remote_id, local, (remote, remote_node));
                }
            }
        }
    }

    let internet = is_internet(&node.id);
    let columns = || {
        let mut columns = Vec::new();
        if internet {
            columns.push(Column::new("remote", "Remote", ""));
        }
        columns.push(Column::new("port", "Port", "number"));
        columns.push(Column {
            default_sort: true,
            ..Column::new("count", "Count", "number")
        });
        columns
    };
    vec![
        ConnectionsTable {
            id: "incoming-connections".into(),
            topology_id: view.to_owned(),
            label: "Inbound".into(),
            columns: columns(),
            connections: incoming.rows(nodes, internet),
        },
        ConnectionsTable {
            id: "outgoing-connections".into(),
            topology_id: view.to_owned(),
            label: "Outbound".into(),
            columns: columns(),
            connections: outgoing.rows(nodes, internet),
        },
    ]
}

#[cfg(test)]
mod tests {
    use stormscope_shared::model::{DnsRecord, Node};
    use stormscope_shared::time::Timestamp;
    use stormscope_shared::{Report, TopologyKind};

    use crate::render::details;

    fn endpoint(id: &str, pid: Option<&str>, to: &str) -> Node {
        let mut node = Node::new(id, "endpoint");
        if let Some(pid) = pid {
            node = node
                .with_latest("host_node_id", Timestamp::default(), "h;<host>")
                .with_latest("pid", Timestamp::default(), pid);
        }
        if !to.is_empty() {
            node = node.with_adjacent(to);
        }
        node
    }

    /// A server (pid 1) on port 80, called twice by a client (pid 2), once through NAT (a
    /// copy of its endpoint under another address), and once from the Internet.
    fn report() -> Report {
        let mut report = Report::default();
        report
            .topology_mut(TopologyKind::Host)
            .add_node(Node::new("h;<host>", "host").with_set("local_networks", &["10.0.0.0/8"]));
        for (pid, name) in [("1", "srv"), ("2", "cli")] {
            report.topology_mut(TopologyKind::Process).add_node(
                Node::new(format!("h;{pid}"), "process")
                    .with_latest("pid", Timestamp::default(), pid)
                    .with_latest("name", Timestamp::default(), name)
                    .with_latest("host_node_id", Timestamp::default(), "h;<host>"),
            );
        }
        let server = ";10.0.0.1;80";
        let endpoints = report.topology_mut(TopologyKind::Endpoint);
        endpoints.add_node(endpoint(server, Some("1"), ""));
        endpoints.add_node(endpoint(";10.0.0.1;5000", Some("2"), server));
        endpoints.add_node(endpoint(";10.0.0.1;5001", Some("2"), server));
        endpoints.add_node(endpoint(";10.0.0.5;5001", Some("2"), server).with_latest(
            "copy_of",
            Timestamp::default(),
            ";10.0.0.1;5001",
        ));
        endpoints.add_node(endpoint(";8.8.8.8;40000", None, server));
        report.dns.insert(
            "8.8.8.8".into(),
            DnsRecord {
                forward: ["dns.google".to_owned()].into(),
                reverse: ["zzz.example".to_owned()].into(),
            },
        );
        report
    }

    fn table(node: &serde_json::Value, id: &str) -> serde_json::Value {
        node["connections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap()
            .clone()
    }

    #[test]
    fn nat_copies_count_once_and_the_internet_is_broken_out_by_address() {
        let server = serde_json::to_value(details(&report(), "processes", "h;1").unwrap()).unwrap();
        assert_eq!(
            table(&server, "incoming-connections")["connections"],
            serde_json::json!([
                {"id": "h;2---80", "nodeId": "h;2", "label": "cli", "labelMinor": "h (2)",
                 "metadata": [{"id": "port", "label": "", "value": "80"},
                              {"id": "count", "label": "", "value": "2"}]},
                {"id": "in-theinternet-dns.google (8.8.8.8)--80", "nodeId": "in-theinternet",
                 "label": "dns.google (8.8.8.8)",
                 "metadata": [{"id": "port", "label": "", "value": "80"},
                              {"id": "count", "label": "", "value": "1"}]},
            ])
        );
        assert_eq!(
            table(&server, "outgoing-connections")["connections"],
            serde_json::json!([])
        );
    }

    #[test]
    fn the_internets_own_tables_name_the_outside_address_it_stands_for() {
        let internet =
            serde_json::to_value(details(&report(), "processes", "in-theinternet").unwrap())
                .unwrap();
        let outgoing = table(&internet, "outgoing-connections");
        assert_eq!(outgoing["columns"][0]["id"], "remote");
        assert_eq!(
            outgoing["connections"],
            serde_json::json!([
                {"id": "h;1--dns.google (8.8.8.8)-80", "nodeId": "h;1", "label": "srv",
                 "labelMinor": "h (1)",
                 "metadata": [{"id": "remote", "label": "", "value": "dns.google (8.8.8.8)"},
                              {"id": "port", "label": "", "value": "80"},
                              {"id": "count", "label": "", "value": "1"}]},
            ])
        );
    }
}
