//! Which nodes of a view each process, container, pod and ECS task is drawn inside. Scope
//! keeps this as each rendered node's `children` (`joinResults.addChildAndChildren`: a node
//! takes in what it maps in, and everything that was already inside it); the views here only
//! keep summaries, so node details recover it with the same mappings the views use.
//!
//! A view is a chain of levels: processes go into containers, containers into pods (or ECS
//! tasks, or Swarm services), pods into services or controllers, tasks into ECS services. A
//! member's owners are found by following the chain from its own level to the top. Hosts are
//! not a chain: everything hangs directly under the hosts it names (see `children`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use stormscope_shared::model::keys;
use stormscope_shared::{Report, TopologyKind};

use super::containers::{self, container_of};
use super::endpoints::map_endpoints;
use super::grouping::{Grouping, targets};
use super::processes::{is_internet, process_of_endpoint};
use super::summary::is_pseudo_id;
use super::{ecs, kubernetes, pods};

/// The kinds of node a view's nodes are made of, each a node of its own view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Member {
    Process,
    Container,
    /// A node of the pods view: a pod, or one of the storage objects shown with pods.
    Pod,
    EcsTask,
}

/// How the members of one level go into the nodes of the next (or of the view, at the top).
enum Step {
    /// The members are the view's own nodes, so no one's children.
    Same,
    /// Processes into their name group (`processes2Names`).
    ByName,
    /// Processes into their container, or their host's "Uncontained" node.
    IntoContainer,
    /// Containers into their Docker hostname group.
    ByHostname,
    /// Containers into their image's group: container id → group id.
    ByImage(BTreeMap<String, String>),
    /// Running containers, bar Kubernetes' pause containers, into their pod.
    IntoPod,
    /// Members into the parents they name (Scope's `Map2Parent`), as the views group them;
    /// `running`: stopped containers go nowhere (ECS tasks and Swarm services take only
    /// running containers).
    Parents {
        how: &'static Grouping<'static>,
        running: bool,
    },
}

enum Shape {
    /// Levels lowest first; the last one's step gives the view's nodes.
    Chain(Vec<(Member, Step)>),
    Hosts,
}

pub(super) struct Membership<'r> {
    report: &'r Report,
    shape: Shape,
}

impl<'r> Membership<'r> {
    pub(super) fn of(report: &'r Report, view: &str) -> Self {
        use Member::*;
        let parents = |how, running| Step::Parents { how, running };
        let levels = match view {
            "hosts" => {
                return Membership {
                    report,
                    shape: Shape::Hosts,
                };
            }
            "processes" => vec![(Process, Step::Same)],
            "processes-by-name" => vec![(Process, Step::ByName)],
            "containers" => vec![(Process, Step::IntoContainer), (Container, Step::Same)],
            "containers-by-hostname" => {
                vec![
                    (Process, Step::IntoContainer),
                    (Container, Step::ByHostname),
                ]
            }
            "containers-by-image" => vec![
                (Process, Step::IntoContainer),
                (Container, Step::ByImage(image_groups(report))),
            ],
            "pods" => vec![
                (Process, Step::IntoContainer),
                (Container, Step::IntoPod),
                (Pod, Step::Same),
            ],
            "services" | "kube-controllers" => {
                let how = if view == "services" {
                    &kubernetes::SERVICES
                } else {
                    &kubernetes::CONTROLLERS
                };
                vec![
                    (Process, Step::IntoContainer),
                    (Container, Step::IntoPod),
                    (Pod, parents(how, false)),
                ]
            }
            "ecs-tasks" => vec![
                (Process, Step::IntoContainer),
                (Container, parents(&ecs::TASKS, true)),
                (EcsTask, Step::Same),
            ],
            "ecs-services" => vec![
                (Process, Step::IntoContainer),
                (Container, parents(&ecs::TASKS, true)),
                (EcsTask, parents(&ecs::SERVICES, false)),
            ],
            "swarm-services" => vec![
                (Process, Step::IntoContainer),
                (Container, parents(&ecs::SWARM_SERVICES, true)),
            ],
            // Weave Net's view is made of no one's members; unknown views likewise.
            _ => Vec::new(),
        };
        Membership {
            report,
            shape: Shape::Chain(levels),
        }
    }

