//! The `containers` view: containers with their image's name, connected as their processes
//! are; processes outside any container gather in an "Uncontained" node per host.

use std::borrow::Cow;
use std::collections::BTreeMap;

use stormscope_shared::model::{Node, keys};
use stormscope_shared::{Report, TopologyKind};

use super::endpoints::host_of;
use super::join::{container_addresses, join_edges};
use super::processes::{self, is_internet, parents};
use super::summary::{self, NodeSummary, SummaryHead, container_label};

pub fn containers(report: &Report) -> BTreeMap<String, NodeSummary> {
    let topology = report.topology(TopologyKind::Container);
    let mut nodes: BTreeMap<String, NodeSummary> = topology
        .nodes
        .iter()
        .filter(|(_, c)| c.latest_value("docker_container_state") != Some("deleted"))
        .map(|(id, c)| (id.clone(), container_summary(report, id, c)))
        .collect();
    let rendered = processes::processes(report, None);
    let mut edges = Vec::new();
    for (process, summary) in &rendered {
        let Some(from) = container_of(report, process) else {
            continue;
        };
        edges.extend(
            summary
                .adjacency
                .iter()
                .filter_map(|to| Some((from.clone(), container_of(report, to)?))),
        );
    }
    // `ConnectionJoin(MapContainer2IP, SelectContainer)`: connections by container address.
    edges.extend(join_edges(
        report,
        topology.nodes.iter(),
        container_addresses,
    ));
    summary::add_edges(
        &mut nodes,
        edges.iter().map(|(a, b)| (a.as_str(), b.as_str())),
    );
    nodes
}

/// The `containers-by-image` view (Scope's `ContainerImageRenderer`): the image nodes merged
/// by name without tag (`MapContainerImage2Name`), each kept when at least one container runs
/// one of them, connected as its containers are. A group's parents and `latest` are its
/// images' (their hosts), not its containers'.
pub fn by_image(report: &Report) -> BTreeMap<String, NodeSummary> {
    let topology = report.topology(TopologyKind::ContainerImage);
    let containers = containers(report);
    let mut images: BTreeMap<String, Node> = BTreeMap::new();
    for image in topology.nodes.values() {
        let Some(name) = image.latest_value("docker_image_name") else {
            continue;
        };
        let group = image_group_id(name);
        match images.get_mut(&group) {
            Some(merged) => merged.merge(image),
            None => {
                images.insert(group, image.clone());
            }
        }
    }
    let group_of = |id: &str| image_group(report, &containers, id);
    let mut groups: BTreeMap<String, (NodeSummary, usize)> = BTreeMap::new();
    for (id, container) in &containers {
        let Some(group) = group_of(id) else { continue };
        let (node, count) = groups.entry(group.clone()).or_insert_with(|| {
            let node = if container.pseudo {
                container.without_adjacency()
            } else {
                let label = images
                    .get(&group)
                    .map(|image| image_label(&group, image))
                    .unwrap_or_default();
                NodeSummary::from(SummaryHead {
                    id: group.clone(),
                    label: label.clone(),
                    rank: label,
                    shape: super::summary::shape_or(topology, "hexagon"),
                    tag: topology.tag.clone(),
                    stack: true,
                    ..SummaryHead::default()
                })
            };
            (node, 0)
        });
        *count += 1;
        node.adjacency
            .extend(container.adjacency.iter().filter_map(|to| group_of(to)));
    }
    groups
        .into_iter()
        .map(|(id, (mut node, count))| {
            if !node.pseudo
                && let Some(image) = images.get(&id)
            {
                node.label_minor = format!(
                    "{count} {}",
                    if count == 1 {
                        "container"
                    } else {
                        "containers"
                    }
                );
                // Scope counts a group's members into `count_<topology>`, which the image
                // topology's templates show.
                let counted = image.clone().with_latest(
                    "count_container",
                    Default::default(),
                    count.to_string(),
                );
                node.metadata = summary::metadata(&counted, topology);
                node.parents = parents(report, image);
            }
            (id, node)
        })
        .collect()
}

/// Scope's `containerImageNodeSummary` label: the name without tag, else the whole name, else
/// the node id's name part; `<none>` does not count as a name.
fn image_label(group: &str, image: &Node) -> String {
    const NONE: &str = "<none>";
    let name = image.latest_value("docker_image_name").unwrap_or_default();
    let without = image_name_without_tag(name);
    if !without.is_empty() && without != NONE {
        without.to_owned()
    } else if !name.is_empty() && name != NONE {
        name.to_owned()
    } else {
        group.split(';').next().unwrap_or_default().to_owned()
    }
}

/// The node of the `containers-by-image` view node `id` of the containers view is drawn in:
/// its image's name group; pseudo nodes pass through; containers whose image the report does
/// not name are in none.
pub(super) fn image_group(
    report: &Report,
    containers: &BTreeMap<String, NodeSummary>,
    id: &str,
) -> Option<String> {
    if containers.get(id)?.pseudo {
        return Some(id.to_owned());
    }
    let container = report.topology(TopologyKind::Container).nodes.get(id)?;
    let image = image_of(report, container)?;
    Some(image_group_id(image.latest_value("docker_image_name")?))
}

/// Scope's `IsRunning`: a container without a state counts as running.
pub(super) fn is_running(container: &Node) -> bool {
    container
        .latest_value("docker_container_state")
        .is_none_or(|s| matches!(s, "running" | "restarting" | "paused"))
}

