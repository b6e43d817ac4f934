//! Grabs and what became of them: the bookkeeping flash-rush and mixed share.

use crate::api::{self, code_slot, slot_code, OK};
use crate::cli::{Options, PayMode};
use crate::client::{Answer, Call, ClientError};
use crate::plan::Attempt;
use crate::random::Random;
use crate::verdict::{Confirmed, RushObservations};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bits of an answer slot: the order number below, then the paid flag, then the code.
const ORDER_BITS: u32 = 48;
const PAID_BIT: u64 = 1 << ORDER_BITS;
const CODE_SHIFT: u32 = 56;
/// An attempt not sent (yet): the slot is zero, and code slots are stored plus one.
const UNSENT: u64 = 0;

/// How the harness pays the orders it pays.
#[derive(Clone, Debug)]
pub struct Payer {
    pub share: f64,
    pub mode: PayMode,
    pub secret: String,
    pub price_cents: u64,
    pub seed: u64,
}

impl Payer {
    pub fn new(options: &Options, price_cents: u64) -> Payer {
        Payer {
            share: options.pay_share,
            mode: options.pay_mode,
            secret: options.payment_secret.clone(),
            price_cents,
            seed: options.seed,
        }
    }

    /// Whether the order of `attempt` gets paid: drawn from the seed, per attempt.
    pub fn pays(&self, attempt: Attempt) -> bool {
        let item = (u64::from(attempt.user) << 32) | u64::from(attempt.request);
        self.share > 0.0 && Random::for_item(self.seed, 5, item).chance(self.share)
    }

    /// The payment call for order `order_id` of `user`.
    pub fn call(&self, order_id: &str, user: &str) -> Call {
        match self.mode {
            PayMode::Mock => Call::post(
                format!("/api/v1/orders/{order_id}/pay"),
                format!(r#"{{"userId":"{user}"}}"#),
            ),
            PayMode::Notify => self.notification(order_id),
        }
    }

    fn notification(&self, order_id: &str) -> Call {
        let body = serde_json::json!({
            "tradeNo": format!("trade-{order_id}"),
            "orderId": order_id,
            "amount": self.price_cents,
            "paidAt": chrono::Utc::now().to_rfc3339(),
        })
        .to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(body.as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());
        let mut call = Call::post("/api/v1/payments/notify", body);
        call.header = Some(("x-signature", signature));
        call
    }
}

/// Every attempt of a run and the answer each got, one atomic slot per attempt (a unit is
/// one attempt, so slots are written by one worker and read after the run).
pub struct GrabBook {
    pub activity: String,
    pub attempts: Vec<Attempt>,
    answers: Vec<AtomicU64>,
}

impl GrabBook {
    pub fn new(activity: String, attempts: Vec<Attempt>) -> GrabBook {
        let answers = attempts.iter().map(|_| AtomicU64::new(UNSENT)).collect();
        GrabBook {
            activity,
            attempts,
            answers,
        }
    }

    /// The grab of attempt `index`.
    pub fn call(&self, index: usize) -> Call {
        let attempt = self.attempts[index];
        Call::post(
            format!("/api/v1/activities/{}/orders", self.activity),
            format!(
                r#"{{"userId":"u{}","requestId":"r{}"}}"#,
                attempt.user, attempt.request
            ),
        )
    }

    /// Notes the answer to attempt `index`; returns the order number of a new order (201).
    pub fn observe(
        &self,
        index: usize,
        outcome: &Result<Answer, ClientError>,
        code: &'static str,
    ) -> Option<u64> {
        let order = match outcome {
            Ok(answer) if code == OK => api::grabbed_order(answer),
            _ => None,
        };
        let slot = ((code_slot(code) as u64 + 1) << CODE_SHIFT) | order.unwrap_or(0);
        self.answers[index].store(slot, Ordering::Relaxed);
        let created = matches!(outcome, Ok(answer) if answer.status == 201);
        order.filter(|_| created)
    }

    /// Notes that the order of attempt `index` was paid.
    pub fn mark_paid(&self, index: usize) {
        self.answers[index].fetch_or(PAID_BIT, Ordering::Relaxed);
    }

    pub fn order_id(&self, order: u64) -> String {
        format!("ord-{}-{order}", self.activity)
    }

    /// What the verdict needs: every sent attempt's answer and the confirmed orders.
    pub fn observations(&self, per_user_limit: u32) -> RushObservations {
        let mut observed = RushObservations {
            per_user_limit,
            ..RushObservations::default()
        };
        let mut paid_orders = std::collections::HashSet::new();
        for (attempt, slot) in self.attempts.iter().zip(&self.answers) {
            let slot = slot.load(Ordering::Relaxed);
            if slot == UNSENT {
                continue;
            }
            let code = slot_code(((slot >> CODE_SHIFT) - 1) as usize);
            let order = Some(slot & (PAID_BIT - 1)).filter(|_| code == OK);
            if let (Some(order), true) = (order, slot & PAID_BIT != 0) {
                paid_orders.insert(order);
            }
            observed.answers.push((*attempt, code, order));
        }
        let mut confirmed: Vec<Confirmed> = observed
            .answers
            .iter()
            .filter_map(|(attempt, _, order)| {
                Some(Confirmed {
                    order: (*order)?,
                    user: format!("u{}", attempt.user),
                    paid: paid_orders.contains(&(*order)?),
                })
            })
            .collect();
        confirmed.sort_by_key(|c| c.order);
        confirmed.dedup_by_key(|c| c.order);
        observed.confirmed = confirmed;
        observed
    }
}
