//! `decide`: checks a command against the state and returns the events it causes.
//!
//! Pure: no I/O, no clock (time is `now_ms`), no randomness. A refusal is a `Rejection`.

use super::approval::ApprovalFlow;
use super::command::{Command, Source};
use super::config::ActivityConfig;
use super::event::EventKind;
use super::gray::GrayConfig;
use super::rejection::Rejection;
use super::state::{ActivityState, ApprovalStatus, GroupStatus, Phase};
use super::template::TemplateCode;
use super::text::{check_text, TextKind};
use super::versions::REMARK_LENGTH_MAX;
use std::sync::Arc;

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
    fn new(events: Vec<EventKind>, subject: Subject) -> Decision {
        Decision {
            events,
            subject,
            replayed: false,
        }
    }

    fn replay(subject: Subject) -> Decision {
        Decision {
            events: Vec::new(),
            subject,
            replayed: true,
        }
    }
}

type Decided = Result<Decision, Rejection>;

/// Who asks for an order, with which request id, from where.
#[derive(Clone, Copy)]
struct Buyer<'a> {
    user: &'a str,
    request: &'a str,
    source: &'a Source,
}

/// SHA-256 (hex) of the encoded configuration: what an approval approved, checkable later.
pub fn config_hash(config: &ActivityConfig) -> String {
    use sha2::{Digest, Sha256};
    let encoded = playcore_snapshots::encode(config).unwrap_or_default();
    hex::encode(Sha256::digest(&encoded))
}

