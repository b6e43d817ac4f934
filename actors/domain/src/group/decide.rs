//! `decide` for groups: starting and joining one, a seat given up, and expiry.

use super::GroupStatus;
use crate::decide::{Decided, Decision, Subject};
use crate::event::EventKind;
use crate::order::{Buyer, Order, OrderStatus};
use crate::rejection::Rejection;
use crate::state::ActivityState;

impl ActivityState {
    /// An unpaid group seat was given up: the member leaves, or the group fails when it was
    /// the leader of a group nobody else could join yet.
    pub(crate) fn seat_released(&self, order: u64) -> Vec<EventKind> {
        let Some(number) = self.order(order).and_then(|found| found.group) else {
            return Vec::new();
        };
        let Some(group) = self.group(number) else {
            return Vec::new();
        };
        match group.status {
            GroupStatus::Pending => vec![EventKind::GroupFailed { group: number }],
            GroupStatus::Active => vec![EventKind::GroupMemberLeft {
                group: number,
                order,
            }],
            GroupStatus::Success | GroupStatus::Failed => Vec::new(),
        }
    }

    pub(crate) fn decide_expire_group(&self, number: u64, now_ms: i64) -> Decided {
        let group = self.group(number).ok_or(Rejection::NotFound("group"))?;
        let subject = Subject::Group {
            group: number,
            order: 0,
        };
        if !group.status.is_open() || now_ms < group.expires_at_ms {
            return Ok(Decision::new(Vec::new(), subject));
        }
        Ok(Decision::new(self.group_failure_events(number), subject))
    }

    /// GROUP_FAILED and INSTANCE_FAILED for every member still holding a seat, each with
    /// the status its order goes to (decided here, carried by the event).
    pub(crate) fn group_failure_events(&self, number: u64) -> Vec<EventKind> {
        let mut events = vec![EventKind::GroupFailed { group: number }];
        let Some(group) = self.group(number) else {
            return events;
        };
        events.extend(group.members.iter().filter_map(|member| {
            let status = self.order(member.order)?.status.when_group_fails()?;
            Some(EventKind::InstanceFailedTo {
                order: member.order,
                status,
            })
        }));
        events
    }

    /// The group of an unpaid group order when that group is past its expiry but the
    /// supervisor's nudge has not failed it yet: a late timer must not let it succeed.
    pub(crate) fn expired_group(&self, found: &Order, now_ms: i64) -> Option<u64> {
        let number = found
            .group
            .filter(|_| found.status == OrderStatus::PendingPay)?;
        let group = self.group(number)?;
        (group.status.is_open() && now_ms >= group.expires_at_ms).then_some(number)
    }

    pub(crate) fn group_replay(&self, user: &str, request: &str) -> Option<Decision> {
        let order = self.replayed_order(user, request)?;
        let group = self.order(order)?.group?;
        Some(Decision::replay(Subject::Group { group, order }))
    }

    pub(crate) fn decide_start_group(&self, buyer: Buyer, now_ms: i64) -> Decided {
        let (user, request) = (buyer.user, buyer.request);
        if let Some(decision) = self.group_replay(user, request) {
            return Ok(decision);
        }
        if !self.config.template.is_group() {
            return Err(Rejection::InvalidState("this activity is not a group play"));
        }
        self.check_open(now_ms)?;
        self.check_units(user, 1)?;
        let group = self.groups.len() as u64 + 1;
        let order = self.orders.len() as u64 + 1;
        let expires_at_ms = now_ms.saturating_add(self.config.group_ttl_ms());
        let target = self.config.group_size();
        let events = vec![
            EventKind::GroupCreated {
                group,
                leader: user.to_string(),
                target,
                expires_at_ms,
            },
            self.order_created(buyer, 1, Some(group), now_ms),
            EventKind::GroupMemberJoined {
                group,
                user: user.to_string(),
                order,
            },
        ];
        Ok(Decision::new(events, Subject::Group { group, order }))
    }

    pub(crate) fn decide_join(&self, group: u64, buyer: Buyer, now_ms: i64) -> Decided {
        let (user, request) = (buyer.user, buyer.request);
        if let Some(decision) = self.group_replay(user, request) {
            return Ok(decision);
        }
        let instance = self.group(group).ok_or(Rejection::NotFound("group"))?;
        match instance.status {
            GroupStatus::Active => {}
            GroupStatus::Success => return Err(Rejection::GroupFull),
            GroupStatus::Pending | GroupStatus::Failed => return Err(Rejection::GroupClosed),
        }
        // Like `check_open`: the clock, not a late expiry nudge, closes the group.
        if now_ms >= instance.expires_at_ms {
            return Err(Rejection::GroupClosed);
        }
        if instance.members.iter().any(|member| member.user == user) {
            return Err(Rejection::AlreadyInGroup);
        }
        if instance.members.len() >= instance.target as usize {
            return Err(Rejection::GroupFull);
        }
        self.check_open(now_ms)?;
        self.check_units(user, 1)?;
        let order = self.orders.len() as u64 + 1;
        let events = vec![
            self.order_created(buyer, 1, Some(group), now_ms),
            EventKind::GroupMemberJoined {
                group,
                user: user.to_string(),
                order,
            },
        ];
        Ok(Decision::new(events, Subject::Group { group, order }))
    }
}
