//! The admin audit log's storage: an append-only record of every admin write, chained by
//! hashes so that editing, deleting or reordering a record is detectable, and its
//! verification (`playcore audit verify`, `playcore check`).
//!
//! # Record
//!
//! Who (the token's name), their roles, the action (`"activity.create"`,
//! `"approval.approve"`, …), the target (an activity id), `before` and `after` (the
//! activity's admin view before and after the write: `null` before a create), the time
//! (RFC 3339 UTC, milliseconds), and the chain: `prevHash` and
//! `hash = SHA-256(prevHash || canonical bytes)`, where the canonical bytes are the
//! compact JSON of the record without `hash`, the keys of every object sorted. The first
//! record's `prevHash` is [`GENESIS_HASH`].
//!
//! # Storage
//!
//! Its own sled tree, [`AUDIT_TREE`], in the server's database; key = sequence number
//! (u64 big-endian, from 1, contiguous), value = the record's JSON. An append is flushed
//! and fdatasync'ed before it returns, so a reply never precedes its record. Appends are
//! serialized by a mutex (admin writes are rare); the trading hot path never touches this
//! module. The log grows with admin writes and is never truncated; the only memory it
//! keeps is the chain's head (next sequence number and last hash).

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::http::auth::Caller;
use playcore_snapshots::Store;

/// The sled tree holding the log.
pub const AUDIT_TREE: &str = "audit";
/// `prevHash` of the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Records one filtered page request reads at most, so a query stays bounded.
pub const SCAN_RECORDS_MAX: usize = 100_000;

/// One audit record as stored and as served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub seq: u64,
    pub at: String,
    pub who: String,
    pub roles: Vec<String>,
    pub action: String,
    pub target: String,
    pub before: Value,
    pub after: Value,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRecord {
    /// `SHA-256(prevHash || canonical bytes of the record without hash)`, hex.
    pub fn compute_hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.prev_hash.as_bytes());
        hasher.update(self.canonical_bytes());
        hex::encode(hasher.finalize())
    }

    /// The record without `hash` as compact JSON with every object's keys sorted: a form
    /// any language can reproduce from the served JSON, independent of field order.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Serializing strings, numbers and JSON values cannot fail.
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.remove("hash");
        }
        serde_json::to_vec(&sorted(value)).unwrap_or_default()
    }
}

/// `value` with the keys of every object inserted in sorted order (which is also the
/// serialization order should serde_json's `preserve_order` feature ever be enabled).
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<(String, Value)> = object.into_iter().collect();
            entries.sort_by(|left, right| left.0.cmp(&right.0));
            let sorted_entries = entries.into_iter().map(|(key, value)| (key, sorted(value)));
            Value::Object(sorted_entries.collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// What a handler reports: a record without its place in the chain.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub who: String,
    pub roles: Vec<String>,
    pub action: String,
    pub target: String,
    pub before: Value,
    pub after: Value,
}

