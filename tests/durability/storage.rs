//! Storage faults against the real server binary (README, "Durability", "A full disk,
//! and I/O errors"):
//!
//! - a full disk: on a small tmpfs, writes are refused with 503 STORAGE_FULL before the
//!   file system is full (no ENOSPC), `/readyz` answers 503 naming the reason, reads answer,
//!   no request waits a second, writes resume once space is freed, and a restart serves
//!   every acknowledged order. Mounting needs root (CI runs as root); elsewhere the test
//!   says it is skipped;
//! - a failed journal sync (the fault hook `storage.fault_failing_sync_number`): every
//!   request is answered within a second, readiness turns 503, the process exits 75, and a
//!   restart serves every acknowledged order;
//! - a shutdown whose flush fails exits 75.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use playcore_testkit::process::{Answer, Api, Server, TestDir, OPERATOR_TOKEN};
use serde_json::{json, Value};

/// The exit code of a server whose journal failed (README, "Durability").
const JOURNAL_FAILED_EXIT_CODE: i32 = 75;
/// No request may take longer, whatever the storage does.
const ANSWER_WITHIN: Duration = Duration::from_secs(1);
const MIB: u64 = 1024 * 1024;
const TMPFS_MIB: u64 = 64;
const RESERVE_BYTES: u64 = 16 * MIB;
/// Free space the ballast leaves above the reserve: what the grabs fill.
const MARGIN_BYTES: u64 = 4 * MIB;
const WORKERS: usize = 8;

