use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::kind::TopologyKind;
use super::node::StringSet;
use super::serde_util::null_as_default;
use super::topology::Topology;
use crate::time::Timestamp;

/// DNS names the probe saw per address (`report.DNSRecords`).
pub type DnsRecords = BTreeMap<String, DnsRecord>;

/// Plugins a probe runs, keyed by id (`xfer.PluginSpecs`), encoded as an array.
pub type Plugins = BTreeMap<String, PluginSpec>;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecord {
    #[serde(
        default,
        skip_serializing_if = "StringSet::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub forward: StringSet,
    #[serde(
        default,
        skip_serializing_if = "StringSet::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub reverse: StringSet,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sampling {
    #[serde(rename = "Count", default)]
    pub count: u64,
    #[serde(rename = "Total", default)]
    pub total: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginSpec {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub label: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub description: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub interfaces: Vec<String>,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub api_version: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub status: String,
}

/// A probe report (`report.Report`), or the merge of several.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// When the report was made; the zero time when unknown.
    pub ts: Timestamp,
    topologies: [Topology; TopologyKind::COUNT],
    pub dns: DnsRecords,
    /// DNS records that release 1.11.6 sent under `nodes` by accident; `Upgrade` moves them.
    pub bug_dns: DnsRecords,
    pub sampling: Sampling,
    /// The time this report covers, in nanoseconds.
    pub window: i64,
    pub shortcut: bool,
    pub plugins: Plugins,
    pub id: String,
}

impl Report {
    /// `MakeReport`: every topology with its default shape and labels, and a fresh random id.
    pub fn make() -> Self {
        let mut report = Report {
            id: fastrand::i64(0..i64::MAX).to_string(),
            ..Report::default()
        };
        for kind in TopologyKind::ALL {
            let (shape, label, plural, tag) = kind.defaults();
            let t = report.topology_mut(kind);
            t.shape = shape.to_owned();
            t.label = label.to_owned();
            t.label_plural = plural.to_owned();
            t.tag = tag.to_owned();
        }
        report
    }

    pub fn topology(&self, kind: TopologyKind) -> &Topology {
        &self.topologies[kind.index()]
    }

    pub fn topology_mut(&mut self, kind: TopologyKind) -> &mut Topology {
        &mut self.topologies[kind.index()]
    }

    pub fn topologies(&self) -> impl Iterator<Item = (TopologyKind, &Topology)> {
        TopologyKind::ALL.into_iter().zip(self.topologies.iter())
    }

    pub fn topologies_mut(&mut self) -> impl Iterator<Item = (TopologyKind, &mut Topology)> {
        TopologyKind::ALL
            .into_iter()
            .zip(self.topologies.iter_mut())
    }

    pub fn node_count(&self) -> usize {
        self.topologies.iter().map(|t| t.nodes.len()).sum()
    }
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("TS", &self.ts)?;
        for (kind, topology) in self.topologies() {
            map.serialize_entry(kind.field_name(), topology)?;
        }
        if !self.dns.is_empty() {
            map.serialize_entry("DNS", &self.dns)?;
        }
        if !self.bug_dns.is_empty() {
            map.serialize_entry("nodes", &self.bug_dns)?;
        }
        map.serialize_entry("Sampling", &self.sampling)?;
        map.serialize_entry("Window", &self.window)?;
        map.serialize_entry("Shortcut", &self.shortcut)?;
        // Probes write an empty `PluginSpecs` as `[]`, so we do too.
        map.serialize_entry("Plugins", &self.plugins.values().collect::<Vec<_>>())?;
        map.serialize_entry("ID", &self.id)?;
        map.end()
    }
}

/// A map key that msgpack may deliver as a raw byte string.
pub(crate) struct Key(pub String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key(v.to_owned()))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Key, E> {
                std::str::from_utf8(v)
                    .map(|s| Key(s.to_owned()))
                    .map_err(|_| E::custom("report key is not UTF-8"))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

struct ReportVisitor;

impl<'de> Visitor<'de> for ReportVisitor {
    type Value = Report;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Scope report (a map)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Report, A::Error> {
        let mut report = Report::default();
        while let Some(Key(key)) = map.next_key()? {
            match key.as_str() {
                "TS" => report.ts = map.next_value::<Option<Timestamp>>()?.unwrap_or_default(),
                "DNS" => report.dns = map.next_value::<Option<DnsRecords>>()?.unwrap_or_default(),
                "nodes" => {
                    report.bug_dns = map.next_value::<Option<DnsRecords>>()?.unwrap_or_default()
                }
                "Sampling" => {
                    report.sampling = map.next_value::<Option<Sampling>>()?.unwrap_or_default()
                }
                "Window" => report.window = map.next_value::<Option<i64>>()?.unwrap_or_default(),
                "Shortcut" => {
                    report.shortcut = map.next_value::<Option<bool>>()?.unwrap_or_default()
                }
                "Plugins" => {
                    let specs = map
                        .next_value::<Option<Vec<PluginSpec>>>()?
                        .unwrap_or_default();
                    report.plugins = specs.into_iter().map(|p| (p.id.clone(), p)).collect();
                }
                "ID" => report.id = map.next_value::<Option<String>>()?.unwrap_or_default(),
                other => match TopologyKind::from_field_name(other) {
                    Some(kind) => {
                        *report.topology_mut(kind) =
                            map.next_value::<Option<Topology>>()?.unwrap_or_default()
                    }
                    // Unknown keys (the 2016 `Address` topology, future fields) are skipped.
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                },
            }
        }
        Ok(report)
    }
}

impl<'de> Deserialize<'de> for Report {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ReportVisitor)
    }
}
