//! mixed: reads of the activity detail and grabs, in the ratio `--read-share`.

use super::flash_rush::{flash_sale, shape};
use super::grabs::GrabBook;
use super::{engine, judge_grabs, Setup};
use crate::client::{Answer, Call, ClientError};
use crate::driver::{self, Step, Workload};
use crate::plan::{self, MixedStep, RushShape};
use crate::summary::Report;
use crate::{HarnessError, Options};
use std::sync::Arc;

const READ: usize = 0;
const GRAB: usize = 1;

struct MixedWorkload {
    steps: Vec<MixedStep>,
    book: Arc<GrabBook>,
    detail_path: String,
}

impl Workload for MixedWorkload {
    fn units(&self) -> u64 {
        self.steps.len() as u64
    }

    fn kinds(&self) -> Vec<String> {
        vec![
            "playcore detail read".to_owned(),
            "playcore grab".to_owned(),
        ]
    }

    fn first(&self, index: u64) -> Step {
        match self.steps[index as usize] {
            MixedStep::Read => Step {
                kind: READ,
                number: 0,
                call: Call::get(self.detail_path.clone()),
            },
            MixedStep::Grab(grab) => Step {
                kind: GRAB,
                number: 0,
                call: self.book.call(grab as usize),
            },
        }
    }

    fn next(
        &self,
        index: u64,
        _step: &Step,
        outcome: &Result<Answer, ClientError>,
        code: &'static str,
    ) -> Option<Step> {
        if let MixedStep::Grab(grab) = self.steps[index as usize] {
            self.book.observe(grab as usize, outcome, code);
        }
        None
    }
}

pub async fn run(options: &Options, mut setup: Setup) -> Result<Report, HarnessError> {
    let spec = flash_sale(options);
    let activity = setup.admin.set_up(&spec).await?;
    let steps = plan::mixed(options.requests, options.read_share, options.seed);
    let grabs = steps
        .iter()
        .filter(|step| matches!(step, MixedStep::Grab(_)))
        .count() as u64;
    let rush_shape = RushShape {
        attempts: grabs,
        ..shape(options)
    };
    let book = Arc::new(GrabBook::new(activity.clone(), plan::rush(&rush_shape)));
    let workload = MixedWorkload {
        steps,
        book: book.clone(),
        detail_path: format!("/api/v1/activities/{activity}"),
    };
    let phases = driver::run(
        &engine(options, setup.target.clone()),
        "mixed",
        Arc::new(workload),
    )
    .await;
    let verdict = judge_grabs(options, &mut setup, &book, &activity).await?;
    Ok(Report {
        phases,
        verdict: Some(verdict),
        ..setup.report(options, &activity)
    })
}
