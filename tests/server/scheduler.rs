//! Black-box test of the lifecycle scheduler against the real binary: the health interval
//! set through the environment layer (`PLAYCORE__SCHEDULER__HEALTH_INTERVAL_SECONDS`) is the
//! one the health runs follow, and a graceful stop ends the scheduler's tasks with the
//! server (exit 0).

use std::thread;
use std::time::{Duration, Instant};

use playcore_testkit::process::{Api, Server, TestDir, OPERATOR_TOKEN};
use serde_json::Value;

/// How long the runs may take to appear with a one-second interval.
const RUNS_TIMEOUT: Duration = Duration::from_secs(10);

fn health_runs(api: &Api) -> Vec<Value> {
    let answer = api
        .admin_get("/admin/v1/scheduler/runs?task=health", OPERATOR_TOKEN)
        .expect("the runs are served");
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.data()["runs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn the_health_interval_comes_from_the_environment_and_shutdown_stops_the_task() {
    let dir = TestDir::new("playcore-scheduler-");
    let env = [("PLAYCORE__SCHEDULER__HEALTH_INTERVAL_SECONDS", "1")];
    let mut server = Server::start_with_env(&dir.data_dir(), &dir.path().join("server.log"), &env);
    let api = Api::new(&server);

    let deadline = Instant::now() + RUNS_TIMEOUT;
    let runs = loop {
        let runs = health_runs(&api);
        if runs.len() >= 3 {
            break runs;
        }
        assert!(
            Instant::now() < deadline,
            "fewer than 3 health runs: {runs:?}"
        );
        thread::sleep(Duration::from_millis(200));
    };
    for run in &runs {
        let started = run["startedAt"].as_str().expect("startedAt");
        let ended = run["endedAt"].as_str().expect("endedAt");
        assert!(started <= ended, "{run}");
        assert!(run["itemsProcessed"].as_u64().expect("items") >= 1, "{run}");
    }

    let status = server.terminate();
    assert!(
        status.success(),
        "exit status {status:?}; log:\n{}",
        server.log()
    );
}