impl AuditEntry {
    /// An entry of `caller` doing `action` on `target`.
    pub fn new(caller: &Caller, action: &str, target: String, before: Value, after: Value) -> Self {
        Self {
            who: caller.name().to_owned(),
            roles: caller.roles().iter().map(|role| role.to_string()).collect(),
            action: action.to_owned(),
            target,
            before,
            after,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit storage failed: {0}")]
    Storage(String),
    #[error("audit record {seq} is unreadable: {reason}")]
    Unreadable { seq: u64, reason: String },
}

impl From<sled::Error> for AuditError {
    fn from(error: sled::Error) -> Self {
        Self::Storage(error.to_string())
    }
}

impl From<playcore_snapshots::StoreError> for AuditError {
    fn from(error: playcore_snapshots::StoreError) -> Self {
        Self::Storage(error.to_string())
    }
}

/// The end of the chain: where the next record goes and what it links to.
struct Head {
    next_seq: u64,
    last_hash: String,
}

/// The open log. Shared (`Arc`) by the admin routes.
pub struct AuditLog {
    store: Store,
    tree: sled::Tree,
    /// A std mutex, not tokio's: it is held only inside a blocking task, across one
    /// insert and one sync, never across an `.await`.
    head: Mutex<Head>,
}

impl AuditLog {
    /// Opens the log in `store`, reading the chain's head from its last record.
    pub fn open(store: Store) -> Result<Self, AuditError> {
        let tree = store.db().open_tree(AUDIT_TREE)?;
        let head = match tree.last()? {
            None => Head {
                next_seq: 1,
                last_hash: GENESIS_HASH.to_owned(),
            },
            Some((key, value)) => {
                let record = decode(&key, &value)?;
                Head {
                    next_seq: record.seq + 1,
                    last_hash: record.hash,
                }
            }
        };
        Ok(Self {
            store,
            tree,
            head: Mutex::new(head),
        })
    }

    /// Appends `entry` at `at_ms`, durably (flush + fdatasync) before returning. Blocking.
    pub fn append(&self, entry: AuditEntry, at_ms: i64) -> Result<AuditRecord, AuditError> {
        let mut head = self.head.lock().unwrap_or_else(PoisonError::into_inner);
        let mut record = AuditRecord {
            seq: head.next_seq,
            at: crate::http::dto::rfc3339(at_ms),
            who: entry.who,
            roles: entry.roles,
            action: entry.action,
            target: entry.target,
            before: entry.before,
            after: entry.after,
            prev_hash: head.last_hash.clone(),
            hash: String::new(),
        };
        record.hash = record.compute_hash();
        let value = serde_json::to_vec(&record).map_err(|e| AuditError::Storage(e.to_string()))?;
        self.tree.insert(record.seq.to_be_bytes(), value)?;
        self.store.flush()?;
        self.store.sync_files()?;
        head.next_seq = record.seq + 1;
        head.last_hash.clone_from(&record.hash);
        Ok(record)
    }

    /// A page of records after `query.after_seq`, filtered; reads at most
    /// [`SCAN_RECORDS_MAX`] records. Blocking.
    pub fn page(&self, query: &PageQuery) -> Result<Page, AuditError> {
        let start = query.after_seq.saturating_add(1).to_be_bytes();
        let mut page = Page {
            records: Vec::new(),
            next_after_seq: query.after_seq,
        };
        for item in self.tree.range(start..).take(SCAN_RECORDS_MAX) {
            if page.records.len() >= query.limit {
                break;
            }
            let (key, value) = item?;
            let record = decode(&key, &value)?;
            page.next_after_seq = record.seq;
            if query.matches(&record) {
                page.records.push(record);
            }
        }
        Ok(page)
    }
}

/// Filters and paging of `GET /admin/v1/audit`.
#[derive(Debug, Clone, Default)]
pub struct PageQuery {
    pub after_seq: u64,
    pub limit: usize,
    pub target: Option<String>,
    pub action: Option<String>,
}

impl PageQuery {
    fn matches(&self, record: &AuditRecord) -> bool {
        self.target
            .as_ref()
            .is_none_or(|target| *target == record.target)
            && self
                .action
                .as_ref()
                .is_none_or(|action| *action == record.action)
    }
}

/// A page: the records, and the last sequence number read (the next `afterSeq`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub records: Vec<AuditRecord>,
    pub next_after_seq: u64,
}

fn key_seq(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

fn decode(key: &[u8], value: &[u8]) -> Result<AuditRecord, AuditError> {
    let seq = key_seq(key).ok_or_else(|| AuditError::Unreadable {
        seq: 0,
        reason: format!("a key of {} bytes, not 8", key.len()),
    })?;
    serde_json::from_slice(value).map_err(|error| AuditError::Unreadable {
        seq,
        reason: error.to_string(),
    })
}

/// Why a chain does not verify, at the first broken record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    #[error("record {seq}: unreadable: {reason}")]
    Unreadable { seq: u64, reason: String },
    #[error("record {expected}: gap: the next key is {found}")]
    Gap { expected: u64, found: u64 },
    #[error("record {seq}: out of order: its key holds record {found}")]
    Misplaced { seq: u64, found: u64 },
    #[error("record {seq}: prevHash mismatch: links to {found}, the previous hash is {expected}")]
    PrevHashMismatch {
        seq: u64,
        expected: String,
        found: String,
    },
    #[error("record {seq}: hash mismatch: stored {stored}, computed {computed}")]
    HashMismatch {
        seq: u64,
        stored: String,
        computed: String,
    },
}

/// An intact chain: how many records, and the last hash (the genesis hash when empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub records: u64,
    pub last_hash: String,
}

/// Walks `tree` in key order and checks contiguity from 1, every link and every hash.
/// Streams: memory stays constant however long the log.
pub fn verify_tree(tree: &sled::Tree) -> Result<Verified, Break> {
    let mut verified = Verified {
        records: 0,
        last_hash: GENESIS_HASH.to_owned(),
    };
    for item in tree.iter() {
        let expected = verified.records + 1;
        let (key, value) = item.map_err(|error| Break::Unreadable {
            seq: expected,
            reason: error.to_string(),
        })?;
        let record = verify_one(&key, &value, expected, &verified.last_hash)?;
        verified.records = expected;
        verified.last_hash = record.hash;
    }
    Ok(verified)
}

