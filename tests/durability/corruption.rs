//! The storage damage battery: data directories made by real runs of the server (a clean
//! stop, SIGKILL with snapshots, SIGKILL with the journal only), copied and damaged in
//! every file (truncations of 1 B to 64 KiB, bit and byte flips at the start, the middle
//! and the end, deleted and swapped snapshots, damaged references), then started again.
//! In no case may the server start and serve an acknowledged order other than as it was
//! acknowledged; every refusal exits non-zero with an ERROR line naming the directory, and
//! `playcore restore` from the backup taken before the last wave brings the node back with
//! the backup's state.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use playcore_snapshots::{Store, QUARANTINE_DIRECTORY};
use playcore_testkit::process::{assert_conservation, Api, Server, TestDir, ADMIN_TOKEN};

/// Activities of a base run and grabs per activity and wave.
const ACTIVITIES: usize = 2;
const GRABS_PER_WAVE: usize = 8;
const WAVES: usize = 3;

/// An order a 2xx reply confirmed, with the status the last 2xx gave it.
#[derive(Debug, Clone)]
struct Confirmed {
    order_id: String,
    status: &'static str,
}

#[derive(Clone, Copy, Debug)]
enum Stop {
    Clean,
    KillWithSnapshots,
    KillJournalOnly,
}

/// A data directory left by a real run, and what that run acknowledged.
struct Base {
    name: &'static str,
    directory: PathBuf,
    activities: Vec<String>,
    confirmed: Vec<Confirmed>,
    /// The backup taken after the second wave, and how many confirmed orders it holds.
    backup: PathBuf,
    backed_up: usize,
}

fn environment(stop: Stop) -> Vec<(&'static str, &'static str)> {
    let interval = match stop {
        Stop::KillJournalOnly => "3600",
        Stop::Clean | Stop::KillWithSnapshots => "1",
    };
    vec![
        ("PLAYCORE__STORAGE__SNAPSHOT_INTERVAL_SECONDS", interval),
        ("PLAYCORE__BACKUP__INTERVAL_MINUTES", "0"),
    ]
}

/// Runs the server on a new directory: waves of grabs (every third paid) on two
/// activities, with pauses that let snapshots of two generations be taken, then stops it.
fn make_base(root: &Path, name: &'static str, stop: Stop) -> Base {
    let directory = root.join(name);
    let backups = root.join(format!("{name}-backups"));
    let mut environment = environment(stop);
    environment.push(("PLAYCORE__BACKUP__DIRECTORY", leak(&backups)));
    let log = root.join(format!("{name}.log"));
    let mut server = Server::start_with_env(&directory, &log, &environment);
    let api = Api::new(&server);
    let activities: Vec<String> = (0..ACTIVITIES)
        .map(|_| api.open_flash_sale(500, 1, 3600))
        .collect();
    let mut confirmed = Vec::new();
    let (mut backup, mut backed_up) = (PathBuf::new(), 0);
    for wave in 0..WAVES {
        if wave == WAVES - 1 {
            backup = backups.join(take_backup(&api));
            backed_up = confirmed.len();
        }
        for (index, activity) in activities.iter().enumerate() {
            for grab in 0..GRABS_PER_WAVE {
                let user = format!("user-{wave}-{index}-{grab}");
                confirmed.push(grab_and_maybe_pay(&api, activity, &user, grab % 3 == 0));
            }
        }
        if !matches!(stop, Stop::KillJournalOnly) {
            thread::sleep(Duration::from_millis(2_200));
        }
    }
    match stop {
        Stop::Clean => assert!(server.terminate().success(), "{}", server.log()),
        Stop::KillWithSnapshots | Stop::KillJournalOnly => server.kill9(),
    }
    Base {
        name,
        directory,
        activities,
        confirmed,
        backup,
        backed_up,
    }
}

/// A `&'static str` of a test path, for the environment list.
fn leak(path: &Path) -> &'static str {
    Box::leak(path.to_string_lossy().into_owned().into_boxed_str())
}

/// Asks the running server for a backup; returns its folder name.
fn take_backup(api: &Api) -> String {
    let answer = api
        .admin_post("/admin/v1/backups", ADMIN_TOKEN, &serde_json::json!({}))
        .expect("the backup request is answered");
    assert_eq!(answer.status, 201, "{answer:?}");
    answer.data()["name"].as_str().expect("a name").to_owned()
}

