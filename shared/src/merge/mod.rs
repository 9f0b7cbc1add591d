//! Scope's merge rules (`report/*.go: Merge`), applied in place: `ours.merge(&theirs)` leaves in
//! `ours` what Scope's `ours.UnsafeMerge(theirs)` computes, including which side wins each tie.

mod fast;
mod metric;
mod node;
mod report;
mod topology;
mod unmerge;

pub use fast::{fast_merge, merged_id};
pub use metric::merge_metric;
