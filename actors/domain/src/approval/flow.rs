//! Approval flows: ordered levels, each with a mode and its candidate approvers, and the
//! progress of one submission through them.
//!
//! A flow is chosen by the server (per template and store) and handed to `decide` with the
//! submission; the submission's event carries it, so the state snapshots it and a replay
//! of the journal gives the same levels whatever the configuration says later. A level's
//! candidates are copied into its [`LevelProgress`] when the level starts.

use serde::{Deserialize, Serialize};

/// Levels in one flow, at most.
pub const LEVELS_MAX: usize = 10;
/// Candidate approvers of one level, at most.
pub const CANDIDATES_MAX: usize = 100;

/// How the approvals of one level decide it. A reject by any candidate always ends the
/// flow (veto), whatever the mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LevelMode {
    /// The first approval decides the level.
    Any,
    /// Every candidate must approve.
    All,
    /// This many approvals decide the level.
    Count(u32),
    /// This percentage of the candidates (rounded up) must approve.
    Ratio(u32),
}

impl LevelMode {
    pub fn name(self) -> &'static str {
        match self {
            LevelMode::Any => "ANY",
            LevelMode::All => "ALL",
            LevelMode::Count(_) => "COUNT",
            LevelMode::Ratio(_) => "RATIO",
        }
    }

    /// Approvals that complete a level of `candidates` approvers; at least one. With no
    /// named candidates (an open level) ALL and RATIO need one approval.
    pub fn required(self, candidates: usize) -> usize {
        let required = match self {
            LevelMode::Any => 1,
            LevelMode::All => candidates,
            LevelMode::Count(count) => count as usize,
            LevelMode::Ratio(percent) => (candidates * percent as usize).div_ceil(100),
        };
        required.max(1)
    }
}

/// One level of a flow as configured: its mode and who may act on it (names). No
/// candidates means any approver but the submitter (the server checks the role).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowLevel {
    pub mode: LevelMode,
    pub candidates: Vec<String>,
}

/// The ordered levels a submission goes through.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalFlow {
    pub levels: Vec<FlowLevel>,
}

impl Default for ApprovalFlow {
    /// One open ANY level: the first approval by someone other than the submitter decides.
    fn default() -> ApprovalFlow {
        ApprovalFlow {
            levels: vec![FlowLevel {
                mode: LevelMode::Any,
                candidates: Vec::new(),
            }],
        }
    }
}

impl ApprovalFlow {
    /// The first problem of the flow, if any: bounds, and thresholds the candidates can meet.
    pub fn problem(&self) -> Option<String> {
        if self.levels.is_empty() || self.levels.len() > LEVELS_MAX {
            return Some(format!("a flow has 1 to {LEVELS_MAX} levels"));
        }
        self.levels.iter().enumerate().find_map(|(index, level)| {
            level
                .problem()
                .map(|reason| format!("level {}: {reason}", index + 1))
        })
    }
}

impl FlowLevel {
    fn problem(&self) -> Option<String> {
        let candidates = self.candidates.len();
        if candidates > CANDIDATES_MAX {
            return Some(format!("at most {CANDIDATES_MAX} candidates"));
        }
        match self.mode {
            LevelMode::Count(count) if count == 0 || count as usize > CANDIDATES_MAX => {
                Some(format!("COUNT is 1 to {CANDIDATES_MAX}"))
            }
            LevelMode::Count(count) if candidates > 0 && count as usize > candidates => {
                Some("COUNT exceeds the candidates".to_string())
            }
            LevelMode::Ratio(percent) if !(1..=100).contains(&percent) => {
                Some("RATIO is a percentage from 1 to 100".to_string())
            }
            LevelMode::Any | LevelMode::All | LevelMode::Count(_) | LevelMode::Ratio(_) => None,
        }
    }
}

/// A level as it runs: mode and candidates snapshotted when it started, approvals so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelProgress {
    pub mode: LevelMode,
    pub candidates: Vec<String>,
    /// Who approved, in order; nobody twice.
    pub approvals: Vec<String>,
}

impl LevelProgress {
    pub fn started(level: &FlowLevel) -> LevelProgress {
        LevelProgress {
            mode: level.mode,
            candidates: level.candidates.clone(),
            approvals: Vec::new(),
        }
    }

    /// Whether `name` is a candidate of this level (anyone, for an open level).
    pub fn may_act(&self, name: &str) -> bool {
        self.candidates.is_empty() || self.candidates.iter().any(|candidate| candidate == name)
    }

    pub fn has_approved(&self, name: &str) -> bool {
        self.approvals.iter().any(|approver| approver == name)
    }

    pub fn required(&self) -> usize {
        self.mode.required(self.candidates.len())
    }

    /// Whether one more approval completes the level.
    pub fn completed_by_next(&self) -> bool {
        self.approvals.len() + 1 >= self.required()
    }
}
