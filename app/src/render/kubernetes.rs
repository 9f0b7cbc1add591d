//! The Kubernetes views beside `pods`: `kube-controllers` (pods under their deployments,
//! daemon sets, stateful sets, cron jobs and jobs; pods without one as "Unmanaged" per host)
//! and `services` (pods under the services selecting them).

use std::collections::BTreeMap;

use stormscope_shared::{Report, TopologyKind};

use super::grouping::{Grouping, group_by_parents};
use super::pods;
use super::summary::NodeSummary;

/// What the pods view renders: pods first, then the storage objects it shows with them.
pub(super) const POD_VIEW_KINDS: [TopologyKind; 6] = [
    TopologyKind::Pod,
    TopologyKind::PersistentVolume,
    TopologyKind::PersistentVolumeClaim,
    TopologyKind::StorageClass,
    TopologyKind::VolumeSnapshot,
    TopologyKind::VolumeSnapshotData,
];

/// Scope renders its Kubernetes views only for reports with some Kubernetes object
/// (`renderKubernetesTopologies`).
pub fn renders(report: &Report) -> bool {
    use TopologyKind::*;
    [
        Pod,
        Service,
        Deployment,
        DaemonSet,
        StatefulSet,
        CronJob,
        PersistentVolume,
        PersistentVolumeClaim,
        StorageClass,
        Job,
    ]
    .iter()
    .any(|k| !report.topology(*k).nodes.is_empty())
}

/// Pods under their controllers; pods without one per host as "Unmanaged".
pub(super) const CONTROLLERS: Grouping<'static> = Grouping {
    member_kinds: &POD_VIEW_KINDS,
    parent_kinds: &[
        TopologyKind::Deployment,
        TopologyKind::DaemonSet,
        TopologyKind::StatefulSet,
        TopologyKind::CronJob,
        TopologyKind::Job,
    ],
    unmanaged: true,
};

/// Pods under the services selecting them; pods no service selects are left out.
pub(super) const SERVICES: Grouping<'static> = Grouping {
    member_kinds: &POD_VIEW_KINDS,
    parent_kinds: &[TopologyKind::Service],
    unmanaged: false,
};

pub fn controllers(report: &Report) -> BTreeMap<String, NodeSummary> {
    group_by_parents(report, &pods::pods(report), &CONTROLLERS)
}

pub fn services(report: &Report) -> BTreeMap<String, NodeSummary> {
    group_by_parents(report, &pods::pods(report), &SERVICES)
}
