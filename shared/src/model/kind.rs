use std::fmt;

/// The 23 topologies of a report, in the field order of Scope's `Report` struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TopologyKind {
    Endpoint,
    Process,
    Container,
    Pod,
    Service,
    Deployment,
    ReplicaSet,
    DaemonSet,
    StatefulSet,
    CronJob,
    Namespace,
    ContainerImage,
    Host,
    EcsTask,
    EcsService,
    SwarmService,
    Overlay,
    PersistentVolume,
    PersistentVolumeClaim,
    StorageClass,
    VolumeSnapshot,
    VolumeSnapshotData,
    Job,
}

/// (kind, report field name, topology name, shape, label, label_plural, tag) as `MakeReport` sets them.
type KindRow = (
    TopologyKind,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const TABLE: [KindRow; 23] = {
    use TopologyKind::*;
    [
        (Endpoint, "Endpoint", "endpoint", "", "", "", ""),
        (
            Process,
            "Process",
            "process",
            "square",
            "process",
            "processes",
            "",
        ),
        (
            Container,
            "Container",
            "container",
            "hexagon",
            "container",
            "containers",
            "",
        ),
        (Pod, "Pod", "pod", "heptagon", "pod", "pods", ""),
        (
            Service, "Service", "service", "heptagon", "service", "services", "",
        ),
        (
            Deployment,
            "Deployment",
            "deployment",
            "heptagon",
            "deployment",
            "deployments",
            "",
        ),
        (
            ReplicaSet,
            "ReplicaSet",
            "replica_set",
            "triangle",
            "replica set",
            "replica sets",
            "",
        ),
        (
            DaemonSet,
            "DaemonSet",
            "daemon_set",
            "pentagon",
            "daemonset",
            "daemonsets",
            "",
        ),
        (
            StatefulSet,
            "StatefulSet",
            "stateful_set",
            "octagon",
            "stateful set",
            "stateful sets",
            "",
        ),
        (
            CronJob,
            "CronJob",
            "cron_job",
            "triangle",
            "cron job",
            "cron jobs",
            "",
        ),
        (Namespace, "Namespace", "namespace", "", "", "", ""),
        (
            ContainerImage,
            "ContainerImage",
            "container_image",
            "hexagon",
            "image",
            "images",
            "",
        ),
        (Host, "Host", "host", "circle", "host", "hosts", ""),
        (
            EcsTask, "ECSTask", "ecs_task", "heptagon", "task", "tasks", "",
        ),
        (
            EcsService,
            "ECSService",
            "ecs_service",
            "heptagon",
            "service",
            "services",
            "",
        ),
        (
            SwarmService,
            "SwarmService",
            "swarm_service",
            "heptagon",
            "service",
            "services",
            "",
        ),
        (Overlay, "Overlay", "overlay", "circle", "peer", "peers", ""),
        (
            PersistentVolume,
            "PersistentVolume",
            "persistent_volume",
            "cylinder",
            "persistent volume",
            "persistent volumes",
            "",
        ),
        (
            PersistentVolumeClaim,
            "PersistentVolumeClaim",
            "persistent_volume_claim",
            "dottedcylinder",
            "persistent volume claim",
            "persistent volume claims",
            "",
        ),
        (
            StorageClass,
            "StorageClass",
            "storage_class",
            "sheet",
            "storage class",
            "storage classes",
            "",
        ),
        (
            VolumeSnapshot,
            "VolumeSnapshot",
            "volume_snapshot",
            "dottedcylinder",
            "volume snapshot",
            "volume snapshots",
            "camera",
        ),
        (
            VolumeSnapshotData,
            "VolumeSnapshotData",
            "volume_snapshot_data",
            "cylinder",
            "volume snapshot data",
            "volume snapshot data",
            "camera",
        ),
        (Job, "Job", "job", "dottedtriangle", "job", "jobs", ""),
    ]
};

impl TopologyKind {
    pub const COUNT: usize = 23;

    pub const ALL: [TopologyKind; 23] = {
        let mut all = [TopologyKind::Endpoint; 23];
        let mut i = 0;
        while i < 23 {
            all[i] = TABLE[i].0;
            i += 1;
        }
        all
    };

    pub fn index(self) -> usize {
        self as usize
    }

    /// The key of this topology in a serialised report (`"Endpoint"`, `"ECSTask"`, ...).
    pub fn field_name(self) -> &'static str {
        TABLE[self.index()].1
    }

    /// The topology name nodes carry in their `topology` field (`"endpoint"`, `"ecs_task"`, ...).
    pub fn name(self) -> &'static str {
        TABLE[self.index()].2
    }

    pub fn from_field_name(field: &str) -> Option<Self> {
        TABLE.iter().find(|row| row.1 == field).map(|row| row.0)
    }

    pub fn from_name(name: &str) -> Option<Self> {
        TABLE.iter().find(|row| row.2 == name).map(|row| row.0)
    }

    /// (shape, label, label_plural, tag) given by Scope's `MakeReport`.
    pub(crate) fn defaults(self) -> (&'static str, &'static str, &'static str, &'static str) {
        let row = &TABLE[self.index()];
        (row.3, row.4, row.5, row.6)
    }
}

impl fmt::Display for TopologyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_enum_order() {
        for (i, kind) in TopologyKind::ALL.iter().enumerate() {
            assert_eq!(kind.index(), i);
            assert_eq!(
                TopologyKind::from_field_name(kind.field_name()),
                Some(*kind)
            );
            assert_eq!(TopologyKind::from_name(kind.name()), Some(*kind));
        }
    }
}