/// `playcore check` on a directory the server refused must exit 1 with a problem line.
fn check_refuses(directory: &Path) -> Result<(), String> {
    let output = playcore_testkit::process::run_playcore(&[
        "check",
        "--data-dir",
        &directory.to_string_lossy(),
    ]);
    let printed = String::from_utf8_lossy(&output.stdout);
    match (output.status.code(), printed.contains("problem")) {
        (Some(1), true) => Ok(()),
        _ => Err(format!("check did not report the damage: {output:?}")),
    }
}

/// `playcore check` on a copy of an undamaged base (sled repairs a crash's tail when it
/// opens a directory, and the base must stay as the run left it) exits 0.
fn check_passes(base: &Base, root: &Path) {
    let copy = root.join(format!("{}-whole", base.name));
    copy_directory(&base.directory, &copy);
    let output =
        playcore_testkit::process::run_playcore(&["check", "--data-dir", &copy.to_string_lossy()]);
    assert!(
        output.status.success(),
        "check of a whole directory: {output:?}"
    );
    let _ = fs::remove_dir_all(&copy);
}

/// The refused node's way back: `playcore restore` from the base's backup into a new
/// directory; the node then serves the backup's state: every order confirmed before it as
/// confirmed, none of the later ones.
fn restore_and_serve(base: &Base, root: &Path, index: usize) -> Result<(), String> {
    let restored = root.join(format!("{}-{index}-restored", base.name));
    let output = playcore_testkit::process::run_playcore(&[
        "restore",
        "--from",
        &base.backup.to_string_lossy(),
        "--data-dir",
        &restored.to_string_lossy(),
    ]);
    if !output.status.success() {
        return Err(format!("restore failed: {output:?}"));
    }
    let log = root.join(format!("{}-{index}-restored.log", base.name));
    let mut server = Server::try_start(&restored, &log, &environment(Stop::KillJournalOnly))
        .map_err(|status| format!("the restored node did not start ({status})"))?;
    let api = Api::new(&server);
    let (kept, lost) = base.confirmed.split_at(base.backed_up);
    let mut wrong = differences(&api, kept);
    wrong.extend(lost.iter().filter_map(|order| {
        let status = api.order(&order.order_id).status;
        (status != 404).then(|| {
            format!(
                "{} is after the backup but served ({status})",
                order.order_id
            )
        })
    }));
    let _ = server.terminate();
    let _ = fs::remove_dir_all(&restored);
    match wrong.is_empty() {
        true => Ok(()),
        false => Err(format!("restored {}: {}", base.name, wrong.join("; "))),
    }
}

fn grab_and_maybe_pay(api: &Api, activity: &str, user: &str, pay: bool) -> Confirmed {
    let answer = api
        .grab(activity, user, user)
        .expect("the grab is answered");
    assert_eq!(answer.status, 201, "{answer:?}");
    let order_id = answer.data()["orderId"]
        .as_str()
        .expect("orderId")
        .to_owned();
    if !pay {
        return Confirmed {
            order_id,
            status: "PENDING_PAY",
        };
    }
    let paid = api.pay(&order_id, user).expect("the payment is answered");
    assert_eq!(paid.status, 200, "{paid:?}");
    Confirmed {
        order_id,
        status: "PAID",
    }
}

/// One way of damaging a copy of a data directory.
struct Damage {
    name: String,
    apply: Box<dyn Fn(&Path)>,
}

fn damage(name: String, apply: impl Fn(&Path) + 'static) -> Damage {
    Damage {
        name,
        apply: Box::new(apply),
    }
}

/// Every file of the directory a damage can hit, relative to it.
fn damageable_files(directory: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for folder in [directory.to_path_buf(), directory.join("snapshots")] {
        let Ok(entries) = fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let sled_file = name == "db" || name == "conf" || name.starts_with("snap.");
            let ours = name == "journal.seal" || name.ends_with(".snapshot");
            if path.is_file() && (sled_file || ours) {
                files.push(path.strip_prefix(directory).expect("inside").to_path_buf());
            }
        }
    }
    files.sort();
    files
}

fn flip(path: &Path, at: Position, bytes: usize) {
    let mut content = fs::read(path).expect("read the file");
    if content.is_empty() {
        return;
    }
    let start = at.offset(content.len(), bytes);
    let end = (start + bytes).min(content.len());
    content[start..end]
        .iter_mut()
        .for_each(|byte| *byte ^= 0x5A);
    fs::write(path, content).expect("write the file");
}

