//! The calls the harness makes besides the load itself: setting an activity up through the
//! admin API, and reading it back for the verdict. Also the parsing of envelopes.

use crate::client::{Answer, Call, Connection};
use crate::HarnessError;
use serde::Deserialize;
use serde_json::{json, Value};

/// Every error code of the API (README's error table), so answers can be counted without allocating.
pub const ERROR_CODES: [&str; 23] = [
    "VALIDATION_FAILED",
    "UNAUTHORIZED",
    "SIGNATURE_INVALID",
    "FORBIDDEN",
    "NOT_IN_GRAY",
    "NOT_ELIGIBLE",
    "NOT_FOUND",
    "PAYLOAD_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE",
    "NOT_STARTED",
    "ENDED",
    "OFFLINE",
    "SOLD_OUT",
    "LIMIT_EXCEEDED",
    "GROUP_FULL",
    "GROUP_CLOSED",
    "ALREADY_IN_GROUP",
    "INVALID_STATE",
    "AMOUNT_MISMATCH",
    "RATE_LIMITED",
    "OVERLOADED",
    "STORAGE_FULL",
    "INTERNAL",
];

/// The count key of a success.
pub const OK: &str = "OK";
/// The count key of a request that got no HTTP answer.
pub const TRANSPORT: &str = "TRANSPORT";
/// The count key of an error reply whose code is not one of them.
pub const OTHER: &str = "OTHER";

/// How many count keys there are: the API's error codes, then OK, TRANSPORT, OTHER.
pub const CODE_SLOTS: usize = ERROR_CODES.len() + 3;

/// The index of a count key (unknown codes share OTHER's).
pub fn code_slot(code: &str) -> usize {
    match code {
        OK => ERROR_CODES.len(),
        TRANSPORT => ERROR_CODES.len() + 1,
        _ => ERROR_CODES
            .iter()
            .position(|known| *known == code)
            .unwrap_or(ERROR_CODES.len() + 2),
    }
}

/// The count key at `slot` (the inverse of [`code_slot`]).
pub fn slot_code(slot: usize) -> &'static str {
    match slot.checked_sub(ERROR_CODES.len()) {
        None => ERROR_CODES[slot],
        Some(0) => OK,
        Some(1) => TRANSPORT,
        Some(_) => OTHER,
    }
}

#[derive(Deserialize)]
struct ErrorEnvelope<'a> {
    #[serde(borrow)]
    error: ErrorBody<'a>,
}

#[derive(Deserialize)]
struct ErrorBody<'a> {
    code: &'a str,
}

/// The count key of an answer: "OK" for 2xx, else the envelope's error code.
pub fn answer_code(answer: &Answer) -> &'static str {
    if (200..300).contains(&answer.status) {
        return OK;
    }
    let code = serde_json::from_slice::<ErrorEnvelope>(&answer.body)
        .map(|envelope| envelope.error.code)
        .unwrap_or("");
    ERROR_CODES
        .iter()
        .find(|known| **known == code)
        .copied()
        .unwrap_or(OTHER)
}

#[derive(Deserialize)]
struct OrderEnvelope<'a> {
    #[serde(borrow)]
    data: OrderData<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderData<'a> {
    order_id: &'a str,
}

/// The order number `n` of an order id `ord-{activity}-{n}`.
pub fn order_number(order_id: &str) -> Option<u64> {
    order_id.rsplit('-').next()?.parse().ok()
}

/// The order number of a grab's 2xx answer.
pub fn grabbed_order(answer: &Answer) -> Option<u64> {
    let envelope: OrderEnvelope = serde_json::from_slice(&answer.body).ok()?;
    order_number(envelope.data.order_id)
}

/// The `data` of a 2xx envelope, or why not.
pub fn data(action: &str, answer: Answer) -> Result<Value, HarnessError> {
    if !(200..300).contains(&answer.status) {
        return Err(HarnessError::Refused {
            action: action.to_owned(),
            status: answer.status,
            body: String::from_utf8_lossy(&answer.body).into_owned(),
        });
    }
    let mut envelope: Value =
        serde_json::from_slice(&answer.body).map_err(|error| HarnessError::Unexpected {
            action: action.to_owned(),
            detail: error.to_string(),
        })?;
    Ok(envelope["data"].take())
}

/// The activity the harness sets up.
#[derive(Clone, Debug)]
pub struct ActivitySpec {
    /// FLASH_SALE, GROUP_BUY or COURSE_GROUP.
    pub template_code: &'static str,
    pub title: String,
    pub stock: u64,
    pub per_user_limit: u32,
    pub price_cents: u64,
    pub pay_timeout_seconds: u64,
    /// Group size and time to live, for group templates.
    pub group: Option<(u32, u64)>,
}

impl ActivitySpec {
    fn body(&self) -> Value {
        let now = chrono::Utc::now();
        let mut body = json!({
            "templateCode": self.template_code,
            "title": self.title,
            "storeId": "store-loadtest",
            "serviceId": "service-loadtest",
            "price": self.price_cents,
            "stock": self.stock,
            "perUserLimit": self.per_user_limit,
            "startAt": (now - chrono::Duration::seconds(60)).to_rfc3339(),
            "endAt": (now + chrono::Duration::days(1)).to_rfc3339(),
            "payTimeoutSeconds": self.pay_timeout_seconds,
        });
        if let Some((size, ttl_seconds)) = self.group {
            body["rules"] = json!({"groupSize": size, "groupTtlSeconds": ttl_seconds});
        }
        body
    }
}

