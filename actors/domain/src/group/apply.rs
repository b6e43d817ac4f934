//! `apply` for group events: every status change goes through [`GroupStatus::after`] and
//! is asserted.

use super::{Group, GroupStatus, Member};
use crate::event::EventKind;
use crate::state::ActivityState;

impl ActivityState {
    pub(crate) fn apply_group_created(
        &mut self,
        group: u64,
        leader: &str,
        target: u32,
        expires_at_ms: i64,
        at_ms: i64,
    ) {
        assert_eq!(
            group,
            self.groups.len() as u64 + 1,
            "group numbers are dense"
        );
        self.groups.push(Group {
            leader: leader.to_string(),
            target,
            members: Vec::new(),
            paid: 0,
            status: GroupStatus::Pending,
            created_at_ms: at_ms,
            expires_at_ms,
        });
    }

    pub(crate) fn apply_member_joined(&mut self, event: &EventKind, member: Member, group: u64) {
        self.change_group_status(group, event);
        self.group_mut(group).members.push(member);
    }

    pub(crate) fn apply_member_left(&mut self, event: &EventKind, group: u64, order: u64) {
        self.change_group_status(group, event);
        self.group_mut(group)
            .members
            .retain(|member| member.order != order);
    }

    /// Moves the group along its status machine; an event that does not fit it panics.
    pub(crate) fn change_group_status(&mut self, group: u64, event: &EventKind) {
        let entry = self.group_mut(group);
        let previous = entry.status;
        let next = previous.after(event);
        assert!(
            next.is_some(),
            "group {group}: {} cannot happen to a {} group",
            event.type_name(),
            previous.name()
        );
        entry.status = next.unwrap_or(previous);
    }
}
