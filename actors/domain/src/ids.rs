//! Identifiers and value types: parse, don't validate.
//!
//! Orders and groups carry their activity in their id, so any order or group request is
//! routed to its owning actor without a lookup table.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest user id accepted; user ids come from the caller and are kept in memory per user.
pub const USER_ID_LENGTH_MAX: usize = 64;
/// Longest request id accepted; one is kept per order for idempotency.
pub const REQUEST_ID_LENGTH_MAX: usize = 128;
/// Longest payment provider's trade number accepted; one is kept per paid order.
pub const TRADE_NUMBER_LENGTH_MAX: usize = 64;

/// Declares an id a client chooses: parsed once at the edge ([`valid_identifier`]), so a
/// value of the type always holds 1 to `$length_max` visible ASCII characters.
macro_rules! client_id {
    ($(#[$doc:meta])* $name:ident, $length_max:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// Longest text accepted.
            pub const LENGTH_MAX: usize = $length_max;

            /// The id, or `None` when `text` is not 1 to `LENGTH_MAX` visible ASCII characters.
            pub fn parse(text: &str) -> Option<$name> {
                valid_identifier(text, Self::LENGTH_MAX).then(|| $name(text.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }
    };
}

client_id!(
    /// A user, as the caller names them.
    UserId,
    USER_ID_LENGTH_MAX
);
client_id!(
    /// A caller's request id: the same one again is the same order (idempotency).
    RequestId,
    REQUEST_ID_LENGTH_MAX
);
client_id!(
    /// The payment provider's trade number: the same one again is the same payment.
    TradeNumber,
    TRADE_NUMBER_LENGTH_MAX
);

/// An activity (a marketing product sold through one play).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ActivityId(pub u64);

impl fmt::Display for ActivityId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

impl ActivityId {
    /// Parses the decimal form used in URLs.
    pub fn parse(text: &str) -> Option<ActivityId> {
        parse_number(text).map(ActivityId)
    }
}

/// An order: the n-th order of an activity, written `ord-{activity}-{n}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderId {
    pub activity: ActivityId,
    pub number: u64,
}

/// A group instance: the n-th group of an activity, written `grp-{activity}-{n}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GroupId {
    pub activity: ActivityId,
    pub number: u64,
}

impl fmt::Display for OrderId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "ord-{}-{}", self.activity, self.number)
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "grp-{}-{}", self.activity, self.number)
    }
}

impl OrderId {
    pub fn parse(text: &str) -> Option<OrderId> {
        let (activity, number) = parse_pair(text.strip_prefix("ord-")?)?;
        Some(OrderId { activity, number })
    }
}

impl GroupId {
    pub fn parse(text: &str) -> Option<GroupId> {
        let (activity, number) = parse_pair(text.strip_prefix("grp-")?)?;
        Some(GroupId { activity, number })
    }
}

fn parse_pair(text: &str) -> Option<(ActivityId, u64)> {
    let (activity, number) = text.split_once('-')?;
    Some((ActivityId::parse(activity)?, parse_number(number)?))
}

/// Digits only (no sign, no spaces), at most 19 of them, not zero.
fn parse_number(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|number| *number > 0)
}

/// Checks a caller-chosen identifier (user id, request id, trade number).
pub fn valid_identifier(text: &str, length_max: usize) -> bool {
    !text.is_empty() && text.len() <= length_max && text.bytes().all(|byte| byte.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_id_round_trips_through_its_text_form() {
        let id = OrderId {
            activity: ActivityId(12),
            number: 345,
        };
        assert_eq!(id.to_string(), "ord-12-345");
        assert_eq!(OrderId::parse("ord-12-345"), Some(id));
    }

    #[test]
    fn malformed_ids_are_refused() {
        for text in [
            "", "ord-", "ord-1", "ord-1-", "ord--1", "ord-1-x", "grp-1-2", "ord-0-1", "ord-+1-2",
        ] {
            assert_eq!(OrderId::parse(text), None, "{text}");
        }
        assert_eq!(
            GroupId::parse("grp-3-4"),
            Some(GroupId {
                activity: ActivityId(3),
                number: 4
            })
        );
        assert_eq!(ActivityId::parse("99999999999999999999"), None);
    }

    #[test]
    fn client_ids_hold_only_valid_text() {
        assert_eq!(UserId::parse("user-1").as_deref(), Some("user-1"));
        for text in ["", "a b", "é", "tab\t"] {
            assert_eq!(UserId::parse(text), None, "{text:?}");
            assert_eq!(RequestId::parse(text), None, "{text:?}");
            assert_eq!(TradeNumber::parse(text), None, "{text:?}");
        }
        assert!(UserId::parse(&"x".repeat(USER_ID_LENGTH_MAX)).is_some());
        assert_eq!(UserId::parse(&"x".repeat(USER_ID_LENGTH_MAX + 1)), None);
        assert!(RequestId::parse(&"x".repeat(REQUEST_ID_LENGTH_MAX)).is_some());
        assert_eq!(
            RequestId::parse(&"x".repeat(REQUEST_ID_LENGTH_MAX + 1)),
            None
        );
        assert_eq!(
            TradeNumber::parse(&"x".repeat(TRADE_NUMBER_LENGTH_MAX + 1)),
            None
        );
    }

    #[test]
    fn identifiers_must_be_visible_ascii_and_bounded() {
        assert!(valid_identifier("user-1", USER_ID_LENGTH_MAX));
        assert!(!valid_identifier("", USER_ID_LENGTH_MAX));
        assert!(!valid_identifier("a b", USER_ID_LENGTH_MAX));
        assert!(!valid_identifier(&"x".repeat(65), USER_ID_LENGTH_MAX));
    }
}
