//! Eligibility across activities: the two platform-wide indexes the activity actors share.
//!
//! - [`PaidUsers`]: every user money ever arrived from, on this server (INSTANCE_PAID, or
//!   INSTANCE_REFUND_PENDING with a trade number). Read by "new users only".
//! - [`Exclusion`]: per user, the mutually exclusive activities where the user holds an
//!   order (PENDING_PAY or PAID) and their windows. "Mutually exclusive" claims a slot here
//!   before an order is accepted.
//!
//! # Who writes, when
//! An activity actor checks its rules after `decide` accepted a new order and before the
//! order is journaled ([`crate::activity_actor`]): replays create nothing and are never
//! refused, and refusals of `decide` (SOLD_OUT, LIMIT_EXCEEDED …) come first. After it
//! applies events it marks paying users and releases the claims of users who no longer
//! hold anything in the activity. Both indexes are updated when events are applied, ahead
//! of durability: a crash can only lose a mark or a claim that made a refusal (never an
//! admission) too eager, and recovery rebuilds both from the recovered states
//! ([`Eligibility::rebuild`]) before the HTTP port opens.
//!
//! # Races
//! - Exclusion is race-free: the check and the claim happen under the user's DashMap entry
//!   lock, so of two actors claiming one user in two overlapping activities, one wins.
//! - New users only is decided on what was paid before the order: two concurrent orders
//!   of a user who has not paid yet, in two new-user activities, are both accepted (and
//!   both may then be paid). Paying is what marks the user; the rule is "no paid order
//!   before", checked when an order is taken, not when it is paid.
//!
//! # Bounds
//! - [`PaidUsers`] holds at most `paid_users_max` users (one entry each, ~40 bytes plus
//!   the id, shared with the order). At the bound a paying user cannot be recorded: the
//!   index turns *saturated* (sticky until a restart with a larger bound), the drop is
//!   counted and logged, and every "new users only" order of a user not in the index is
//!   refused ([`Ineligibility::NewnessUnknown`]): failing closed beats admitting a user
//!   who paid before.
//! - [`Exclusion`] holds at most `exclusive_users_max` users (it only ever holds users
//!   with a live order in a mutually exclusive activity, so it is also bounded by the
//!   orders bound). At the bound a new claim is refused with 503 OVERLOADED (retry once
//!   orders end) and counted. A user's list has one entry per activity, so at most
//!   `activities_max` entries.

use crate::domain::eligibility::{money_arrived, Ineligibility, Window};
use crate::domain::{ActivityId, ActivityState};
use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use smallvec::SmallVec;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Bounds of the indexes (see the module doc).
#[derive(Clone, Copy, Debug)]
pub struct EligibilityOptions {
    pub paid_users_max: usize,
    pub exclusive_users_max: usize,
}

impl Default for EligibilityOptions {
    fn default() -> Self {
        EligibilityOptions {
            paid_users_max: 10_000_000,
            exclusive_users_max: 2_000_000,
        }
    }
}

type UserMap<V> = DashMap<Arc<str>, V, ahash::RandomState>;

/// Users money arrived from. Grows only.
pub struct PaidUsers {
    users: UserMap<()>,
    /// Entries in `users` (DashMap's own `len` locks every shard).
    len: AtomicUsize,
    max: usize,
    /// Paying users not recorded because of the bound; non-zero means saturated.
    dropped: AtomicU64,
    logged: AtomicBool,
}

impl PaidUsers {
    pub fn new(max: usize) -> PaidUsers {
        PaidUsers {
            users: UserMap::default(),
            len: AtomicUsize::new(0),
            max,
            dropped: AtomicU64::new(0),
            logged: AtomicBool::new(false),
        }
    }

