//! The storage layout: every key any service writes or reads is built here.
//!
//! Object store: `reports/<tenant>/<YYYY-MM-DD>/<HH>/<unix_ms>-<collector>-<seq>.seg`, one
//! segment per tenant per flush interval per collector, listable by hour.
//! Cache: `r/<tenant>/<unix_ms>-<collector>-<seq>[~<kind><probe>]` per report, plus a
//! time-bucket index: the counter `ic/<tenant>/<bucket>` and its entries
//! `ie/<tenant>/<bucket>/<n>` naming report keys.
//! Collectors' health records (no tenant in them): the counter `hc/<bucket>` and the slots
//! `hs/<bucket>/<n>` it counts, one per collector per bucket (see [`crate::ingest_health`]).

use time::OffsetDateTime;

use crate::report_kind::ReportTag;
use crate::tenancy::TenantId;

/// Width of a cache index bucket: the probes' publish interval, so a 15 s window reads 6.
pub const BUCKET_MS: i64 = 3_000;

pub const SEGMENT_EXT: &str = "seg";

/// The key of a report in the cache. Also the report's name inside its segment. The `tag`, when
/// the collector knows the probe, names it and the report's kind (see [`ReportTag`]).
pub fn report_key(
    tenant: &TenantId,
    unix_ms: i64,
    collector: &str,
    seq: u64,
    tag: Option<&ReportTag>,
) -> String {
    let suffix = tag.map(ReportTag::suffix).unwrap_or_default();
    format!("r/{}/{unix_ms}-{collector}-{seq}{suffix}", tenant.escaped())
}

pub fn segment_key(tenant: &TenantId, unix_ms: i64, collector: &str, seq: u64) -> String {
    format!(
        "{}{unix_ms}-{collector}-{seq}.{SEGMENT_EXT}",
        hour_prefix(tenant, unix_ms)
    )
}

/// `reports/<tenant>/<YYYY-MM-DD>/<HH>/`: everything a tenant's collectors flushed in that hour.
pub fn hour_prefix(tenant: &TenantId, unix_ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(unix_ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "reports/{}/{:04}-{:02}-{:02}/{:02}/",
        tenant.escaped(),
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour()
    )
}

pub fn tenant_prefix(tenant: &TenantId) -> String {
    format!("reports/{}/", tenant.escaped())
}

/// The flush time a segment key starts with, for listing by time.
pub fn segment_time_ms(key: &str) -> Option<i64> {
    let name = key.rsplit('/').next()?;
    name.split('-').next()?.parse().ok()
}

pub fn bucket(unix_ms: i64) -> i64 {
    unix_ms.div_euclid(BUCKET_MS)
}

pub fn index_counter_key(tenant: &TenantId, bucket: i64) -> String {
    format!("ic/{}/{bucket}", tenant.escaped())
}

pub fn index_entry_key(tenant: &TenantId, bucket: i64, n: u64) -> String {
    format!("ie/{}/{bucket}/{n}", tenant.escaped())
}

/// The counter of collectors that took a health slot in `bucket`.
pub fn health_counter_key(bucket: i64) -> String {
    format!("hc/{bucket}")
}

/// Health slot `n` of `bucket`: one collector's latest record.
pub fn health_slot_key(bucket: i64, n: u64) -> String {
    format!("hs/{bucket}/{n}")
}

/// A collector id usable inside keys: what cannot appear is replaced, and it is never empty.
pub fn sanitize_collector_id(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if cleaned.is_empty() {
        "collector".to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_design() {
        let t = TenantId::new("acme").unwrap();
        // 2026-11-26T13:00:35.825Z
        let ms = 1_795_698_035_825;
        assert_eq!(
            segment_key(&t, ms, "c1", 7),
            "reports/acme/2026-11-26/13/1795698035825-c1-7.seg"
        );
        assert_eq!(segment_time_ms(&segment_key(&t, ms, "c1", 7)), Some(ms));
        assert_eq!(
            report_key(&t, ms, "c1", 7, None),
            "r/acme/1795698035825-c1-7"
        );
        let tag = ReportTag {
            probe: 0xab,
            kind: crate::report_kind::ReportKind::Delta,
        };
        let tagged = report_key(&t, ms, "c1", 7, Some(&tag));
        assert_eq!(tagged, "r/acme/1795698035825-c1-7~d00000000000000ab");
        assert_eq!(crate::report_cache::report_time_ms(&tagged), Some(ms));
        assert_eq!(
            index_entry_key(&t, bucket(ms), 3),
            format!("ie/acme/{}/3", ms / 3000)
        );
    }

    #[test]
    fn hostile_tenants_stay_inside_their_prefix() {
        let t = TenantId::new("../x").unwrap();
        let key = segment_key(&t, 0, "c", 1);
        assert!(key.starts_with("reports/%2E%2E%2Fx/"), "{key}");
        assert_eq!(key.split('/').count(), 5);
        assert_eq!(
            sanitize_collector_id("host-1.example/x"),
            "host_1_example_x"
        );
        assert_eq!(sanitize_collector_id(""), "collector");
    }
}
