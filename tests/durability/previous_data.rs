//! A data directory written by the previous release opens and serves under this build:
//! `tests/fixtures/previous-data.tar.gz` (made by `tests/fixtures/make-previous-data.sh`
//! with the previous release's binary) holds snapshots and journal records of a flash sale
//! and a course group after a clean stop, `previous-data-killed.tar.gz` the same after
//! SIGKILL (the orders after the snapshots in the journal only, replayed at start);
//! `previous-data.json` the orders, stock and groups that release served from both. This build must pass `playcore check` on it, start on it, serve the same facts,
//! take new orders after the recorded ones, and start again on what it wrote itself.

use playcore_testkit::process::{run_playcore, Api, Server, TestDir};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn unpack_previous_data(archive: &str, data_dir: &Path) {
    std::fs::create_dir_all(data_dir).expect("create the data directory");
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(fixture(archive))
        .arg("-C")
        .arg(data_dir)
        .status()
        .expect("tar runs");
    assert!(status.success(), "tar -xzf {archive}: {status}");
}

fn expected_facts() -> Value {
    let text = std::fs::read_to_string(fixture("previous-data.json")).expect("the facts file");
    serde_json::from_str(&text).expect("the facts are JSON")
}

/// `value` with only the keys of `expected` (recursively): this build may add fields.
fn project(value: &Value, expected: &Value) -> Value {
    match expected {
        Value::Object(fields) => fields
            .iter()
            .map(|(key, field)| (key.clone(), project(&value[key], field)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        _ => value.clone(),
    }
}

fn assert_serves(api: &Api, facts: &Value, context: &str) {
    let reads = [
        ("activities", "id", "/api/v1/activities/"),
        ("orders", "orderId", "/api/v1/orders/"),
        ("groups", "groupId", "/api/v1/groups/"),
    ];
    for (kind, key, path) in reads {
        for expected in facts[kind].as_array().expect("a list of facts") {
            let id = expected[key].as_str().expect("an id");
            let answer = api
                .get(&format!("{path}{id}"))
                .expect("the read is answered");
            assert_eq!(answer.status, 200, "{context}: {path}{id}: {answer:?}");
            assert_eq!(
                &project(answer.data(), expected),
                expected,
                "{context}: {path}{id} differs from what the previous release served"
            );
        }
    }
}

fn start(data_dir: &Path, log: &Path) -> Server {
    match Server::try_start(data_dir, log, &[]) {
        Ok(server) => server,
        Err(status) => panic!(
            "this build refuses the previous release's data directory ({status}); log:\n{}",
            playcore_testkit::process::read_log(log)
        ),
    }
}

#[test]
fn previous_release_data_after_a_clean_stop_checks_opens_and_serves_the_same_facts() {
    checks_opens_and_serves("previous-data.tar.gz", false);
}

#[test]
fn previous_release_data_after_a_crash_replays_and_serves_the_same_facts() {
    checks_opens_and_serves("previous-data-killed.tar.gz", true);
}

/// Whether `playcore check` replayed journal entries, from its summary line ("…, N entries
/// replayed; …").
fn replayed_entries(report: &str) -> bool {
    report
        .split(" entries replayed")
        .next()
        .and_then(|before| before.rsplit(' ').next())
        .is_some_and(|count| count.parse::<u64>().is_ok_and(|entries| entries > 0))
}

fn checks_opens_and_serves(archive: &str, replays: bool) {
    let dir = TestDir::new("previous-data-");
    let data_dir = dir.data_dir();
    unpack_previous_data(archive, &data_dir);
    let data_dir_text = data_dir.to_str().expect("a UTF-8 path");
    let check = run_playcore(&["check", "--data-dir", data_dir_text]);
    assert!(
        check.status.success(),
        "playcore check refuses the previous release's data directory ({}):\n{}{}",
        check.status,
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert_eq!(
        replayed_entries(&report),
        replays,
        "{archive}: journal entries replayed after the snapshots:\n{report}"
    );
    let facts = expected_facts();
    let first_log = dir.path().join("first.log");
    let mut server = start(&data_dir, &first_log);
    let api = Api::new(&server);
    assert_serves(&api, &facts, "first start");
    // New orders continue the recorded numbering and stock.
    let grab = api
        .grab("1", "u-new", "r-new")
        .expect("the grab is answered");
    assert_eq!(grab.status, 201, "{grab:?}");
    assert_eq!(grab.data()["orderId"], json!("ord-1-6"));
    let status = server.terminate();
    assert!(status.success(), "stop: {status}");
    let mut facts = facts;
    let sale_stock = &mut facts["activities"][0]["stock"];
    for (field, change) in [("available", -1), ("reserved", 1)] {
        let units = sale_stock[field].as_i64().expect("a count") + change;
        sale_stock[field] = json!(units);
    }

    let second_log = dir.path().join("second.log");
    let server = start(&data_dir, &second_log);
    let api = Api::new(&server);
    assert_serves(&api, &facts, "restart on this build's own snapshots");
    let order = api.order("ord-1-6");
    assert_eq!(order.data()["status"], "PENDING_PAY", "{order:?}");
}
