//! Backup and restore through the real binary: a running server writes a backup on demand
//! (`POST /admin/v1/backups`), `playcore restore` puts it into a new data directory, and a
//! server started there serves every order the backup holds with the same status; orders
//! acknowledged after the backup are what a restore loses.

use std::collections::BTreeMap;
use std::path::Path;

use playcore_testkit::process::{Api, Server, TestDir, ADMIN_TOKEN};
use serde_json::{json, Value};

use playcore_testkit::process::run_playcore as playcore;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path_text(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// Order id → status, of every order of the activity.
fn statuses(api: &Api, activity: &str) -> BTreeMap<String, String> {
    api.all_orders(activity)
        .iter()
        .map(|order| {
            let id = order["orderId"].as_str().expect("an order id").to_owned();
            (id, order["status"].as_str().expect("a status").to_owned())
        })
        .collect()
}

/// Grabs an order for each user; pays every other one.
fn make_orders(api: &Api, activity: &str, users: std::ops::Range<usize>) {
    for index in users {
        let user = format!("user-{index}");
        let grab = api
            .grab(activity, &user, &format!("r-{index}"))
            .expect("grab");
        assert_eq!(grab.status, 201, "grab: {grab:?}");
        if index % 2 == 0 {
            let order = grab.data()["orderId"]
                .as_str()
                .expect("an order id")
                .to_owned();
            let paid = api.pay(&order, &user).expect("pay");
            assert_eq!(paid.status, 200, "pay: {paid:?}");
        }
    }
}

fn backup_now(api: &Api) -> Value {
    let answer = api
        .admin_post("/admin/v1/backups", ADMIN_TOKEN, &json!({}))
        .expect("the backup request reaches the server");
    assert_eq!(answer.status, 201, "backup: {answer:?}");
    answer.data().clone()
}

#[test]
fn a_backup_restored_into_a_new_directory_serves_every_order_it_holds() {
    let dir = TestDir::new("playcore-backup");
    let backups = dir.path().join("backups");
    let env = [("PLAYCORE__BACKUP__DIRECTORY", path_text(&backups))];
    let mut server = Server::start_with_env(&dir.data_dir(), &dir.path().join("first.log"), &env);
    let api = Api::new(&server);
    let activity = api.open_flash_sale(100, 5, 600);
    make_orders(&api, &activity, 0..20);
    let at_backup = statuses(&api, &activity);
    let backup = backup_now(&api);
    assert_eq!(backup["verified"], true, "{backup}");
    let name = backup["name"].as_str().expect("a backup name").to_owned();
    let listed = api
        .admin_get("/admin/v1/backups", ADMIN_TOKEN)
        .expect("list");
    assert_eq!(
        listed.data()["backups"][0]["name"],
        name.as_str(),
        "{listed:?}"
    );
    let metrics = playcore_testkit::process::client()
        .get(server.url("/metrics"))
        .send()
        .and_then(|response| response.text())
        .expect("metrics");
    let last_success = metrics
        .lines()
        .find(|line| line.starts_with("playcore_backup_last_success_timestamp_seconds "))
        .expect("the last-success metric");
    assert!(!last_success.ends_with(" 0"), "{last_success}");
    make_orders(&api, &activity, 20..25); // acknowledged after the backup: lost by a restore
    assert!(server.terminate().success(), "log:\n{}", server.log());

    let restored = dir.path().join("restored");
    let backup_path = backups.join(&name);
    let output = playcore(&[
        "restore",
        "--from",
        path_text(&backup_path),
        "--data-dir",
        path_text(&restored),
    ]);
    assert!(output.status.success(), "restore: {}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("restored"),
        "{}",
        text(&output.stdout)
    );
    let again = playcore(&[
        "restore",
        "--from",
        path_text(&backup_path),
        "--data-dir",
        path_text(&restored),
    ]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "a second restore into it is refused"
    );
    assert!(
        text(&again.stderr).contains("not empty"),
        "{}",
        text(&again.stderr)
    );
    let check = playcore(&["check", "--data-dir", path_text(&restored)]);
    assert!(
        check.status.success(),
        "check: {}{}",
        text(&check.stdout),
        text(&check.stderr)
    );

    let server = Server::start(&restored, &dir.path().join("restored.log"));
    let api = Api::new(&server);
    assert_eq!(
        statuses(&api, &activity),
        at_backup,
        "every order of the backup, same status"
    );
    let grab = api
        .grab(&activity, "after-restore", "r-after")
        .expect("grab");
    assert_eq!(grab.status, 201, "the restored node takes writes: {grab:?}");
}

#[test]
fn a_damaged_backup_is_refused_and_nothing_is_restored() {
    let dir = TestDir::new("playcore-backup-damaged");
    let backups = dir.path().join("backups");
    let env = [("PLAYCORE__BACKUP__DIRECTORY", path_text(&backups))];
    let mut server = Server::start_with_env(&dir.data_dir(), &dir.path().join("first.log"), &env);
    let api = Api::new(&server);
    let activity = api.open_flash_sale(10, 5, 600);
    make_orders(&api, &activity, 0..3);
    let name = backup_now(&api)["name"]
        .as_str()
        .expect("a name")
        .to_owned();
    assert!(server.terminate().success());

    let journal = backups.join(&name).join("journal.records");
    let mut bytes = std::fs::read(&journal).expect("the journal copy");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&journal, bytes).expect("damage it");
    let restored = dir.path().join("restored");
    let output = playcore(&[
        "restore",
        "--from",
        path_text(&backups.join(&name)),
        "--data-dir",
        path_text(&restored),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let message = text(&output.stderr);
    assert!(message.contains("journal.records is damaged"), "{message}");
    assert!(
        !restored.exists(),
        "nothing is restored from a damaged backup"
    );

    let offline = playcore(&[
        "backup",
        "--data-dir",
        path_text(&dir.data_dir()),
        "--to",
        path_text(&backups),
    ]);
    assert!(
        offline.status.success(),
        "offline backup: {}",
        text(&offline.stderr)
    );
    assert!(
        text(&offline.stdout).contains("written and verified"),
        "{}",
        text(&offline.stdout)
    );
    let typo = playcore(&[
        "backup",
        "--data-dir",
        path_text(&dir.path().join("nowhere")),
        "--to",
        path_text(&backups),
    ]);
    assert_eq!(typo.status.code(), Some(1));
    assert!(
        !dir.path().join("nowhere").exists(),
        "no empty database is created"
    );
}
