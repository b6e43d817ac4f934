//! Flow control of the public API: who may ask how often, and how many trading requests
//! may be in flight at once.
//!
//! Checked in the public handlers after the body parsed and before the mailbox hop
//! (`core::outcome::execute`): a refusal costs no actor time, no mailbox slot and no
//! journal write, so a bot's flood cannot stretch the latency of the humans' grabs.
//!
//! - [`caller`]: the keys of a request (client IP behind trusted proxies, `X-Device-Id`,
//!   the user).
//! - [`limiter`]: GCRA token buckets (governor) per key, with a hard bound on the keys
//!   held (see there for the eviction and why).
//! - `refusals`: the count of refusals by reason and route class (`/metrics`), the top
//!   limited keys, and the total the health supervisor watches for RATE_LIMIT_SPIKE.
//!
//! Reads and trading have separate limiters (`[flow.reads]`, `[flow.trading]`); per
//! activity, an operator may set the trading rate of the activity key
//! (`PUT /admin/v1/activities/{id}/flow-limit`), kept in memory here (a restart returns
//! to the configured rate). Past `flow.trading_in_flight_max` trading requests in flight,
//! new ones get 503 OVERLOADED at once (system-adaptive shedding).

pub(crate) mod caller;
pub(crate) mod limiter;
mod refusals;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpRequest;
use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::DefaultDirectRateLimiter;
use ipnet::IpNet;
use playcore_actors::domain::ActivityId;
use serde_json::{json, Value};

use crate::config::{ClassLimits, FlowControlSettings, RateLimit};
use crate::http::error::{ApiError, ErrorCode};
use crate::telemetry::Metrics;
use caller::Caller;
use limiter::{quota, retry_after_seconds, KeyedLimiter};
pub(crate) use refusals::Reason;
use refusals::Refusals;

/// Activities with an own flow limit at most.
pub(crate) const ACTIVITY_LIMITS_MAX: usize = 10_000;

/// The two route classes, limited separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteClass {
    Trading,
    Reads,
}

impl RouteClass {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Trading => "trading",
            Self::Reads => "reads",
        }
    }
}

/// One class's keyed limiters; `None` where the rate is off.
struct ClassLimiters {
    settings: ClassLimits,
    ip: Option<KeyedLimiter>,
    device: Option<KeyedLimiter>,
    user: Option<KeyedLimiter>,
    activity: Option<KeyedLimiter>,
}

impl ClassLimiters {
    fn new(settings: &ClassLimits, keys_max: usize) -> Self {
        let keyed = |rate: RateLimit| quota(rate).map(|quota| KeyedLimiter::new(quota, keys_max));
        Self {
            settings: settings.clone(),
            ip: keyed(settings.ip),
            device: keyed(settings.device),
            user: keyed(settings.user),
            activity: keyed(settings.activity),
        }
    }

    fn all(&self) -> impl Iterator<Item = &KeyedLimiter> {
        [&self.ip, &self.device, &self.user, &self.activity]
            .into_iter()
            .flatten()
    }
}

/// An activity's own trading rate for the activity key.
struct ActivityLimit {
    rate: RateLimit,
    limiter: DefaultDirectRateLimiter,
}

/// The flow control state shared by the public handlers, the admin routes and the
/// health supervisor.
pub(crate) struct Flow {
    settings: FlowControlSettings,
    trusted: Vec<IpNet>,
    trading: ClassLimiters,
    reads: ClassLimiters,
    activity_limits: DashMap<ActivityId, Arc<ActivityLimit>>,
    in_flight: Arc<AtomicUsize>,
    refusals: Refusals,
    clock: DefaultClock,
}

