//! `decide` for a new gray release: validated, then stamped with the next version.

use super::GrayConfig;
use crate::decide::{Decided, Decision, Subject};
use crate::event::EventKind;
use crate::rejection::Rejection;
use crate::state::ActivityState;
use std::sync::Arc;

impl ActivityState {
    /// Any approval or publication state may change its gray release.
    pub(crate) fn decide_gray(&self, config: &GrayConfig, by: &str) -> Decided {
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
}
