//! playcore-snapshots: the durable memory of playcore. Actors keep their state in
//! memory; this crate makes the events that changed it durable (a write-ahead
//! journal with group commit in sled), stores snapshots of actor state, and gives
//! both back at start-up, verified.
//!
//! # Layout
//!
//! - [`codec`]: the one place that knows bytes: bincode for serde values, event
//!   framing, journal record and snapshot headers with format version and crc32.
//! - [`store`]: [`Store`] opens sled with our settings, owns the trees "journal",
//!   "snapshots" and "meta", and does the `fdatasync` sled's flush leaves out.
//! - [`journal`]: [`Journal`] handle, its writer thread (bounded appends, group commit,
//!   the durable watermark, truncation) and its snapshot thread (encodes queued
//!   snapshots and stores each in its own file, named by a reference in sled, beside the
//!   group commit rather than inside it).
//! - [`recovery`]: [`recover`] reads snapshots and the journal back, verifies every
//!   record and cuts a corrupt tail; [`read_events`] pages through the event log.
//! - [`seal`]: the journal's durable seq, recorded outside sled, so recovery can tell a
//!   damaged sled log (acknowledged entries lost: refuse) from a torn tail (cut).
//! - [`backup`]: online backups of a running store (snapshots, the journal up to a durable
//!   seq, every other tree; each file checksummed, verified after it is written), their
//!   verification, restore into a new data directory, and retention.
//! - [`cold`]: [`ColdStore`], the sled tree `orders_archive` that keeps records moved out
//!   of memory (archived orders), verified on read and synced before a write returns.
//! - [`audit`]: [`audit::AuditStore`], the sled tree `audit` holding the admin audit log
//!   as a hash chain (append synced before it returns, paged reads, chain verification).
//! - [`space`]: the free-space guard: new writes are refused while the data directory's
//!   file system is below its reserve ([`AppendError::StorageFull`]).
//! - `sync_health`: a failed flush or sync poisons the store (fail-stop), and the fault
//!   hook that injects one ([`Store::inject_sync_failure_after`]).
//! - [`throttle`]: [`throttle::LogThrottle`], one line per interval for repeated warnings.
//!
//! # Durability contract
//!
//! In [`Durability::Fsync`] mode an event is covered by [`Journal::durable_seq`]
//! only after its record was written, sled-flushed and fdatasync'ed; nothing below
//! the watermark is lost by a crash. [`Durability::Relaxed`] trades the last flush
//! interval for throughput. A snapshot's reference is stored only once every event it
//! reflects is written, so it is never durable before them.
//!
//! Journal sled keys are first sequence numbers (u64 big-endian), so key order is
//! seq order; each value is one record holding a batch of events (one sled insert
//! per batch, never per event: a sled insert costs microseconds).

pub mod audit;
pub mod backup;
pub mod codec;
pub mod cold;
pub mod event_store;
pub mod journal;
pub mod recovery;
pub mod seal;
pub mod space;
pub mod store;
mod sync_health;
pub mod throttle;

pub use codec::{decode, encode, encode_into, CodecError};
pub use cold::{ColdError, ColdStore};
pub use journal::{AppendError, Durability, ExpectedWaiter, Journal, JournalConfig, JournalStats};
pub use recovery::{
    corrupt_last_record, read_events, recover, recover_with, verify_with, Corruption, Damage,
    Recovered, RecoveredEvent, RecoveredSnapshot, TailCut, Verified, QUARANTINE_DIRECTORY,
};
pub use space::SpaceReserve;
pub use store::{Store, StoreError};