    /// Whether the view lists everything under the hosts it names, rather than along a chain.
    pub(super) fn is_hosts(&self) -> bool {
        matches!(self.shape, Shape::Hosts)
    }

    /// The kinds of member that can be some node's children in this view, lowest first.
    pub(super) fn child_kinds(&self) -> Vec<Member> {
        match &self.shape {
            Shape::Chain(levels) => levels
                .iter()
                .filter(|(_, step)| !matches!(step, Step::Same))
                .map(|(member, _)| *member)
                .collect(),
            Shape::Hosts => Vec::new(),
        }
    }

    /// The view nodes member `id` (a node of its own view) is drawn inside: none when the
    /// view is not built from its kind, or drops it.
    pub(super) fn owners(&self, member: Member, id: &str) -> Vec<String> {
        let Shape::Chain(levels) = &self.shape else {
            return Vec::new();
        };
        let Some(start) = levels.iter().position(|(m, _)| *m == member) else {
            return Vec::new();
        };
        let mut ids = vec![id.to_owned()];
        for (_, step) in &levels[start..] {
            let mut next: Vec<String> = ids.iter().flat_map(|id| self.step(step, id)).collect();
            next.sort();
            next.dedup();
            ids = next;
        }
        ids
    }

    fn step(&self, step: &Step, id: &str) -> Vec<String> {
        let report = self.report;
        let owner = match step {
            Step::Same => Some(id.to_owned()),
            Step::ByName if is_internet(id) => Some(id.to_owned()),
            Step::ByName => report
                .topology(TopologyKind::Process)
                .nodes
                .get(id)
                .and_then(|p| p.latest_value(keys::NAME))
                .map(str::to_owned),
            Step::IntoContainer => container_of(report, id),
            Step::ByHostname => super::hostnames::hostname_of(report, id),
            Step::ByImage(_) if is_pseudo_id(id) => Some(id.to_owned()),
            Step::ByImage(groups) => groups.get(id).cloned(),
            Step::IntoPod => return pods::pods_of(report, id),
            Step::Parents { how, running } => {
                let stopped = *running
                    && report
                        .topology(TopologyKind::Container)
                        .nodes
                        .get(id)
                        .is_some_and(|c| !containers::is_running(c));
                if stopped {
                    return Vec::new();
                }
                return targets(report, how, id)
                    .iter()
                    .map(|t| t.id(id).to_owned())
                    .collect();
            }
        };
        owner.into_iter().collect()
    }

    /// Each endpoint's view nodes: the ones whose connections it carries (Scope's endpoint
    /// children). Endpoints go into processes, and from there up the chain.
    pub(super) fn endpoints(&self) -> BTreeMap<String, Vec<String>> {
        match &self.shape {
            Shape::Hosts => map_endpoints(self.report, |_, host| Some(Cow::Borrowed(host)))
                .into_iter()
                .map(|(endpoint, host)| (endpoint.to_owned(), vec![host.into_owned()]))
                .collect(),
            Shape::Chain(levels) if levels.iter().any(|(m, _)| *m == Member::Process) => {
                map_endpoints(self.report, process_of_endpoint)
                    .into_iter()
                    .map(|(endpoint, process)| {
                        (endpoint.to_owned(), self.owners(Member::Process, &process))
                    })
                    .filter(|(_, owners)| !owners.is_empty())
                    .collect()
            }
            Shape::Chain(_) => BTreeMap::new(),
        }
    }
}

/// Container id → the image group the `containers-by-image` view files it under.
fn image_groups(report: &Report) -> BTreeMap<String, String> {
    let rendered = containers::containers(report);
    rendered
        .keys()
        .filter_map(|id| Some((id.clone(), containers::image_group(report, &rendered, id)?)))
        .collect()
}
