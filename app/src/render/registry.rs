//! The topology registry (`app/api_topologies.go`, scope-compat.md §4.3): the views
//! `GET /api/topology` lists, with their option groups and, for a report, their stats.

use serde::Serialize;
use stormscope_shared::{Report, TopologyKind};

use super::options::{Choice, Group, Options, Predicate, Rendered, render_with};

/// One entry of `GET /api/topology` (Scope's `APITopologyDesc`).
#[derive(Clone, Debug, Serialize)]
pub struct TopologyDesc {
    pub name: &'static str,
    pub rank: i64,
    pub hide_if_empty: bool,
    /// `null` for views without options, as Scope's nil slice encodes.
    pub options: Option<Vec<Group>>,
    pub url: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sub_topologies: Vec<TopologyDesc>,
    pub stats: TopologyStats,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TopologyStats {
    pub node_count: usize,
    pub nonpseudo_node_count: usize,
    pub edge_count: usize,
    pub filtered_nodes: usize,
}

impl TopologyStats {
    pub fn of(rendered: &Rendered) -> Self {
        TopologyStats {
            node_count: rendered.nodes.len(),
            nonpseudo_node_count: rendered.nodes.values().filter(|n| !n.pseudo).count(),
            edge_count: rendered.nodes.values().map(|n| n.adjacency.len()).sum(),
            filtered_nodes: rendered.filtered,
        }
    }
}

struct Entry {
    id: &'static str,
    parent: Option<&'static str>,
    name: &'static str,
    rank: i64,
    hide_if_empty: bool,
}

/// In the order Scope registers them, which is the order of each view's sub-topologies.
const ENTRIES: [Entry; 13] = [
    entry("processes", None, "Processes", 1, true),
    entry("processes-by-name", Some("processes"), "by name", 0, true),
    entry("containers", None, "Containers", 2, false),
    entry(
        "containers-by-hostname",
        Some("containers"),
        "by DNS name",
        0,
        false,
    ),
    entry(
        "containers-by-image",
        Some("containers"),
        "by image",
        0,
        false,
    ),
    entry("pods", None, "Pods", 3, true),
    entry("kube-controllers", Some("pods"), "Controllers", 0, true),
    entry("services", Some("pods"), "Services", 0, true),
    entry("ecs-tasks", None, "Tasks", 3, true),
    entry("ecs-services", Some("ecs-tasks"), "Services", 0, true),
    entry("swarm-services", None, "Services", 3, true),
    entry("hosts", None, "Hosts", 4, false),
    entry("weave", Some("hosts"), "Weave Net", 0, false),
];

const fn entry(
    id: &'static str,
    parent: Option<&'static str>,
    name: &'static str,
    rank: i64,
    hide_if_empty: bool,
) -> Entry {
    Entry {
        id,
        parent,
        name,
        rank,
        hide_if_empty,
    }
}

/// The registry for a report, each view's stats rendered with the request's options. Top-level
/// views sorted by name, as Scope lists them.
pub fn topologies(report: &Report, options: &Options) -> Vec<TopologyDesc> {
    topologies_rendered(report, &|view| {
        render_with(report, view, options).expect("registered views render")
    })
}

/// As [`topologies`], each view rendered by `render` (which applies the request's options).
pub fn topologies_rendered(
    report: &Report,
    render: &dyn Fn(&str) -> Rendered,
) -> Vec<TopologyDesc> {
    let describe = |e: &Entry, extra: &[Group]| {
        let mut groups = static_groups(e.id);
        groups.extend(extra.iter().cloned());
        let rendered = render(e.id);
        TopologyDesc {
            name: e.name,
            rank: e.rank,
            hide_if_empty: e.hide_if_empty,
            options: (!groups.is_empty()).then_some(groups),
            url: format!("/api/topology/{}", e.id),
            sub_topologies: Vec::new(),
            stats: TopologyStats::of(&rendered),
        }
    };
    let mut top: Vec<TopologyDesc> = ENTRIES
        .iter()
        .filter(|e| e.parent.is_none())
        .map(|e| {
            // The namespace groups a view gets are merged into its sub-topologies too, though
            // rendering a sub-topology applies only its own (see `applied_groups`).
            let extra = namespace_groups(report, e.id);
            let mut desc = describe(e, &extra);
            desc.sub_topologies = ENTRIES
                .iter()
                .filter(|s| s.parent == Some(e.id))
                .map(|s| describe(s, &extra))
                .collect();
            desc
        })
        .collect();
    top.sort_by_key(|d| d.name);
    top
}

/// The option groups that filter view `id` when it is rendered.
pub(super) fn applied_groups(report: &Report, id: &str) -> Vec<Group> {
    let mut groups = static_groups(id);
    groups.extend(namespace_groups(report, id));
    groups
}

fn static_groups(id: &str) -> Vec<Group> {
    match id {
        "processes" | "processes-by-name" => vec![group(
            "unconnected",
            "hide",
            vec![
                Choice::new("show", "Show unconnected", Predicate::All, false),
                Choice::new("hide", "Hide unconnected", Predicate::Connected, false),
            ],
        )],
        "containers" | "containers-by-hostname" | "containers-by-image" => vec![
            group(
                "system",
                "application",
                vec![
                    Choice::new("all", "All", Predicate::All, false),
                    Choice::new("system", "System containers", Predicate::System, false),
                    Choice::new(
                        "application",
                        "Application containers",
                        Predicate::Application,
                        false,
                    ),
                ],
            ),
            group(
                "stopped",
                "running",
                vec![
                    Choice::new("stopped", "Stopped containers", Predicate::Stopped, false),
                    Choice::new("running", "Running containers", Predicate::Running, false),
                    Choice::new("both", "Both", Predicate::All, false),
                ],
            ),
            show_hide("pseudo", "uncontained", Predicate::NotPseudo, true),
        ],
        "pods" => vec![
            show_hide("snapshot", "snapshots", Predicate::NonSnapshot, false),
            show_hide("storage", "storage", Predicate::PodComponent, false),
            unmanaged(),
        ],
        "kube-controllers" | "services" | "ecs-tasks" | "ecs-services" | "swarm-services" => {
            vec![unmanaged()]
        }
        _ => Vec::new(),
    }
}

fn group(id: &'static str, default: &'static str, choices: Vec<Choice>) -> Group {
    Group {
        id,
        default,
        choices,
        select_type: "",
        none_label: "",
    }
}

/// `show`/`hide` of some kind of node, hidden by default.
fn show_hide(id: &'static str, what: &str, hide: Predicate, filter_pseudo: bool) -> Group {
    group(
        id,
        "hide",
        vec![
            Choice::new("show", &format!("Show {what}"), Predicate::All, false),
            Choice::new("hide", &format!("Hide {what}"), hide, filter_pseudo),
        ],
    )
}

fn unmanaged() -> Group {
    show_hide("pseudo", "unmanaged", Predicate::NotPseudo, true)
}

/// The namespace groups Scope appends to a view: Kubernetes namespaces (from the report's
/// Namespace nodes) on containers, pods, services and controllers; Swarm stacks on containers
/// and Swarm services. None when the report has no such namespaces.
fn namespace_groups(report: &Report, id: &str) -> Vec<Group> {
    let mut groups = Vec::new();
    if matches!(id, "containers" | "pods" | "services" | "kube-controllers") {
        groups.extend(union_group(
            report,
            TopologyKind::Namespace,
            "kubernetes_name",
            "All Namespaces",
        ));
    }
    if matches!(id, "containers" | "swarm-services") {
        groups.extend(union_group(
            report,
            TopologyKind::SwarmService,
            "stack_namespace",
            "All Stacks",
        ));
    }
    groups
}

fn union_group(
    report: &Report,
    kind: TopologyKind,
    key: &str,
    none_label: &'static str,
) -> Option<Group> {
    let names: std::collections::BTreeSet<&str> = report
        .topology(kind)
        .nodes
        .values()
        .filter_map(|n| n.latest_value(key))
        .collect();
    (!names.is_empty()).then(|| Group {
        id: "namespace",
        default: "",
        choices: names
            .into_iter()
            .map(|ns| Choice::new(ns, ns, Predicate::Namespace(ns.to_owned()), false))
            .collect(),
        select_type: "union",
        none_label,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_view_renders() {
        for e in &ENTRIES {
            assert!(super::super::VIEWS.contains(&e.id), "{}", e.id);
        }
        assert_eq!(ENTRIES.len(), super::super::VIEWS.len());
    }

    #[test]
    fn stacks_and_the_swarm_default_namespace() {
        let mut report = Report::default();
        report.topology_mut(TopologyKind::SwarmService).add_node(
            stormscope_shared::model::Node::new("s1;<swarm_service>", "swarm_service").with_latest(
                "stack_namespace",
                Default::default(),
                "shop",
            ),
        );
        let groups = applied_groups(&report, "containers");
        assert_eq!(
            groups.iter().map(|g| g.id).collect::<Vec<_>>(),
            ["system", "stopped", "pseudo", "namespace"]
        );
        assert_eq!(groups[3].none_label, "All Stacks");
        assert!(applied_groups(&report, "containers-by-image").len() == 3);
    }
}
