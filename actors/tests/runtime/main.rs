//! The runtime in process: end to end (mailboxes, snapshots, recovery, the cold store), the
//! durable gate against a real journal, and under storage faults. `common` opens flash sales through the admin commands.

mod common;
mod durable;
mod end_to_end;
mod storage_faults;
