//! The blacklist: users, devices, IP addresses and CIDR ranges refused before a trading
//! request reaches its activity, each with a reason and an optional expiry.
//!
//! Entries live in the event store's database (tree [`TREE`], one JSON record per entry
//! keyed by its id, durable before a write is answered) and in an in-memory index the
//! trading routes read: one lookup per kind and a scan of the ranges, skipped altogether
//! while the list is empty. An expired entry stops refusing at once and is removed at the
//! next write or start. At most [`ENTRIES_MAX`] entries.
//!
//! The admin API is in [`routes`] (operator and admin roles, every change audited).
//! Metrics: `playcore_blacklist_refusals_total{kind}` and `playcore_blacklist_entries`.

pub(crate) mod routes;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use playcore_actors::domain::text::{check_text, TextKind};
use playcore_snapshots::event_store::EventStore;
use playcore_snapshots::StoreError;

use crate::telemetry::{Counter, Gauge, Metrics};

/// The tree the entries live in.
pub const TREE: &str = "blacklist";
/// Entries at most.
pub const ENTRIES_MAX: usize = 100_000;
/// Bounds of an entry's text.
pub const VALUE_BYTES_MAX: usize = 128;
pub const REASON_CHARS_MAX: usize = 500;
/// The version of the stored record's shape.
const RECORD_FORMAT: u32 = 1;

/// What an entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Kind {
    User,
    Device,
    Ip,
    Cidr,
}

/// One entry as stored and served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub format: u32,
    pub id: String,
    pub kind: Kind,
    /// The user id, device id, IP address or range (`addr/prefix`), normalised.
    pub value: String,
    pub reason: String,
    pub expires_at_ms: Option<i64>,
    pub created_at_ms: i64,
    /// The token's name that listed it.
    pub created_by: String,
}

impl Entry {
    fn active(&self, now_ms: i64) -> bool {
        self.expires_at_ms.is_none_or(|at_ms| at_ms > now_ms)
    }
}

/// Who is asking, as far as the blacklist looks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Asker<'a> {
    pub user: Option<&'a str>,
    pub device: Option<&'a str>,
    pub ip: Option<IpAddr>,
}

/// An IP range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    network: u128,
    mask: u128,
    v6: bool,
}

impl Range {
    /// `addr/prefix`, the address cut to its network; `None` if it does not parse.
    fn parse(text: &str) -> Option<Range> {
        let (address, prefix) = text.split_once('/')?;
        let address: IpAddr = address.parse().ok()?;
        let prefix: u32 = prefix.parse().ok()?;
        let (bits, v6) = bits_of(address);
        let width = if v6 { 128 } else { 32 };
        if prefix > width {
            return None;
        }
        let host_bits = width - prefix;
        let mask = if host_bits >= 128 {
            0
        } else {
            !((1u128 << host_bits) - 1)
        };
        Some(Range {
            network: bits & mask,
            mask,
            v6,
        })
    }

    fn contains(&self, address: IpAddr) -> bool {
        let (bits, v6) = bits_of(address);
        v6 == self.v6 && bits & self.mask == self.network
    }

    fn text(&self) -> String {
        let prefix = if self.v6 {
            self.mask.count_ones()
        } else {
            self.mask.count_ones().saturating_sub(96)
        };
        let address = if self.v6 {
            IpAddr::from(self.network.to_be_bytes())
        } else {
            IpAddr::from((self.network as u32).to_be_bytes())
        };
        format!("{address}/{prefix}")
    }
}

/// An address as 128 bits (IPv4 in the low 32, its mask's high bits set) and its family.
fn bits_of(address: IpAddr) -> (u128, bool) {
    match address {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), false),
        IpAddr::V6(v6) => (u128::from(v6), true),
    }
}

