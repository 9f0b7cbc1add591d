//! Scope's `ConnectionJoin` (`render/container.go`): connections attributed to containers and
//! pods by their IP addresses, which brings in the connections no process was found for
//! (short-lived ones, or hosts whose probe cannot see processes). Each endpoint whose address
//! (or address and port) belongs to exactly one node lands on that node; the Internet's
//! endpoints land on the Internet nodes; connections between landed endpoints become edges.

use std::borrow::Cow;

use foldhash::HashMap;
use stormscope_shared::model::{Node, keys};
use stormscope_shared::{Report, TopologyKind};

use super::endpoints::{LocalNetworks, endpoint_target};

/// The edges (from, to) the endpoints of `report` give the nodes `addresses` names: `nodes`
/// are the joined topology's nodes, `addresses` the endpoint ids (`scope;addr;` or
/// `scope;addr;port`) each can be reached at.
pub(super) fn join_edges<'r>(
    report: &'r Report,
    nodes: impl Iterator<Item = (&'r String, &'r Node)>,
    addresses: impl Fn(&Node) -> Vec<String>,
) -> Vec<(String, String)> {
    // An address two nodes share tells neither apart: blanked out, as Scope does.
    let mut owner: HashMap<String, Option<&str>> = HashMap::default();
    for (id, node) in nodes {
        for address in addresses(node) {
            owner
                .entry(address)
                .and_modify(|o| *o = None)
                .or_insert(Some(id.as_str()));
        }
    }
    let local = LocalNetworks::of(report);
    // Endpoints no probe placed on a host are the Internet's when their address is not local;
    // every other endpoint is looked up by address, then by address and port.
    let lands_on = |id: &'r str, endpoint: &'r Node| -> Option<Cow<'r, str>> {
        if endpoint.latest_value(keys::HOST_NODE_ID).is_none()
            && let Some(internet) = endpoint_target(&local, id, endpoint, |_, _| None)
        {
            return Some(internet);
        }
        let mut parts = id.splitn(3, ';');
        let (scope, addr, port) = (parts.next()?, parts.next()?, parts.next()?);
        let found = owner
            .get(&format!("{scope};{addr};"))
            .or_else(|| owner.get(&format!("{scope};{addr};{port}")))?;
        found.map(|o| Cow::Owned(o.to_owned()))
    };
    let endpoints = &report.topology(TopologyKind::Endpoint).nodes;
    let mut edges = Vec::new();
    for (id, endpoint) in endpoints {
        if endpoint.adjacency.is_empty() {
            continue;
        }
        let Some(from) = lands_on(id, endpoint) else {
            continue;
        };
        for to in &endpoint.adjacency {
            let Some((to_id, to_node)) = endpoints.get_key_value(to) else {
                continue;
            };
            if let Some(to) = lands_on(to_id, to_node) {
                edges.push((from.to_string(), to.into_owned()));
            }
        }
    }
    edges
}

/// Scope's `MapContainer2IP`: a container's own addresses (loopback ones left out, as every
/// network namespace has them) and the host ports mapped to it; none for a container that
/// makes no connections or shares its host's network.
pub(super) fn container_addresses(container: &Node) -> Vec<String> {
    if container
        .latest_value("does_not_make_connections")
        .is_some()
        || container
            .latest_value("docker_is_in_host_network")
            .is_some()
    {
        return Vec::new();
    }
    let mut addresses = Vec::new();
    let scoped = container.sets.get("docker_container_ips_with_scopes");
    for address in scoped.into_iter().flatten() {
        let Some((scope, addr)) = address.split_once(';') else {
            continue;
        };
        if addr
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
        {
            continue;
        }
        addresses.push(format!("{scope};{addr};"));
    }
    let ports = container.sets.get("docker_container_ports");
    addresses.extend(ports.into_iter().flatten().filter_map(|p| port_mapping(p)));
    addresses
}

/// `a.b.c.d:host->container/tcp` as the endpoint id of the host side, `;a.b.c.d;host`.
fn port_mapping(mapping: &str) -> Option<String> {
    let (host, rest) = mapping.split_once("->")?;
    rest.ends_with("/tcp").then_some(())?;
    let (ip, port) = host.rsplit_once(':')?;
    let ip = ip
        .rsplit(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()?;
    ip.parse::<std::net::Ipv4Addr>().ok()?;
    (!port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())).then_some(())?;
    Some(format!(";{ip};{port}"))
}

/// Scope's `MapPod2IP`: a pod's IP, unless the pod shares its host's network.
pub(super) fn pod_addresses(pod: &Node) -> Vec<String> {
    if pod.latest_value("kubernetes_is_in_host_network").is_some() {
        return Vec::new();
    }
    pod.latest_value("kubernetes_ip")
        .map(|ip| vec![format!(";{ip};")])
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_mappings_name_the_host_side() {
        assert_eq!(
            port_mapping("10.0.0.1:8080->80/tcp").as_deref(),
            Some(";10.0.0.1;8080")
        );
        assert_eq!(port_mapping("80/tcp"), None);
        assert_eq!(port_mapping("10.0.0.1:53->53/udp"), None);
    }

    #[test]
    fn shared_addresses_attribute_nothing() {
        let mut report = Report::default();
        let ip = |n: Node| n.with_set("docker_container_ips_with_scopes", &[";10.0.0.5"]);
        for id in ["a;<container>", "b;<container>"] {
            report
                .topology_mut(TopologyKind::Container)
                .add_node(ip(Node::new(id, "container")));
        }
        let endpoint = Node::new(";10.0.0.5;80", "endpoint")
            .with_latest(keys::HOST_NODE_ID, Default::default(), "h;<host>")
            .with_adjacent(";10.0.0.9;80");
        report
            .topology_mut(TopologyKind::Endpoint)
            .add_node(endpoint);
        let containers = &report.topology(TopologyKind::Container).nodes;
        assert!(join_edges(&report, containers.iter(), container_addresses).is_empty());
    }
}