/// A tmpfs mounted for one test, unmounted on drop (a failing test included).
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size_mib: u64) -> Tmpfs {
        fs::create_dir_all(path).expect("the mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
            .arg(path)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mount a tmpfs at {}: {status}",
            path.display()
        );
        Tmpfs {
            path: path.to_owned(),
        }
    }

    fn free_bytes(&self) -> u64 {
        playcore_snapshots::space::read_space(&self.path)
            .expect("statvfs of the tmpfs")
            .free_bytes
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(&self.path).status();
        if !unmounted.is_ok_and(|status| status.success()) {
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Fills `bytes` of the file system with one file.
fn write_ballast(path: &Path, bytes: u64) {
    let mut file = File::create(path).expect("create the ballast");
    let chunk = vec![0xA5_u8; MIB as usize];
    let mut written = 0;
    while written < bytes {
        let size = (bytes - written).min(MIB) as usize;
        file.write_all(&chunk[..size]).expect("write the ballast");
        written += size as u64;
    }
    file.sync_all().expect("sync the ballast");
}

/// What the grab workers saw.
#[derive(Default, Debug)]
struct Tally {
    acknowledged: Vec<String>,
    refusals: BTreeMap<String, usize>,
    transport_errors: usize,
    slowest: Duration,
    unexpected: Vec<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.acknowledged.extend(other.acknowledged);
        for (code, count) in other.refusals {
            *self.refusals.entry(code).or_default() += count;
        }
        self.transport_errors += other.transport_errors;
        self.slowest = self.slowest.max(other.slowest);
        self.unexpected.extend(other.unexpected);
    }
}

/// Progress the main thread watches while the workers run.
#[derive(Default)]
struct Progress {
    stop: AtomicBool,
    acknowledged: AtomicUsize,
    storage_full: AtomicUsize,
}

/// Workers grabbing with fresh users until stopped.
struct Load {
    progress: Arc<Progress>,
    workers: Vec<JoinHandle<Tally>>,
}

impl Load {
    fn start(api: &Api, activity: &str) -> Load {
        let progress = Arc::new(Progress::default());
        let workers = (0..WORKERS)
            .map(|worker| {
                let (api, activity) = (api.clone(), activity.to_owned());
                let progress = Arc::clone(&progress);
                thread::spawn(move || grab_until_stopped(&api, &activity, worker, &progress))
            })
            .collect();
        Load { progress, workers }
    }

    fn acknowledged(&self) -> usize {
        self.progress.acknowledged.load(Ordering::Relaxed)
    }

    fn stop(self) -> Tally {
        self.progress.stop.store(true, Ordering::Relaxed);
        let mut tally = Tally::default();
        for worker in self.workers {
            tally.merge(worker.join().expect("a worker"));
        }
        tally
    }
}

fn grab_until_stopped(api: &Api, activity: &str, worker: usize, progress: &Progress) -> Tally {
    let mut tally = Tally::default();
    let mut number = 0;
    while !progress.stop.load(Ordering::Relaxed) {
        number += 1;
        let user = format!("w{worker}-u{number}");
        let started = Instant::now();
        let answer = api.grab(activity, &user, &format!("r-{user}"));
        tally.slowest = tally.slowest.max(started.elapsed());
        match answer {
            Err(_) => {
                tally.transport_errors += 1;
                thread::sleep(Duration::from_millis(10));
            }
            Ok(answer) if answer.status == 201 => {
                let order = answer.data()["orderId"].as_str().expect("an orderId");
                tally.acknowledged.push(order.to_owned());
                progress.acknowledged.fetch_add(1, Ordering::Relaxed);
            }
            Ok(answer) => {
                count_refusal(&mut tally, &answer, progress);
                thread::sleep(Duration::from_millis(2));
            }
        }
    }
    tally
}

fn count_refusal(tally: &mut Tally, answer: &Answer, progress: &Progress) {
    let code = answer.error_code().unwrap_or("?").to_owned();
    if code == "STORAGE_FULL" {
        progress.storage_full.fetch_add(1, Ordering::Relaxed);
    }
    if answer.status != 503 {
        tally.unexpected.push(format!("{answer:?}"));
    }
    *tally.refusals.entry(code).or_default() += 1;
}

/// Polls `condition` every 20 ms for up to `timeout`.
fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "not within {timeout:?}: {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Sends a request and checks that it was answered within [`ANSWER_WITHIN`].
fn timed(what: &str, request: impl FnOnce() -> Result<Answer, reqwest::Error>) -> Answer {
    let started = Instant::now();
    let answer = request().unwrap_or_else(|error| panic!("{what}: {error}"));
    let elapsed = started.elapsed();
    assert!(elapsed < ANSWER_WITHIN, "{what} took {elapsed:?}");
    answer
}

fn assert_refused_full(what: &str, answer: &Answer) {
    assert_eq!(answer.status, 503, "{what}: {answer:?}");
    assert_eq!(
        answer.error_code(),
        Some("STORAGE_FULL"),
        "{what}: {answer:?}"
    );
}

/// While the guard refuses: readiness 503 naming the reason, reads 200, writes of every
/// kind 503 STORAGE_FULL, the gauge at 1; each answered at once.
fn check_refusing(api: &Api, activity: &str, order: &str) {
    let ready = timed("readyz", || api.get("/readyz"));
    assert_refused_full("readyz", &ready);
    let reason = ready.body["error"]["details"]["reason"]
        .as_str()
        .unwrap_or("");
    assert!(
        reason.starts_with("storage: free space below the reserve"),
        "{ready:?}"
    );
    let detail = timed("activity detail", || {
        api.get(&format!("/api/v1/activities/{activity}"))
    });
    assert_eq!(detail.status, 200, "{detail:?}");
    let read = timed("order read", || api.get(&format!("/api/v1/orders/{order}")));
    assert_eq!(read.status, 200, "{read:?}");
    let stats = format!("/admin/v1/activities/{activity}/stats");
    let stats = timed("stats", || api.admin_get(&stats, OPERATOR_TOKEN));
    assert_eq!(stats.status, 200, "{stats:?}");
    let user = read.data()["userId"].as_str().expect("a userId").to_owned();
    assert_refused_full("pay", &timed("pay", || api.pay(order, &user)));
    let grab = timed("grab", || api.grab(activity, "late-user", "late-request"));
    assert_refused_full("grab", &grab);
    let create = timed("create", || {
        api.admin_post("/admin/v1/activities", OPERATOR_TOKEN, &sale_body())
    });
    assert_refused_full("admin create", &create);
    let metrics = api.client.get(format!("{}/metrics", api.base)).send();
    let metrics = metrics
        .and_then(|response| response.text())
        .expect("metrics");
    assert!(
        metrics.contains("\nplaycore_storage_writes_refused 1\n"),
        "{metrics}"
    );
}

fn sale_body() -> Value {
    let now = chrono::Utc::now();
    json!({
        "templateCode": "FLASH_SALE", "title": "refused", "storeId": "s", "serviceId": "v",
        "price": 990, "stock": 10, "perUserLimit": 1, "payTimeoutSeconds": 300,
        "startAt": now.to_rfc3339(), "endAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
    })
}

/// Restarts on `data_dir` (with `env`) and checks that every acknowledged order is there.
fn assert_acknowledged_survive(
    (data_dir, log, env): (&Path, &Path, &[(&str, &str)]),
    activity: &str,
    acknowledged: &[String],
) {
    let mut server = Server::start_with_env(data_dir, log, env);
    let api = Api::new(&server);
    let stored: HashSet<String> = api
        .all_orders(activity)
        .iter()
        .map(|order| order["orderId"].as_str().expect("an orderId").to_owned())
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|order| !stored.contains(*order))
        .collect();
    assert!(lost.is_empty(), "acknowledged orders lost: {lost:?}");
    println!(
        "{} acknowledged orders all present after the restart",
        acknowledged.len()
    );
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn a_full_disk_refuses_writes_before_enospc_and_resumes_when_space_returns() {
    if !is_root() {
        // CI runs as root: there the test always runs, and a CI without root fails here.
        assert!(
            std::env::var_os("CI").is_none(),
            "the disk-full test mounts a tmpfs and needs root"
        );
        println!("SKIPPED: the disk-full test mounts a tmpfs and needs root (CI runs as root)");
        return;
    }
    let directory = TestDir::new("playcore-disk-full-");
    let tmpfs = Tmpfs::mount(&directory.path().join("tmpfs"), TMPFS_MIB);
    let data_dir = tmpfs.path.join("data");
    let log = directory.path().join("server.log");
    let reserve = RESERVE_BYTES.to_string();
    let env = [
        (
            "PLAYCORE__STORAGE__FREE_SPACE_RESERVE_BYTES",
            reserve.as_str(),
        ),
        ("PLAYCORE__STORAGE__FREE_SPACE_RESERVE_PERCENT", "0"),
    ];
    let mut server = Server::start_with_env(&data_dir, &log, &env);
    let api = Api::new(&server);
    let activity = api.open_flash_sale(1_000_000, 1, 3600);
    let ballast = tmpfs.path.join("ballast");
    write_ballast(&ballast, tmpfs.free_bytes() - RESERVE_BYTES - MARGIN_BYTES);

    let load = Load::start(&api, &activity);
    let full = || load.progress.storage_full.load(Ordering::Relaxed) > 0;
    wait_until(
        Duration::from_secs(60),
        "writes refused: STORAGE_FULL",
        full,
    );
    let acknowledged = load.acknowledged();
    println!(
        "refused after {acknowledged} grabs; {} bytes free",
        tmpfs.free_bytes()
    );
    check_refusing(&api, &activity, &format!("ord-{activity}-1"));
    thread::sleep(Duration::from_millis(500));
    let tally = resume_after_removing(load, &ballast);
    assert_eq!(timed("readyz", || api.get("/readyz")).status, 200);
    check_disk_full_tally(&tally);
    assert_eq!(server.terminate().code(), Some(0), "a clean stop");
    check_disk_full_log(&playcore_testkit::process::read_log(&log));
    let restart_log = directory.path().join("restart.log");
    let restart = (data_dir.as_path(), restart_log.as_path(), &env[..]);
    assert_acknowledged_survive(restart, &activity, &tally.acknowledged);
}

/// Deletes the ballast, waits until 100 more grabs went through, stops the load.
fn resume_after_removing(load: Load, ballast: &Path) -> Tally {
    fs::remove_file(ballast).expect("remove the ballast");
    let before = load.acknowledged();
    let resumed = || load.acknowledged() >= before + 100;
    wait_until(
        Duration::from_secs(5),
        "writes resume once space is back",
        resumed,
    );
    load.stop()
}

fn check_disk_full_tally(tally: &Tally) {
    let summary = (&tally.refusals, tally.acknowledged.len(), tally.slowest);
    println!("refusals, acknowledged, slowest grab: {summary:?}");
    assert!(
        tally.slowest < ANSWER_WITHIN,
        "a grab took {:?}",
        tally.slowest
    );
    assert!(tally.unexpected.is_empty(), "{:?}", tally.unexpected);
    assert_eq!(tally.transport_errors, 0);
    assert_eq!(tally.refusals.keys().collect::<Vec<_>>(), ["STORAGE_FULL"]);
}

fn check_disk_full_log(text: &str) {
    assert!(!text.contains("No space left"), "ENOSPC reached:\n{text}");
    let alert = "free space below the reserve";
    assert!(text.contains(alert), "no alert:\n{text}");
    let cleared = "free space back above the reserve";
    assert!(text.contains(cleared), "no all-clear:\n{text}");
}

/// `/readyz` polled until the server is gone: the replies seen, in order.
fn poll_readiness(api: Api, stop: Arc<AtomicBool>) -> JoinHandle<Vec<Answer>> {
    thread::spawn(move || {
        let mut seen = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            if let Ok(answer) = api.get("/readyz") {
                seen.push(answer);
            }
            thread::sleep(Duration::from_millis(5));
        }
        seen
    })
}

