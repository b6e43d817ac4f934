//! Durability against the real binary (README, "Durability"): acknowledged state survives
//! kill -9, damaged storage is refused or cut as documented, backups restore, a full disk
//! and failed syncs are survived, and a data directory written by the previous release
//! opens and serves. Every test runs `playcore` as a child process
//! (`playcore_testkit::process`).

mod backup;
mod corruption;
mod crash;
mod event_history;
mod previous_data;
mod storage;
mod webhooks;
