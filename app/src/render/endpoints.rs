//! Scope's `MapEndpoints` (`render/endpoint.go`): each endpoint becomes a node of the view it
//! renders (a process, a host), or one of the Internet pseudo nodes when its address is outside
//! every local network; connections between endpoints become edges between those nodes.

use std::borrow::Cow;
use std::net::Ipv4Addr;

use foldhash::HashMap;

use stormscope_shared::model::{Node, keys};
use stormscope_shared::upgrade::endpoint_address;
use stormscope_shared::{Report, TopologyKind};

use super::parallel::par_map;

pub const IN_INTERNET: &str = "in-theinternet";
pub const OUT_INTERNET: &str = "out-theinternet";

/// The IPv4 networks the hosts of a report call local (their `local_networks` sets).
#[derive(Debug, PartialEq)]
pub struct LocalNetworks(Vec<(u32, u32)>);

impl LocalNetworks {
    pub fn of(report: &Report) -> Self {
        let cidrs = report
            .topology(TopologyKind::Host)
            .nodes
            .values()
            .flat_map(|h| h.sets.get("local_networks").into_iter().flatten());
        LocalNetworks(cidrs.filter_map(|cidr| parse_cidr(cidr)).collect())
    }

    pub fn contains(&self, addr: &str) -> bool {
        let Ok(ip) = addr.parse::<Ipv4Addr>() else {
            return false;
        };
        let ip = u32::from(ip);
        ip >> 24 == 127 || self.0.iter().any(|(net, mask)| ip & mask == net & mask)
    }
}

fn parse_cidr(cidr: &str) -> Option<(u32, u32)> {
    let (addr, bits) = cidr.split_once('/')?;
    let bits: u32 = bits.parse().ok().filter(|b| *b <= 32)?;
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    Some((u32::from(addr.parse::<Ipv4Addr>().ok()?), mask))
}

/// Endpoint id to the node of the view it lands on, borrowed where the report names that node
/// (a host, the Internet). Hashed, with foldhash rather than SipHash, which cost more than the
/// rest of a lookup: foldhash is still seeded per process, so a probe cannot choose ids that
/// collide.
pub type EndpointMapping<'a> = HashMap<&'a str, Cow<'a, str>>;

/// Where each endpoint lands (see [`endpoint_target`]). Endpoints mapped to nothing are left
/// out.
pub fn map_endpoints<'r>(
    report: &'r Report,
    to_node: impl Fn(&'r Node, &'r str) -> Option<Cow<'r, str>> + Sync,
) -> EndpointMapping<'r> {
    let (endpoints, targets) = endpoint_targets(report, to_node, |target| target);
    endpoints
        .iter()
        .zip(targets)
        .filter_map(|((id, _), target)| Some((id.as_str(), target?)))
        .collect()
}

/// Every endpoint of the report, and what `then` makes of the view node it lands on (see
/// [`endpoint_target`]), found on all cores: a hundred probes report tens of thousands.
pub fn endpoint_targets<'r, R: Send>(
    report: &'r Report,
    to_node: impl Fn(&'r Node, &'r str) -> Option<Cow<'r, str>> + Sync,
    then: impl Fn(Cow<'r, str>) -> R + Sync,
) -> (Vec<(&'r String, &'r Node)>, Vec<Option<R>>) {
    let local = LocalNetworks::of(report);
    let endpoints: Vec<(&String, &Node)> = report
        .topology(TopologyKind::Endpoint)
        .nodes
        .iter()
        .collect();
    let targets = par_map(&endpoints, |(id, endpoint)| {
        endpoint_target(&local, id, endpoint, &to_node).map(&then)
    });
    (endpoints, targets)
}

/// The view node endpoint `id` lands on: `to_node` names it for an endpoint the probe placed on
/// a host (given its `host_node_id`); endpoints it places nowhere are remote, and become the
/// Internet if their address is not local.
pub fn endpoint_target<'r>(
    local: &LocalNetworks,
    id: &'r str,
    endpoint: &'r Node,
    to_node: impl Fn(&'r Node, &'r str) -> Option<Cow<'r, str>>,
) -> Option<Cow<'r, str>> {
    if let Some(host) = endpoint.latest_value(keys::HOST_NODE_ID) {
        return to_node(endpoint, host);
    }
    match endpoint_address(id) {
        Some(addr) if !local.contains(addr) => {
            Some(Cow::Borrowed(if endpoint.adjacency.is_empty() {
                OUT_INTERNET
            } else {
                IN_INTERNET
            }))
        }
        _ => None,
    }
}

/// The host part of a host node id (`web-1.demo.local;<host>` names `web-1.demo.local`).
pub fn host_of(host_node_id: &str) -> &str {
    host_node_id.strip_suffix(";<host>").unwrap_or(host_node_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_networks_include_loopback_and_host_cidrs() {
        let mut report = Report::default();
        report
            .topology_mut(TopologyKind::Host)
            .add_node(Node::new("h;<host>", "host").with_set("local_networks", &["10.231.0.1/24"]));
        let local = LocalNetworks::of(&report);
        assert!(local.contains("10.231.0.77") && local.contains("127.0.0.1"));
        assert!(!local.contains("8.8.8.8") && !local.contains("10.232.0.1"));
    }
}