fn verify_one(
    key: &[u8],
    value: &[u8],
    expected: u64,
    prev_hash: &str,
) -> Result<AuditRecord, Break> {
    let unreadable = |reason: String| Break::Unreadable {
        seq: expected,
        reason,
    };
    let seq = key_seq(key).ok_or_else(|| unreadable(format!("a key of {} bytes", key.len())))?;
    if seq != expected {
        return Err(Break::Gap {
            expected,
            found: seq,
        });
    }
    let record: AuditRecord =
        serde_json::from_slice(value).map_err(|error| unreadable(error.to_string()))?;
    if record.seq != seq {
        return Err(Break::Misplaced {
            seq,
            found: record.seq,
        });
    }
    if record.prev_hash != prev_hash {
        return Err(Break::PrevHashMismatch {
            seq,
            expected: prev_hash.to_owned(),
            found: record.prev_hash,
        });
    }
    let computed = record.compute_hash();
    if computed != record.hash {
        return Err(Break::HashMismatch {
            seq,
            stored: record.hash,
            computed,
        });
    }
    Ok(record)
}

/// Why `playcore audit verify` failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("no database in {0}")]
    Missing(String),
    #[error("the data directory {0} is in use (stop the server first): {1}")]
    Locked(String, String),
    #[error("cannot open the data directory {0}: {1}")]
    Open(String, String),
    #[error("audit log broken at {0}")]
    Broken(Break),
}

