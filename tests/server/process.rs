//! The real `playcore` binary as the operating system sees it: every one of its threads
//! runs under the scheduling policy of `server.thread_policy`, but the journal's snapshot
//! thread, which runs under `SCHED_IDLE` whatever the setting.

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
            let wanted = if name.starts_with("journal-snapsho") {
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

/// The nice value of each thread of process `pid`, by name (`/proc/…/stat`, field 19).
#[cfg(target_os = "linux")]
fn thread_nice_values(pid: u32) -> Vec<(String, i64)> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the server's threads");
    let mut values = Vec::new();
    for task in tasks {
        let path = task.expect("a thread entry").path();
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        // After the name's closing parenthesis: state is field 3, nice field 19.
        let Some((name, rest)) = stat
            .split_once(" (")
            .and_then(|(_, rest)| rest.rsplit_once(") "))
        else {
            continue;
        };
        if let Some(nice) = rest.split(' ').nth(16).and_then(|field| field.parse().ok()) {
            values.push((name.to_owned(), nice));
        }
    }
    values
}

#[cfg(target_os = "linux")]
#[test]
fn the_event_indexer_runs_below_the_grab_path() {
    let directory = TestDir::new("indexer-nice");
    let log = directory.path().join("server.log");
    let mut server = Server::start(&directory.data_dir(), &log);
    let values = thread_nice_values(server.pid());
    server.terminate();
    let indexer = values.iter().find(|(name, _)| name == "event-indexer");
    assert_eq!(indexer.map(|(_, nice)| *nice), Some(10), "{values:?}");
    let writer = values.iter().find(|(name, _)| name == "journal-writer");
    assert_eq!(writer.map(|(_, nice)| *nice), Some(0), "{values:?}");
}