/// The admin side of a run, over its own connection.
pub struct Admin {
    connection: Connection,
    admin_token: String,
    approver_token: String,
}

/// Stock figures of `GET /admin/v1/activities/{id}/stats`.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub struct Stock {
    pub total: u64,
    pub available: u64,
    pub reserved: u64,
    pub sold: u64,
}

/// One order as the admin API lists it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerOrder {
    pub order_id: String,
    pub user_id: String,
    pub quantity: u64,
    pub status: String,
    pub group_id: Option<String>,
}

impl Admin {
    pub fn new(connection: Connection, admin_token: &str, approver_token: &str) -> Admin {
        Admin {
            connection,
            admin_token: admin_token.to_owned(),
            approver_token: approver_token.to_owned(),
        }
    }

    /// One admin call; a transport failure is retried once on a fresh connection (a
    /// server that just started may drop the first one). Every admin action the harness
    /// takes is idempotent except create, where a retry at worst leaves an unused draft.
    async fn call(&mut self, action: &str, call: Call) -> Result<Value, HarnessError> {
        let answer = match self.connection.send(&call).await {
            Ok(answer) => answer,
            Err(_) => self.connection.send(&call).await?,
        };
        data(action, answer)
    }

    /// Creates, submits, approves (second token) and publishes; returns the activity id.
    pub async fn set_up(&mut self, spec: &ActivitySpec) -> Result<String, HarnessError> {
        let admin = self.admin_token.clone();
        let created = self
            .call(
                "create activity",
                Call::post("/admin/v1/activities", spec.body().to_string()).with_token(&admin),
            )
            .await?;
        let id = created["id"]
            .as_str()
            .ok_or_else(|| HarnessError::Unexpected {
                action: "create activity".to_owned(),
                detail: format!("no id in {created}"),
            })?
            .to_owned();
        let base = format!("/admin/v1/activities/{id}");
        let approver = self.approver_token.clone();
        let steps = [
            ("submit", admin.as_str()),
            ("approve", approver.as_str()),
            ("publish", admin.as_str()),
        ];
        for (step, token) in steps {
            let call = Call::post(format!("{base}/{step}"), "{}").with_token(token);
            self.call(step, call).await?;
        }
        Ok(id)
    }

    pub async fn stock(&mut self, activity: &str) -> Result<Stock, HarnessError> {
        let call = Call::get(format!("/admin/v1/activities/{activity}/stats"))
            .with_token(&self.admin_token.clone());
        let stats = self.call("read stats", call).await?;
        serde_json::from_value(stats["stock"].clone()).map_err(|error| HarnessError::Unexpected {
            action: "read stats".to_owned(),
            detail: error.to_string(),
        })
    }

    /// Every order of the activity, page by page.
    pub async fn orders(&mut self, activity: &str) -> Result<Vec<ServerOrder>, HarnessError> {
        let mut orders = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/admin/v1/activities/{activity}/orders?limit=1000");
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let call = Call::get(path).with_token(&self.admin_token.clone());
            let mut page = self.call("list orders", call).await?;
            let listed: Vec<ServerOrder> =
                serde_json::from_value(page["orders"].take()).map_err(|error| {
                    HarnessError::Unexpected {
                        action: "list orders".to_owned(),
                        detail: error.to_string(),
                    }
                })?;
            orders.extend(listed);
            match page["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return Ok(orders),
            }
        }
    }

    /// A public read (e.g. a group), through the admin connection.
    pub async fn public(&mut self, action: &str, path: String) -> Result<Value, HarnessError> {
        self.call(action, Call::get(path)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            body: bytes::Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn codes_come_from_the_envelope() {
        let sold_out = r#"{"success":false,"error":{"code":"SOLD_OUT","message":"x"}}"#;
        assert_eq!(answer_code(&answer(409, sold_out)), "SOLD_OUT");
        assert_eq!(answer_code(&answer(201, "{}")), OK);
        assert_eq!(answer_code(&answer(502, "bad gateway")), OTHER);
        let odd = r#"{"error":{"code":"NOPE"}}"#;
        assert_eq!(answer_code(&answer(400, odd)), OTHER);
    }

    #[test]
    fn every_code_has_its_own_slot() {
        for code in ERROR_CODES.iter().chain(&[OK, TRANSPORT, OTHER]) {
            assert_eq!(slot_code(code_slot(code)), *code);
        }
        assert_eq!(slot_code(code_slot("UNHEARD_OF")), OTHER);
    }

    #[test]
    fn order_numbers_come_from_order_ids() {
        let body = r#"{"success":true,"data":{"orderId":"ord-7-42","status":"PENDING_PAY"}}"#;
        assert_eq!(grabbed_order(&answer(201, body)), Some(42));
        assert_eq!(order_number("ord-12-3"), Some(3));
        assert_eq!(order_number("garbage"), None);
    }
}
