//! Stored bytes: what this build writes to the journal, the snapshot files and the cold store
//! must stay readable by the next one. Each committed fixture under `tests/fixtures/` holds
//! the bytes of one event kind or one stored layout; the tests decode it, compare it with
//! the value built here, and encode the value again to the same bytes. A changed encoding
//! fails here before a data directory in production refuses to open.
//!
//! `PLAYCORE_WRITE_FIXTURES=1 cargo test --release -p playcore-actors --test stored_bytes`
//! writes the fixtures from the values here instead of reading them: only for a new event
//! kind or layout, never to make a changed encoding pass.

mod events;
mod fixture;
mod layouts;
mod samples;