/// The normalised value of an entry of `kind`, or why `value` is refused.
pub fn normalise(kind: Kind, value: &str) -> Result<String, String> {
    match kind {
        Kind::User | Kind::Device => {
            check_text(value, TextKind::Token).map_err(|reason| reason.to_string())?;
            if value.len() > VALUE_BYTES_MAX {
                return Err(format!("at most {VALUE_BYTES_MAX} bytes"));
            }
            Ok(value.to_owned())
        }
        Kind::Ip => value
            .parse::<IpAddr>()
            .map(|address| address.to_string())
            .map_err(|_| "an IPv4 or IPv6 address".to_owned()),
        Kind::Cidr => Range::parse(value)
            .map(|range| range.text())
            .ok_or_else(|| "an address range such as 203.0.113.0/24 or 2001:db8::/32".to_owned()),
    }
}

/// The reason's text, or why it is refused.
pub fn check_reason(reason: &str) -> Result<(), String> {
    check_text(reason, TextKind::Line).map_err(|reason| reason.to_string())?;
    if reason.trim().is_empty() {
        return Err("must say why".to_owned());
    }
    if reason.chars().count() > REASON_CHARS_MAX {
        return Err(format!("at most {REASON_CHARS_MAX} characters"));
    }
    Ok(())
}

/// An entry id: `bl_` and 24 hex digits.
pub fn new_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes)?;
    Ok(format!("bl_{}", hex::encode(bytes)))
}

pub fn is_id(id: &str) -> bool {
    id.strip_prefix("bl_")
        .is_some_and(|hex| hex.len() == 24 && hex.bytes().all(|byte| byte.is_ascii_hexdigit()))
}

#[derive(Debug, thiserror::Error)]
pub enum BlacklistError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("storage: {0}")]
    Sled(#[from] sled::Error),
    #[error("blacklist record {id} does not decode: {reason}")]
    Record { id: String, reason: String },
}

/// The in-memory index of the active entries, keyed so that a check allocates nothing.
#[derive(Default)]
struct Index {
    by_id: BTreeMap<String, Arc<Entry>>,
    users: HashMap<String, Arc<Entry>>,
    devices: HashMap<String, Arc<Entry>>,
    ips: HashMap<IpAddr, Arc<Entry>>,
    ranges: Vec<(Range, Arc<Entry>)>,
}

impl Index {
    fn insert(&mut self, entry: Arc<Entry>) {
        self.remove(&entry.id);
        let listed = Arc::clone(&entry);
        match entry.kind {
            Kind::User => drop(self.users.insert(entry.value.clone(), listed)),
            Kind::Device => drop(self.devices.insert(entry.value.clone(), listed)),
            Kind::Ip => {
                if let Ok(ip) = entry.value.parse() {
                    self.ips.insert(ip, listed);
                }
            }
            Kind::Cidr => {
                if let Some(range) = Range::parse(&entry.value) {
                    self.ranges.push((range, listed));
                }
            }
        }
        self.by_id.insert(entry.id.clone(), entry);
    }

    fn remove(&mut self, id: &str) -> Option<Arc<Entry>> {
        let entry = self.by_id.remove(id)?;
        match entry.kind {
            Kind::User => drop(self.users.remove(&entry.value)),
            Kind::Device => drop(self.devices.remove(&entry.value)),
            Kind::Ip => {
                if let Ok(ip) = entry.value.parse::<IpAddr>() {
                    self.ips.remove(&ip);
                }
            }
            Kind::Cidr => self.ranges.retain(|(_, listed)| listed.id != id),
        }
        Some(entry)
    }

    fn find(&self, kind: Kind, value: &str) -> Option<&Arc<Entry>> {
        match kind {
            Kind::User => self.users.get(value),
            Kind::Device => self.devices.get(value),
            Kind::Ip => self.ips.get(&value.parse().ok()?),
            Kind::Cidr => self
                .ranges
                .iter()
                .find(|(_, entry)| entry.value == value)
                .map(|(_, entry)| entry),
        }
    }

