use crate::model::{DnsRecords, Report};

impl Report {
    /// `Report.UnsafeMerge`: earliest non-zero `TS`, DNS unions, sampling and `Window` summed,
    /// plugins united (theirs win), every topology merged. `Shortcut` and `ID` stay ours.
    pub fn merge(&mut self, other: &Report) {
        self.merge_header(other);
        for ((_, ours), (_, theirs)) in self.topologies_mut().zip(other.topologies()) {
            ours.merge(theirs);
        }
    }

    /// As [`Report::merge`], taking `other`: its nodes move in rather than being copied, which
    /// is most of a merge's work when the reports are different probes'.
    pub fn merge_owned(&mut self, mut other: Report) {
        self.merge_header(&other);
        for ((_, ours), (_, theirs)) in self.topologies_mut().zip(other.topologies_mut()) {
            ours.merge_owned(std::mem::take(theirs));
        }
    }

    /// Everything of a merge but the topologies.
    fn merge_header(&mut self, other: &Report) {
        if self.ts.is_zero() || (!other.ts.is_zero() && other.ts < self.ts) {
            self.ts = other.ts;
        }
        merge_dns(&mut self.dns, &other.dns);
        merge_dns(&mut self.bug_dns, &other.bug_dns);
        self.sampling.count = self.sampling.count.saturating_add(other.sampling.count);
        self.sampling.total = self.sampling.total.saturating_add(other.sampling.total);
        self.window = self.window.saturating_add(other.window);
        for (id, spec) in &other.plugins {
            self.plugins.insert(id.clone(), spec.clone());
        }
    }
}

/// Per address, forward and reverse names are united.
fn merge_dns(ours: &mut DnsRecords, theirs: &DnsRecords) {
    for (addr, record) in theirs {
        let mine = ours.entry(addr.clone()).or_default();
        mine.forward.extend(record.forward.iter().cloned());
        mine.reverse.extend(record.reverse.iter().cloned());
    }
}
