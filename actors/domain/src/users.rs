//! The per-user index of an activity (units held and orders of each user), split into
//! shards so that it never rehashes all its users at once.
//!
//! One hash table for a million users either rehashes every user in the actor when it
//! grows (60 ms at 458,752 users, 120 ms at 917,504 on 2 cores) or is reserved for the whole
//! stock up front, and then its first inserts each fault in a fresh page at random (a new
//! activity's first second: about 6,000 extra page faults, p99 10–25 ms in open loop at
//! 20,000/s). Here each of [`SHARDS`] tables grows on its own: a growth step copies a
//! 64th of the users, and a table's pages are touched when it is built, in order.

use std::collections::hash_map::Entry;
use std::sync::Arc;

use crate::order::UserState;
use crate::state::FastMap;

/// Bits of a key's hash that pick its shard.
const SHARD_BITS: u32 = 6;
/// Number of shards. At 1,000,000 users a growth step copies about 16,000 of them.
const SHARDS: usize = 1 << SHARD_BITS;

/// Users by id, in [`SHARDS`] hash tables chosen by a hash of the id.
#[derive(Clone, Debug)]
pub struct UserIndex {
    shards: Vec<FastMap<Arc<str>, UserState>>,
    /// Picks a key's shard; randomly seeded like the tables' own hashers.
    selector: ahash::RandomState,
}

impl Default for UserIndex {
    fn default() -> Self {
        UserIndex {
            shards: (0..SHARDS).map(|_| FastMap::default()).collect(),
            selector: ahash::RandomState::new(),
        }
    }
}

impl UserIndex {
    fn shard_of(&self, user: &str) -> usize {
        // The high bits: the tables use the low bits of their own (other) hash.
        (self.selector.hash_one(user) >> (u64::BITS - SHARD_BITS)) as usize
    }

    pub fn get(&self, user: &str) -> Option<&UserState> {
        self.shards[self.shard_of(user)].get(user)
    }

    pub fn get_mut(&mut self, user: &str) -> Option<&mut UserState> {
        let shard = self.shard_of(user);
        self.shards[shard].get_mut(user)
    }

    pub fn get_key_value(&self, user: &str) -> Option<(&Arc<str>, &UserState)> {
        self.shards[self.shard_of(user)].get_key_value(user)
    }

    pub fn contains_key(&self, user: &str) -> bool {
        self.shards[self.shard_of(user)].contains_key(user)
    }

    pub fn entry(&mut self, user: Arc<str>) -> Entry<'_, Arc<str>, UserState> {
        let shard = self.shard_of(&user);
        self.shards[shard].entry(user)
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(FastMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(FastMap::is_empty)
    }

    pub fn clear(&mut self) {
        self.shards.iter_mut().for_each(FastMap::clear);
    }

    /// Every user, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &UserState)> {
        self.shards.iter().flat_map(|shard| shard.iter())
    }
}

/// The same users with the same states, whatever shard each index put them in.
impl PartialEq for UserIndex {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(user, state)| other.get(user) == Some(state))
    }
}

impl Eq for UserIndex {}

#[cfg(test)]
mod tests {
    use super::*;

    fn holding(units_held: u32, order: u64) -> UserState {
        UserState {
            units_held,
            orders: smallvec::smallvec![order],
        }
    }

    #[test]
    fn users_are_found_updated_and_counted_across_shards() {
        let mut index = UserIndex::default();
        for number in 0..10_000_u64 {
            let user: Arc<str> = Arc::from(format!("user-{number}"));
            *index.entry(user).or_default() = holding(1, number);
        }
        assert_eq!(index.len(), 10_000);
        let used = index
            .shards
            .iter()
            .filter(|shard| !shard.is_empty())
            .count();
        assert_eq!(used, SHARDS, "10,000 users spread over every shard");
        assert_eq!(index.get("user-42"), Some(&holding(1, 42)));
        index.get_mut("user-42").expect("present").units_held = 0;
        assert_eq!(index.get("user-42").map(|state| state.units_held), Some(0));
        let (key, _) = index.get_key_value("user-7").expect("present");
        assert_eq!(&**key, "user-7");
        assert!(!index.contains_key("user-10000"));
        assert_eq!(index.iter().count(), 10_000);
        index.clear();
        assert!(index.is_empty());
    }

    #[test]
    fn equal_indexes_compare_equal_whatever_their_shards() {
        let (mut left, mut right) = (UserIndex::default(), UserIndex::default());
        for number in 0..100_u64 {
            let user: Arc<str> = Arc::from(format!("u{number}"));
            left.entry(Arc::clone(&user)).or_insert(holding(2, number));
            right.entry(user).or_insert(holding(2, number));
        }
        assert_eq!(left, right, "differently seeded shards, same users");
        right.get_mut("u5").expect("present").units_held = 1;
        assert_ne!(left, right, "one user's state differs");
        right.get_mut("u5").expect("present").units_held = 2;
        right.entry(Arc::from("extra")).or_default();
        assert_ne!(left, right, "one more user");
    }
}
