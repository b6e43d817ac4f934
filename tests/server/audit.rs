//! Black-box tests of the admin audit log: the real binary records every admin write in a
//! hash chain served by `GET /admin/v1/audit`, and `playcore audit verify` accepts the
//! intact chain of a stopped server and names the first record someone tampered with.

use std::path::Path;
use std::process::Output;

use playcore_snapshots::Store;
use playcore_testkit::process::{
    Api, Server, TestDir, ADMIN_NAME, ADMIN_TOKEN, APPROVER_TOKEN, OPERATOR_TOKEN,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Every record of the log, through the endpoint (one page: the tests write few).
fn records(api: &Api) -> Vec<Value> {
    let answer = api
        .admin_get("/admin/v1/audit?limit=1000", ADMIN_TOKEN)
        .expect("the audit log reaches the server");
    assert_eq!(answer.status, 200, "audit: {answer:?}");
    answer.data()["records"]
        .as_array()
        .expect("a records array")
        .clone()
}

/// The hash as the README defines it, computed here independently of the server's code:
/// SHA-256 of prevHash followed by the record's JSON without `hash`, keys sorted.
fn expected_hash(record: &Value) -> String {
    let mut unhashed = record.clone();
    unhashed
        .as_object_mut()
        .expect("a record object")
        .remove("hash");
    // serde_json's default map is a BTreeMap: keys serialize sorted.
    let canonical = serde_json::to_vec(&unhashed).expect("encode");
    let mut hasher = Sha256::new();
    hasher.update(record["prevHash"].as_str().expect("a prevHash").as_bytes());
    hasher.update(&canonical);
    hex::encode(hasher.finalize())
}

fn assert_chain(records: &[Value]) {
    let mut previous = GENESIS_HASH.to_owned();
    for (index, record) in records.iter().enumerate() {
        assert_eq!(
            record["seq"],
            json!(index as u64 + 1),
            "contiguous: {record}"
        );
        assert_eq!(record["prevHash"], json!(previous), "linked: {record}");
        assert_eq!(
            record["hash"],
            json!(expected_hash(record)),
            "hashed: {record}"
        );
        previous = record["hash"].as_str().expect("a hash").to_owned();
    }
}

fn verify(data_dir: &Path) -> Output {
    playcore_testkit::process::run_playcore(&[
        "audit",
        "verify",
        "--data-dir",
        &data_dir.to_string_lossy(),
    ])
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_approval_path_is_audited_in_an_intact_chain() {
    let dir = TestDir::new("audit-path-");
    let server = Server::start(&dir.data_dir(), &dir.path().join("run.log"));
    let api = Api::new(&server);
    let id = api.open_flash_sale(10, 1, 300);

    let records = records(&api);
    let steps: Vec<(&str, &str, &str)> = records
        .iter()
        .map(|record| {
            (
                record["who"].as_str().expect("who"),
                record["roles"][0].as_str().expect("a role"),
                record["action"].as_str().expect("action"),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            (OPERATOR_TOKEN, "operator", "activity.create"),
            (OPERATOR_TOKEN, "operator", "approval.submit"),
            (APPROVER_TOKEN, "approver", "approval.approve"),
            (OPERATOR_TOKEN, "operator", "activity.publish"),
        ]
    );
    for record in &records {
        assert_eq!(record["target"], json!(id), "target: {record}");
        assert!(
            record["at"].as_str().expect("at").ends_with('Z'),
            "{record}"
        );
    }
    assert_eq!(records[0]["before"], Value::Null);
    assert_eq!(records[0]["after"]["approvalStatus"], "DRAFT");
    assert_eq!(records[2]["before"]["approvalStatus"], "PENDING");
    assert_eq!(records[2]["after"]["approvalStatus"], "APPROVED");
    assert_chain(&records);

    // A rejected command leaves no record.
    let again = api
        .admin_post(
            &format!("/admin/v1/activities/{id}/submit"),
            OPERATOR_TOKEN,
            &json!({}),
        )
        .expect("the submit reaches the server");
    assert!(
        again.status >= 400,
        "submitting a published activity: {again:?}"
    );
    assert_eq!(self::records(&api).len(), 4);
}

fn sale_body(title: &str) -> Value {
    let now = chrono::Utc::now();
    json!({
        "templateCode": "FLASH_SALE",
        "title": title,
        "storeId": "store-1",
        "serviceId": "service-1",
        "price": 990,
        "stock": 10,
        "perUserLimit": 1,
        "startAt": (now - chrono::Duration::minutes(1)).to_rfc3339(),
        "endAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
        "payTimeoutSeconds": 300,
    })
}

fn step(api: &Api, id: &str, action: &str, token: &str, body: Value) {
    let path = format!("/admin/v1/activities/{id}/{action}");
    let answer = api.admin_post(&path, token, &body).expect("reaches");
    assert!((200..300).contains(&answer.status), "{action}: {answer:?}");
}

#[test]
fn every_kind_of_admin_write_is_audited() {
    let dir = TestDir::new("audit-kinds-");
    let server = Server::start(&dir.data_dir(), &dir.path().join("run.log"));
    let api = Api::new(&server);
    let created = api
        .admin_post("/admin/v1/activities", OPERATOR_TOKEN, &sale_body("first"))
        .expect("reaches");
    assert_eq!(created.status, 201, "{created:?}");
    let id = created.data()["id"].as_str().expect("an id").to_owned();
    let update = api
        .client
        .put(format!("{}/admin/v1/activities/{id}", api.base))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&sale_body("second"));
    let updated = playcore_testkit::process::send(update).expect("reaches");
    assert_eq!(updated.status, 200, "{updated:?}");
    step(&api, &id, "submit", OPERATOR_TOKEN, json!({}));
    step(&api, &id, "withdraw", OPERATOR_TOKEN, json!({}));
    step(&api, &id, "submit", OPERATOR_TOKEN, json!({}));
    step(
        &api,
        &id,
        "reject",
        APPROVER_TOKEN,
        json!({"remark": "price"}),
    );
    step(&api, &id, "submit", OPERATOR_TOKEN, json!({}));
    step(&api, &id, "approve", ADMIN_TOKEN, json!({}));
    step(&api, &id, "publish", OPERATOR_TOKEN, json!({}));
    step(&api, &id, "unpublish", OPERATOR_TOKEN, json!({}));

    let records = records(&api);
    let actions: Vec<&str> = records
        .iter()
        .map(|record| record["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        [
            "activity.create",
            "activity.update",
            "approval.submit",
            "approval.withdraw",
            "approval.submit",
            "approval.reject",
            "approval.submit",
            "approval.approve",
            "activity.publish",
            "activity.unpublish",
        ]
    );
    assert_eq!(records[1]["before"]["title"], "first");
    assert_eq!(records[1]["after"]["title"], "second");
    assert_eq!(records[7]["who"], ADMIN_NAME);
    assert_eq!(records[7]["roles"], json!(["admin"]));
    assert_chain(&records);
}

#[test]
fn the_audit_log_pages_and_filters() {
    let dir = TestDir::new("audit-page-");
    let server = Server::start(&dir.data_dir(), &dir.path().join("run.log"));
    let api = Api::new(&server);
    let first = api.open_flash_sale(10, 1, 300);
    let second = api.open_flash_sale(10, 1, 300);

    let page = api
        .admin_get("/admin/v1/audit?afterSeq=2&limit=3", ADMIN_TOKEN)
        .expect("reaches the server");
    let data = page.data();
    let seqs: Vec<u64> = data["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|record| record["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs, [3, 4, 5]);
    assert_eq!(data["nextAfterSeq"], 5);

    let path = format!("/admin/v1/audit?target={second}&action=approval.approve");
    let filtered = api.admin_get(&path, ADMIN_TOKEN).expect("reaches");
    let filtered = filtered.data()["records"]
        .as_array()
        .expect("records")
        .clone();
    assert_eq!(filtered.len(), 1, "{filtered:?}");
    assert_eq!(filtered[0]["seq"], 7);
    assert_ne!(first, second);
}

#[test]
fn only_admin_reads_the_audit_log() {
    let dir = TestDir::new("audit-roles-");
    let server = Server::start(&dir.data_dir(), &dir.path().join("run.log"));
    let api = Api::new(&server);
    for token in [OPERATOR_TOKEN, APPROVER_TOKEN] {
        let answer = api.admin_get("/admin/v1/audit", token).expect("reaches");
        assert_eq!(answer.status, 403, "{token}: {answer:?}");
        assert_eq!(answer.error_code(), Some("FORBIDDEN"));
    }
    let answer = api.get("/admin/v1/audit").expect("reaches");
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(answer.error_code(), Some("UNAUTHORIZED"));
    for (field, query) in [
        ("limit", "limit=0"),
        ("limit", "limit=1001"),
        ("limit", "limit=many"),
        ("afterSeq", "afterSeq=-1"),
    ] {
        let path = format!("/admin/v1/audit?{query}");
        let answer = api.admin_get(&path, ADMIN_TOKEN).expect("reaches");
        assert_eq!(answer.status, 400, "{query}: {answer:?}");
        assert_eq!(answer.error_code(), Some("VALIDATION_FAILED"));
        assert!(
            answer.body["error"]["details"]["fields"][field].is_string(),
            "{query} names {field}: {answer:?}"
        );
    }
}

#[test]
fn verify_accepts_the_intact_chain_and_names_a_tampered_record() {
    let dir = TestDir::new("audit-verify-");
    let data_dir = dir.data_dir();
    let mut server = Server::start(&data_dir, &dir.path().join("run.log"));
    let api = Api::new(&server);
    api.open_flash_sale(10, 1, 300);

    let busy = verify(&data_dir);
    assert_eq!(busy.status.code(), Some(1), "{}", text(&busy));
    assert!(text(&busy).contains("in use"), "{}", text(&busy));

    assert!(server.terminate().success());
    let intact = verify(&data_dir);
    assert_eq!(intact.status.code(), Some(0), "{}", text(&intact));
    assert!(
        text(&intact).contains("audit log intact: 4 records, last hash "),
        "{}",
        text(&intact)
    );

    tamper(&data_dir, 2, |record| record["who"] = json!("mallory"));
    let broken = verify(&data_dir);
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken));
    let report = text(&broken);
    assert!(report.contains("record 2: hash mismatch"), "{report}");
}

/// Rewrites the JSON of audit record `seq` in a stopped server's database.
fn tamper(data_dir: &Path, seq: u64, change: impl FnOnce(&mut Value)) {
    let store = Store::open(data_dir).expect("the stopped server's store opens");
    let tree = store.db().open_tree("audit").expect("the audit tree");
    let key = seq.to_be_bytes();
    let bytes = tree.get(key).expect("read").expect("the record exists");
    let mut record: Value = serde_json::from_slice(&bytes).expect("a JSON record");
    change(&mut record);
    tree.insert(key, serde_json::to_vec(&record).expect("encode"))
        .expect("write");
    store.flush().expect("flush");
}
