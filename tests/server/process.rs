//! The real `playcore` binary as the operating system sees it: every one of its threads
//! runs under the scheduling policy of `server.thread_policy`, but the background ones (the
//! journal's snapshot thread, the event indexer, the delivery engine), which run under
//! `SCHED_IDLE` whatever the setting.

use playcore_testkit::process::{Server, TestDir};

/// Each thread of process `pid`: its name and its scheduling policy number.
#[cfg(target_os = "linux")]
fn thread_policies(pid: u32) -> Vec<(String, i32)> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the server's threads");
    let mut policies = Vec::new();
    for task in tasks {
        let path = task.expect("a thread entry").path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let tid: libc::pid_t = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.parse().ok())
            .expect("a numeric thread id");
        // SAFETY: a plain query by thread id; -1 (the thread ended meanwhile) is skipped.
        let policy = unsafe { libc::sched_getscheduler(tid) };
        if policy >= 0 {
            policies.push((name.trim().to_owned(), policy));
        }
    }
    policies
}

/// The threads that run under `SCHED_IDLE` whatever the setting (names cut to 15 bytes).
#[cfg(target_os = "linux")]
const BACKGROUND_THREADS: [&str; 3] = ["journal-snapsho", "event-indexer", "playcore-delive"];

#[cfg(target_os = "linux")]
fn policies_under(setting: Option<&str>) -> Vec<(String, i32)> {
    let directory = TestDir::new("thread-policy");
    let log = directory.path().join("server.log");
    let env: Vec<(&str, &str)> = setting
        .map(|value| ("PLAYCORE__SERVER__THREAD_POLICY", value))
        .into_iter()
        .collect();
    let mut server = Server::start_with_env(&directory.data_dir(), &log, &env);
    let policies = thread_policies(server.pid());
    server.terminate();
    policies
}

#[cfg(target_os = "linux")]
#[test]
fn every_server_thread_runs_under_the_configured_policy() {
    for (setting, expected) in [
        (None, libc::SCHED_BATCH),
        (Some("normal"), libc::SCHED_OTHER),
        (Some("batch"), libc::SCHED_BATCH),
    ] {
        let policies = policies_under(setting);
        let names: Vec<&str> = policies.iter().map(|(name, _)| name.as_str()).collect();
        // The main thread, HTTP workers and arbiters, and the journal's two threads at least.
        assert!(
            names.contains(&"journal-writer") && names.len() >= 5,
            "{setting:?}: {policies:?}"
        );
        for (name, policy) in &policies {
            // Thread names are cut to 15 bytes: "journal-snapshots" reads "journal-snapsho".
            let background = BACKGROUND_THREADS
                .iter()
                .any(|prefix| name.starts_with(prefix));
            // sled's io pool threads take the policy of the thread that started them, which
            // may be a background one; the journal writer writes its own buffers.
            let pooled = name.starts_with("sled-io") && *policy == libc::SCHED_IDLE;
            let wanted = if background || pooled {
                libc::SCHED_IDLE
            } else {
                expected
            };
            assert_eq!(
                *policy, wanted,
                "{setting:?}: thread {name} under policy {policy}; all: {policies:?}"
            );
        }
        assert!(
            names.iter().any(|name| name.starts_with("journal-snapsho")),
            "{setting:?}: the snapshot thread runs: {policies:?}"
        );
    }
}

#[cfg(target_os = "linux")]
#[test]
fn the_event_indexer_and_the_delivery_engine_run_in_the_background_class() {
    let policies = policies_under(None);
    for background in ["event-indexer", "playcore-delive"] {
        let found: Vec<i32> = policies
            .iter()
            .filter(|(name, _)| name.starts_with(background))
            .map(|(_, policy)| *policy)
            .collect();
        assert!(!found.is_empty(), "{background} runs: {policies:?}");
        assert!(
            found.iter().all(|policy| *policy == libc::SCHED_IDLE),
            "{background}: {policies:?}"
        );
    }
    let writer = policies.iter().find(|(name, _)| name == "journal-writer");
    assert_eq!(writer.map(|(_, policy)| *policy), Some(libc::SCHED_BATCH));
}