/// Reads the activity and an order until stopped; returns the slowest read answered.
fn read_until_stopped(api: Api, activity: String, stop: Arc<AtomicBool>) -> JoinHandle<Duration> {
    thread::spawn(move || {
        let mut slowest = Duration::ZERO;
        let paths = [
            format!("/api/v1/activities/{activity}"),
            format!("/api/v1/orders/ord-{activity}-1"),
        ];
        for path in paths.iter().cycle() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let started = Instant::now();
            let answered = api.get(path);
            slowest = slowest.max(started.elapsed());
            if answered.is_err() {
                thread::sleep(Duration::from_millis(10));
            }
        }
        slowest
    })
}

/// What the clients saw around a failed journal: grabs, the slowest read, readiness.
struct Observed {
    tally: Tally,
    slowest_read: Duration,
    readiness: Vec<Answer>,
}

/// Grabs, reads and polls readiness until the server exits by itself; its exit status.
fn observe_until_exit(server: &mut Server, api: &Api, activity: &str) -> (Option<i32>, Observed) {
    let stop = Arc::new(AtomicBool::new(false));
    let readiness = poll_readiness(api.clone(), Arc::clone(&stop));
    let reads = read_until_stopped(api.clone(), activity.to_owned(), Arc::clone(&stop));
    let load = Load::start(api, activity);
    let status = server.wait_exit(Duration::from_secs(30));
    let tally = load.stop();
    stop.store(true, Ordering::Relaxed);
    let observed = Observed {
        tally,
        slowest_read: reads.join().expect("the reader"),
        readiness: readiness.join().expect("the readiness poller"),
    };
    let code = status.map(|status| status.code().unwrap_or(-1));
    (code, observed)
}

