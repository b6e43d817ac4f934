//! Eligibility, the pure part: why a user may not order ([`Ineligibility`]), the city rule,
//! time windows and their overlap, and what counts as "money arrived" for an order.
//!
//! The rules that need to know about other activities (new users only, mutual exclusion)
//! read shared indexes that live outside the domain (`playcore_actors::eligibility`); everything
//! here is a plain function of its arguments.

use crate::config::ActivityConfig;
use crate::ids::ActivityId;
use crate::order::{Order, OrderStatus};
use crate::template::Rules;
use std::fmt;

/// Why an eligibility rule refuses a user (403 NOT_ELIGIBLE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ineligibility {
    /// The activity is limited to some cities and the request names none.
    CityRequired,
    /// The request's city is not one of the activity's cities.
    CityNotAllowed,
    /// New users only, and this user has paid an order before.
    NotNewUser,
    /// New users only, and the index of paying users is full: nobody's newness can be
    /// vouched for, so the rule fails closed.
    NewnessUnknown,
    /// The user holds an order in `with`, also mutually exclusive, whose window overlaps.
    MutuallyExclusive { with: ActivityId },
}

impl Ineligibility {
    /// The rule's name, as in the rule schema (`rules.newUserOnly` …).
    pub fn rule(self) -> &'static str {
        match self {
            Ineligibility::CityRequired | Ineligibility::CityNotAllowed => "cities",
            Ineligibility::NotNewUser | Ineligibility::NewnessUnknown => "newUserOnly",
            Ineligibility::MutuallyExclusive { .. } => "mutuallyExclusive",
        }
    }

    /// The reason, for people.
    pub fn reason(self) -> &'static str {
        match self {
            Ineligibility::CityRequired => {
                "this activity is limited to some cities: the request must name a city"
            }
            Ineligibility::CityNotAllowed => "this activity is not offered in the request's city",
            Ineligibility::NotNewUser => "new users only: the user has paid an order before",
            Ineligibility::NewnessUnknown => {
                "new users only: the index of paying users is full, so newness cannot be verified"
            }
            Ineligibility::MutuallyExclusive { .. } => {
                "mutually exclusive: the user holds an order in another such activity whose \
                 window overlaps this one"
            }
        }
    }

    /// The activity the user's other order is in, for a mutual exclusion.
    pub fn conflicting_activity(self) -> Option<ActivityId> {
        match self {
            Ineligibility::MutuallyExclusive { with } => Some(with),
            Ineligibility::CityRequired
            | Ineligibility::CityNotAllowed
            | Ineligibility::NotNewUser
            | Ineligibility::NewnessUnknown => None,
        }
    }
}

impl fmt::Display for Ineligibility {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.conflicting_activity() {
            Some(with) => write!(formatter, "{} (activity {with})", self.reason()),
            None => formatter.write_str(self.reason()),
        }
    }
}

/// The city rule: with `rules.cities` non-empty, the request must name one of them
/// (exact match, like the list filter `?city=`). O(number of cities), at most 500.
pub fn check_city(rules: &Rules, city: Option<&str>) -> Result<(), Ineligibility> {
    if rules.cities.is_empty() {
        return Ok(());
    }
    let city = city.ok_or(Ineligibility::CityRequired)?;
    if rules.cities.iter().any(|allowed| allowed == city) {
        Ok(())
    } else {
        Err(Ineligibility::CityNotAllowed)
    }
}

/// An activity's time window `[start_at_ms, end_at_ms)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start_at_ms: i64,
    pub end_at_ms: i64,
}

impl Window {
    pub fn of(config: &ActivityConfig) -> Window {
        Window {
            start_at_ms: config.start_at_ms,
            end_at_ms: config.end_at_ms,
        }
    }

    /// Half-open windows overlap when each starts before the other ends: one ending
    /// exactly when the other starts does not overlap it.
    pub fn overlaps(self, other: Window) -> bool {
        self.start_at_ms < other.end_at_ms && other.start_at_ms < self.end_at_ms
    }
}

/// Whether money arrived for the order at some point: it is PAID, or in refund (only money
/// that arrived is refunded: a paid member of a failed group, or a payment that came too
/// late), or it carries a trade number. Read from the order's core only, so an archived
/// stub answers like the order it was.
pub fn money_arrived(order: &Order) -> bool {
    let paid_or_refunding = matches!(
        order.status,
        OrderStatus::Paid | OrderStatus::RefundPending | OrderStatus::Refunded
    );
    paid_or_refunding || order.trade_number.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(start_at_ms: i64, end_at_ms: i64) -> Window {
        Window {
            start_at_ms,
            end_at_ms,
        }
    }

    #[test]
    fn windows_overlap_only_when_they_share_an_instant() {
        let base = window(100, 200);
        assert!(base.overlaps(window(150, 250)));
        assert!(base.overlaps(window(50, 101)));
        assert!(base.overlaps(window(120, 130)), "contained");
        assert!(window(0, 1000).overlaps(base), "containing");
        assert!(base.overlaps(base));
        assert!(!base.overlaps(window(200, 300)), "starts when base ends");
        assert!(!base.overlaps(window(0, 100)), "ends when base starts");
        assert!(!base.overlaps(window(300, 400)));
    }

    #[test]
    fn the_city_rule_needs_a_listed_city_only_when_there_is_a_list() {
        let everywhere = Rules::default();
        assert_eq!(check_city(&everywhere, None), Ok(()));
        assert_eq!(check_city(&everywhere, Some("sh")), Ok(()));
        let some = Rules {
            cities: vec!["sh".into(), "bj".into()],
            ..Rules::default()
        };
        assert_eq!(check_city(&some, Some("bj")), Ok(()));
        assert_eq!(
            check_city(&some, Some("gz")),
            Err(Ineligibility::CityNotAllowed)
        );
        assert_eq!(
            check_city(&some, Some("SH")),
            Err(Ineligibility::CityNotAllowed)
        );
        assert_eq!(check_city(&some, None), Err(Ineligibility::CityRequired));
    }

    #[test]
    fn a_refusal_names_its_rule_and_the_conflicting_activity() {
        let excluded = Ineligibility::MutuallyExclusive {
            with: ActivityId(7),
        };
        assert_eq!(excluded.rule(), "mutuallyExclusive");
        assert!(excluded.to_string().ends_with("(activity 7)"));
        assert_eq!(Ineligibility::NewnessUnknown.rule(), "newUserOnly");
        assert_eq!(Ineligibility::CityRequired.conflicting_activity(), None);
    }
}
