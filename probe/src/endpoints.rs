//! The Endpoint topology: TCP sockets from `/proc/<pid>/net/tcp{,6}`, one table per network
//! namespace, tied to processes through the socket inodes in `/proc/<pid>/fd`.
//!
//! Node ids and keys follow the real probe's /proc scanner (`probe/endpoint`): an endpoint is
//! `<scope>;<address>;<port>` where the scope is empty, except for loopback addresses, which can
//! clash between hosts and between namespaces and so carry `<host>-<netns inode>`. A connection
//! becomes an edge from the connecting side to the accepting side; the local end of it carries
//! `pid` and `host_node_id`, the remote end nothing (it belongs to another host, or to a process
//! we may not see).
//!
//! Two deliberate differences from the real scanner:
//! * the direction of a connection comes from the namespace's listening sockets (a socket
//!   whose local address is listened on was accepted), where the real probe, without conntrack,
//!   guesses "the lower port is the server";
//! * listening sockets whose owner we know are reported too, as nodes without adjacency.
//!   Nothing renders them as edges; they only say which process serves a port.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use procfs::net::{TcpNetEntry, TcpState};
use procfs::process::Process;
use stormscope_shared::model::Node;
use stormscope_shared::time::Timestamp;

use crate::processes::ProcessInfo;

/// What the endpoint ids and keys need to know about this host.
pub(crate) struct EndpointContext<'a> {
    pub host_id: &'a str,
    pub host_node_id: &'a str,
    pub now: Timestamp,
}

/// The Endpoint topology's nodes for the processes of one walk.
pub(crate) fn nodes(
    processes: &[ProcessInfo],
    ctx: &EndpointContext<'_>,
) -> BTreeMap<String, Node> {
    let owners: HashMap<u64, i32> = processes
        .iter()
        .flat_map(|p| p.socket_inodes.iter().map(move |inode| (*inode, p.pid)))
        .collect();
    let mut out = BTreeMap::new();
    let mut seen = HashSet::new();
    for (ns, table) in tables(processes) {
        let listening: HashSet<(IpAddr, u16)> = table
            .iter()
            .filter(|e| e.state == TcpState::Listen)
            .map(|e| (canonical(e.local_address.ip()), e.local_address.port()))
            .collect();
        let is_listened = |addr: &SocketAddr| {
            let ip = canonical(addr.ip());
            listening.contains(&(ip, addr.port()))
                || listening
                    .iter()
                    .any(|(l, port)| *port == addr.port() && l.is_unspecified())
        };
        for entry in &table {
            // One socket shows in one table only; the check guards against a namespace read
            // twice through two of its processes.
            if entry.inode != 0 && !seen.insert(entry.inode) {
                continue;
            }
            let pid = owners.get(&entry.inode).copied();
            match entry.state {
                TcpState::Listen => {
                    if let Some(pid) = pid {
                        let node = endpoint(ctx, ns, entry.local_address, Some(pid));
                        upsert(&mut out, node);
                    }
                }
                TcpState::Established
                | TcpState::FinWait1
                | TcpState::FinWait2
                | TcpState::CloseWait => {
                    let local = endpoint(ctx, ns, entry.local_address, pid);
                    let remote = endpoint(ctx, ns, entry.remote_address, None);
                    let (from, to) = if is_listened(&entry.local_address) {
                        (remote, local)
                    } else {
                        (local, remote)
                    };
                    let to_id = to.id.clone();
                    upsert(&mut out, from.with_adjacent(to_id));
                    upsert(&mut out, to);
                }
                _ => {}
            }
        }
    }
    out
}

/// The TCP tables of every network namespace we can see, keyed by namespace inode (`None` when
/// even our own cannot be told). Ours is read from /proc/net; every other through the first of
/// its processes whose tables can be read.
fn tables(processes: &[ProcessInfo]) -> Vec<(Option<u64>, Vec<TcpNetEntry>)> {
    let own_ns = std::fs::metadata("/proc/self/ns/net")
        .ok()
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    let mut out = Vec::new();
    let own: Vec<TcpNetEntry> = [procfs::net::tcp(), procfs::net::tcp6()]
        .into_iter()
        .flat_map(Result::unwrap_or_default)
        .collect();
    out.push((own_ns, own));

    let mut members: BTreeMap<u64, Vec<i32>> = BTreeMap::new();
    for p in processes {
        if let Some(ns) = p.net_ns.filter(|ns| Some(*ns) != own_ns) {
            members.entry(ns).or_default().push(p.pid);
        }
    }
    for (ns, pids) in members {
        let table = pids.iter().find_map(|pid| {
            let process = Process::new(*pid).ok()?;
            let mut entries = process.tcp().ok()?;
            entries.extend(process.tcp6().ok()?);
            Some(entries)
        });
        if let Some(table) = table {
            out.push((Some(ns), table));
        }
    }
    out
}

/// An endpoint node; `pid` adds the keys that tie it to a process on this host.
fn endpoint(
    ctx: &EndpointContext<'_>,
    ns: Option<u64>,
    addr: SocketAddr,
    pid: Option<i32>,
) -> Node {
    let id = endpoint_id(ctx.host_id, ns, canonical(addr.ip()), addr.port());
    let mut node = Node::new(id, "endpoint");
    if let Some(pid) = pid {
        node = node
            .with_latest("pid", ctx.now, pid.to_string())
            .with_latest("host_node_id", ctx.now, ctx.host_node_id);
    }
    node
}

/// Scope's `MakeEndpointNodeID`: loopback addresses are scoped by host and namespace, every
/// other address is left unscoped so that both hosts of a connection name it alike.
pub(crate) fn endpoint_id(host_id: &str, ns: Option<u64>, ip: IpAddr, port: u16) -> String {
    let scope = match (ip.is_loopback(), ns) {
        (false, _) => String::new(),
        (true, Some(ns)) => format!("{host_id}-{ns}"),
        (true, None) => host_id.to_owned(),
    };
    format!("{scope};{ip};{port}")
}

/// IPv4 connections on dual-stack sockets appear in tcp6 as `::ffff:a.b.c.d`; Go prints
/// those as plain IPv4, and so must the ids, or the two ends of one connection would differ.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn upsert(nodes: &mut BTreeMap<String, Node>, node: Node) {
    match nodes.get_mut(&node.id) {
        Some(existing) => existing.merge(&node),
        None => {
            nodes.insert(node.id.clone(), node);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_scope_only_loopback_addresses() {
        let v4 = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            endpoint_id("web-1.demo.local", Some(4026532246), v4("10.231.0.1"), 8080),
            ";10.231.0.1;8080"
        );
        assert_eq!(
            endpoint_id("db-1.demo.local", Some(4026532246), v4("127.0.0.1"), 6379),
            "db-1.demo.local-4026532246;127.0.0.1;6379"
        );
        assert_eq!(
            endpoint_id("db-1.demo.local", None, v4("127.0.0.1"), 6379),
            "db-1.demo.local;127.0.0.1;6379"
        );
        assert_eq!(endpoint_id("h", Some(1), v4("::1"), 22), "h-1;::1;22");
        assert_eq!(
            canonical(v4("::ffff:10.0.0.7")),
            v4("10.0.0.7"),
            "v4-mapped addresses read as IPv4"
        );
    }
}
