//! `decide` for the activity itself: edits, publication and the window's phases.

use super::Phase;
use crate::approval::ApprovalStatus;
use crate::config::ActivityConfig;
use crate::decide::{Decided, Decision, Subject};
use crate::event::EventKind;
use crate::rejection::Rejection;
use crate::state::ActivityState;

impl ActivityState {
    /// An edit that changes nothing is a no-op in any state: no event, no new version.
    pub(crate) fn decide_update(&self, config: &ActivityConfig, by: &str) -> Decided {
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

    /// What an edit (or rollback) to `config` must respect: no pending submission, a valid
    /// configuration, stock for what is held, the template fixed once orders exist.
    pub(crate) fn check_new_config(&self, config: &ActivityConfig) -> Result<(), Rejection> {
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

    pub(crate) fn decide_publish(&self, by: &str, now_ms: i64) -> Decided {
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

    pub(crate) fn decide_unpublish(&self, by: &str) -> Decided {
        if !self.is_published() {
            return Ok(Decision::replay(Subject::Activity));
        }
        let event = EventKind::ActivityUnpublished { by: by.to_string() };
        Ok(Decision::new(vec![event], Subject::Activity))
    }

    pub(crate) fn lifecycle_events(&self, now_ms: i64) -> Vec<EventKind> {
        if !self.is_published() {
            return Vec::new();
        }
        self.window_events(self.publication.phase, now_ms)
    }

    /// The phase changes due at `now_ms` for a published activity in `phase`.
    pub(crate) fn window_events(&self, phase: Phase, now_ms: i64) -> Vec<EventKind> {
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
    pub(crate) fn check_open(&self, now_ms: i64) -> Result<(), Rejection> {
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
}
