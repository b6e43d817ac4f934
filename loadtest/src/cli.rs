//! The harness's options: `playcore-loadtest <scenario> [options]`.

use clap::{Parser, ValueEnum};
use serde::Serialize;
use std::path::PathBuf;

/// What a run exercises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Many users rush one flash sale; some repeat a requestId, some try beyond the limit.
    FlashRush,
    /// Leaders start groups, others join and pay until groups fill (or are left to expire).
    GroupBuy,
    /// Websocket subscribers on one activity while a rush runs (needs the server's websockets).
    WsFanout,
    /// Reads of the activity detail and grabs, in a configurable ratio.
    Mixed,
}

impl Scenario {
    /// The name on the command line (and in reports): `flash-rush`, `ws-fanout` …
    pub fn name(self) -> &'static str {
        match self {
            Scenario::FlashRush => "flash-rush",
            Scenario::GroupBuy => "group-buy",
            Scenario::WsFanout => "ws-fanout",
            Scenario::Mixed => "mixed",
        }
    }
}

/// How the harness pays the orders it pays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PayMode {
    /// `POST /api/v1/orders/{id}/pay` (the server's mock payment).
    Mock,
    /// `POST /api/v1/payments/notify`, signed with `--payment-secret`.
    Notify,
}

/// A deliberate distortion of what the verdict is shown, to prove it can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Distortion {
    /// Claim one confirmed order the server never made.
    PhantomOrder,
    /// Judge as if the stock were one unit smaller than what was sold and reserved.
    Oversell,
    /// Judge as if the per-user limit were one lower than configured.
    OverLimit,
}

/// `playcore-loadtest <scenario> [options]` against a running server.
#[derive(Clone, Debug, Parser, Serialize)]
#[command(name = "playcore-loadtest", version, about)]
#[serde(rename_all = "camelCase")]
pub struct Options {
    /// The scenario to run.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// The playcore server (HTTP, loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A ceiling server (`playcore-ceiling`) to measure side by side: each round sends the
    /// same requests to it, then to playcore.
    #[arg(long)]
    pub ceiling_url: Option<String>,
    /// Rounds of ceiling-then-playcore when `--ceiling-url` is given.
    #[arg(long, default_value_t = 1)]
    pub rounds: u32,
    /// Distinct users.
    #[arg(long, default_value_t = 10_000)]
    pub users: u64,
    /// Attempts (grabs; groups in group-buy are sized by `--groups`).
    #[arg(long, default_value_t = 50_000)]
    pub requests: u64,
    /// Stock of the activity the harness creates.
    #[arg(long, default_value_t = 5_000)]
    pub stock: u64,
    /// Per-user limit of the activity.
    #[arg(long, default_value_t = 1)]
    pub per_user_limit: u32,
    /// Share of attempts that repeat one of the user's earlier requestIds (0 to 1).
    #[arg(long, default_value_t = 0.1)]
    pub repeat_share: f64,
    /// Share of users who keep sending new requestIds beyond their limit (0 to 1).
    #[arg(long, default_value_t = 0.05)]
    pub over_limit_share: f64,
    /// Share of successful orders the harness pays at once (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub pay_share: f64,
    #[arg(long, value_enum, default_value_t = PayMode::Mock)]
    pub pay_mode: PayMode,
    /// Key of signed payment notifications (`payment.secret` of the server).
    #[arg(long, default_value = "dev-payment-secret")]
    pub payment_secret: String,
    /// Share of requests that read the activity detail (mixed).
    #[arg(long, default_value_t = 0.8)]
    pub read_share: f64,
    /// Groups started (group-buy).
    #[arg(long, default_value_t = 1_000)]
    pub groups: u64,
    /// Members a group needs (group-buy, 2 to 100).
    #[arg(long, default_value_t = 3)]
    pub group_size: u32,
    /// Share of groups the harness fills; the rest stay short of their size (group-buy).
    #[arg(long, default_value_t = 0.8)]
    pub fill_share: f64,
    /// Websocket subscribers (ws-fanout).
    #[arg(long, default_value_t = 1_000)]
    pub subscribers: u64,
    /// Connections sending at once (closed loop: requests in flight).
    #[arg(long, default_value_t = 64)]
    pub concurrency: u32,
    /// Open loop: intended requests per second. Without it the loop is closed.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Stop sending after this many seconds (the run is then judged on what was sent).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Seed of every random choice: the same seed, the same run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where the JSON report goes; the chart is written next to it as .svg.
    #[arg(long, default_value = "target/loadtest/report.json")]
    pub out: PathBuf,
    /// Threads of the harness's own runtime.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Give up on a request after this long.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Seconds an unpaid order is held (long, so no order times out during a run).
    #[arg(long, default_value_t = 3_600)]
    pub pay_timeout_seconds: u64,
    /// Bearer token that creates, submits and publishes the activity and reads it back.
    #[arg(long, default_value = "dev-admin")]
    pub admin_token: String,
    /// A second token, of an approver, that approves the submission.
    #[arg(long, default_value = "dev-approver")]
    pub approver_token: String,
    /// No live progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Only set the scenario's activity up (create, submit, approve, publish), print its
    /// id and stop: for driving it with another tool, such as wrk.
    #[arg(long)]
    pub setup_only: bool,
    /// Distort what the verdict is shown (for testing the verdict itself).
    #[arg(long, value_enum, hide = true)]
    pub distort: Option<Distortion>,
}

impl Options {
    /// Checks what clap cannot: shares in 0..=1, sizes above zero.
    pub fn validate(&self) -> Result<(), String> {
        let shares = [
            ("--repeat-share", self.repeat_share),
            ("--over-limit-share", self.over_limit_share),
            ("--pay-share", self.pay_share),
            ("--read-share", self.read_share),
            ("--fill-share", self.fill_share),
        ];
        if let Some((name, _)) = shares.iter().find(|(_, v)| !(0.0..=1.0).contains(v)) {
            return Err(format!("{name} must be between 0 and 1"));
        }
        let sizes = [
            ("--users", self.users),
            ("--requests", self.requests),
            ("--stock", self.stock),
            ("--concurrency", u64::from(self.concurrency)),
            ("--rounds", u64::from(self.rounds)),
            ("--threads", self.threads as u64),
            ("--per-user-limit", u64::from(self.per_user_limit)),
        ];
        if let Some((name, _)) = sizes.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{name} must be above zero"));
        }
        if self.users > u64::from(u32::MAX) || self.requests > u64::from(u32::MAX) {
            return Err("--users and --requests must each be below 2^32".to_owned());
        }
        if !(2..=100).contains(&self.group_size) {
            return Err("--group-size must be 2 to 100".to_owned());
        }
        if self
            .rate
            .is_some_and(|rate| !(rate > 0.0 && rate.is_finite()))
        {
            return Err("--rate must be a positive number of requests per second".to_owned());
        }
        if self
            .duration
            .is_some_and(|seconds| seconds.is_nan() || seconds <= 0.0)
        {
            return Err("--duration must be a positive number of seconds".to_owned());
        }
        Ok(())
    }

    /// "open" with `--rate`, else "closed".
    pub fn loop_mode(&self) -> &'static str {
        if self.rate.is_some() {
            "open"
        } else {
            "closed"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_is_named_in_reports_as_on_the_command_line() {
        for scenario in Scenario::value_variants() {
            let possible = scenario
                .to_possible_value()
                .expect("every scenario is selectable");
            assert_eq!(scenario.name(), possible.get_name());
        }
    }
}