    fn matching(&self, asker: Asker<'_>, now_ms: i64) -> Option<Arc<Entry>> {
        let exact = [
            asker.user.and_then(|user| self.users.get(user)),
            asker.device.and_then(|device| self.devices.get(device)),
            asker.ip.and_then(|ip| self.ips.get(&ip)),
        ];
        let listed = exact
            .into_iter()
            .flatten()
            .find(|entry| entry.active(now_ms));
        if listed.is_some() {
            return listed.cloned();
        }
        let ip = asker.ip?;
        self.ranges
            .iter()
            .find(|(range, entry)| range.contains(ip) && entry.active(now_ms))
            .map(|(_, entry)| Arc::clone(entry))
    }
}

/// The blacklist: its durable tree and the index the trading routes read.
pub struct Blacklist {
    events: EventStore,
    tree: sled::Tree,
    index: RwLock<Index>,
    /// Entries in the index; 0 lets a check return without a lock.
    count: AtomicUsize,
    /// Writes one at a time (the bound and the replace-by-value check).
    pub(crate) writes: tokio::sync::Mutex<()>,
    /// Refusals by kind, in [`KINDS`] order.
    refusals: [Arc<Counter>; 4],
    entries: Arc<Gauge>,
}

/// Every kind, in the order of the refusal counters.
const KINDS: [(Kind, &str); 4] = [
    (Kind::User, "USER"),
    (Kind::Device, "DEVICE"),
    (Kind::Ip, "IP"),
    (Kind::Cidr, "CIDR"),
];

impl Blacklist {
    /// Opens the tree and loads the active entries; expired ones are removed.
    pub fn open(
        events: &EventStore,
        metrics: &Metrics,
        now_ms: i64,
    ) -> Result<Blacklist, BlacklistError> {
        let tree = events.tree(TREE)?;
        let mut index = Index::default();
        for item in tree.iter() {
            let (key, value) = item?;
            let entry = decode(&key, &value)?;
            if entry.active(now_ms) {
                index.insert(Arc::new(entry));
            } else {
                tree.remove(key)?;
            }
        }
        let count = index.by_id.len();
        let refusals = KINDS.map(|(_, kind)| {
            metrics.counter_with_labels(
                "playcore_blacklist_refusals_total",
                "Trading requests refused by the blacklist, by the kind of entry.",
                &[("kind", kind)],
            )
        });
        let entries = metrics.gauge("playcore_blacklist_entries", "Active blacklist entries.");
        entries.set(count as i64);
        Ok(Blacklist {
            events: events.clone(),
            tree,
            index: RwLock::new(index),
            count: AtomicUsize::new(count),
            writes: tokio::sync::Mutex::new(()),
            refusals,
            entries,
        })
    }

    /// The active entry that refuses `asker`, if any.
    pub fn refusal(&self, asker: Asker<'_>, now_ms: i64) -> Option<Arc<Entry>> {
        if self.count.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let entry = self.read().matching(asker, now_ms)?;
        let slot = KINDS.iter().position(|(kind, _)| *kind == entry.kind);
        if let Some(counter) = slot.and_then(|slot| self.refusals.get(slot)) {
            counter.increment();
        }
        Some(entry)
    }

    /// The entry listing `value` of `kind`, if any.
    pub fn find(&self, kind: Kind, value: &str) -> Option<Arc<Entry>> {
        self.read().find(kind, value).cloned()
    }

