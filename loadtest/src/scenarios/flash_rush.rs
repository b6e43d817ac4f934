//! flash-rush: many users rush one flash sale. With `--ceiling-url`, each round sends the
//! same grabs to the ceiling server first and then to playcore, so the two are measured
//! side by side on the same machine in the same minute.

use super::grabs::{GrabBook, Payer};
use super::{engine, judge_grabs, Setup};
use crate::api::{ActivitySpec, OK};
use crate::client::{Answer, ClientError, Target};
use crate::driver::{self, Step, Workload};
use crate::plan::{self, RushShape};
use crate::summary::{Comparison, PhaseSummary, Report};
use crate::{HarnessError, Options};
use std::sync::Arc;

const GRAB: usize = 0;
const PAY: usize = 1;

/// The grabs of one phase: attempts `offset..offset + count` of the book.
pub struct RushWorkload {
    pub book: Arc<GrabBook>,
    pub offset: usize,
    pub count: usize,
    /// `None` when the answers are not playcore's (the ceiling phase): nothing is noted.
    pub payer: Option<Payer>,
}

impl Workload for RushWorkload {
    fn units(&self) -> u64 {
        self.count as u64
    }

    fn kinds(&self) -> Vec<String> {
        vec!["grab".to_owned(), "pay".to_owned()]
    }

    fn first(&self, index: u64) -> Step {
        Step {
            kind: GRAB,
            number: 0,
            call: self.book.call(self.offset + index as usize),
        }
    }

    fn next(
        &self,
        index: u64,
        step: &Step,
        outcome: &Result<Answer, ClientError>,
        code: &'static str,
    ) -> Option<Step> {
        let payer = self.payer.as_ref()?;
        let attempt_index = self.offset + index as usize;
        if step.kind == PAY {
            if code == OK {
                self.book.mark_paid(attempt_index);
            }
            return None;
        }
        let order = self.book.observe(attempt_index, outcome, code)?;
        let attempt = self.book.attempts[attempt_index];
        payer.pays(attempt).then(|| Step {
            kind: PAY,
            number: 1,
            call: payer.call(&self.book.order_id(order), &format!("u{}", attempt.user)),
        })
    }
}

pub fn shape(options: &Options) -> RushShape {
    RushShape {
        users: options.users,
        attempts: options.requests,
        per_user_limit: options.per_user_limit,
        repeat_share: options.repeat_share,
        over_limit_share: options.over_limit_share,
        seed: options.seed,
    }
}

pub fn flash_sale(options: &Options) -> ActivitySpec {
    ActivitySpec {
        template_code: "FLASH_SALE",
        title: format!("loadtest {:?} seed {}", options.scenario, options.seed),
        stock: options.stock,
        per_user_limit: options.per_user_limit,
        price_cents: 990,
        pay_timeout_seconds: options.pay_timeout_seconds,
        group: None,
    }
}

pub async fn run(options: &Options, mut setup: Setup) -> Result<Report, HarnessError> {
    let spec = flash_sale(options);
    let activity = setup.admin.set_up(&spec).await?;
    let book = Arc::new(GrabBook::new(activity.clone(), plan::rush(&shape(options))));
    let ceiling = match &options.ceiling_url {
        Some(url) => Some(Target::parse(url).await?),
        None => None,
    };
    let rounds = if ceiling.is_some() {
        options.rounds as usize
    } else {
        1
    };
    let payer = Payer::new(options, spec.price_cents);
    let mut phases = Vec::new();
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let offset = book.attempts.len() * round / rounds;
        let count = book.attempts.len() * (round + 1) / rounds - offset;
        let suffix = if rounds > 1 {
            format!(" (round {})", round + 1)
        } else {
            String::new()
        };
        let ceiling_grabs = match &ceiling {
            Some(target) => {
                let workload = RushWorkload {
                    book: book.clone(),
                    offset,
                    count,
                    payer: None,
                };
                let label = format!("ceiling{suffix}");
                let summaries =
                    driver::run(&engine(options, target.clone()), &label, Arc::new(workload)).await;
                // Only grabs go to the ceiling (no payer): its first kind is the phase.
                summaries.into_iter().next().map(|mut grabs| {
                    grabs.name = format!("ceiling round trip{suffix}");
                    grabs
                })
            }
            None => None,
        };
        let workload = RushWorkload {
            book: book.clone(),
            offset,
            count,
            payer: Some(payer.clone()),
        };
        let label = format!("playcore grab{suffix}");
        let mut summaries = driver::run(
            &engine(options, setup.target.clone()),
            &label,
            Arc::new(workload),
        )
        .await;
        name_phases(&mut summaries, &suffix);
        if let Some(ceiling) = ceiling_grabs {
            ratios.push(
                summaries[GRAB].throughput_per_second / ceiling.throughput_per_second.max(1e-9),
            );
            phases.push(ceiling);
        }
        phases.extend(summaries.into_iter().filter(|phase| phase.requests > 0));
    }
    let verdict = judge_grabs(options, &mut setup, &book, &activity).await?;
    Ok(Report {
        comparison: comparison(ratios),
        verdict: Some(verdict),
        phases,
        ..setup.report(options, &activity)
    })
}

fn name_phases(summaries: &mut [PhaseSummary], suffix: &str) {
    for summary in summaries {
        summary.name = format!("playcore {}{suffix}", summary.name);
    }
}

fn comparison(mut ratios: Vec<f64>) -> Option<Comparison> {
    if ratios.is_empty() {
        return None;
    }
    let mut sorted = ratios.clone();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    let ratio_median = if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    };
    ratios
        .iter_mut()
        .for_each(|ratio| *ratio = (*ratio * 1000.0).round() / 1000.0);
    Some(Comparison {
        ratios,
        ratio_median,
    })
}
