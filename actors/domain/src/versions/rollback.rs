//! A rollback: `decide` installs an earlier version's configuration as a new version.

use super::REMARK_LENGTH_MAX;
use crate::decide::{check_remark, Decided, Decision, Subject};
use crate::event::EventKind;
use crate::rejection::Rejection;
use crate::state::ActivityState;
use std::sync::Arc;

impl ActivityState {
    /// Installs version `to_version`'s configuration as a new version, under the rules of
    /// an edit. Repeating the latest rollback (same caller, same version) is a no-op.
    pub(crate) fn decide_rollback(&self, to_version: u64, by: &str, remark: &str) -> Decided {
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
}
