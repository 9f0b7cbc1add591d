//! Which node of a view each process, container and endpoint is drawn inside. Scope keeps this
//! as each rendered node's `children`; the views here only keep summaries, so node details
//! recover it with the same mappings the views use.

use std::borrow::Cow;
use std::collections::BTreeMap;

use stormscope_shared::model::keys;
use stormscope_shared::{Report, TopologyKind};

use super::containers::{self, container_of};
use super::endpoints::{host_of, map_endpoints};
use super::pods::pod_of_container;
use super::processes::{is_internet, process_of_endpoint};

enum Grouping {
    Processes,
    ProcessesByName,
    Containers,
    /// Container id → the image group the `containers` view files it under.
    ContainersByImage(BTreeMap<String, String>),
    Pods,
    Hosts,
    /// A view this module has not been taught: its nodes get no children, and connection
    /// tables without rows.
    Unknown,
}

pub(super) struct Membership<'r> {
    report: &'r Report,
    grouping: Grouping,
}

impl<'r> Membership<'r> {
    pub(super) fn of(report: &'r Report, view: &str) -> Self {
        let grouping = match view {
            "processes" => Grouping::Processes,
            "processes-by-name" => Grouping::ProcessesByName,
            "containers" => Grouping::Containers,
            "containers-by-image" => Grouping::ContainersByImage(
                containers::containers(report)
                    .into_iter()
                    .filter_map(|(id, c)| {
                        let image = c
                            .parents
                            .iter()
                            .find(|p| p.topology_id == "containers-by-image")?;
                        Some((id, image.id.clone()))
                    })
                    .collect(),
            ),
            "pods" => Grouping::Pods,
            "hosts" => Grouping::Hosts,
            _ => Grouping::Unknown,
        };
        Membership { report, grouping }
    }

    /// The view node a rendered container (or an "Uncontained" or Internet node of the
    /// containers view) is drawn inside, for the views built from containers.
    pub(super) fn container(&self, id: &str) -> Option<String> {
        match &self.grouping {
            Grouping::Containers => Some(id.to_owned()),
            Grouping::ContainersByImage(images) => {
                if id.starts_with("pseudo:") || is_internet(id) {
                    Some(id.to_owned())
                } else {
                    images.get(id).cloned()
                }
            }
            Grouping::Pods => {
                if is_internet(id) {
                    return Some(id.to_owned());
                }
                if let Some(host) = id.strip_prefix("pseudo:uncontained:") {
                    return Some(format!("pseudo:unmanaged:{host}"));
                }
                let container = self
                    .report
                    .topology(TopologyKind::Container)
                    .nodes
                    .get(id)?;
                pod_of_container(container).or_else(|| {
                    let host = container.latest_value(keys::HOST_NODE_ID).map(host_of)?;
                    Some(format!("pseudo:unmanaged:{host}"))
                })
            }
            _ => None,
        }
    }

    /// The view node a rendered process (or Internet node) is drawn inside, for the views
    /// built from processes.
    pub(super) fn process(&self, id: &str) -> Option<String> {
        match &self.grouping {
            Grouping::Processes => Some(id.to_owned()),
            Grouping::ProcessesByName => {
                if is_internet(id) {
                    return Some(id.to_owned());
                }
                self.report
                    .topology(TopologyKind::Process)
                    .nodes
                    .get(id)?
                    .latest_value(keys::NAME)
                    .map(str::to_owned)
            }
            Grouping::Containers | Grouping::ContainersByImage(_) | Grouping::Pods => {
                self.container(&container_of(self.report, id)?)
            }
            Grouping::Hosts | Grouping::Unknown => None,
        }
    }

    /// Each endpoint's view node: the one whose connections it carries.
    pub(super) fn endpoints(&self) -> BTreeMap<String, String> {
        let mapping = match self.grouping {
            Grouping::Hosts => map_endpoints(self.report, |_, host| Some(Cow::Borrowed(host))),
            Grouping::Unknown => return BTreeMap::new(),
            _ => map_endpoints(self.report, process_of_endpoint),
        };
        mapping
            .into_iter()
            .filter_map(|(endpoint, target)| {
                let owner = match self.grouping {
                    Grouping::Hosts => Some(target.into_owned()),
                    _ => self.process(&target),
                };
                Some((endpoint.to_owned(), owner?))
            })
            .collect()
    }
}