/// The container a rendered process belongs to, or its host's "Uncontained" node.
pub(super) fn container_of(report: &Report, process: &str) -> Option<String> {
    if is_internet(process) {
        return Some(process.to_owned());
    }
    let node = report.topology(TopologyKind::Process).nodes.get(process)?;
    if let Some(id) = node
        .parents
        .get(TopologyKind::Container.name())
        .and_then(|ids| ids.iter().next())
    {
        return Some(id.clone());
    }
    if let Some(id) = node.latest_value("docker_container_id") {
        return Some(format!("{id};<container>"));
    }
    let host = node
        .latest_value(keys::HOST_NODE_ID)
        .map(host_of)
        .unwrap_or_else(|| process.split(';').next().unwrap_or_default());
    Some(format!("pseudo:uncontained:{host}"))
}

/// The image node a container runs, found as Scope finds it (`docker_image_id`), when the image
/// has a name; an unnamed image gives the container nothing (`containerWithImageNameRenderer`).
pub(super) fn image_of<'r>(report: &'r Report, container: &Node) -> Option<&'r Node> {
    let id = container.latest_value("docker_image_id")?;
    report
        .topology(TopologyKind::ContainerImage)
        .nodes
        .get(&format!("{id};<container_image>"))
        .filter(|image| image.latest_value("docker_image_name").is_some())
}

/// The `latest` keys a container takes from its image node (Scope's `Latest.Propagate` in
/// `ContainerWithImageNameRenderer`), each with the image's own timestamp.
pub(super) const FROM_IMAGE: [&str; 5] = [
    "docker_image_name",
    "docker_image_tag",
    "docker_image_size",
    "docker_image_virtual_size",
    "docker_image_label_works.weave.role",
];

/// The container as `ContainerWithImageNameRenderer` hands it on: the image's name, tag,
/// sizes and role label copied in, and its image parent the image's name-without-tag node.
pub(super) fn with_image<'n>(report: &Report, container: &'n Node) -> Cow<'n, Node> {
    let Some(image) = image_of(report, container) else {
        return Cow::Borrowed(container);
    };
    let mut node = container.clone();
    for key in FROM_IMAGE {
        if let Some(entry) = image.latest.get(key) {
            node.latest.insert(key.to_owned(), entry.clone());
        }
    }
    let name = image.latest_value("docker_image_name").unwrap_or_default();
    node.parents.insert(
        TopologyKind::ContainerImage.name().to_owned(),
        [image_group_id(name)].into(),
    );
    Cow::Owned(node)
}

/// The `containers-by-image` node of images named `name` (`MapContainerImage2Name`).
pub(super) fn image_group_id(name: &str) -> String {
    format!("{};<container_image>", image_name_without_tag(name))
}

/// Scope's `splitImageName` (`probe/docker/container.go`): at most three `/`-separated parts,
/// the first dropped when there are three (so `quay.io/coreos/etcd` and `a/b/c` both lose
/// their first part), then name and tag split at the first `:`.
pub fn split_image_name(name: &str) -> (&str, Option<&str>) {
    let mut parts = name.splitn(3, '/');
    let rest = match (parts.next(), parts.next(), parts.next()) {
        (Some(first), Some(_), Some(_)) => &name[first.len() + 1..],
        _ => name,
    };
    match rest.split_once(':') {
        Some((without, tag)) => (without, Some(tag)),
        None => (rest, None),
    }
}

/// `docker.ImageNameWithoutTag`.
pub fn image_name_without_tag(name: &str) -> &str {
    split_image_name(name).0
}

/// Scope's `containerNodeSummary` rank: the image name without its tag, else the host, else
/// the label.
pub(super) fn container_rank(container: &Node, host: &str, label: &str) -> String {
    match container.latest_value("docker_image_name") {
        Some(image) if !image.is_empty() => image_name_without_tag(image).to_owned(),
        _ if !host.is_empty() => host.to_owned(),
        _ => label.to_owned(),
    }
}

fn container_summary(report: &Report, id: &str, container: &Node) -> NodeSummary {
    let topology = report.topology(TopologyKind::Container);
    let node = with_image(report, container);
    let host = container
        .latest_value(keys::HOST_NODE_ID)
        .map(host_of)
        .unwrap_or_default()
        .to_owned();
    let label = container_label(container, id);
    NodeSummary::from(SummaryHead {
        id: id.to_owned(),
        rank: container_rank(&node, &host, &label),
        label,
        label_minor: host,
        shape: super::summary::shape_or(topology, "hexagon"),
        tag: topology.tag.clone(),
        metadata: summary::metadata(&node, topology),
        parents: parents(report, &node),
        metrics: summary::metrics(&node, topology),
        ..SummaryHead::default()
    })
}

#[cfg(test)]
mod tests {
    use super::split_image_name;

    #[test]
    fn image_names_split_as_scope_splits_them() {
        assert_eq!(split_image_name("image/server"), ("image/server", None));
        assert_eq!(split_image_name("nginx:1.25"), ("nginx", Some("1.25")));
        assert_eq!(
            split_image_name("quay.io/coreos/etcd:v3.3"),
            ("coreos/etcd", Some("v3.3"))
        );
        // Three parts always lose the first, registry or not.
        assert_eq!(split_image_name("a/b/c"), ("b/c", None));
        assert_eq!(split_image_name("a/b/c/d:1"), ("b/c/d", Some("1")));
        // Two parts keep a registry with a port, whose `:` is then taken for the tag.
        assert_eq!(
            split_image_name("registry:5000/app:v2"),
            ("registry", Some("5000/app:v2"))
        );
        assert_eq!(split_image_name(""), ("", None));
    }
}