    pub fn get(&self, id: &str) -> Option<Arc<Entry>> {
        self.read().by_id.get(id).cloned()
    }

    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Up to `limit` entries with an id after `after_id` (and of `kind`), in id order.
    pub fn page(&self, after_id: &str, kind: Option<Kind>, limit: usize) -> Vec<Arc<Entry>> {
        let index = self.read();
        let after = std::ops::Bound::Excluded(after_id.to_owned());
        index
            .by_id
            .range((after, std::ops::Bound::Unbounded))
            .map(|(_, entry)| entry)
            .filter(|entry| kind.is_none_or(|kind| entry.kind == kind))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Writes `entry` durably (replacing one with its id), then indexes it.
    pub fn put(&self, entry: Entry) -> Result<Arc<Entry>, BlacklistError> {
        let value = serde_json::to_vec(&entry).map_err(|error| BlacklistError::Record {
            id: entry.id.clone(),
            reason: error.to_string(),
        })?;
        self.tree.insert(entry.id.as_bytes(), value)?;
        self.events.flush()?;
        let entry = Arc::new(entry);
        let mut index = self.write();
        index.insert(Arc::clone(&entry));
        self.counted(index.by_id.len());
        Ok(entry)
    }

    /// Removes the entry durably; the removed entry, if there was one.
    pub fn remove(&self, id: &str) -> Result<Option<Arc<Entry>>, BlacklistError> {
        self.tree.remove(id.as_bytes())?;
        self.events.flush()?;
        let mut index = self.write();
        let removed = index.remove(id);
        self.counted(index.by_id.len());
        Ok(removed)
    }

    fn counted(&self, count: usize) {
        self.count.store(count, Ordering::Relaxed);
        self.entries.set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Removes the entries expired at `now_ms`; how many.
    pub fn purge_expired(&self, now_ms: i64) -> Result<usize, BlacklistError> {
        let expired: Vec<String> = self
            .read()
            .by_id
            .values()
            .filter(|entry| !entry.active(now_ms))
            .map(|entry| entry.id.clone())
            .collect();
        for id in &expired {
            self.remove(id)?;
        }
        Ok(expired.len())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn decode(key: &[u8], value: &[u8]) -> Result<Entry, BlacklistError> {
    let record = || String::from_utf8_lossy(key).into_owned();
    let entry: Entry = serde_json::from_slice(value).map_err(|error| BlacklistError::Record {
        id: record(),
        reason: error.to_string(),
    })?;
    if entry.format != RECORD_FORMAT || entry.id.as_bytes() != key {
        return Err(BlacklistError::Record {
            id: record(),
            reason: format!("format {} under another key or version", entry.format),
        });
    }
    Ok(entry)
}

/// A new entry's record.
pub fn new_entry(
    id: String,
    kind: Kind,
    value: String,
    reason: String,
    expires_at_ms: Option<i64>,
    created_by: String,
    now_ms: i64,
) -> Entry {
    Entry {
        format: RECORD_FORMAT,
        id,
        kind,
        value,
        reason,
        expires_at_ms,
        created_at_ms: now_ms,
        created_by,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_normalise_and_contain() {
        let range = Range::parse("203.0.113.77/24").expect("a range");
        assert_eq!(range.text(), "203.0.113.0/24");
        assert!(range.contains("203.0.113.200".parse().expect("ip")));
        assert!(!range.contains("203.0.114.1".parse().expect("ip")));
        assert!(!range.contains("::ffff:203.0.113.1".parse().expect("ip")));
        let v6 = Range::parse("2001:db8::1/32").expect("a v6 range");
        assert_eq!(v6.text(), "2001:db8::/32");
        assert!(v6.contains("2001:db8:ffff::1".parse().expect("ip")));
        let everything = Range::parse("0.0.0.0/0").expect("all of v4");
        assert!(everything.contains("8.8.8.8".parse().expect("ip")));
        assert!(Range::parse("10.0.0.0/33").is_none());
        assert!(Range::parse("10.0.0.0").is_none());
        assert!(Range::parse("nonsense/8").is_none());
    }

    #[test]
    fn values_are_checked_by_kind() {
        assert_eq!(normalise(Kind::Ip, "::0001").expect("v6"), "::1");
        assert!(normalise(Kind::Ip, "10.0.0.256").is_err());
        assert!(normalise(Kind::User, "has space").is_err());
        assert!(normalise(Kind::Device, &"d".repeat(VALUE_BYTES_MAX + 1)).is_err());
        assert!(check_reason("  ").is_err());
        assert!(check_reason("bot farm").is_ok());
    }
}
