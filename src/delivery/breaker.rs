//! The circuit breaker of one subscription: consecutive failures open it; while open
//! nothing is sent; after the open period one probe goes out (half-open); its success
//! closes the breaker, its failure opens it again.

use super::BreakerState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { consecutive_failures: u32 },
    Open { until_ms: i64 },
    HalfOpen { probing: bool },
}

pub(crate) struct Breaker {
    state: State,
    failures_to_open: u32,
    open_for_ms: i64,
}

impl Breaker {
    pub fn new(failures_to_open: u32, open_for_ms: i64) -> Breaker {
        Breaker {
            state: State::Closed {
                consecutive_failures: 0,
            },
            failures_to_open: failures_to_open.max(1),
            open_for_ms,
        }
    }

    /// Whether an attempt may start now (moves an expired open breaker to half-open).
    pub fn may_send(&mut self, now_ms: i64) -> bool {
        match self.state {
            State::Closed { .. } => true,
            State::Open { until_ms } if now_ms >= until_ms => {
                self.state = State::HalfOpen { probing: false };
                true
            }
            State::Open { .. } => false,
            State::HalfOpen { probing } => !probing,
        }
    }

    /// An attempt started: in half-open it is the probe.
    pub fn on_send(&mut self) {
        if let State::HalfOpen { .. } = self.state {
            self.state = State::HalfOpen { probing: true };
        }
    }

    pub fn on_success(&mut self) {
        self.state = State::Closed {
            consecutive_failures: 0,
        };
    }

    pub fn on_failure(&mut self, now_ms: i64) {
        let open = State::Open {
            until_ms: now_ms.saturating_add(self.open_for_ms),
        };
        self.state = match self.state {
            State::Closed {
                consecutive_failures,
            } if consecutive_failures + 1 >= self.failures_to_open => open,
            State::Closed {
                consecutive_failures,
            } => State::Closed {
                consecutive_failures: consecutive_failures + 1,
            },
            State::HalfOpen { .. } => open,
            State::Open { until_ms } => State::Open { until_ms },
        };
    }

    /// When an open breaker lets a probe through.
    pub fn reopens_at_ms(&self) -> Option<i64> {
        match self.state {
            State::Open { until_ms } => Some(until_ms),
            _ => None,
        }
    }

    pub fn state(&self) -> BreakerState {
        match self.state {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_probes_once_and_closes_on_success() {
        let mut breaker = Breaker::new(3, 1_000);
        breaker.on_failure(0);
        breaker.on_success();
        breaker.on_failure(0);
        breaker.on_failure(0);
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "a success resets the count"
        );
        breaker.on_failure(10);
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(!breaker.may_send(500));
        assert!(breaker.may_send(1_010));
        breaker.on_send();
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(!breaker.may_send(1_011), "one probe at a time");
        breaker.on_failure(1_020);
        assert_eq!(breaker.reopens_at_ms(), Some(2_020));
        assert!(breaker.may_send(2_020));
        breaker.on_send();
        breaker.on_success();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }
}
