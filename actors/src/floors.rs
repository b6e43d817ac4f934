//! Journal truncation floors: how far back recovery still needs each activity's entries.
//!
//! An activity needs its entries after its newest durable snapshot. A snapshot is queued
//! behind the events it reflects; it is known durable once an entry appended after it is
//! durable (the writer takes snapshots and entries in queue order). So a new floor waits as
//! "pending" until the durable watermark passes `safe_after_seq`, and only then may the
//! journal be truncated below it.

use crate::domain::ActivityId;
use dashmap::DashMap;

#[derive(Clone, Copy, Debug)]
struct Floor {
    confirmed_seq: u64,
    pending: Option<(u64, u64)>,
}

#[derive(Default)]
pub struct SnapshotFloors {
    floors: DashMap<ActivityId, Floor>,
}

impl SnapshotFloors {
    /// Registers an activity that needs every entry from `floor_seq` on.
    pub fn register(&self, id: ActivityId, floor_seq: u64) {
        self.floors.insert(
            id,
            Floor {
                confirmed_seq: floor_seq,
                pending: None,
            },
        );
    }

    /// A snapshot covering entries up to `floor_seq - 1` was queued; it is durable once the
    /// watermark reaches `safe_after_seq`.
    pub fn snapshot_queued(&self, id: ActivityId, floor_seq: u64, safe_after_seq: u64) {
        if let Some(mut floor) = self.floors.get_mut(&id) {
            floor.pending = Some((floor_seq, safe_after_seq));
        }
    }

    /// The lowest entry any activity still needs, given the position the journal writer has
    /// really written (`Journal::written_seq`, not the relaxed-mode acknowledgement);
    /// 0 (truncate nothing) when no activity is known.
    pub fn truncation_floor(&self, durable_seq: u64) -> u64 {
        let mut lowest = u64::MAX;
        for mut entry in self.floors.iter_mut() {
            if let Some((floor_seq, safe_after_seq)) = entry.pending {
                if safe_after_seq <= durable_seq {
                    entry.confirmed_seq = entry.confirmed_seq.max(floor_seq);
                    entry.pending = None;
                }
            }
            lowest = lowest.min(entry.confirmed_seq);
        }
        if lowest == u64::MAX {
            0
        } else {
            lowest
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_floor_counts_only_once_the_watermark_passes_it() {
        let floors = SnapshotFloors::default();
        floors.register(ActivityId(1), 5);
        floors.register(ActivityId(2), 9);
        floors.snapshot_queued(ActivityId(1), 20, 25);
        assert_eq!(floors.truncation_floor(24), 5);
        assert_eq!(floors.truncation_floor(25), 9);
    }

    #[test]
    fn no_activity_means_no_truncation() {
        assert_eq!(SnapshotFloors::default().truncation_floor(100), 0);
    }
}