fn check_fail_stop(observed: &Observed, log: &str) {
    let tally = &observed.tally;
    let summary = (&tally.refusals, tally.acknowledged.len(), tally.slowest);
    println!(
        "refusals, acknowledged, slowest grab: {summary:?}; slowest read {:?}",
        observed.slowest_read
    );
    assert!(
        !tally.acknowledged.is_empty(),
        "grabs succeeded before the fault"
    );
    assert!(
        tally.slowest < ANSWER_WITHIN,
        "a grab took {:?}",
        tally.slowest
    );
    let slowest_read = observed.slowest_read;
    assert!(slowest_read < ANSWER_WITHIN, "a read took {slowest_read:?}");
    assert!(tally.unexpected.is_empty(), "{:?}", tally.unexpected);
    let journal_failed = |answer: &Answer| {
        let reason = answer.body["error"]["details"]["reason"].as_str();
        answer.status == 503 && reason.is_some_and(|reason| reason.starts_with("journal:"))
    };
    let said = observed.readiness.iter().any(journal_failed);
    assert!(said, "readiness never said that the journal failed");
    let logged = log.contains("injected fault") && log.contains("the journal failed");
    assert!(logged, "{log}");
}

#[test]
fn a_failed_journal_sync_answers_everything_at_once_and_exits_75() {
    let directory = TestDir::new("playcore-sync-failure-");
    let (data_dir, log) = (directory.data_dir(), directory.path().join("server.log"));
    let env = [("PLAYCORE__STORAGE__FAULT_FAILING_SYNC_NUMBER", "80")];
    let mut server = Server::start_with_env(&data_dir, &log, &env);
    let api = Api::new(&server);
    let activity = api.open_flash_sale(1_000_000, 1, 3600);
    let (code, observed) = observe_until_exit(&mut server, &api, &activity);
    let text = playcore_testkit::process::read_log(&log);
    assert_eq!(code, Some(JOURNAL_FAILED_EXIT_CODE), "log:\n{text}");
    check_fail_stop(&observed, &text);
    let restart_log = directory.path().join("restart.log");
    let restart = (data_dir.as_path(), restart_log.as_path(), &[][..]);
    assert_acknowledged_survive(restart, &activity, &observed.tally.acknowledged);
}

#[test]
fn a_shutdown_that_cannot_flush_exits_75() {
    let directory = TestDir::new("playcore-shutdown-flush-");
    let (data_dir, log) = (directory.data_dir(), directory.path().join("server.log"));
    // Creating an activity syncs the data file twice (its journal entry, its audit record);
    // then the server idles: the third sync is the first of the shutdown.
    let env = [("PLAYCORE__STORAGE__FAULT_FAILING_SYNC_NUMBER", "3")];
    let mut server = Server::start_with_env(&data_dir, &log, &env);
    let created =
        Api::new(&server).admin_post("/admin/v1/activities", OPERATOR_TOKEN, &sale_body());
    assert_eq!(created.expect("create reaches the server").status, 201);
    let status = server.terminate();
    let text = playcore_testkit::process::read_log(&log);
    assert_eq!(
        status.code(),
        Some(JOURNAL_FAILED_EXIT_CODE),
        "log:\n{text}"
    );
    assert!(text.contains("journal shutdown failed"), "{text}");
    let mut restarted = Server::start(&data_dir, &directory.path().join("restart.log"));
    assert_eq!(restarted.terminate().code(), Some(0));
}