/// A trading request in flight; dropping it (the reply, an error, a cancelled request)
/// counts it out.
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Flow {
    /// Settings are validated before (`Settings::validate`): bad trusted proxies are a
    /// configuration error at start, not here.
    pub(crate) fn new(settings: &FlowControlSettings, metrics: &Metrics) -> Self {
        let keys_max = settings.keys_max;
        Self {
            trusted: settings.trusted_networks().unwrap_or_default(),
            trading: ClassLimiters::new(&settings.trading, keys_max),
            reads: ClassLimiters::new(&settings.reads, keys_max),
            activity_limits: DashMap::new(),
            in_flight: Arc::new(AtomicUsize::new(0)),
            refusals: Refusals::new(metrics),
            clock: DefaultClock::default(),
            settings: settings.clone(),
        }
    }

    /// The client's address as the limits see it (`flow.trusted_proxies` honoured).
    pub(crate) fn client_ip(&self, request: &HttpRequest) -> Option<std::net::IpAddr> {
        caller::client_ip(request, &self.trusted)
    }

    /// A trading request's admission: the in-flight bound, then its limits.
    pub(crate) fn admit_trading(
        &self,
        request: &HttpRequest,
        user: &str,
        activity: ActivityId,
    ) -> Result<Option<InFlight>, ApiError> {
        if !self.settings.enabled {
            return Ok(None);
        }
        let in_flight = self.enter()?;
        let caller = self.caller(request, caller::user(user))?;
        self.check(RouteClass::Trading, &caller, Some(activity))?;
        Ok(Some(in_flight))
    }

    /// A read's admission: its limits (no user: reads carry none).
    pub(crate) fn admit_read(
        &self,
        request: &HttpRequest,
        activity: Option<ActivityId>,
    ) -> Result<(), ApiError> {
        if !self.settings.enabled {
            return Ok(());
        }
        let caller = self.caller(request, None)?;
        self.check(RouteClass::Reads, &caller, activity)
    }

    fn caller<'a>(
        &self,
        request: &'a HttpRequest,
        user: Option<&'a str>,
    ) -> Result<Caller<'a>, ApiError> {
        Ok(Caller {
            ip: caller::client_ip(request, &self.trusted),
            device: caller::device(request)?,
            user,
        })
    }

    fn enter(&self) -> Result<InFlight, ApiError> {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let guard = InFlight(Arc::clone(&self.in_flight));
        if before >= self.settings.trading_in_flight_max {
            self.refusals
                .count(Reason::Overloaded, RouteClass::Trading, None);
            return Err(ApiError::new(
                ErrorCode::Overloaded,
                "too many trading requests in flight; retry shortly",
            )
            .with_details(json!({ "limit": "inFlight" })));
        }
        Ok(guard)
    }

    fn check(
        &self,
        class: RouteClass,
        caller: &Caller,
        activity: Option<ActivityId>,
    ) -> Result<(), ApiError> {
        let limiters = match class {
            RouteClass::Trading => &self.trading,
            RouteClass::Reads => &self.reads,
        };
        if let (Some(limiter), Some(ip)) = (&limiters.ip, caller.ip) {
            limiter
                .check(ip)
                .map_err(|wait| self.refuse(Reason::Ip, class, &ip.to_string(), wait))?;
        }
        let texts = [
            (Reason::Device, &limiters.device, caller.device),
            (Reason::User, &limiters.user, caller.user),
        ];
        for (reason, limiter, key) in texts {
            let (Some(limiter), Some(key)) = (limiter, key) else {
                continue;
            };
            // The text is hashed as it is: no allocation unless it is refused.
            limiter
                .check(key)
                .map_err(|wait| self.refuse(reason, class, key, wait))?;
        }
        let Some(activity) = activity else {
            return Ok(());
        };
        self.check_activity(class, limiters, activity)
    }

    /// The activity key: the activity's own rate when an operator set one (trading),
    /// else the class's rate.
    fn check_activity(
        &self,
        class: RouteClass,
        limiters: &ClassLimiters,
        activity: ActivityId,
    ) -> Result<(), ApiError> {
        let own = (class == RouteClass::Trading)
            .then(|| {
                self.activity_limits
                    .get(&activity)
                    .map(|entry| Arc::clone(&entry))
            })
            .flatten();
        let outcome = match (own, &limiters.activity) {
            (Some(own), _) => own
                .limiter
                .check()
                .map_err(|not_until| not_until.wait_time_from(self.clock.now())),
            (None, Some(limiter)) => limiter.check(activity),
            (None, None) => Ok(()),
        };
        outcome.map_err(|wait| self.refuse(Reason::Activity, class, &activity.to_string(), wait))
    }

    fn refuse(&self, reason: Reason, class: RouteClass, key: &str, wait: Duration) -> ApiError {
        self.refusals.count(reason, class, Some(key));
        let seconds = retry_after_seconds(wait);
        let limit = reason.name();
        ApiError::new(
            ErrorCode::RateLimited,
            format!("too many requests for this {limit}; retry in {seconds} s"),
        )
        .with_details(json!({ "limit": limit, "retryAfterSeconds": seconds }))
    }

    /// Sets the trading rate of `activity`'s key; `Err` when too many activities have one.
    pub(crate) fn set_activity_limit(
        &self,
        activity: ActivityId,
        rate: RateLimit,
    ) -> Result<(), ApiError> {
        let quota = quota(rate)
            .ok_or_else(|| ApiError::validation("perSecond", "an integer greater than 0"))?;
        let known = self.activity_limits.contains_key(&activity);
        if !known && self.activity_limits.len() >= ACTIVITY_LIMITS_MAX {
            return Err(ApiError::invalid_state(format!(
                "at most {ACTIVITY_LIMITS_MAX} activities may have their own flow limit"
            )));
        }
        let limiter = DefaultDirectRateLimiter::direct(quota);
        let limit = ActivityLimit { rate, limiter };
        self.activity_limits.insert(activity, Arc::new(limit));
        Ok(())
    }

    /// Removes `activity`'s own rate; whether it had one.
    pub(crate) fn remove_activity_limit(&self, activity: ActivityId) -> bool {
        self.activity_limits.remove(&activity).is_some()
    }

    /// `activity`'s own rate, if set.
    pub(crate) fn activity_limit(&self, activity: ActivityId) -> Option<RateLimit> {
        self.activity_limits.get(&activity).map(|entry| entry.rate)
    }

    /// Refusals counted since start (the health supervisor's spike check).
    pub(crate) fn refusals_total(&self) -> u64 {
        self.refusals.total()
    }

    pub(crate) fn refusals_per_minute_max(&self) -> u64 {
        self.settings.refusals_per_minute_max
    }

    /// Starts the top limited keys' window afresh.
    pub(crate) fn reset_top_keys(&self) {
        self.refusals.reset_top_keys();
    }

    /// Drops idle keys from every keyed limiter, every `housekeeping_interval_ms`.
    pub(crate) async fn housekeeping_task(self: Arc<Self>) {
        let every = Duration::from_millis(self.settings.housekeeping_interval_ms.max(1));
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            for limiter in self.trading.all().chain(self.reads.all()) {
                limiter.housekeep();
            }
        }
    }

    /// The settings, the activities' own limits, in-flight and refusal figures.
    pub(crate) fn status_json(&self) -> Value {
        let mut activity_limits: Vec<(ActivityId, RateLimit)> = self
            .activity_limits
            .iter()
            .map(|entry| (*entry.key(), entry.rate))
            .collect();
        activity_limits.sort_by_key(|(id, _)| *id);
        let activity_limits: Vec<Value> = activity_limits
            .into_iter()
            .map(|(id, rate)| json!({ "activityId": id.to_string(), "perSecond": rate.per_second, "burst": rate.burst }))
            .collect();
        let settings = &self.settings;
        json!({
            "enabled": settings.enabled,
            "trustedProxies": settings.trusted_proxies,
            "tradingInFlightMax": settings.trading_in_flight_max,
            "tradingInFlight": self.in_flight.load(Ordering::Relaxed),
            "keysMax": settings.keys_max,
            "refusalsPerMinuteMax": settings.refusals_per_minute_max,
            "trading": class_json(&self.trading),
            "reads": class_json(&self.reads),
            "activityLimits": activity_limits,
            "refusals": self.refusals.to_json(),
        })
    }
}

pub(crate) fn rate_json(rate: RateLimit) -> Value {
    json!({ "perSecond": rate.per_second, "burst": rate.burst })
}

fn class_json(limiters: &ClassLimiters) -> Value {
    let settings = &limiters.settings;
    let held = |limiter: &Option<KeyedLimiter>| limiter.as_ref().map_or(0, KeyedLimiter::keys_held);
    json!({
        "ip": rate_json(settings.ip),
        "device": rate_json(settings.device),
        "user": rate_json(settings.user),
        "activity": rate_json(settings.activity),
        "keysHeld": {
            "ip": held(&limiters.ip),
            "device": held(&limiters.device),
            "user": held(&limiters.user),
            "activity": held(&limiters.activity),
        },
    })
}
