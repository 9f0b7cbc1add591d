//! Topology options (scope-compat.md §4.3): a request's option groups
//! (`?system=all&stopped=both&pseudo=show`, `namespace=a,b`) become Scope's filters, applied to
//! a rendered view before `FilterUnconnectedPseudo`, counting every node they drop.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::HashSet;
use serde::Serialize;
use stormscope_shared::model::Node;
use stormscope_shared::{Report, TopologyKind};

use super::endpoints::{IN_INTERNET, OUT_INTERNET};
use super::registry;
use super::reuse::{Reuse, takes_over};
use super::summary::{NodeSummary, SharedHead};

/// A request's query parameters, as Scope's option groups read them: the first value of each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    values: BTreeMap<String, String>,
}

impl Options {
    /// Parses `a=1&b=x%2Cy`; a repeated parameter keeps its first value, as Scope does.
    pub fn from_query(query: &str) -> Self {
        let mut values = BTreeMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            values.entry(decode(key)).or_insert_with(|| decode(value));
        }
        Options { values }
    }

    /// Scope applies option defaults only when a request carries some parameter (any: even
    /// `timestamp` counts); a bare request gets the view with nothing filtered.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&str> {
        self.values.get(id).map(String::as_str)
    }
}

/// What of `options` changes a render of `views` of `report`: each option group's chosen
/// values, in a fixed order, and whether the request had any parameter at all. Two requests
/// with the same key render the same, so it names a render in the shared cache: unknown
/// parameters, values naming no choice, and parameter order cannot multiply renders.
pub fn render_key(report: &Report, views: &[&str], options: &Options) -> String {
    if options.is_empty() {
        return String::new();
    }
    let mut key = String::from("?");
    for view in views {
        for group in registry::applied_groups(report, view) {
            let Some(chosen) = group.chosen(options.get(group.id)) else {
                continue;
            };
            let mut values: Vec<&str> = chosen.iter().map(|c| c.value.as_str()).collect();
            values.sort_unstable();
            values.dedup();
            key.push_str(&format!("{view}.{}={}&", group.id, values.join(",")));
        }
    }
    key
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte. A malformed
/// escape is kept as written rather than failing the request.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| s.get(i + 1..i + 3))
            .flatten()
            .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 2;
            }
            (b'+', None) => out.push(b' '),
            (b, None) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A view rendered with a request's options.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rendered {
    pub nodes: BTreeMap<String, NodeSummary>,
    /// Nodes Scope counts as filtered out (its `Filtered`): by the options, by
    /// `FilterUnconnectedPseudo`, and by the filters inside the containers and pods renderers.
    pub filtered: usize,
}

/// Renders view `id` as Scope serves it for a request with `options`; `None` for an unknown
/// view.
pub fn render_with(report: &Report, view: &str, options: &Options) -> Option<Rendered> {
    render_reusing(report, view, options, None).map(|(rendered, _)| rendered)
}

/// As [`render_with`], taking over heads from an earlier render where `reuse` allows; also
/// the heads of the view before any filter, in id order, for a later render to take over.
pub fn render_reusing(
    report: &Report,
    view: &str,
    options: &Options,
    reuse: Option<&Reuse>,
) -> Option<(Rendered, Vec<SharedHead>)> {
    let nodes = super::unfiltered(report, view, reuse)?;
    let heads = if takes_over(view) {
        nodes.values().map(|n| n.head().clone()).collect()
    } else {
        Vec::new()
    };
    Some((filtered(report, view, nodes, options), heads))
}

/// Scope's transformer for a request (`RendererForTopology`): the filters of the options it
/// chose, then `FilterUnconnectedPseudo`, applied to view `view` as its renderer made it.
pub(super) fn filtered(
    report: &Report,
    view: &str,
    mut nodes: BTreeMap<String, NodeSummary>,
    options: &Options,
) -> Rendered {
    let mut filtered = dropped_inside(report, view);
    if !options.is_empty() {
        let groups = registry::applied_groups(report, view);
        let chosen: Vec<Vec<&Choice>> = groups
            .iter()
            .filter_map(|g| g.chosen(options.get(g.id)))
            .collect();
        if !chosen.is_empty() {
            let connected = connected(&nodes);
            let images = images_by_group(report, view);
            let dropped: Vec<String> = nodes
                .iter()
                .filter(|(id, node)| {
                    let subject = Subject::of(report, view, id, node, &connected, &images);
                    !chosen
                        .iter()
                        .all(|group| group.iter().any(|c| c.accepts(&subject)))
                })
                .map(|(id, _)| id.clone())
                .collect();
            filtered += dropped.len();
            for id in &dropped {
                nodes.remove(id);
            }
            without_edges_to_others(&mut nodes);
        }
    }
    let before = nodes.len();
    let nodes = super::filter_unconnected_pseudo(nodes);
    filtered += before - nodes.len();
    Rendered { nodes, filtered }
}