fn truncate(path: &Path, bytes: u64) {
    let file = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open the file");
    let length = file.metadata().expect("metadata").len();
    file.set_len(length.saturating_sub(bytes))
        .expect("truncate");
}

#[derive(Clone, Copy, Debug)]
enum Position {
    Start,
    Middle,
    End,
}

impl Position {
    fn offset(self, length: usize, bytes: usize) -> usize {
        match self {
            // Past sled's 4-byte magic and our own headers' magic, into what they guard.
            Position::Start => 20.min(length - 1),
            Position::Middle => length / 2,
            Position::End => length.saturating_sub(bytes.max(100)),
        }
    }
}

fn damages(base: &Path) -> Vec<Damage> {
    let mut all = Vec::new();
    for file in damageable_files(base) {
        let shown = file.display().to_string();
        for at in [Position::Start, Position::Middle, Position::End] {
            let (bit, bytes) = (file.clone(), file.clone());
            all.push(damage(format!("{shown}: bit flip at {at:?}"), move |dir| {
                flip(&dir.join(&bit), at, 1)
            }));
            all.push(damage(
                format!("{shown}: 32 bytes flipped at {at:?}"),
                move |dir| flip(&dir.join(&bytes), at, 32),
            ));
        }
        let cuts: &[u64] = if shown == "db" {
            &[1, 512, 4096, 65_536]
        } else {
            &[1, 4096]
        };
        for &cut in cuts {
            let cut_file = file.clone();
            all.push(damage(format!("{shown}: {cut} bytes cut"), move |dir| {
                truncate(&dir.join(&cut_file), cut)
            }));
        }
        if shown.ends_with(".snapshot") || shown == "journal.seal" {
            let deleted = file.clone();
            all.push(damage(format!("{shown}: deleted"), move |dir| {
                fs::remove_file(dir.join(&deleted)).expect("delete")
            }));
        }
    }
    all.extend(snapshot_damages(base));
    all
}

/// Swapped snapshot files and damaged references.
fn snapshot_damages(base: &Path) -> Vec<Damage> {
    let mut all = Vec::new();
    let mut files: Vec<PathBuf> = damageable_files(base)
        .into_iter()
        .filter(|file| file.to_string_lossy().ends_with(".snapshot"))
        .collect();
    files.sort();
    if let [first, .., last] = files.as_slice() {
        let (first, last) = (first.clone(), last.clone());
        all.push(damage(
            format!("{} and {}: swapped", first.display(), last.display()),
            move |dir| {
                let (one, other) = (dir.join(&first), dir.join(&last));
                let (one_bytes, other_bytes) = (fs::read(&one).unwrap(), fs::read(&other).unwrap());
                fs::write(&one, other_bytes).unwrap();
                fs::write(&other, one_bytes).unwrap();
            },
        ));
    }
    if !files.is_empty() {
        all.push(damage("every snapshot reference garbled".into(), |dir| {
            let store = Store::open(dir).expect("the store opens");
            let tree = store.db().open_tree("snapshots").expect("the tree");
            for entry in tree.iter() {
                let (key, value) = entry.expect("a reference");
                let garbled: Vec<u8> = value.iter().map(|byte| byte ^ 0x0F).collect();
                tree.insert(key, garbled).expect("insert");
            }
            store
                .sync(playcore_snapshots::Durability::Fsync)
                .expect("sync");
        }));
        all.push(damage("every snapshot deleted".into(), |dir| {
            fs::remove_dir_all(dir.join("snapshots")).expect("delete");
        }));
    }
    all
}

fn copy_directory(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create the copy");
    for entry in fs::read_dir(from).expect("read the directory").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_directory(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).expect("copy a file");
        }
    }
}

