//! Black-box tests of the journal, snapshots, recovery and backups on a real sled directory.
//! One test binary (modules below) so the crate links its tests once.

mod backup;
mod corruption;
mod faults;
mod helpers;
mod paging;
mod property;
mod round_trip;
mod snapshots;
mod truncation;