/// Nodes Scope's own renderers filter and count before any option applies: deleted containers
/// (`ContainerRenderer`) and deleted pods (`PodRenderer`). Views grouping these drop the count,
/// as Scope's maps do.
fn dropped_inside(report: &Report, view: &str) -> usize {
    let (kind, key) = match view {
        "containers" => (TopologyKind::Container, "docker_container_state"),
        "pods" if super::kubernetes::renders(report) => (
            TopologyKind::Pod,
            stormscope_shared::model::keys::KUBERNETES_STATE,
        ),
        _ => return 0,
    };
    report
        .topology(kind)
        .nodes
        .values()
        .filter(|n| n.latest_value(key) == Some("deleted"))
        .count()
}

/// Ids of the nodes with an edge to or from another node (`ColorConnected`: edges to oneself
/// do not count). Hashed: a large view has tens of thousands of edges.
pub(super) fn connected(nodes: &BTreeMap<String, NodeSummary>) -> HashSet<&str> {
    let mut ids = HashSet::default();
    for (id, node) in nodes {
        for to in node.adjacency.iter().filter(|to| *to != id) {
            ids.insert(id.as_str());
            ids.insert(to.as_str());
        }
    }
    ids
}

/// Drops the edges to ids that are no node of the view (any more). Each target is looked up
/// by hash: a large view has tens of thousands of edges.
fn without_edges_to_others(nodes: &mut BTreeMap<String, NodeSummary>) {
    let mut entries: Vec<(&String, &mut NodeSummary)> = nodes.iter_mut().collect();
    let ids: HashSet<&str> = entries.iter().map(|&(id, _)| id.as_str()).collect();
    for (_, node) in &mut entries {
        node.adjacency.retain(|to| ids.contains(to.as_str()));
    }
}

/// Scope's `FilterUnconnectedPseudo`, without the count: the Internet's inbound-to-outbound edge
/// goes first (an artefact of NAT and VIPs), then every pseudo node left unconnected.
pub(super) fn without_unconnected_pseudo(
    mut nodes: BTreeMap<String, NodeSummary>,
) -> BTreeMap<String, NodeSummary> {
    if let Some(inbound) = nodes.get_mut(IN_INTERNET) {
        inbound.adjacency.remove(OUT_INTERNET);
    }
    // Only pseudo nodes can go, and a view has few: collecting every connected id instead
    // (as `connected` does) would copy the id of every node of a large view.
    let pseudo: BTreeSet<&str> = nodes
        .iter()
        .filter(|(_, n)| n.pseudo)
        .map(|(id, _)| id.as_str())
        .collect();
    if pseudo.is_empty() {
        return nodes;
    }
    let mut connected: BTreeSet<&str> = BTreeSet::new();
    for (id, node) in &nodes {
        for to in node.adjacency.iter().filter(|to| *to != id) {
            if node.pseudo {
                connected.insert(id);
            }
            if let Some(to) = pseudo.get(to.as_str()) {
                connected.insert(to);
            }
        }
    }
    let unconnected: Vec<String> = pseudo
        .difference(&connected)
        .map(|id| (*id).to_owned())
        .collect();
    for id in unconnected {
        nodes.remove(&id);
    }
    nodes
}

/// An option group as `app/api_topologies.go` declares it, serialised as the UI reads it.
#[derive(Clone, Debug, Serialize)]
pub struct Group {
    pub id: &'static str,
    #[serde(rename = "defaultValue")]
    pub default: &'static str,
    #[serde(rename = "options", skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<Choice>,
    /// `"union"`: any number of comma-separated values, nodes matching any of them kept.
    #[serde(rename = "selectType", skip_serializing_if = "str::is_empty")]
    pub select_type: &'static str,
    #[serde(rename = "noneLabel", skip_serializing_if = "str::is_empty")]
    pub none_label: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
    #[serde(skip)]
    pub predicate: Predicate,
    /// Whether the predicate judges pseudo nodes too; otherwise they always pass.
    #[serde(skip)]
    pub filter_pseudo: bool,
}

impl Choice {
    pub fn new(value: &str, label: &str, predicate: Predicate, filter_pseudo: bool) -> Self {
        Choice {
            value: value.to_owned(),
            label: label.to_owned(),
            predicate,
            filter_pseudo,
        }
    }

    fn accepts(&self, subject: &Subject) -> bool {
        match self.predicate {
            Predicate::All => true,
            _ if subject.pseudo && !self.filter_pseudo => true,
            ref p => p.holds(subject),
        }
    }
}

