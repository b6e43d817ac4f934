//! Journal truncation floors: how far back recovery still needs each activity's entries.
//!
//! An activity needs its entries after the older of its two newest durable snapshots: the
//! journal's snapshot thread keeps two generations of files, so that a damaged or missing
//! newest snapshot is rebuilt from the previous one and the journal after it. The thread
//! reports a snapshot once it is durable (file, reference and the events it reflects all
//! synced); only then does the activity's floor rise to the snapshot before it, and the
//! journal may be truncated below the lowest floor of all activities.

use crate::domain::ActivityId;
use dashmap::DashMap;

#[derive(Default)]
pub struct SnapshotFloors {
    floors: DashMap<ActivityId, Floor>,
}

/// One activity's positions: what it still needs, and where its newest snapshot ends.
#[derive(Clone, Copy)]
struct Floor {
    needed_seq: u64,
    newest_seq: u64,
}

impl SnapshotFloors {
    /// Registers an activity that needs every entry from `floor_seq` on.
    pub fn register(&self, id: ActivityId, floor_seq: u64) {
        let floor = Floor {
            needed_seq: floor_seq,
            newest_seq: floor_seq,
        };
        self.floors.insert(id, floor);
    }

    /// A snapshot covering the activity's entries up to `floor_seq - 1` is durable: the
    /// activity now needs the entries after its previous snapshot.
    pub fn snapshot_durable(&self, id: ActivityId, floor_seq: u64) {
        if let Some(mut floor) = self.floors.get_mut(&id) {
            if floor_seq > floor.newest_seq {
                floor.needed_seq = floor.newest_seq;
                floor.newest_seq = floor_seq;
            }
        }
    }

    /// The lowest entry any activity still needs; 0 (truncate nothing) when no activity
    /// is known.
    pub fn truncation_floor(&self) -> u64 {
        self.floors
            .iter()
            .map(|entry| entry.value().needed_seq)
            .min()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_the_lowest_previous_snapshot_position() {
        let floors = SnapshotFloors::default();
        floors.register(ActivityId(1), 5);
        floors.register(ActivityId(2), 9);
        assert_eq!(floors.truncation_floor(), 5);
        floors.snapshot_durable(ActivityId(1), 20);
        assert_eq!(
            floors.truncation_floor(),
            5,
            "one generation keeps the start"
        );
        floors.snapshot_durable(ActivityId(1), 25);
        assert_eq!(floors.truncation_floor(), 9);
        floors.snapshot_durable(ActivityId(1), 12);
        floors.snapshot_durable(ActivityId(2), 30);
        floors.snapshot_durable(ActivityId(2), 40);
        assert_eq!(floors.truncation_floor(), 20, "a floor never goes back");
    }

    #[test]
    fn no_activity_means_no_truncation() {
        assert_eq!(SnapshotFloors::default().truncation_floor(), 0);
    }
}
