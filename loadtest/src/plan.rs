//! Who sends what, drawn from the seed before the run starts, so a run is reproducible and
//! the verdict knows exactly what was asked.

use crate::random::Random;

/// One grab: user number and request number (`userId = "u{user}"`, `requestId = "r{request}"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Attempt {
    pub user: u32,
    pub request: u32,
}

/// The shape of a rush.
#[derive(Clone, Copy, Debug)]
pub struct RushShape {
    pub users: u64,
    pub attempts: u64,
    pub per_user_limit: u32,
    /// Share of a user's later attempts that repeat one of their earlier requestIds.
    pub repeat_share: f64,
    /// Share of users who send new requestIds beyond their limit.
    pub over_limit_share: f64,
    pub seed: u64,
}

const STREAM_USERS: u64 = 1;
const STREAM_ORDER: u64 = 2;

/// The attempts of a rush, in sending order.
///
/// Attempts are spread evenly over the users (the first `attempts % users` users in a
/// seeded order get one more). A user's first attempt is a new requestId; each later one
/// repeats an earlier requestId with `repeat_share`, or when the user already sent as many
/// distinct requestIds as the limit allows, unless the user is one of those who try beyond
/// their limit. Then everything is shuffled, so users interleave as in a real rush.
pub fn rush(shape: &RushShape) -> Vec<Attempt> {
    let users = shape.users.min(shape.attempts).max(1);
    let base = shape.attempts / users;
    let extra = shape.attempts % users;
    let mut attempts = Vec::with_capacity(shape.attempts as usize);
    for user in 0..users {
        let count = base + u64::from(user < extra);
        user_attempts(shape, user as u32, count, &mut attempts);
    }
    Random::for_item(shape.seed, STREAM_ORDER, 0).shuffle(&mut attempts);
    attempts
}

fn user_attempts(shape: &RushShape, user: u32, count: u64, into: &mut Vec<Attempt>) {
    let mut random = Random::for_item(shape.seed, STREAM_USERS, u64::from(user));
    let beyond_limit = random.chance(shape.over_limit_share);
    let distinct_cap = if beyond_limit {
        u32::MAX
    } else {
        shape.per_user_limit
    };
    let mut distinct = 0u32;
    for index in 0..count {
        let repeat = index > 0 && (distinct >= distinct_cap || random.chance(shape.repeat_share));
        let request = if repeat {
            random.below(u64::from(distinct)) as u32
        } else {
            distinct += 1;
            distinct - 1
        };
        into.push(Attempt { user, request });
    }
}

/// What request `index` of a mixed run is: a detail read, or grab number `n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MixedStep {
    Read,
    Grab(u64),
}

/// The steps of a mixed run: each request is a read with `read_share`, else the next grab.
pub fn mixed(requests: u64, read_share: f64, seed: u64) -> Vec<MixedStep> {
    let mut random = Random::for_item(seed, 3, 0);
    let mut grabs = 0u64;
    (0..requests)
        .map(|_| {
            if random.chance(read_share) {
                MixedStep::Read
            } else {
                grabs += 1;
                MixedStep::Grab(grabs - 1)
            }
        })
        .collect()
}

/// How one group of a group-buy run goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupPlan {
    /// Members who join after the leader (each then pays).
    pub joiners: u32,
    /// Whether one more user tries to join once the group is full (expects GROUP_FULL).
    pub late_joiner: bool,
}

/// The groups of a group-buy run: a `fill_share` of them get every member they need (and a
/// late joiner); the others stop one or more members short.
pub fn groups(count: u64, group_size: u32, fill_share: f64, seed: u64) -> Vec<GroupPlan> {
    (0..count)
        .map(|group| {
            let mut random = Random::for_item(seed, 4, group);
            if random.chance(fill_share) {
                GroupPlan {
                    joiners: group_size - 1,
                    late_joiner: true,
                }
            } else {
                GroupPlan {
                    joiners: random.below(u64::from(group_size - 1)) as u32,
                    late_joiner: false,
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn shape() -> RushShape {
        RushShape {
            users: 1000,
            attempts: 5000,
            per_user_limit: 1,
            repeat_share: 0.1,
            over_limit_share: 0.05,
            seed: 9,
        }
    }

    #[test]
    fn a_rush_has_every_attempt_and_every_user() {
        let attempts = rush(&shape());
        assert_eq!(attempts.len(), 5000);
        let users: HashSet<u32> = attempts.iter().map(|a| a.user).collect();
        assert_eq!(users.len(), 1000);
    }

    #[test]
    fn the_same_seed_draws_the_same_rush_and_another_seed_does_not() {
        assert_eq!(rush(&shape()), rush(&shape()));
        assert_ne!(
            rush(&shape()),
            rush(&RushShape {
                seed: 10,
                ..shape()
            })
        );
    }

    #[test]
    fn only_users_beyond_their_limit_send_more_distinct_requests_than_the_limit() {
        let attempts = rush(&shape());
        let mut distinct: HashMap<u32, HashSet<u32>> = HashMap::new();
        for attempt in &attempts {
            distinct
                .entry(attempt.user)
                .or_default()
                .insert(attempt.request);
        }
        let beyond = distinct.values().filter(|set| set.len() > 1).count();
        // about 5 % of 1000 users, each with 5 attempts
        assert!((20..90).contains(&beyond), "{beyond}");
    }

    #[test]
    fn mixed_reads_follow_the_share_and_grabs_count_up() {
        let steps = mixed(10_000, 0.8, 1);
        let reads = steps.iter().filter(|s| **s == MixedStep::Read).count();
        assert!((7_700..8_300).contains(&reads), "{reads}");
        let grabs: Vec<u64> = steps
            .iter()
            .filter_map(|s| match s {
                MixedStep::Grab(n) => Some(*n),
                MixedStep::Read => None,
            })
            .collect();
        assert_eq!(grabs, (0..grabs.len() as u64).collect::<Vec<_>>());
    }

    #[test]
    fn filled_groups_get_every_member_and_others_stop_short() {
        let plans = groups(1000, 5, 0.8, 2);
        let filled = plans.iter().filter(|p| p.joiners == 4).count();
        assert!((750..850).contains(&filled), "{filled}");
        assert!(plans.iter().all(|p| p.joiners <= 4));
        assert!(plans.iter().all(|p| p.late_joiner == (p.joiners == 4)));
    }
}
