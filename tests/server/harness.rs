//! The load-test harness against the real server, at small sizes: every scenario runs end
//! to end through the admin API, and the verdict passes a correct run and fails a run it is
//! told to distort.

use clap::Parser;
use playcore_loadtest::cli::Options;
use playcore_loadtest::run_blocking;
use playcore_loadtest::summary::Report;
use playcore_testkit::process::{Server, TestDir};

fn start(name: &str) -> (TestDir, Server) {
    let dir = TestDir::new(name);
    let server = Server::start(&dir.data_dir(), &dir.path().join("server.log"));
    (dir, server)
}

fn options(server: &Server, dir: &TestDir, args: &[&str]) -> Options {
    let base = server.url("");
    let out = dir.path().join("report.json");
    let mut argv = vec!["playcore-loadtest"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--url", &base, "--quiet", "--out"]);
    argv.push(out.to_str().expect("a UTF-8 temporary path"));
    Options::try_parse_from(argv).expect("the options parse")
}

fn run(server: &Server, dir: &TestDir, args: &[&str]) -> Report {
    run_blocking(&options(server, dir, args)).expect("the run is carried out")
}

fn failed_checks(report: &Report) -> Vec<String> {
    let verdict = report.verdict.as_ref().expect("a verdict");
    let failed = verdict.checks.iter().filter(|check| !check.passed);
    failed.map(|check| check.name.clone()).collect()
}

fn phase<'a>(report: &'a Report, name: &str) -> &'a playcore_loadtest::summary::PhaseSummary {
    let found = report.phases.iter().find(|phase| phase.name == name);
    found.unwrap_or_else(|| panic!("no phase {name} in {:?}", report.phases))
}

fn unix_ms_now() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.expect("a clock after 1970").as_millis() as u64
}

const RUSH: [&str; 9] = [
    "flash-rush",
    "--users",
    "300",
    "--requests",
    "1500",
    "--stock",
    "100",
    "--concurrency",
    "16",
];

#[test]
fn a_flash_rush_with_repeats_and_mock_payments_passes_its_verdict() {
    let (dir, server) = start("harness-rush");
    let mut args = RUSH.to_vec();
    args.extend(["--pay-share", "0.5", "--seed", "7"]);
    let report = run(&server, &dir, &args);
    assert!(failed_checks(&report).is_empty(), "{:?}", report.verdict);
    let grabs = phase(&report, "playcore grab");
    assert_eq!(grabs.requests, 1500);
    assert!(grabs.codes["SOLD_OUT"] > 0, "{:?}", grabs.codes);
    let paid = phase(&report, "playcore pay").codes["OK"];
    assert!(
        (20..=80).contains(&paid),
        "about half of 100 orders paid, got {paid}"
    );
}

#[test]
fn a_rush_below_its_stock_with_signed_notifications_serves_every_user() {
    let (dir, server) = start("harness-notify");
    let args = [
        "flash-rush",
        "--users",
        "200",
        "--requests",
        "600",
        "--stock",
        "1000",
        "--per-user-limit",
        "2",
        "--pay-share",
        "1",
        "--pay-mode",
        "notify",
    ];
    let report = run(&server, &dir, &args);
    assert!(failed_checks(&report).is_empty(), "{:?}", report.verdict);
    let ok = phase(&report, "playcore pay")
        .codes
        .get("OK")
        .copied()
        .unwrap_or(0);
    assert!(
        ok > 200,
        "every new order is paid by a signed notification, got {ok}"
    );
}

#[test]
fn the_verdict_fails_each_distorted_run() {
    let (dir, server) = start("harness-distort");
    let expected = [
        ("phantom-order", "every confirmed order present"),
        ("oversell", "stock conserved"),
        ("over-limit", "no user above the limit"),
    ];
    for (distortion, check) in expected {
        let mut args = RUSH.to_vec();
        args.extend(["--distort", distortion]);
        let report = run(&server, &dir, &args);
        let failed = failed_checks(&report);
        assert!(
            failed.iter().any(|name| name == check),
            "{distortion}: {failed:?}"
        );
    }
}

