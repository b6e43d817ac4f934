//! The `[flow]` table: flow control of the public API (the `flow` module), documented for
//! operators in `config/default.toml`.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::Deserialize;

/// Flow control: rate limits per caller and activity, and the in-flight bound of trading.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowControlSettings {
    /// Off: no limiter and no in-flight bound is checked (the test kit's servers).
    pub enabled: bool,
    /// Peers whose `X-Forwarded-For` is believed (CIDRs or addresses); empty = none.
    pub trusted_proxies: Vec<String>,
    /// Trading requests in flight at once past which new ones get 503 OVERLOADED.
    pub trading_in_flight_max: usize,
    /// Keys one keyed limiter holds at most (its memory bound).
    pub keys_max: usize,
    /// How often idle keys are dropped from the keyed limiters.
    pub housekeeping_interval_ms: u64,
    /// Refusals per minute past which the health supervisor raises RATE_LIMIT_SPIKE.
    pub refusals_per_minute_max: u64,
    /// Limits of grabs, group starts and joins, cancellations and payments.
    pub trading: ClassLimits,
    /// Limits of the activity, order, group and list reads.
    pub reads: ClassLimits,
}

/// One route class's limits, one per key kind.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassLimits {
    pub ip: RateLimit,
    pub device: RateLimit,
    pub user: RateLimit,
    pub activity: RateLimit,
}

/// A GCRA rate: `per_second` requests replenished each second, `burst` at once; either
/// 0 = no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl RateLimit {
    pub fn is_on(self) -> bool {
        self.per_second > 0 && self.burst > 0
    }
}

impl Default for FlowControlSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            trusted_proxies: Vec::new(),
            trading_in_flight_max: 50_000,
            keys_max: 100_000,
            housekeeping_interval_ms: 10_000,
            refusals_per_minute_max: 10_000,
            trading: ClassLimits::default(),
            reads: ClassLimits::default(),
        }
    }
}

impl FlowControlSettings {
    /// The trusted proxies as networks; an address alone is a network of one.
    pub fn trusted_networks(&self) -> Result<Vec<IpNet>, String> {
        self.trusted_proxies
            .iter()
            .enumerate()
            .map(|(index, text)| {
                parse_network(text).ok_or_else(|| {
                    format!(
                        "flow.trusted_proxies[{index}]: {text:?} is not a CIDR or an IP address"
                    )
                })
            })
            .collect()
    }

    pub(super) fn problems(&self, problems: &mut Vec<String>) {
        if let Err(problem) = self.trusted_networks() {
            problems.push(problem);
        }
        let positive = [
            (
                "flow.trading_in_flight_max",
                self.trading_in_flight_max as u64,
            ),
            ("flow.keys_max", self.keys_max as u64),
            (
                "flow.housekeeping_interval_ms",
                self.housekeeping_interval_ms,
            ),
        ];
        for (key, value) in positive {
            if value == 0 {
                problems.push(format!("{key} must be greater than 0"));
            }
        }
    }
}

fn parse_network(text: &str) -> Option<IpNet> {
    let text = text.trim();
    IpNet::from_str(text)
        .ok()
        .or_else(|| IpAddr::from_str(text).ok().map(IpNet::from))
}
