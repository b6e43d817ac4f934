//! Business refusals: plain results of `decide`, not errors.

use crate::eligibility::Ineligibility;

/// Why a command was refused. The HTTP layer maps each to an error code of the README's table (`src/http/error.rs`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("{field}: {reason}")]
    Validation { field: &'static str, reason: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("the activity has not started")]
    NotStarted,
    #[error("the activity has ended")]
    Ended,
    #[error("the activity is offline")]
    Offline,
    #[error("sold out")]
    SoldOut,
    #[error("the per-user limit would be exceeded")]
    LimitExceeded,
    #[error("the group is full")]
    GroupFull,
    #[error("the group is not open for joining")]
    GroupClosed,
    #[error("the user is already in this group")]
    AlreadyInGroup,
    #[error("invalid state: {0}")]
    InvalidState(&'static str),
    #[error("the amount does not match the order")]
    AmountMismatch,
    #[error("not eligible: {0}")]
    NotEligible(Ineligibility),
    /// A bound was reached (orders per activity, journal queue): the client may retry later.
    #[error("overloaded: {0}")]
    Overloaded(&'static str),
    /// The data directory's file system is below its free-space reserve: nothing new is
    /// written until space is freed; the client may retry later.
    #[error("storage full: writes are refused until space is freed")]
    StorageFull,
}