/// A remark (approval, rejection, rollback) is one line of free text ([`check_text`]).
fn check_remark(remark: &str) -> Result<(), Rejection> {
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

    /// Any approval or publication state may change its gray release.
    fn decide_gray(&self, config: &GrayConfig, by: &str) -> Decided {
        if let Some(error) = config.validate().into_iter().next() {
            return Err(Rejection::Validation {
                field: error.field,
                reason: error.reason,
            });
        }
        let config = GrayConfig {
            version: self.gray.version + 1,
            ..config.clone()
        };
        let event = EventKind::GrayConfigured {
            config: Arc::new(config),
            by: by.to_string(),
        };
        Ok(Decision::new(vec![event], Subject::Activity))
    }

    /// An edit that changes nothing is a no-op in any state: no event, no new version.
    fn decide_update(&self, config: &ActivityConfig, by: &str) -> Decided {
        if *config == *self.config {
            return Ok(Decision::replay(Subject::Activity));
        }
        self.check_new_config(config)?;
        let event = EventKind::ActivityUpdated {
            config: config.clone(),
            by: by.to_string(),
        };
        Ok(Decision::new(vec![event], Subject::Activity))
    }

    /// Installs version `to_version`'s configuration as a new version, under the rules of
    /// an edit. Repeating the latest rollback (same caller, same version) is a no-op.
    fn decide_rollback(&self, to_version: u64, by: &str, remark: &str) -> Decided {
        if remark.chars().count() > REMARK_LENGTH_MAX {
            return Err(Rejection::Validation {
                field: "remark",
                reason: format!("at most {REMARK_LENGTH_MAX} characters"),
            });
        }
        check_remark(remark)?;
        if self.versions.repeats_rollback(to_version, by) {
            return Ok(Decision::replay(Subject::Activity));
        }
        let target = self
            .versions
            .get(to_version)
            .ok_or(Rejection::NotFound("version"))?;
        if *target.config == *self.config {
            return Err(Rejection::InvalidState(
                "that version's configuration is the current one",
            ));
        }
        self.check_new_config(&target.config)?;
        let event = EventKind::ActivityRolledBack {
            to_version,
            config: Arc::clone(&target.config),
            by: by.to_string(),
            remark: remark.to_string(),
        };
        Ok(Decision::new(vec![event], Subject::Activity))
    }

    /// What an edit (or rollback) to `config` must respect: no pending submission, a valid
    /// configuration, stock for what is held, the template fixed once orders exist.
    fn check_new_config(&self, config: &ActivityConfig) -> Result<(), Rejection> {
        if self.approval.status == ApprovalStatus::Pending {
            return Err(Rejection::InvalidState(
                "withdraw the submission before editing",
            ));
        }
        if let Some(error) = config.validate().into_iter().next() {
            return Err(Rejection::Validation {
                field: error.field,
                reason: error.reason,
            });
        }
        if config.stock_total < self.stock.reserved + self.stock.sold {
            let reason = "below the units already reserved or sold".to_string();
            return Err(Rejection::Validation {
                field: "stock",
                reason,
            });
        }
        if config.template != self.config.template && !self.orders.is_empty() {
            let reason = "cannot change once orders exist".to_string();
            return Err(Rejection::Validation {
                field: "templateCode",
                reason,
            });
        }
        Ok(())
    }

    fn decide_submit(&self, by: &str, flow: &ApprovalFlow) -> Decided {
        match self.approval.status {
            ApprovalStatus::Draft | ApprovalStatus::Rejected => {}
            ApprovalStatus::Pending => return Err(Rejection::InvalidState("already submitted")),
            ApprovalStatus::Approved => return Err(Rejection::InvalidState("already approved")),
        }
        if let Some(reason) = flow.problem() {
            return Err(Rejection::Validation {
                field: "approvalFlow",
                reason,
            });
        }
        let event = EventKind::ApprovalFlowSubmitted {
            by: by.to_string(),
            flow: flow.clone(),
            config_hash: config_hash(&self.config),
        };
        Ok(Decision::new(vec![event], Subject::Activity))
    }

    /// Approve or reject: the submitter never, only the current level's candidates, and a
    /// repeat of what the same person just did is a no-op.
    fn decide_review(&self, by: &str, remark: &str, approve: bool) -> Decided {
        if !approve && remark.trim().is_empty() {
            return Err(Rejection::Validation {
                field: "remark",
                reason: "required to reject".to_string(),
            });
        }
        check_remark(remark)?;
        if self.repeats_review(by, approve) {
            return Ok(Decision::replay(Subject::Activity));
        }
        if self.approval.status != ApprovalStatus::Pending {
            return Err(Rejection::InvalidState(
                "only a pending submission can be reviewed",
            ));
        }
        if self.approval.submitted_by.as_deref() == Some(by) {
            return Err(Rejection::Forbidden("nobody reviews their own submission"));
        }
        let Some(level) = self.approval.levels.last() else {
            return Err(Rejection::InvalidState(
                "the submission has no level to review",
            ));
        };
        if !level.may_act(by) {
            return Err(Rejection::Forbidden(
                "only a candidate of the current level may act",
            ));
        }
        let (by, remark) = (by.to_string(), remark.to_string());
        if !approve {
            let event = EventKind::ApprovalRejected { by, remark };
            return Ok(Decision::new(vec![event], Subject::Activity));
        }
        Ok(Decision::new(
            self.approval_events(by, remark),
            Subject::Activity,
        ))
    }

    /// Whether the review repeats the caller's own latest action on this revision.
    fn repeats_review(&self, by: &str, approve: bool) -> bool {
        let approval = &self.approval;
        match approval.status {
            ApprovalStatus::Pending if approve => approval
                .levels
                .last()
                .is_some_and(|level| level.has_approved(by)),
            ApprovalStatus::Approved if approve => self.last_record_is("APPROVE", by),
            ApprovalStatus::Rejected if !approve => self.last_record_is("REJECT", by),
            _ => false,
        }
    }

    fn last_record_is(&self, action: &str, by: &str) -> bool {
        self.approval
            .history
            .last()
            .is_some_and(|record| record.action == action && record.by == by)
    }

    /// One more approval of the current level: a vote, a vote and the next level, or the
    /// approval of the whole flow.
    fn approval_events(&self, by: String, remark: String) -> Vec<EventKind> {
        let approval = &self.approval;
        let level = approval.levels.len() as u32;
        let completes = approval
            .levels
            .last()
            .is_some_and(|current| current.completed_by_next());
        if !completes {
            return vec![EventKind::ApprovalVoted { by, level, remark }];
        }
        if (level as usize) < approval.flow.levels.len() {
            let next = level + 1;
            return vec![
                EventKind::ApprovalVoted { by, level, remark },
                EventKind::ApprovalLevelAdvanced { level: next },
            ];
        }
        vec![EventKind::ApprovalApproved { by, remark }]
    }

    fn decide_withdraw(&self, by: &str) -> Decided {
        if self.approval.status == ApprovalStatus::Draft && self.last_record_is("WITHDRAW", by) {
            return Ok(Decision::replay(Subject::Activity));
        }
        if self.approval.status != ApprovalStatus::Pending {
            return Err(Rejection::InvalidState(
                "only a pending submission can be withdrawn",
            ));
        }
        if self.approval.submitted_by.as_deref() != Some(by) {
            return Err(Rejection::Forbidden("only the submitter may withdraw"));
        }
        let event = EventKind::ApprovalWithdrawn { by: by.to_string() };
        Ok(Decision::new(vec![event], Subject::Activity))
    }

    fn decide_publish(&self, by: &str, now_ms: i64) -> Decided {
        if self.approval.status != ApprovalStatus::Approved {
            return Err(Rejection::InvalidState(
                "publishing needs an approved activity",
            ));
        }
        if self.is_published() {
            return Ok(Decision::replay(Subject::Activity));
        }
        let mut events = vec![EventKind::ActivityPublished { by: by.to_string() }];
        events.extend(self.window_events(Phase::Scheduled, now_ms));
        Ok(Decision::new(events, Subject::Activity))
    }

    fn decide_unpublish(&self, by: &str) -> Decided {
        if !self.is_published() {
            return Ok(Decision::replay(Subject::Activity));
        }
        let event = EventKind::ActivityUnpublished { by: by.to_string() };
        Ok(Decision::new(vec![event], Subject::Activity))
    }

    fn lifecycle_events(&self, now_ms: i64) -> Vec<EventKind> {
        if !self.is_published() {
            return Vec::new();
        }
        self.window_events(self.publication.phase, now_ms)
    }

    /// The phase changes due at `now_ms` for a published activity in `phase`.
    fn window_events(&self, phase: Phase, now_ms: i64) -> Vec<EventKind> {
        let config = &self.config;
        if now_ms >= config.end_at_ms && phase != Phase::Ended {
            vec![EventKind::ActivityEnded]
        } else if now_ms >= config.start_at_ms
            && now_ms < config.end_at_ms
            && phase == Phase::Scheduled
        {
            vec![EventKind::ActivityOnline]
        } else {
            Vec::new()
        }
    }

    /// Refuses trading outside the published window. Uses the clock, not only the phase,
    /// so a late supervisor nudge never lets a grab through after `endAt`.
    fn check_open(&self, now_ms: i64) -> Result<(), Rejection> {
        if !self.is_published() {
            return Err(Rejection::Offline);
        }
        if now_ms < self.config.start_at_ms {
            return Err(Rejection::NotStarted);
        }
        if now_ms >= self.config.end_at_ms {
            return Err(Rejection::Ended);
        }
        Ok(())
    }

    /// Stock and per-user limit for `quantity` more units of `user`.
    fn check_units(&self, user: &str, quantity: u32) -> Result<(), Rejection> {
        if self.stock.available < u64::from(quantity) {
            return Err(Rejection::SoldOut);
        }
        let held = self.users.get(user).map_or(0, |state| state.units_held);
        if held.saturating_add(quantity) > self.config.per_user_limit {
            return Err(Rejection::LimitExceeded);
        }
        Ok(())
    }

    fn order_created(
        &self,
        buyer: Buyer,
        quantity: u32,
        group: Option<u64>,
        now_ms: i64,
    ) -> EventKind {
        EventKind::InstanceCreated {
            order: self.orders.len() as u64 + 1,
            user: buyer.user.to_string(),
            request: buyer.request.to_string(),
            source: buyer.source.clone(),
            quantity,
            amount_cents: self.config.price_cents * u64::from(quantity),
            expires_at_ms: now_ms.saturating_add(self.config.pay_timeout_ms()),
            group,
        }
    }

    fn sold_out_after(&self, quantity: u32) -> Option<EventKind> {
        let last_units = self.stock.available == u64::from(quantity);
        (last_units && self.config.template == TemplateCode::FlashSale)
            .then_some(EventKind::FlashSaleSoldOut)
    }

    fn decide_grab(&self, buyer: Buyer, quantity: u32, now_ms: i64) -> Decided {
        let (user, request) = (buyer.user, buyer.request);
        if let Some(order) = self.replayed_order(user, request) {
            return Ok(Decision::replay(Subject::Order(order)));
        }
        if self.config.template.is_group() {
            return Err(Rejection::InvalidState(
                "this activity sells through groups",
            ));
        }
        if quantity == 0 {
            return Err(Rejection::Validation {
                field: "quantity",
                reason: "at least 1".to_string(),
            });
        }
        self.check_open(now_ms)?;
        self.check_units(user, quantity)?;
        let created = self.order_created(buyer, quantity, None, now_ms);
        let order = self.orders.len() as u64 + 1;
        let mut events = vec![created];
        events.extend(self.sold_out_after(quantity));
        Ok(Decision::new(events, Subject::Order(order)))
    }

    fn group_replay(&self, user: &str, request: &str) -> Option<Decision> {
        let order = self.replayed_order(user, request)?;
        let group = self.order(order)?.group?;
        Some(Decision::replay(Subject::Group { group, order }))
    }

    fn decide_start_group(&self, buyer: Buyer, now_ms: i64) -> Decided {
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

    fn decide_join(&self, group: u64, buyer: Buyer, now_ms: i64) -> Decided {
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
