use crate::model::{Metric, Sample};

/// `Metric.Merge` with `receiver` as Scope's receiver: samples merged in time order, where
/// both have a sample at the same time the receiver's is kept; min and max widened.
pub fn merge_metric(receiver: &Metric, other: &Metric) -> Metric {
    let (a, b) = (&receiver.samples, &other.samples);
    let samples = if b.is_empty() {
        a.clone()
    } else if a.is_empty() {
        b.clone()
    } else if a[a.len() - 1].date < b[0].date {
        concat(a, b)
    } else if b[b.len() - 1].date < a[0].date {
        concat(b, a)
    } else {
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            if a[i].date < b[j].date {
                out.push(a[i]);
                i += 1;
            } else if b[j].date < a[i].date {
                out.push(b[j]);
                j += 1;
            } else {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
        out.extend_from_slice(&a[i..]);
        out.extend_from_slice(&b[j..]);
        out
    };
    Metric {
        samples,
        min: receiver.min.min(other.min),
        max: receiver.max.max(other.max),
    }
}

fn concat(first: &[Sample], second: &[Sample]) -> Vec<Sample> {
    let mut out = Vec::with_capacity(first.len() + second.len());
    out.extend_from_slice(first);
    out.extend_from_slice(second);
    out
}
