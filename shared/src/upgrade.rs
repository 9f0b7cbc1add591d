//! What the original app does to every report before it stores or merges it:
//! `Upgrade` (`report/backcompat.go`), `DropTopologiesOver` and removal of part-merged nodes.

use std::collections::BTreeSet;

use crate::model::{DnsRecord, DnsRecords, Node, Report, TopologyKind, keys};
use crate::time::Timestamp;

impl Report {
    /// Brings reports from older probes up to today's model: pods point at deployments rather
    /// than replica sets, namespaces exist as nodes, and DNS lives in `DNS`. Says whether
    /// anything changed, so callers can keep the original bytes of an unchanged report.
    pub fn upgrade(&mut self) -> bool {
        let pods = self.upgrade_pod_nodes();
        let namespaces = self.upgrade_namespaces();
        let dns = self.upgrade_dns_records();
        pods || namespaces || dns
    }

    fn upgrade_pod_nodes(&mut self) -> bool {
        if self.topology(TopologyKind::ReplicaSet).nodes.is_empty() {
            return false;
        }
        let mut rewrites = Vec::new();
        for (pod_id, pod) in &self.topology(TopologyKind::Pod).nodes {
            let Some(rs_ids) = pod.parents.get(TopologyKind::ReplicaSet.name()) else {
                continue;
            };
            let mut deployments = pod
                .parents
                .get(TopologyKind::Deployment.name())
                .cloned()
                .unwrap_or_default();
            for rs_id in rs_ids {
                let replica_set = self.topology(TopologyKind::ReplicaSet).nodes.get(rs_id);
                if let Some(ids) =
                    replica_set.and_then(|rs| rs.parents.get(TopologyKind::Deployment.name()))
                {
                    deployments.extend(ids.iter().cloned());
                }
            }
            rewrites.push((pod_id.clone(), deployments));
        }
        let changed = !rewrites.is_empty();
        let pods = &mut self.topology_mut(TopologyKind::Pod).nodes;
        for (pod_id, deployments) in rewrites {
            let pod = pods.get_mut(&pod_id).expect("pod id came from this map");
            pod.parents.remove(TopologyKind::ReplicaSet.name());
            if !deployments.is_empty() {
                pod.parents
                    .insert(TopologyKind::Deployment.name().to_owned(), deployments);
            }
        }
        changed
    }

    fn upgrade_namespaces(&mut self) -> bool {
        if !self.topology(TopologyKind::Namespace).nodes.is_empty() {
            return false;
        }
        let sources = [
            TopologyKind::Pod,
            TopologyKind::Service,
            TopologyKind::Deployment,
            TopologyKind::DaemonSet,
            TopologyKind::StatefulSet,
            TopologyKind::CronJob,
        ];
        let mut namespaces = BTreeSet::new();
        for kind in sources {
            for node in self.topology(kind).nodes.values() {
                if node.latest_value(keys::KUBERNETES_STATE) == Some("deleted") {
                    continue;
                }
                if let Some(ns) = node.latest_value(keys::KUBERNETES_NAMESPACE) {
                    namespaces.insert(ns.to_owned());
                }
            }
        }
        // Scope stamps these with the time of the upgrade; the report's own time keeps an
        // upgrade repeatable, and is the same instant for a fresh report.
        let stamp = if self.ts.is_zero() {
            Timestamp::now()
        } else {
            self.ts
        };
        let changed = !namespaces.is_empty();
        let topology = self.topology_mut(TopologyKind::Namespace);
        for ns in namespaces {
            // Scope builds these with `MakeNodeWith`, which leaves `topology` blank: they count
            // as part-merged and are gone before anything renders, so only namespaces a probe
            // reported make the views offer a namespace filter.
            let node = Node::new(format!("{ns};<namespace>"), "").with_latest(
                keys::KUBERNETES_NAME,
                stamp,
                ns,
            );
            topology.add_node(node);
        }
        changed
    }

    fn upgrade_dns_records(&mut self) -> bool {
        let moved = !self.bug_dns.is_empty();
        if moved {
            self.dns = std::mem::take(&mut self.bug_dns);
        }
        if !self.dns.is_empty() {
            return moved;
        }
        let mut dns = DnsRecords::new();
        for (id, endpoint) in &self.topology(TopologyKind::Endpoint).nodes {
            let Some(addr) = endpoint_address(id) else {
                continue;
            };
            let forward = endpoint.sets.get(keys::SNOOPED_DNS_NAMES);
            let reverse = endpoint.sets.get(keys::REVERSE_DNS_NAMES);
            if forward.is_none() && reverse.is_none() {
                continue;
            }
            let record: &mut DnsRecord = dns.entry(addr.to_owned()).or_default();
            record
                .forward
                .extend(forward.into_iter().flatten().cloned());
            record
                .reverse
                .extend(reverse.into_iter().flatten().cloned());
        }
        let built = !dns.is_empty();
        self.dns = dns;
        moved || built
    }

    /// Empties every topology holding more than `limit` nodes and names them: one runaway
    /// topology must not cost the whole report. `limit == 0` disables the check.
    pub fn drop_topologies_over(&mut self, limit: usize) -> Vec<TopologyKind> {
        if limit == 0 {
            return Vec::new();
        }
        let mut dropped = Vec::new();
        for (kind, topology) in self.topologies_mut() {
            if topology.nodes.len() > limit {
                topology.nodes.clear();
                dropped.push(kind);
            }
        }
        dropped
    }

    /// What the original app's collector does to each incoming report: `DropTopologiesOver`
    /// with the limit scaled by the number of hosts (a report of several hosts may hold more),
    /// then `Upgrade`.
    pub fn massage(&mut self, max_topology_nodes: usize) -> Massaged {
        let hosts = self.topology(TopologyKind::Host).nodes.len();
        let limit = if hosts > 1 {
            max_topology_nodes.saturating_mul(hosts)
        } else {
            max_topology_nodes
        };
        let dropped = self.drop_topologies_over(limit);
        let upgraded = self.upgrade();
        Massaged { dropped, upgraded }
    }

    /// Deletes nodes that are still a probe's delta (no `topology`) after merging: without
    /// their full report they are fragments that would render as garbage.
    pub fn remove_part_merged_nodes(&mut self) {
        for (_, topology) in self.topologies_mut() {
            topology.nodes.retain(|_, node| !node.is_part_merged());
        }
    }

    /// Whether some node is still a probe's delta, waiting for its full node.
    pub fn has_part_merged_nodes(&self) -> bool {
        self.topologies()
            .any(|(_, t)| t.nodes.values().any(Node::is_part_merged))
    }
}

/// What [`Report::massage`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Massaged {
    /// Topologies emptied for holding too many nodes.
    pub dropped: Vec<TopologyKind>,
    /// Whether `Upgrade` changed the report.
    pub upgraded: bool,
}

impl Massaged {
    pub fn changed(&self) -> bool {
        self.upgraded || !self.dropped.is_empty()
    }
}

/// The address of an endpoint id `<scope>;<addr>;<port>`.
pub fn endpoint_address(id: &str) -> Option<&str> {
    let mut parts = id.splitn(3, ';');
    let (_scope, addr, _port) = (parts.next()?, parts.next()?, parts.next()?);
    Some(addr)
}
