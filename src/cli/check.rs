//! `playcore check`: verifies a stopped server's data directory offline, as start-up would
//! and further: the seal, every journal record and its sequence, every snapshot start-up
//! would use and its reference, a replay of every activity, the cold store, the audit
//! chain and every record of the event store. It changes nothing of playcore's own; sled itself, when it opens a directory
//! that a crash left behind, rewrites the unreadable end of its active log segment.

use std::path::Path;

use playcore_actors::runtime::check_replay;
use playcore_snapshots::event_store::{EventStore, EventStoreConfig};
use playcore_snapshots::{ColdStore, Store};

/// What `check` found: problems make the directory unfit to serve; notes do not.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub problems: Vec<String>,
    pub notes: Vec<String>,
}

impl CheckReport {
    /// No problem found.
    pub fn is_whole(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies everything in `directory` without changing it.
pub fn check_data_dir(directory: &Path) -> CheckReport {
    let mut report = CheckReport::default();
    let data_file = directory.join("db");
    if !data_file.is_file() {
        report
            .problems
            .push(format!("{}: no database here", directory.display()));
        return report;
    }
    let store = match Store::open(directory) {
        Ok(store) => store,
        Err(error) => {
            let problem = format!("{}: cannot be opened: {error}", data_file.display());
            report.problems.push(problem);
            return report;
        }
    };
    check_journal_and_snapshots(&store, &mut report);
    check_cold_store(&store, &mut report);
    check_audit_chain(&store, &mut report);
    check_event_store(directory, &mut report);
    report
}

fn check_event_store(directory: &Path, report: &mut CheckReport) {
    let events_directory = directory.join(crate::core::EVENTS_DIRECTORY);
    if !events_directory.join("db").is_file() {
        let note = "event store: none yet (the first start indexes the journal)";
        return report.notes.push(note.to_owned());
    }
    let config = EventStoreConfig {
        retention_ms: u64::MAX,
        bytes_max: u64::MAX,
    };
    let outcome = EventStore::open(&events_directory, config).and_then(|events| {
        let records = events.verify_all()?;
        Ok((records, events.indexed_seq()))
    });
    match outcome {
        Ok((records, indexed_seq)) => report.notes.push(format!(
            "event store: {records} events verified, indexed up to seq {indexed_seq}"
        )),
        Err(error) => report.problems.push(format!(
            "{}: event store: {error}",
            events_directory.display()
        )),
    }
}

fn check_journal_and_snapshots(store: &Store, report: &mut CheckReport) {
    let checked = match check_replay(store) {
        Ok(checked) => checked,
        Err(error) => return report.problems.push(error.to_string()),
    };
    let (replay, verified) = (&checked.report, &checked.verified);
    report.notes.push(format!(
        "journal and snapshots: {} activities, {} snapshots, {} entries replayed; the \
         journal continues at seq {}; sealed seq {}",
        replay.activities,
        replay.snapshots_loaded,
        replay.entries_replayed,
        verified.next_seq,
        verified.sealed_seq.map_or_else(
            || "none (written by an older build)".to_string(),
            |seq| seq.to_string()
        ),
    ));
    if let Some((seq, fault)) = &verified.torn_tail {
        report.notes.push(format!(
            "a torn journal tail from seq {seq} ({fault}), past the seal: never acknowledged; \
             start-up cuts it"
        ));
    }
    for stray in &verified.strays {
        report.notes.push(format!(
            "{}: no reference keeps it; start-up moves it to quarantine/",
            stray.display()
        ));
    }
}

fn check_cold_store(store: &Store, report: &mut CheckReport) {
    let outcome = ColdStore::open(store)
        .map_err(|error| error.to_string())
        .and_then(|cold| cold.verify_all().map_err(|error| error.to_string()));
    match outcome {
        Ok(records) => report
            .notes
            .push(format!("cold store: {records} archived orders verified")),
        Err(error) => report.problems.push(format!(
            "{}: cold store (tree orders_archive): {error}",
            store.directory().join("db").display()
        )),
    }
}

fn check_audit_chain(store: &Store, report: &mut CheckReport) {
    let outcome = playcore_snapshots::audit::verify_chain(store);
    match outcome {
        Ok(verified) => report.notes.push(format!(
            "audit log: {} records, hash chain intact",
            verified.records
        )),
        Err(error) => report.problems.push(format!(
            "{}: audit log (tree audit): {error}",
            store.directory().join("db").display()
        )),
    }
}
