//! The orchestrator views built from running containers: `ecs-tasks` (containers under their
//! ECS task, others as "Unmanaged" per host), `ecs-services` (tasks under their ECS service)
//! and `swarm-services` (containers under their Swarm service).

use std::collections::{BTreeMap, BTreeSet};

use stormscope_shared::{Report, TopologyKind};

use super::containers;
use super::grouping::{Grouping, group_by_parents};
use super::summary::NodeSummary;

/// `renderECSTopologies`: only reports with ECS tasks or services have these views.
pub fn renders_ecs(report: &Report) -> bool {
    !report.topology(TopologyKind::EcsTask).nodes.is_empty()
        || !report.topology(TopologyKind::EcsService).nodes.is_empty()
}

/// `renderSwarmTopologies`.
pub fn renders_swarm(report: &Report) -> bool {
    !report.topology(TopologyKind::SwarmService).nodes.is_empty()
}

/// Running containers under their ECS task; others per host as "Unmanaged".
pub(super) const TASKS: Grouping<'static> = Grouping {
    member_kinds: &[TopologyKind::Container],
    parent_kinds: &[TopologyKind::EcsTask],
    unmanaged: true,
};

/// Tasks under their ECS service; tasks outside any service are left out.
pub(super) const SERVICES: Grouping<'static> = Grouping {
    member_kinds: &[TopologyKind::EcsTask],
    parent_kinds: &[TopologyKind::EcsService],
    unmanaged: false,
};

/// Running containers under their Swarm service; others per host as "Unmanaged".
pub(super) const SWARM_SERVICES: Grouping<'static> = Grouping {
    member_kinds: &[TopologyKind::Container],
    parent_kinds: &[TopologyKind::SwarmService],
    unmanaged: true,
};

pub fn tasks(report: &Report) -> BTreeMap<String, NodeSummary> {
    group_by_parents(report, &running_containers(report), &TASKS)
}

pub fn services(report: &Report) -> BTreeMap<String, NodeSummary> {
    group_by_parents(report, &tasks(report), &SERVICES)
}

pub fn swarm_services(report: &Report) -> BTreeMap<String, NodeSummary> {
    group_by_parents(report, &running_containers(report), &SWARM_SERVICES)
}

/// The containers view without stopped containers (Scope's `IsRunning` filter, which lets
/// pseudo nodes through), edges to the dropped ones cut.
fn running_containers(report: &Report) -> BTreeMap<String, NodeSummary> {
    let topology = &report.topology(TopologyKind::Container).nodes;
    let mut nodes = containers::containers(report);
    let stopped: BTreeSet<String> = nodes
        .keys()
        .filter(|id| {
            topology
                .get(*id)
                .is_some_and(|c| !containers::is_running(c))
        })
        .cloned()
        .collect();
    nodes.retain(|id, _| !stopped.contains(id));
    for node in nodes.values_mut() {
        node.adjacency.retain(|to| !stopped.contains(to));
    }
    nodes
}
