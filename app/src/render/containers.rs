//! The `containers` view: containers with their image's name, connected as their processes
//! are; processes outside any container gather in an "Uncontained" node per host.

use std::collections::BTreeMap;

use stormscope_shared::model::{Node, keys};
use stormscope_shared::{Report, TopologyKind};

use super::endpoints::host_of;
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
    summary::add_edges(
        &mut nodes,
        edges.iter().map(|(a, b)| (a.as_str(), b.as_str())),
    );
    nodes
}

/// The `containers-by-image` view: one stacked node per image name, connected as its
/// containers are, on the hosts its containers run on.
pub fn by_image(report: &Report) -> BTreeMap<String, NodeSummary> {
    let topology = report.topology(TopologyKind::ContainerImage);
    let containers = containers(report);
    let group_of = |id: &str| image_group(containers.get(id)?);
    let mut groups: BTreeMap<String, (NodeSummary, usize)> = BTreeMap::new();
    for (id, container) in &containers {
        let Some(group) = group_of(id) else { continue };
        let (node, count) = groups.entry(group.clone()).or_insert_with(|| {
            let node = if container.pseudo {
                container.without_adjacency()
            } else {
                let name = container.rank.clone();
                NodeSummary::from(SummaryHead {
                    id: group.clone(),
                    label: name.clone(),
                    rank: name,
                    shape: super::summary::shape_or(topology, "hexagon"),
                    tag: topology.tag.clone(),
                    stack: true,
                    ..SummaryHead::default()
                })
            };
            (node, 0)
        });
        *count += 1;
        for parent in container
            .parents
            .iter()
            .filter(|p| p.topology_id == "hosts")
        {
            if !node.parents.contains(parent) {
                node.parents.push(parent.clone());
            }
        }
        node.adjacency
            .extend(container.adjacency.iter().filter_map(|to| group_of(to)));
    }
    groups
        .into_iter()
        .map(|(id, (mut node, count))| {
            if !node.pseudo {
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
                let counted = Node::default().with_latest(
                    "count_container",
                    Default::default(),
                    count.to_string(),
                );
                node.metadata = summary::metadata(&counted, topology);
                node.parents
                    .sort_by(|a, b| (&a.label, &a.id).cmp(&(&b.label, &b.id)));
            }
            (id, node)
        })
        .collect()
}

/// The node of the `containers-by-image` view a node of the containers view is drawn in: its
/// image's name (the container's rank); pseudo nodes pass through.
pub(super) fn image_group(container: &NodeSummary) -> Option<String> {
    if container.pseudo {
        return Some(container.id.clone());
    }
    (!container.rank.is_empty()).then(|| format!("{};<container_image>", container.rank))
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

/// The container's image name (`registry/name:tag`), from its image node or its own latest.
pub(super) fn image_name(report: &Report, container: &Node) -> Option<String> {
    let image = container
        .parents
        .get(TopologyKind::ContainerImage.name())
        .and_then(|ids| ids.iter().next())
        .and_then(|id| report.topology(TopologyKind::ContainerImage).nodes.get(id));
    image
        .and_then(|i| i.latest_value("docker_image_name"))
        .or(container.latest_value("docker_image_name"))
        .map(str::to_owned)
}

/// `registry:5000/name:tag` without its tag (`render.ImageNameWithoutVersion`), and the tag.
pub fn split_image_name(name: &str) -> (String, Option<String>) {
    let (path, last) = name.rsplit_once('/').map_or(("", name), |(p, l)| (p, l));
    let (base, tag) = last
        .split_once(':')
        .map_or((last, None), |(b, t)| (b, Some(t.to_owned())));
    let without = if path.is_empty() {
        base.to_owned()
    } else {
        format!("{path}/{base}")
    };
    (without, tag)
}

fn container_summary(report: &Report, id: &str, container: &Node) -> NodeSummary {
    let topology = report.topology(TopologyKind::Container);
    // `ContainerWithImageNameRenderer`: the image's name joins the container's metadata, and its
    // image parent becomes the image by name, as the containers-by-image view knows it.
    let mut node = container.clone();
    let image = image_name(report, container);
    if let Some(name) = &image {
        let (without, tag) = split_image_name(name);
        let stamp = container
            .latest
            .values()
            .map(|e| e.timestamp)
            .max()
            .unwrap_or_default();
        node = node.with_latest("docker_image_name", stamp, without.clone());
        if let Some(tag) = tag {
            node = node.with_latest("docker_image_tag", stamp, tag);
        }
        node.parents.insert(
            TopologyKind::ContainerImage.name().to_owned(),
            [format!("{without};<container_image>")].into(),
        );
    }
    let host = container
        .latest_value(keys::HOST_NODE_ID)
        .map(host_of)
        .unwrap_or_default()
        .to_owned();
    NodeSummary::from(SummaryHead {
        id: id.to_owned(),
        label: container_label(container, id),
        label_minor: host,
        rank: image.map(|n| split_image_name(&n).0).unwrap_or_default(),
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
    fn image_names_lose_only_their_tag() {
        assert_eq!(
            split_image_name("image/server"),
            ("image/server".into(), None)
        );
        assert_eq!(
            split_image_name("nginx:1.25"),
            ("nginx".into(), Some("1.25".into()))
        );
        assert_eq!(
            split_image_name("registry:5000/team/app:v2"),
            ("registry:5000/team/app".into(), Some("v2".into()))
        );
    }
}