impl Group {
    /// The choices a request's value selects. A value naming no choice falls back to the
    /// group's default (Scope would apply no filter for that group instead); `None` when even
    /// the default selects nothing, as the namespace groups' empty default does.
    fn chosen(&self, given: Option<&str>) -> Option<Vec<&Choice>> {
        let pick = |value: &str| -> Vec<&Choice> {
            let values: Vec<&str> = if self.select_type == "union" {
                value.split(',').collect()
            } else {
                vec![value]
            };
            self.choices
                .iter()
                .filter(|c| values.contains(&c.value.as_str()))
                .collect()
        };
        let mut chosen = given.map(pick).unwrap_or_default();
        if chosen.is_empty() {
            chosen = pick(self.default);
        }
        (!chosen.is_empty()).then_some(chosen)
    }
}

/// Scope's `FilterFunc`s the option groups use (`render/filters.go`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Predicate {
    All,
    NotPseudo,
    Connected,
    Application,
    System,
    Running,
    Stopped,
    /// Everything but persistent volumes, their claims and storage classes.
    PodComponent,
    /// Everything but volume snapshots and their data.
    NonSnapshot,
    Namespace(String),
}

/// Swarm services outside a stack; Scope's namespace filter lets them through when they lack
/// a namespace altogether.
pub const NO_STACK: &str = "No Stack";

const SYSTEM_CONTAINER_NAMES: [&str; 6] = [
    "weavescope",
    "weavedns",
    "weave",
    "weaveproxy",
    "weaveexec",
    "ecs-agent",
];

const SYSTEM_IMAGE_PREFIXES: [&str; 9] = [
    "swarm",
    "weaveworks/scope",
    "weaveworks/weavedns",
    "weaveworks/weave",
    "weaveworks/weaveproxy",
    "weaveworks/weaveexec",
    "amazon/amazon-ecs-agent",
    "openshift/origin-pod",
    "docker.io/openshift/origin-pod",
];

pub(super) fn is_pause_image(name: &str) -> bool {
    ["google_containers/pause", "k8s.gcr.io/pause", "eks/pause"]
        .iter()
        .any(|p| name.contains(p))
}

impl Predicate {
    fn holds(&self, s: &Subject) -> bool {
        match self {
            Predicate::All => true,
            Predicate::NotPseudo => {
                !s.pseudo
                    || s.id == IN_INTERNET
                    || s.id == OUT_INTERNET
                    || s.id.starts_with("pseudo:service:")
            }
            Predicate::Connected => s.connected,
            Predicate::Application => is_application(s),
            Predicate::System => !is_application(s),
            Predicate::Running => is_running(s),
            Predicate::Stopped => !is_running(s),
            Predicate::PodComponent => !matches!(
                s.topology,
                "persistent_volume" | "persistent_volume_claim" | "storage_class"
            ),
            Predicate::NonSnapshot => {
                !matches!(s.topology, "volume_snapshot" | "volume_snapshot_data")
            }
            Predicate::Namespace(ns) => {
                let got = [
                    "kubernetes_namespace",
                    "docker_label_io.kubernetes.pod.namespace",
                    "stack_namespace",
                    "docker_label_com.docker.stack.namespace",
                ]
                .iter()
                .find_map(|k| s.latest(k))
                .unwrap_or_default();
                (ns == NO_STACK && got.is_empty()) || ns == got
            }
        }
    }
}

fn is_running(s: &Subject) -> bool {
    s.latest("docker_container_state")
        .is_none_or(|state| matches!(state, "running" | "restarting" | "paused"))
}

fn is_application(s: &Subject) -> bool {
    let name = s.latest("docker_container_name").unwrap_or_default();
    let image = s.latest("docker_image_name").unwrap_or_default();
    let prefix = image.split(':').next().unwrap_or_default();
    let label = |key: &str| s.latest(key).unwrap_or_default();
    !(SYSTEM_CONTAINER_NAMES.contains(&name)
        || SYSTEM_IMAGE_PREFIXES.contains(&prefix)
        || is_pause_image(prefix)
        || label("docker_label_works.weave.role") == "system"
        || label("docker_image_label_works.weave.role") == "system"
        || label("docker_label_io.kubernetes.pod.namespace") == "kube-system"
        || label("docker_label_io.kubernetes.pod.name").starts_with("kube-system/"))
}

/// What Scope's filters see of a rendered node: its topology and the `latest` map the rendered
/// node carries. A container carries its image's name, tag and role label
/// (`ContainerWithImageNameRenderer`); group nodes carry nothing.
struct Subject<'a> {
    id: &'a str,
    pseudo: bool,
    topology: &'a str,
    connected: bool,
    node: Option<&'a Node>,
    image: Option<&'a Node>,
}