    /// Records that money arrived from `user`. Shares the id with the caller's order.
    pub fn mark(&self, user: &Arc<str>) {
        if self.users.contains_key(&**user) {
            return;
        }
        let Entry::Vacant(vacant) = self.users.entry(Arc::clone(user)) else {
            return;
        };
        if self.len.fetch_add(1, Ordering::AcqRel) >= self.max {
            self.len.fetch_sub(1, Ordering::AcqRel);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            if !self.logged.swap(true, Ordering::Relaxed) {
                tracing::error!(
                    max = self.max,
                    "the paid-users index is full: new-user-only orders are refused until a \
                     restart with a larger eligibility.max_paid_users"
                );
            }
            return;
        }
        vacant.insert(());
    }

    pub fn contains(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// "New users only" for `user`.
    pub fn check_new(&self, user: &str) -> Result<(), Ineligibility> {
        if self.contains(user) {
            return Err(Ineligibility::NotNewUser);
        }
        if self.is_saturated() {
            return Err(Ineligibility::NewnessUnknown);
        }
        Ok(())
    }

    pub fn is_saturated(&self) -> bool {
        self.dropped.load(Ordering::Relaxed) > 0
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A user's live order in a mutually exclusive activity, with that activity's window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hold {
    pub activity: ActivityId,
    pub window: Window,
}

/// Why a claim was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimError {
    /// The user holds an order in this other activity, whose window overlaps.
    Conflict(ActivityId),
    /// The index is at its bound.
    Full,
}

/// Per user, the mutually exclusive activities the user holds orders in.
pub struct Exclusion {
    users: UserMap<SmallVec<[Hold; 2]>>,
    len: AtomicUsize,
    max: usize,
    /// Claims refused at the bound.
    refused_full: AtomicU64,
}

impl Exclusion {
    pub fn new(max: usize) -> Exclusion {
        Exclusion {
            users: UserMap::default(),
            len: AtomicUsize::new(0),
            max,
            refused_full: AtomicU64::new(0),
        }
    }

    /// Checks and claims, atomically per user: refused when the user holds an order in
    /// another activity whose window overlaps `hold`'s; a second claim in the same
    /// activity is accepted as is (the per-user limit governs that).
    pub fn claim(&self, user: &str, hold: Hold) -> Result<(), ClaimError> {
        if let Some(mut holds) = self.users.get_mut(user) {
            return claim_in(&mut holds, hold);
        }
        // Not there a moment ago: the entry API re-checks under the shard lock.
        match self.users.entry(Arc::from(user)) {
            Entry::Occupied(mut occupied) => claim_in(occupied.get_mut(), hold),
            Entry::Vacant(vacant) => {
                if self.len.fetch_add(1, Ordering::AcqRel) >= self.max {
                    self.len.fetch_sub(1, Ordering::AcqRel);
                    self.refused_full.fetch_add(1, Ordering::Relaxed);
                    return Err(ClaimError::Full);
                }
                vacant.insert(SmallVec::from_elem(hold, 1));
                Ok(())
            }
        }
    }

    /// Records a hold without checking (recovery, or an activity that just became
    /// exclusive: the orders exist already). Replaces the window of an existing hold of
    /// the same activity. Not refused at the bound: the index must reflect the orders.
    pub fn restore(&self, user: &Arc<str>, hold: Hold) {
        let mut holds = self.users.entry(Arc::clone(user)).or_insert_with(|| {
            self.len.fetch_add(1, Ordering::AcqRel);
            SmallVec::new()
        });
        match holds.iter_mut().find(|held| held.activity == hold.activity) {
            Some(held) => held.window = hold.window,
            None => holds.push(hold),
        }
    }

    /// The user no longer holds an order in `activity`.
    pub fn release(&self, user: &str, activity: ActivityId) {
        let emptied = match self.users.get_mut(user) {
            Some(mut holds) => {
                holds.retain(|held| held.activity != activity);
                holds.is_empty()
            }
            None => false,
        };
        if emptied
            && self
                .users
                .remove_if(user, |_, holds| holds.is_empty())
                .is_some()
        {
            self.len.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// The user's holds (admin views and tests).
    pub fn holds(&self, user: &str) -> Vec<Hold> {
        self.users
            .get(user)
            .map(|holds| holds.to_vec())
            .unwrap_or_default()
    }

    pub fn refused_full(&self) -> u64 {
        self.refused_full.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn claim_in(holds: &mut SmallVec<[Hold; 2]>, hold: Hold) -> Result<(), ClaimError> {
    if holds.iter().any(|held| held.activity == hold.activity) {
        return Ok(());
    }
    if let Some(other) = holds.iter().find(|held| held.window.overlaps(hold.window)) {
        return Err(ClaimError::Conflict(other.activity));
    }
    holds.push(hold);
    Ok(())
}

/// Refusals by rule since start: cities, new users only, mutual exclusion.
const RULES: [&str; 3] = ["cities", "newUserOnly", "mutuallyExclusive"];

/// Both indexes, shared by every activity actor and the HTTP layer.
pub struct Eligibility {
    pub paid: PaidUsers,
    pub exclusion: Exclusion,
    refusals: [AtomicU64; RULES.len()],
}

impl Eligibility {
    pub fn new(options: EligibilityOptions) -> Eligibility {
        Eligibility {
            paid: PaidUsers::new(options.paid_users_max),
            exclusion: Exclusion::new(options.exclusive_users_max),
            refusals: Default::default(),
        }
    }

    /// Fills both indexes from recovered states: every user money arrived from, and every
    /// holder of an order in a mutually exclusive activity.
    pub fn rebuild<'a>(&self, states: impl IntoIterator<Item = &'a ActivityState>) {
        for state in states {
            for order in state.orders.iter().filter(|order| money_arrived(order)) {
                self.paid.mark(&order.user);
            }
            if state.config.rules.mutually_exclusive {
                let hold = hold_of(state);
                for user in holders(state) {
                    self.exclusion.restore(user, hold);
                }
            }
        }
    }

    /// Counts a refusal under its rule.
    pub fn count_refusal(&self, why: Ineligibility) {
        if let Some(index) = RULES.iter().position(|rule| *rule == why.rule()) {
            self.refusals[index].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Refusals since start, by rule name.
    pub fn refusals(&self) -> Vec<(&'static str, u64)> {
        RULES
            .iter()
            .zip(&self.refusals)
            .map(|(rule, count)| (*rule, count.load(Ordering::Relaxed)))
            .collect()
    }
}

/// The hold an order of `state`'s activity takes.
pub fn hold_of(state: &ActivityState) -> Hold {
    Hold {
        activity: state.id,
        window: Window::of(&state.config),
    }
}

/// Users with units held (PENDING_PAY or PAID orders) in the activity.
pub fn holders(state: &ActivityState) -> impl Iterator<Item = &Arc<str>> {
    state
        .users
        .iter()
        .filter(|(_, user_state)| user_state.units_held > 0)
        .map(|(user, _)| user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    fn hold(activity: u64, start_at_ms: i64, end_at_ms: i64) -> Hold {
        Hold {
            activity: ActivityId(activity),
            window: Window {
                start_at_ms,
                end_at_ms,
            },
        }
    }

    #[test]
    fn a_claim_conflicts_with_an_overlapping_window_of_another_activity() {
        let exclusion = Exclusion::new(10);
        assert_eq!(exclusion.claim("u", hold(1, 0, 100)), Ok(()));
        assert_eq!(
            exclusion.claim("u", hold(2, 50, 150)),
            Err(ClaimError::Conflict(ActivityId(1)))
        );
        assert_eq!(exclusion.claim("u", hold(3, 100, 200)), Ok(()), "adjacent");
        assert_eq!(
            exclusion.claim("u", hold(1, 0, 100)),
            Ok(()),
            "same activity"
        );
        assert_eq!(exclusion.claim("other", hold(2, 50, 150)), Ok(()));
        assert_eq!(exclusion.holds("u").len(), 2);
        assert_eq!(exclusion.len(), 2);
    }

    #[test]
    fn a_release_frees_the_window_and_the_entry() {
        let exclusion = Exclusion::new(10);
        exclusion.claim("u", hold(1, 0, 100)).expect("claim");
        exclusion.release("u", ActivityId(1));
        assert!(exclusion.holds("u").is_empty());
        assert!(exclusion.is_empty());
        assert_eq!(exclusion.claim("u", hold(2, 50, 150)), Ok(()));
        exclusion.release("u", ActivityId(9));
        exclusion.release("nobody", ActivityId(2));
        assert_eq!(exclusion.holds("u"), vec![hold(2, 50, 150)]);
    }

    #[test]
    fn claims_of_new_users_are_refused_at_the_bound_and_restores_are_not() {
        let exclusion = Exclusion::new(1);
        exclusion.claim("a", hold(1, 0, 100)).expect("claim");
        assert_eq!(exclusion.claim("b", hold(1, 0, 100)), Err(ClaimError::Full));
        assert_eq!(
            exclusion.claim("a", hold(2, 100, 200)),
            Ok(()),
            "known user"
        );
        assert_eq!(exclusion.refused_full(), 1);
        exclusion.restore(&Arc::from("b"), hold(1, 0, 100));
        assert_eq!(exclusion.len(), 2);
        exclusion.release("a", ActivityId(1));
        exclusion.release("a", ActivityId(2));
        assert_eq!(exclusion.len(), 1);
    }

    #[test]
    fn a_restore_replaces_the_window_of_its_activity() {
        let exclusion = Exclusion::new(10);
        let user: Arc<str> = Arc::from("u");
        exclusion.restore(&user, hold(1, 0, 100));
        exclusion.restore(&user, hold(1, 500, 600));
        assert_eq!(exclusion.holds("u"), vec![hold(1, 500, 600)]);
        assert_eq!(exclusion.claim("u", hold(2, 50, 150)), Ok(()));
    }

    #[test]
    fn of_many_threads_claiming_one_user_in_two_overlapping_activities_one_activity_wins() {
        for _ in 0..50 {
            let exclusion = Arc::new(Exclusion::new(100));
            let threads = 8;
            let barrier = Arc::new(Barrier::new(threads));
            let handles: Vec<_> = (0..threads)
                .map(|index| {
                    let (exclusion, barrier) = (Arc::clone(&exclusion), Arc::clone(&barrier));
                    std::thread::spawn(move || {
                        let activity = 1 + (index % 2) as u64;
                        barrier.wait();
                        exclusion
                            .claim("u", hold(activity, activity as i64, 100))
                            .ok()
                            .map(|()| activity)
                    })
                })
                .collect();
            let mut winners: Vec<u64> = handles
                .into_iter()
                .filter_map(|handle| handle.join().expect("thread"))
                .collect();
            winners.sort_unstable();
            winners.dedup();
            assert_eq!(winners.len(), 1, "one activity wins: {winners:?}");
            assert_eq!(exclusion.holds("u").len(), 1);
        }
    }

    #[test]
    fn paid_users_refuse_everyone_unknown_once_saturated() {
        let paid = PaidUsers::new(2);
        let (a, b, c): (Arc<str>, Arc<str>, Arc<str>) = ("a".into(), "b".into(), "c".into());
        paid.mark(&a);
        paid.mark(&a);
        assert_eq!(paid.len(), 1);
        assert_eq!(paid.check_new("a"), Err(Ineligibility::NotNewUser));
        assert_eq!(paid.check_new("z"), Ok(()));
        paid.mark(&b);
        assert!(!paid.is_saturated());
        paid.mark(&c);
        assert!(paid.is_saturated());
        assert_eq!(paid.dropped(), 1);
        assert_eq!(paid.len(), 2);
        assert_eq!(paid.check_new("z"), Err(Ineligibility::NewnessUnknown));
        assert_eq!(paid.check_new("b"), Err(Ineligibility::NotNewUser));
    }

    #[test]
    fn concurrent_marks_never_pass_the_bound() {
        let paid = Arc::new(PaidUsers::new(100));
        let handles: Vec<_> = (0..4)
            .map(|thread| {
                let paid = Arc::clone(&paid);
                std::thread::spawn(move || {
                    for index in 0..100 {
                        paid.mark(&Arc::from(format!("u{thread}-{index}")));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .for_each(|handle| handle.join().expect("thread"));
        assert_eq!(paid.len(), 100);
        assert_eq!(paid.dropped(), 300);
    }

    fn exclusive_sale(id: u64) -> ActivityState {
        use crate::domain::{ActivityConfig, Rules, TemplateCode};
        let config = ActivityConfig {
            template: TemplateCode::FlashSale,
            title: "sale".into(),
            store_id: "store".into(),
            service_id: "service".into(),
            price_cents: 100,
            unit_name: "件".into(),
            units_per_order: 1,
            stock_total: 10,
            per_user_limit: 1,
            start_at_ms: 1_000,
            end_at_ms: 2_000,
            pay_timeout_seconds: 60,
            rules: Rules {
                mutually_exclusive: true,
                ..Rules::default()
            },
        };
        ActivityState::created(ActivityId(id), config, "op", 0)
    }

    fn apply(state: &mut ActivityState, kind: crate::domain::EventKind) {
        state.apply(&crate::domain::Event { at_ms: 1_500, kind });
    }

    fn order(state: &mut ActivityState, user: &str) -> u64 {
        let order = state.orders.len() as u64 + 1;
        let kind = crate::domain::EventKind::InstanceCreated {
            order,
            user: user.into(),
            request: format!("r{order}"),
            source: Default::default(),
            quantity: 1,
            amount_cents: 100,
            expires_at_ms: 1_600,
            group: None,
        };
        apply(state, kind);
        order
    }

    #[test]
    fn a_rebuild_finds_paying_users_and_holders() {
        use crate::domain::EventKind::*;
        let mut state = exclusive_sale(4);
        order(&mut state, "pending");
        let paid = order(&mut state, "paid");
        apply(
            &mut state,
            InstancePaid {
                order: paid,
                trade_number: None,
            },
        );
        let cancelled = order(&mut state, "cancelled");
        apply(&mut state, InstanceCancelled { order: cancelled });
        let late = order(&mut state, "late");
        apply(&mut state, InstanceTimeout { order: late });
        let trade_number = Some("t-1".to_string());
        apply(
            &mut state,
            InstanceRefundPending {
                order: late,
                trade_number,
            },
        );

        let eligibility = Eligibility::new(EligibilityOptions::default());
        eligibility.rebuild([&state]);

        assert!(eligibility.paid.contains("paid"));
        assert!(eligibility.paid.contains("late"), "money arrived, refunded");
        assert!(!eligibility.paid.contains("pending"));
        assert!(!eligibility.paid.contains("cancelled"));
        assert_eq!(
            eligibility.exclusion.holds("pending"),
            vec![hold_of(&state)]
        );
        assert_eq!(eligibility.exclusion.holds("paid").len(), 1);
        assert!(eligibility.exclusion.holds("cancelled").is_empty());
        assert!(eligibility.exclusion.holds("late").is_empty());
        assert_eq!(eligibility.exclusion.len(), 2);
    }

    #[test]
    fn refusals_are_counted_by_rule() {
        let eligibility = Eligibility::new(EligibilityOptions::default());
        eligibility.count_refusal(Ineligibility::CityRequired);
        eligibility.count_refusal(Ineligibility::CityNotAllowed);
        eligibility.count_refusal(Ineligibility::MutuallyExclusive {
            with: ActivityId(1),
        });
        let counts = eligibility.refusals();
        assert_eq!(
            counts,
            vec![("cities", 2), ("newUserOnly", 0), ("mutuallyExclusive", 1)]
        );
    }
}
