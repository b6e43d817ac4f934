//! group-buy: leaders start groups and pay; members join and pay until a group fills (a
//! share of groups stays short); one more user tries to join each full group.
//!
//! A unit is one group, driven as a chain: start, pay, then join and pay per member, then
//! the late join. Groups left short stay ACTIVE until their time to live runs out, which
//! the verdict does not wait for.

use super::grabs::Payer;
use super::{engine, Setup};
use crate::api::{self, ActivitySpec, OK};
use crate::client::{Answer, Call, ClientError};
use crate::driver::{self, Step, Workload};
use crate::plan::{self, GroupPlan};
use crate::summary::Report;
use crate::verdict::{self, Confirmed, GroupOutcome, ServerFacts};
use crate::{HarnessError, Options};
use serde::Deserialize;
use std::sync::{Arc, Mutex};

const START: usize = 0;
const JOIN: usize = 1;
const PAY: usize = 2;
/// Groups live a minute, the shortest the server allows: long enough for any run here.
const GROUP_TTL_SECONDS: u64 = 60;

#[derive(Default)]
struct GroupRun {
    group_id: Option<String>,
    paid_members: u32,
    late_join: Option<&'static str>,
    confirmed: Vec<Confirmed>,
}

struct GroupWorkload {
    activity: String,
    plans: Vec<GroupPlan>,
    runs: Vec<Mutex<GroupRun>>,
    payer: Payer,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Joined {
    group: JoinedGroup,
    order: Option<JoinedOrder>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JoinedGroup {
    group_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JoinedOrder {
    order_id: String,
}

fn member_name(group: u64, member: u32) -> String {
    format!("g{group}m{member}")
}

fn body(user: &str) -> String {
    format!(r#"{{"userId":"{user}","requestId":"r0"}}"#)
}

impl GroupWorkload {
    fn join(&self, group: u64, group_id: &str, member: u32) -> Step {
        Step {
            kind: JOIN,
            number: member * 2,
            call: Call::post(
                format!("/api/v1/groups/{group_id}/members"),
                body(&member_name(group, member)),
            ),
        }
    }

    /// Notes a start or join and returns the payment that follows it.
    fn joined(&self, run: &mut GroupRun, group: u64, member: u32, answer: &Answer) -> Option<Step> {
        let joined: Joined = serde_json::from_slice::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|envelope| serde_json::from_value(envelope["data"].clone()).ok())?;
        let order_id = joined.order?.order_id;
        run.group_id.get_or_insert(joined.group.group_id);
        let user = member_name(group, member);
        run.confirmed.push(Confirmed {
            order: api::order_number(&order_id)?,
            user: user.clone(),
            paid: false,
        });
        Some(Step {
            kind: PAY,
            number: member * 2 + 1,
            call: self.payer.call(&order_id, &user),
        })
    }

    /// After a member paid: the next member's join, or the late join once full.
    fn after_payment(&self, run: &mut GroupRun, group: u64, member: u32) -> Option<Step> {
        run.paid_members += 1;
        if let Some(last) = run.confirmed.last_mut() {
            last.paid = true;
        }
        let plan = self.plans[group as usize];
        let group_id = run.group_id.clone()?;
        if member < plan.joiners {
            return Some(self.join(group, &group_id, member + 1));
        }
        plan.late_joiner
            .then(|| self.join(group, &group_id, plan.joiners + 1))
    }
}

impl Workload for GroupWorkload {
    fn units(&self) -> u64 {
        self.plans.len() as u64
    }

    fn kinds(&self) -> Vec<String> {
        ["playcore start group", "playcore join", "playcore pay"]
            .map(str::to_owned)
            .to_vec()
    }

    fn first(&self, index: u64) -> Step {
        Step {
            kind: START,
            number: 0,
            call: Call::post(
                format!("/api/v1/activities/{}/groups", self.activity),
                body(&member_name(index, 0)),
            ),
        }
    }

    fn next(
        &self,
        index: u64,
        step: &Step,
        outcome: &Result<Answer, ClientError>,
        code: &'static str,
    ) -> Option<Step> {
        let mut run = self.runs[index as usize]
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let member = step.number / 2;
        if step.kind != PAY && member > self.plans[index as usize].joiners {
            run.late_join = Some(code);
            return None;
        }
        let answer = outcome.as_ref().ok().filter(|_| code == OK)?;
        match step.kind {
            PAY => self.after_payment(&mut run, index, member),
            _ => self.joined(&mut run, index, member, answer),
        }
    }
}

pub async fn run(options: &Options, mut setup: Setup) -> Result<Report, HarnessError> {
    let spec = ActivitySpec {
        template_code: "GROUP_BUY",
        title: format!("loadtest group-buy seed {}", options.seed),
        stock: options.groups * u64::from(options.group_size),
        per_user_limit: 1,
        price_cents: 1990,
        pay_timeout_seconds: options.pay_timeout_seconds,
        group: Some((options.group_size, GROUP_TTL_SECONDS)),
    };
    let activity = setup.admin.set_up(&spec).await?;
    let plans = plan::groups(
        options.groups,
        options.group_size,
        options.fill_share,
        options.seed,
    );
    let workload = Arc::new(GroupWorkload {
        activity: activity.clone(),
        runs: plans.iter().map(|_| Mutex::default()).collect(),
        plans,
        payer: Payer::new(options, spec.price_cents),
    });
    let phases = driver::run(
        &engine(options, setup.target.clone()),
        "group-buy",
        workload.clone(),
    )
    .await;
    let (confirmed, groups) = read_groups(&mut setup, &workload, options.group_size).await?;
    let facts = ServerFacts {
        stock: setup.admin.stock(&activity).await?,
        orders: setup.admin.orders(&activity).await?,
    };
    let verdict = verdict::judge_groups(confirmed, &groups, facts, 1, options.distort);
    Ok(Report {
        phases: phases
            .into_iter()
            .filter(|phase| phase.requests > 0)
            .collect(),
        verdict: Some(verdict),
        ..setup.report(options, &activity)
    })
}

/// Each started group as the server shows it now, and every confirmed order.
async fn read_groups(
    setup: &mut Setup,
    workload: &GroupWorkload,
    target: u32,
) -> Result<(Vec<Confirmed>, Vec<GroupOutcome>), HarnessError> {
    let mut confirmed = Vec::new();
    let mut groups = Vec::new();
    for run in &workload.runs {
        let run = std::mem::take(&mut *run.lock().unwrap_or_else(|poison| poison.into_inner()));
        confirmed.extend(run.confirmed);
        let Some(group_id) = run.group_id else {
            continue;
        };
        let view = setup
            .admin
            .public("read group", format!("/api/v1/groups/{group_id}"))
            .await?;
        groups.push(GroupOutcome {
            status: view["status"].as_str().unwrap_or("?").to_owned(),
            current: view["progress"]["current"].as_u64().unwrap_or(u64::MAX) as u32,
            group_id,
            target,
            paid_members: run.paid_members,
            late_join: run.late_join,
        });
    }
    Ok((confirmed, groups))
}
