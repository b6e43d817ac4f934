//! `decide`: checks a command against the state and returns the events it causes. The
//! dispatch is here; each aggregate's part is in its folder (`order`, `group`, `approval` …).
//!
//! Pure: no I/O, no clock (time is `now_ms`), no randomness. A refusal is a `Rejection`.

use crate::command::Command;
use crate::config::ActivityConfig;
use crate::event::EventKind;
use crate::order::Buyer;
use crate::rejection::Rejection;
use crate::state::ActivityState;
use crate::text::{check_text, TextKind};

/// What a command's answer is about, read from the state after its events are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Activity,
    Order(u64),
    Group { group: u64, order: u64 },
}

/// An accepted command: its events (maybe none), and what the reply shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub events: Vec<EventKind>,
    pub subject: Subject,
    /// True when the command repeats one already done (same requestId, same trade number …).
    pub replayed: bool,
}

impl Decision {
    pub(crate) fn new(events: Vec<EventKind>, subject: Subject) -> Decision {
        Decision {
            events,
            subject,
            replayed: false,
        }
    }

    pub(crate) fn replay(subject: Subject) -> Decision {
        Decision {
            events: Vec::new(),
            subject,
            replayed: true,
        }
    }
}

pub(crate) type Decided = Result<Decision, Rejection>;

/// A remark (approval, rejection, rollback) is one line of free text ([`check_text`]).
pub(crate) fn check_remark(remark: &str) -> Result<(), Rejection> {
    check_text(remark, TextKind::Line).map_err(|reason| Rejection::Validation {
        field: "remark",
        reason,
    })
}

/// Checks a new activity's configuration and returns its ACTIVITY_CREATED event.
pub fn decide_create(config: ActivityConfig, by: &str) -> Result<EventKind, Rejection> {
    if let Some(error) = config.validate().into_iter().next() {
        return Err(Rejection::Validation {
            field: error.field,
            reason: error.reason,
        });
    }
    Ok(EventKind::ActivityCreated {
        config,
        by: by.to_string(),
    })
}

impl ActivityState {
    pub fn decide(&self, command: &Command, now_ms: i64) -> Decided {
        match command {
            Command::Update { config, by } => self.decide_update(config, by),
            Command::Submit { by, flow } => self.decide_submit(by, flow),
            Command::Approve { by, remark } => self.decide_review(by, remark, true),
            Command::Reject { by, remark } => self.decide_review(by, remark, false),
            Command::Withdraw { by } => self.decide_withdraw(by),
            Command::Publish { by } => self.decide_publish(by, now_ms),
            Command::Unpublish { by } => self.decide_unpublish(by),
            Command::Open => Ok(Decision::new(
                self.lifecycle_events(now_ms),
                Subject::Activity,
            )),
            Command::Close => Ok(Decision::new(
                self.lifecycle_events(now_ms),
                Subject::Activity,
            )),
            Command::Grab {
                user,
                request,
                quantity,
                source,
            } => self.decide_grab(
                Buyer {
                    user,
                    request,
                    source,
                },
                *quantity,
                now_ms,
            ),
            Command::StartGroup {
                user,
                request,
                source,
            } => self.decide_start_group(
                Buyer {
                    user,
                    request,
                    source,
                },
                now_ms,
            ),
            Command::JoinGroup {
                group,
                user,
                request,
                source,
            } => self.decide_join(
                *group,
                Buyer {
                    user,
                    request,
                    source,
                },
                now_ms,
            ),
            Command::Pay { order, payment } => self.decide_pay(*order, payment, now_ms),
            Command::Cancel { order, user } => self.decide_cancel(*order, user),
            Command::ExpireOrder { order } => self.decide_expire_order(*order, now_ms),
            Command::ExpireGroup { group } => self.decide_expire_group(*group, now_ms),
            Command::CompleteRefund { order } => self.decide_complete_refund(*order),
            Command::ConfigureGray { config, by } => self.decide_gray(config, by),
            Command::Rollback {
                to_version,
                by,
                remark,
            } => self.decide_rollback(*to_version, by, remark),
            Command::ArchiveOrders { orders, cutoff_ms } => self.decide_archive(orders, *cutoff_ms),
        }
    }
}