#[test]
fn a_group_buy_fills_groups_and_refuses_late_joiners() {
    let (dir, server) = start("harness-groups");
    let args = [
        "group-buy",
        "--groups",
        "30",
        "--group-size",
        "3",
        "--concurrency",
        "8",
    ];
    let report = run(&server, &dir, &args);
    assert!(failed_checks(&report).is_empty(), "{:?}", report.verdict);
    assert_eq!(phase(&report, "playcore start group").codes["OK"], 30);
    assert!(phase(&report, "playcore join").codes["GROUP_FULL"] > 10);
    let distorted = run(
        &server,
        &dir,
        &["group-buy", "--groups", "5", "--distort", "oversell"],
    );
    assert!(failed_checks(&distorted).contains(&"stock conserved".to_owned()));
}

#[test]
fn a_mixed_run_reads_and_grabs_in_ratio() {
    let (dir, server) = start("harness-mixed");
    let args = [
        "mixed",
        "--requests",
        "1000",
        "--read-share",
        "0.5",
        "--stock",
        "5000",
    ];
    let report = run(&server, &dir, &args);
    assert!(failed_checks(&report).is_empty(), "{:?}", report.verdict);
    let reads = phase(&report, "playcore detail read").requests;
    assert!((400..600).contains(&reads), "{reads}");
}

#[test]
fn an_open_loop_run_keeps_its_rate() {
    let (dir, server) = start("harness-open");
    let args = [
        "flash-rush",
        "--requests",
        "600",
        "--users",
        "600",
        "--stock",
        "600",
        "--rate",
        "1000",
    ];
    let before_ms = unix_ms_now();
    let report = run(&server, &dir, &args);
    let after_ms = unix_ms_now();
    assert_eq!(report.loop_mode, "open");
    assert!(failed_checks(&report).is_empty(), "{:?}", report.verdict);
    let grabs = phase(&report, "playcore grab");
    let seconds = grabs.elapsed_seconds;
    assert!(
        (0.55..3.0).contains(&seconds),
        "600 requests at 1000/s took {seconds} s"
    );
    // The phase's wall-clock start lines its timeline up with server logs: after the run
    // began (the setup comes first), and at least the phase's length before it ended.
    let started_ms = grabs.started_at_unix_ms;
    let latest_ms = after_ms - (seconds * 1000.0) as u64;
    assert!(
        (before_ms..=latest_ms).contains(&started_ms),
        "phase started at {started_ms}, run from {before_ms} to {after_ms}"
    );
}

#[test]
fn ws_fanout_measures_push_delays_to_every_subscriber_during_a_rush() {
    let (dir, server) = start("harness-ws");
    let mut args = RUSH.to_vec();
    args[0] = "ws-fanout";
    args.extend(["--subscribers", "200", "--pay-share", "0.3"]);
    let report = run(&server, &dir, &args);
    assert_eq!(failed_checks(&report), Vec::<String>::new());
    let checks = &report.verdict.as_ref().expect("a verdict").checks;
    assert!(
        checks
            .iter()
            .any(|check| check.name.contains("ended on the final state")),
        "the fan-out checks are part of the verdict: {checks:?}"
    );
    let delay = phase(&report, "ws push delay");
    assert_eq!(delay.codes["SUBSCRIBERS"], 200, "{:?}", delay.codes);
    assert_eq!(delay.codes["DROPPED"], 0, "{:?}", delay.codes);
    assert!(
        delay.requests >= 200,
        "every subscriber saw changes: {delay:?}"
    );
    assert!(delay.latency.p99_us < 5_000_000, "{:?}", delay.latency);
}

#[test]
fn bad_options_are_refused_before_anything_is_sent() {
    let (dir, server) = start("harness-options");
    let error = run_blocking(&options(
        &server,
        &dir,
        &["flash-rush", "--pay-share", "1.5"],
    ))
    .expect_err("refused");
    assert!(error.to_string().contains("--pay-share"), "{error}");
    let remote = Options::try_parse_from([
        "playcore-loadtest",
        "flash-rush",
        "--url",
        "http://10.1.2.3:80",
    ]);
    let remote = remote.expect("parses");
    let error = run_blocking(&remote).expect_err("only loopback");
    assert!(error.to_string().contains("loopback"), "{error}");
}
