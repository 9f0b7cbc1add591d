//! Which reports of a window a tenant's first answer merges. A first query should not wait for
//! the whole window (hundreds of reports at 100 probes): it is answered from what makes every
//! probe's nodes whole and current, chosen by the tags the collectors put in report keys
//! ([`ReportTag`]) without decoding anything, and the whole window is merged afterwards (see
//! [`crate::live::LiveWindows::merged_from_bodies`]).

use std::collections::HashMap;

use stormscope_shared::report_cache::report_time_ms;
use stormscope_shared::report_kind::{ReportKind, ReportTag};

use crate::quanta::QUANTUM_MS;

/// Windows of more reports than this are answered from a choice of them first.
pub const FIRST_ANSWER_MIN: usize = 64;

/// Quanta a first answer reaches back for a report whose probe it cannot tell, or whose probe
/// sent no full report in the window: Scope's probes publish once a quantum and send a full
/// report every third time (`--probe.full-report-every=3`, scope-compat.md §1.1), so the newest
/// three quanta hold every probe's latest full report.
const FULL_REPORT_QUANTA: i64 = 3;

/// The positions in `keys` (a window's report keys, oldest first) of the reports a first
/// answer merges, in order; `None` when the window is small enough to merge whole, or every
/// report would be chosen anyway.
///
/// For each probe: its newest full report, the newest delta after it (a delta holds all that
/// changed since the full report, so it supersedes earlier ones), and every shortcut after
/// it. Reports without a tag, and those of a probe with no full report in the window, are
/// chosen when they are in the newest three quanta.
pub fn chosen(keys: &[String]) -> Option<Vec<usize>> {
    if keys.len() <= FIRST_ANSWER_MIN {
        return None;
    }
    let newest = keys.iter().filter_map(|k| report_time_ms(k)).max()?;
    let recent = |key: &str| {
        report_time_ms(key).is_some_and(|t| t > newest - FULL_REPORT_QUANTA * QUANTUM_MS)
    };
    let tags: Vec<Option<ReportTag>> = keys.iter().map(|k| ReportTag::of_key(k)).collect();
    let mut newest_full: HashMap<u64, usize> = HashMap::new();
    for (at, tag) in tags.iter().enumerate() {
        if let Some(tag) = tag
            && tag.kind == ReportKind::Full
        {
            newest_full.insert(tag.probe, at);
        }
    }
    let mut newest_delta: HashMap<u64, usize> = HashMap::new();
    for (at, tag) in tags.iter().enumerate() {
        if let Some(tag) = tag
            && tag.kind == ReportKind::Delta
            && newest_full.get(&tag.probe).is_some_and(|&full| at > full)
        {
            newest_delta.insert(tag.probe, at);
        }
    }
    let chosen: Vec<usize> = tags
        .iter()
        .enumerate()
        .filter(|&(at, tag)| {
            let Some(tag) = tag else {
                return recent(&keys[at]);
            };
            match newest_full.get(&tag.probe) {
                None => recent(&keys[at]),
                Some(&full) => match tag.kind {
                    ReportKind::Full => at == full,
                    ReportKind::Delta => newest_delta.get(&tag.probe) == Some(&at),
                    ReportKind::Shortcut => at > full,
                },
            }
        })
        .map(|(at, _)| at)
        .collect();
    (chosen.len() < keys.len()).then_some(chosen)
}

#[cfg(test)]
mod tests {
    use stormscope_shared::keys::report_key;
    use stormscope_shared::tenancy::TenantId;

    use super::*;

    const T0: i64 = 1_800_000_000_000;

    fn key(at: i64, seq: u64, probe: Option<(&str, ReportKind)>) -> String {
        let tenant = TenantId::new("t").unwrap();
        let tag = probe.map(|(id, kind)| ReportTag::new(id, kind));
        report_key(&tenant, at, "c", seq, tag.as_ref())
    }

    /// 30 probes publishing every 3 s for 15 s, a full report then two deltas, each probe at
    /// its own phase in the cycle: what a window of Scope's probes holds.
    fn window(tagged: bool) -> Vec<String> {
        let mut keys = Vec::new();
        for tick in 0..5 {
            for probe in 0..30 {
                let kind = if (tick + probe) % 3 == 0 {
                    ReportKind::Full
                } else {
                    ReportKind::Delta
                };
                let id = format!("probe-{probe}");
                let tag = tagged.then_some((id.as_str(), kind));
                keys.push(key(T0 + tick * 3000 + probe * 10, keys.len() as u64, tag));
            }
        }
        keys
    }