/// Opens the stopped server's database in `directory` and verifies its audit chain.
pub fn verify_directory(directory: &Path) -> Result<Verified, VerifyError> {
    let shown = directory.display().to_string();
    if !directory.join("db").is_file() {
        return Err(VerifyError::Missing(shown));
    }
    let store = Store::open(directory).map_err(|error| {
        let reason = error.to_string();
        if reason.contains("lock") {
            VerifyError::Locked(shown.clone(), reason)
        } else {
            VerifyError::Open(shown.clone(), reason)
        }
    })?;
    let tree = store
        .db()
        .open_tree(AUDIT_TREE)
        .map_err(|error| VerifyError::Open(shown, error.to_string()))?;
    verify_tree(&tree).map_err(VerifyError::Broken)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::auth::Role;
    use serde_json::json;

    fn open(dir: &tempfile::TempDir) -> AuditLog {
        AuditLog::open(Store::open(dir.path()).expect("store")).expect("log")
    }

    fn entry(action: &str, target: &str) -> AuditEntry {
        let caller = Caller::new("olga", &[Role::Operator]);
        AuditEntry::new(
            &caller,
            action,
            target.to_owned(),
            json!(null),
            json!({"x": 1}),
        )
    }

    /// A log of three records, and its tree.
    fn three(dir: &tempfile::TempDir) -> (AuditLog, sled::Tree) {
        let log = open(dir);
        for (index, action) in ["activity.create", "approval.submit", "approval.approve"]
            .iter()
            .enumerate()
        {
            log.append(entry(action, "7"), 1_700_000_000_000 + index as i64)
                .expect("append");
        }
        let tree = log.tree.clone();
        (log, tree)
    }

    fn rewrite(tree: &sled::Tree, seq: u64, change: impl FnOnce(&mut Value)) {
        let key = seq.to_be_bytes();
        let mut value: Value =
            serde_json::from_slice(&tree.get(key).expect("get").expect("present")).expect("json");
        change(&mut value);
        tree.insert(key, serde_json::to_vec(&value).expect("encode"))
            .expect("insert");
    }

    #[test]
    fn appends_chain_and_verify() {
        let dir = tempfile::tempdir().expect("dir");
        let (log, tree) = three(&dir);
        let verified = verify_tree(&tree).expect("intact");
        assert_eq!(verified.records, 3);
        let page = log
            .page(&PageQuery {
                limit: 10,
                ..PageQuery::default()
            })
            .expect("page");
        let seqs: Vec<u64> = page.records.iter().map(|record| record.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!(page.records[0].prev_hash, GENESIS_HASH);
        assert_eq!(page.records[1].prev_hash, page.records[0].hash);
        assert_eq!(page.records[2].hash, verified.last_hash);
        assert_eq!(page.records[0].who, "olga");
        assert_eq!(page.records[0].roles, ["operator"]);
        assert_eq!(page.records[0].at, "2023-11-14T22:13:20.000Z");
    }

    #[test]
    fn reopening_continues_the_chain() {
        let dir = tempfile::tempdir().expect("dir");
        let (log, _) = three(&dir);
        drop(log);
        let log = open(&dir);
        let record = log
            .append(entry("activity.publish", "7"), 0)
            .expect("append");
        assert_eq!(record.seq, 4);
        assert_eq!(verify_tree(&log.tree).expect("intact").records, 4);
    }

    #[test]
    fn an_empty_log_verifies() {
        let dir = tempfile::tempdir().expect("dir");
        let log = open(&dir);
        let verified = verify_tree(&log.tree).expect("intact");
        assert_eq!(verified.records, 0);
        assert_eq!(verified.last_hash, GENESIS_HASH);
    }

    #[test]
    fn a_tampered_field_is_detected() {
        let dir = tempfile::tempdir().expect("dir");
        let (_log, tree) = three(&dir);
        rewrite(&tree, 2, |value| value["who"] = json!("mallory"));
        assert!(matches!(
            verify_tree(&tree),
            Err(Break::HashMismatch { seq: 2, .. })
        ));
    }

    #[test]
    fn a_rehashed_record_breaks_the_next_link() {
        let dir = tempfile::tempdir().expect("dir");
        let (_log, tree) = three(&dir);
        rewrite(&tree, 2, |value| {
            value["after"] = json!({"x": 2});
            let mut record: AuditRecord = serde_json::from_value(value.clone()).expect("record");
            record.hash = record.compute_hash();
            *value = serde_json::to_value(record).expect("value");
        });
        assert!(matches!(
            verify_tree(&tree),
            Err(Break::PrevHashMismatch { seq: 3, .. })
        ));
    }

    #[test]
    fn a_deleted_record_is_detected() {
        let dir = tempfile::tempdir().expect("dir");
        let (_log, tree) = three(&dir);
        tree.remove(2u64.to_be_bytes()).expect("remove");
        assert_eq!(
            verify_tree(&tree),
            Err(Break::Gap {
                expected: 2,
                found: 3
            })
        );
    }

    #[test]
    fn reordered_records_are_detected() {
        let dir = tempfile::tempdir().expect("dir");
        let (_log, tree) = three(&dir);
        let second = tree.get(2u64.to_be_bytes()).expect("get").expect("2");
        let third = tree.get(3u64.to_be_bytes()).expect("get").expect("3");
        tree.insert(2u64.to_be_bytes(), third).expect("insert");
        tree.insert(3u64.to_be_bytes(), second).expect("insert");
        assert_eq!(
            verify_tree(&tree),
            Err(Break::Misplaced { seq: 2, found: 3 })
        );
        // Renumbering the swapped records too still breaks the links.
        rewrite(&tree, 2, |value| value["seq"] = json!(2));
        rewrite(&tree, 3, |value| value["seq"] = json!(3));
        assert!(matches!(
            verify_tree(&tree),
            Err(Break::PrevHashMismatch { seq: 2, .. })
        ));
    }

    #[test]
    fn garbage_is_unreadable() {
        let dir = tempfile::tempdir().expect("dir");
        let (_log, tree) = three(&dir);
        tree.insert(1u64.to_be_bytes(), b"{not json".to_vec())
            .expect("insert");
        assert!(matches!(
            verify_tree(&tree),
            Err(Break::Unreadable { seq: 1, .. })
        ));
    }

    #[test]
    fn pages_filter_and_resume() {
        let dir = tempfile::tempdir().expect("dir");
        let (log, _) = three(&dir);
        log.append(entry("approval.submit", "8"), 0)
            .expect("append");
        let query = |after_seq, limit, action: Option<&str>| PageQuery {
            after_seq,
            limit,
            target: None,
            action: action.map(str::to_owned),
        };
        let page = log.page(&query(0, 2, None)).expect("page");
        assert_eq!(page.records.len(), 2);
        assert_eq!(page.next_after_seq, 2);
        let page = log.page(&query(2, 10, None)).expect("page");
        assert_eq!(page.records.len(), 2);
        assert_eq!(page.next_after_seq, 4);
        let page = log
            .page(&query(0, 10, Some("approval.submit")))
            .expect("page");
        let seqs: Vec<u64> = page.records.iter().map(|record| record.seq).collect();
        assert_eq!(seqs, [2, 4]);
        let by_target = PageQuery {
            limit: 10,
            target: Some("8".to_owned()),
            ..PageQuery::default()
        };
        assert_eq!(log.page(&by_target).expect("page").records.len(), 1);
    }
}