/// Starts the server on the damaged copy: a refusal must name the directory in an ERROR
/// line; a start must serve every acknowledged order as it was acknowledged. Returns
/// whether it started, or the failure.
fn judge(base: &Base, damage: &Damage, copy: &Path, log: &Path) -> Result<bool, String> {
    let environment = environment(Stop::KillJournalOnly);
    match Server::try_start(copy, log, &environment) {
        Err(status) => {
            let text = fs::read_to_string(log).unwrap_or_default();
            let named = text
                .lines()
                .any(|line| line.contains("ERROR") && line.contains(&*copy.to_string_lossy()));
            if status.success() || !named {
                return Err(format!(
                    "{} / {}: refused ({status}) without an ERROR naming the directory:\n{text}",
                    base.name, damage.name
                ));
            }
            Ok(false)
        }
        Ok(mut server) => {
            let api = Api::new(&server);
            let wrong = differences(&api, &base.confirmed);
            let _ = server.terminate();
            match wrong.is_empty() {
                true => Ok(true),
                false => Err(format!(
                    "{} / {}: served damaged state: {}",
                    base.name,
                    damage.name,
                    wrong.join("; ")
                )),
            }
        }
    }
}

fn differences(api: &Api, confirmed: &[Confirmed]) -> Vec<String> {
    let mut wrong = Vec::new();
    for order in confirmed {
        let answer = api.order(&order.order_id);
        let served = &answer.body["data"]["status"];
        if answer.status != 200 || served != order.status {
            wrong.push(format!(
                "{} acknowledged {} but served {} {served}",
                order.order_id, order.status, answer.status
            ));
        }
    }
    wrong
}

fn run_battery(base: &Base, root: &Path) -> Vec<String> {
    let mut failures = Vec::new();
    let (mut started, mut refused) = (0, 0);
    for (index, damage) in damages(&base.directory).iter().enumerate() {
        let copy = root.join(format!("{}-{index}", base.name));
        copy_directory(&base.directory, &copy);
        (damage.apply)(&copy);
        let log = root.join(format!("{}-{index}.log", base.name));
        match judge(base, damage, &copy, &log) {
            Ok(true) => started += 1,
            Ok(false) => {
                refused += 1;
                if let Err(failure) = check_refuses(&copy) {
                    failures.push(format!("{} / {}: {failure}", base.name, damage.name));
                }
                if let Err(failure) = restore_and_serve(base, root, index) {
                    failures.push(format!("{} / {}: {failure}", base.name, damage.name));
                }
            }
            Err(failure) => failures.push(failure),
        }
        let _ = fs::remove_dir_all(&copy);
    }
    eprintln!(
        "{}: {started} damaged copies served whole, {refused} refused, {} failed",
        base.name,
        failures.len()
    );
    failures
}

#[test]
fn damaged_data_directories_are_refused_or_served_whole() {
    let dir = TestDir::new("playcore-damage-");
    let bases = [
        make_base(dir.path(), "clean", Stop::Clean),
        make_base(dir.path(), "killed", Stop::KillWithSnapshots),
        make_base(dir.path(), "journal-only", Stop::KillJournalOnly),
    ];
    let snapshots =
        |base: &Base| fs::read_dir(base.directory.join("snapshots")).map_or(0, |d| d.count());
    assert!(
        snapshots(&bases[1]) >= 2 * ACTIVITIES,
        "two generations per activity"
    );
    assert_eq!(
        snapshots(&bases[2]),
        0,
        "the journal-only run took no snapshot"
    );
    bases.iter().for_each(|base| check_passes(base, dir.path()));
    let failures: Vec<String> = bases
        .iter()
        .flat_map(|base| run_battery(base, dir.path()))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_destroyed_newest_snapshot_is_recovered_from_the_previous_one() {
    let dir = TestDir::new("playcore-generations-");
    let base = make_base(dir.path(), "killed", Stop::KillWithSnapshots);
    let snapshots = base.directory.join("snapshots");
    let mut files: Vec<PathBuf> = fs::read_dir(&snapshots)
        .expect("snapshots")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    // Names sort by stream, then seq: the last file is the newest of the last stream.
    let newest = files.last().expect("a snapshot").clone();
    fs::write(&newest, b"destroyed").expect("destroy it");
    let log = dir.path().join("restart.log");
    let mut server = Server::start_with_env(&base.directory, &log, &environment(Stop::Clean));
    let api = Api::new(&server);
    assert_eq!(differences(&api, &base.confirmed), Vec::<String>::new());
    for activity in &base.activities {
        assert_conservation(&api.stats(activity), "after the fallback");
    }
    let quarantined = base
        .directory
        .join(QUARANTINE_DIRECTORY)
        .join(newest.file_name().unwrap());
    assert!(quarantined.exists(), "the damaged file is kept aside");
    assert!(
        server.log().contains("previous generation"),
        "{}",
        server.log()
    );
    assert!(server.terminate().success());
}