    #[test]
    fn each_probe_brings_its_newest_full_report_and_the_newest_delta_after_it() {
        let keys = window(true);
        let chosen = chosen(&keys).expect("a window of 150 reports is answered in part");
        let mut by_probe: HashMap<u64, Vec<(usize, ReportKind)>> = HashMap::new();
        for &at in &chosen {
            let tag = ReportTag::of_key(&keys[at]).unwrap();
            by_probe.entry(tag.probe).or_default().push((at, tag.kind));
        }
        assert_eq!(by_probe.len(), 30, "every probe is in the first answer");
        for (probe, reports) in &by_probe {
            let full = reports
                .iter()
                .filter(|(_, k)| *k == ReportKind::Full)
                .map(|(at, _)| *at)
                .collect::<Vec<_>>();
            assert_eq!(full.len(), 1, "one full report for {probe:x}");
            let newest_full = (0..keys.len())
                .rev()
                .find(|&at| {
                    ReportTag::of_key(&keys[at])
                        .is_some_and(|t| t.probe == *probe && t.kind == ReportKind::Full)
                })
                .unwrap();
            assert_eq!(full[0], newest_full, "the probe's newest full report");
            let newest = (0..keys.len())
                .rev()
                .find(|&at| ReportTag::of_key(&keys[at]).is_some_and(|t| t.probe == *probe))
                .unwrap();
            let deltas: Vec<usize> = reports
                .iter()
                .filter(|(_, k)| *k == ReportKind::Delta)
                .map(|(at, _)| *at)
                .collect();
            if newest == newest_full {
                assert!(deltas.is_empty(), "no delta after the newest full report");
            } else {
                assert_eq!(deltas, vec![newest], "only the newest delta");
            }
        }
        // A third of the probes end on a full report, a third on each delta.
        assert_eq!(chosen.len(), 30 + 20);
        assert!(chosen.windows(2).all(|w| w[0] < w[1]), "in window order");
    }

    #[test]
    fn shortcuts_after_the_full_report_all_come_and_older_ones_do_not() {
        let mut keys = window(true);
        let late = T0 + 5 * 3000;
        keys.push(key(late, 900, Some(("probe-0", ReportKind::Shortcut))));
        keys.push(key(late + 1, 901, Some(("probe-0", ReportKind::Shortcut))));
        keys.insert(0, key(T0 - 1, 902, Some(("probe-0", ReportKind::Shortcut))));
        let chosen = chosen(&keys).unwrap();
        let shortcuts: Vec<&String> = chosen
            .iter()
            .map(|&at| &keys[at])
            .filter(|k| ReportTag::of_key(k).unwrap().kind == ReportKind::Shortcut)
            .collect();
        assert_eq!(shortcuts.len(), 2, "{shortcuts:?}");
        assert!(shortcuts.iter().all(|k| report_time_ms(k).unwrap() >= late));
    }

    #[test]
    fn untagged_reports_and_probes_without_a_full_report_reach_back_three_quanta() {
        let keys = window(false);
        let untagged = chosen(&keys).unwrap();
        let newest = report_time_ms(keys.last().unwrap()).unwrap();
        let from = newest - FULL_REPORT_QUANTA * QUANTUM_MS;
        let expected: Vec<usize> = (0..keys.len())
            .filter(|&at| report_time_ms(&keys[at]).unwrap() > from)
            .collect();
        assert_eq!(untagged, expected);

        let mut keys = window(true);
        for tick in 0..5 {
            keys.push(key(
                T0 + tick * 3000 + 5,
                1000 + tick as u64,
                Some(("deltas-only", ReportKind::Delta)),
            ));
        }
        keys.sort_by_key(|k| report_time_ms(k));
        let lone = ReportTag::new("deltas-only", ReportKind::Delta).probe;
        let of_lone: Vec<i64> = chosen(&keys)
            .unwrap()
            .iter()
            .filter(|&&at| ReportTag::of_key(&keys[at]).unwrap().probe == lone)
            .map(|&at| report_time_ms(&keys[at]).unwrap())
            .collect();
        assert_eq!(of_lone, vec![T0 + 6005, T0 + 9005, T0 + 12005]);
    }

    #[test]
    fn small_windows_and_windows_of_full_reports_are_merged_whole() {
        let keys = window(true);
        assert_eq!(chosen(&keys[..FIRST_ANSWER_MIN]), None);
        let fulls: Vec<String> = (0..100)
            .map(|i| {
                key(
                    T0 + i * 10,
                    i as u64,
                    Some((&format!("p{i}"), ReportKind::Full)),
                )
            })
            .collect();
        assert_eq!(
            chosen(&fulls),
            None,
            "every report is its probe's newest full one"
        );
    }
}
