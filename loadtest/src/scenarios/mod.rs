//! The scenarios. Each sets its activity up through the admin API, drives the load with
//! [`crate::driver`], and judges the result with [`crate::verdict`].

mod flash_rush;
mod grabs;
mod group_buy;
mod mixed;
mod ws_fanout;

use crate::api::Admin;
use crate::cli::{Options, Scenario};
use crate::client::{Connection, Target};
use crate::driver::Engine;
use crate::summary::{Report, Verdict};
use crate::verdict::{self, ServerFacts};
use crate::HarnessError;
use grabs::GrabBook;
use std::time::Duration;

/// What every scenario starts from: the server and an admin connection to it.
pub struct Setup {
    pub target: Target,
    pub admin: Admin,
}

impl Setup {
    async fn new(options: &Options) -> Result<Setup, HarnessError> {
        let target = Target::parse(&options.url).await?;
        let connection = Connection::new(target.clone(), Duration::from_secs(60));
        let admin = Admin::new(connection, &options.admin_token, &options.approver_token);
        Ok(Setup { target, admin })
    }

    /// A report with the run's options and machine, and no phases yet.
    fn report(&self, options: &Options, activity: &str) -> Report {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let mut recorded = serde_json::to_value(options).unwrap_or_default();
        recorded["activityId"] = activity.into();
        Report {
            scenario: options.scenario.name().to_string(),
            loop_mode: options.loop_mode().to_owned(),
            options: recorded,
            machine: serde_json::json!({
                "cores": cores,
                "date": chrono::Utc::now().format("%Y-%m-%d").to_string(),
            }),
            phases: Vec::new(),
            comparison: None,
            verdict: None,
        }
    }
}

fn engine(options: &Options, target: Target) -> Engine {
    Engine {
        target,
        concurrency: options.concurrency,
        rate: options.rate,
        duration: options.duration.map(Duration::from_secs_f64),
        timeout: Duration::from_millis(options.timeout_ms),
        quiet: options.quiet,
    }
}

/// Reads the activity back and judges the grabs of `book`.
async fn judge_grabs(
    options: &Options,
    setup: &mut Setup,
    book: &GrabBook,
    activity: &str,
) -> Result<Verdict, HarnessError> {
    let facts = ServerFacts {
        stock: setup.admin.stock(activity).await?,
        orders: setup.admin.orders(activity).await?,
    };
    let observed = book.observations(options.per_user_limit);
    Ok(verdict::judge_rush(observed, facts, options.distort))
}

/// Runs the scenario of `options` against its server.
pub async fn run(options: &Options) -> Result<Report, HarnessError> {
    options.validate().map_err(HarnessError::Options)?;
    let mut setup = Setup::new(options).await?;
    if options.setup_only {
        let activity = setup.admin.set_up(&flash_rush::flash_sale(options)).await?;
        println!("{activity}");
        return Ok(setup.report(options, &activity));
    }
    match options.scenario {
        Scenario::FlashRush => flash_rush::run(options, setup).await,
        Scenario::Mixed => mixed::run(options, setup).await,
        Scenario::GroupBuy => group_buy::run(options, setup).await,
        Scenario::WsFanout => ws_fanout::run(options, setup).await,
    }
}

/// [`run`] on a runtime of its own with `--threads` workers.
pub fn run_blocking(options: &Options) -> Result<Report, HarnessError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(run(options))
}