/// The report topologies a view's non-pseudo nodes come from, in lookup order.
fn source_kinds(view: &str) -> &'static [TopologyKind] {
    use TopologyKind::*;
    match view {
        "processes" => &[Process],
        "containers" => &[Container],
        "containers-by-image" => &[ContainerImage],
        "pods" => &[
            Pod,
            PersistentVolume,
            PersistentVolumeClaim,
            StorageClass,
            VolumeSnapshot,
            VolumeSnapshotData,
        ],
        "kube-controllers" => &[Deployment, DaemonSet, StatefulSet, CronJob, Job],
        "services" => &[Service],
        "ecs-tasks" => &[EcsTask],
        "ecs-services" => &[EcsService],
        "swarm-services" => &[SwarmService],
        "hosts" => &[Host],
        "weave" => &[Overlay],
        // Grouped views (by name, by hostname) render nodes with an empty `latest`.
        _ => &[],
    }
}

/// For the containers-by-image view, one image node per image group, as Scope's group node
/// carries the `latest` of one of its images.
fn images_by_group<'a>(report: &'a Report, view: &str) -> BTreeMap<String, &'a Node> {
    let mut images = BTreeMap::new();
    if view != "containers-by-image" {
        return images;
    }
    for image in report.topology(TopologyKind::ContainerImage).nodes.values() {
        if let Some(name) = image.latest_value("docker_image_name") {
            let group = super::containers::image_group_id(name);
            images.entry(group).or_insert(image);
        }
    }
    images
}

impl<'a> Subject<'a> {
    fn of(
        report: &'a Report,
        view: &str,
        id: &'a str,
        summary: &NodeSummary,
        connected: &HashSet<&str>,
        images: &BTreeMap<String, &'a Node>,
    ) -> Self {
        let mut subject = Subject {
            id,
            pseudo: summary.pseudo,
            topology: if summary.pseudo { "pseudo" } else { "" },
            connected: connected.contains(id),
            node: None,
            image: None,
        };
        if summary.pseudo {
            return subject;
        }
        if view == "containers-by-image" {
            subject.topology = TopologyKind::ContainerImage.name();
            subject.node = images.get(id).copied();
            return subject;
        }
        for kind in source_kinds(view) {
            if let Some(node) = report.topology(*kind).nodes.get(id) {
                subject.topology = kind.name();
                subject.node = Some(node);
                break;
            }
        }
        if view == "containers" {
            subject.image = subject
                .node
                .and_then(|c| super::containers::image_of(report, c));
        }
        subject
    }

    fn latest(&self, key: &str) -> Option<&'a str> {
        if super::containers::FROM_IMAGE.contains(&key)
            && let Some(value) = self.image.and_then(|i| i.latest_value(key))
        {
            return Some(value);
        }
        self.node.and_then(|n| n.latest_value(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode_and_keep_the_first_value() {
        let o = Options::from_query("namespace=a%2Cb&system=all&system=system&q=x+y&flag");
        assert_eq!(o.get("namespace"), Some("a,b"));
        assert_eq!(o.get("system"), Some("all"));
        assert_eq!(o.get("q"), Some("x y"));
        assert_eq!(o.get("flag"), Some(""));
        assert!(Options::from_query("").is_empty());
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%41%+1"), "%zzA% 1");
    }

    #[test]
    fn render_keys_hold_only_what_changes_the_render() {
        let report = Report::default();
        let key = |q: &str| render_key(&report, &["containers"], &Options::from_query(q));
        let defaults = key("t=5s");
        assert_eq!(defaults, key("system=application&junk=1&t=1s"));
        assert_eq!(defaults, key("system=nonsense&stopped=running"));
        assert_eq!(
            key("stopped=both&system=all"),
            key("system=all&stopped=both&x=y")
        );
        assert_ne!(defaults, key("system=all"));
        assert_eq!(key(""), "", "no parameter at all: no defaults either");
        assert_ne!(key(""), defaults);
        let hosts = |q: &str| render_key(&report, &["hosts"], &Options::from_query(q));
        assert_eq!(hosts("a=1"), hosts("b=2"), "hosts has no option groups");
    }

    #[test]
    fn unknown_values_fall_back_to_the_default_and_unions_split() {
        let group = Group {
            id: "namespace",
            default: "",
            choices: vec![
                Choice::new("a", "a", Predicate::Namespace("a".into()), false),
                Choice::new("b", "b", Predicate::Namespace("b".into()), false),
            ],
            select_type: "union",
            none_label: "All Namespaces",
        };
        let values = |v: Option<&str>| {
            group
                .chosen(v)
                .map(|c| c.iter().map(|c| c.value.clone()).collect::<Vec<_>>())
        };
        assert_eq!(values(Some("b,zz,a")), Some(vec!["a".into(), "b".into()]));
        assert_eq!(values(Some("zz")), None);
        assert_eq!(values(None), None);
    }
}
