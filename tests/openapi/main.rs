//! Keeps `openapi.json` honest:
//!
//! - the document is OpenAPI 3.1 shaped, every `$ref` resolves, path parameters are
//!   declared with examples, error responses list codes of their status (`x-error-codes`),
//!   admin operations need the bearer token and name their roles (`x-roles`);
//! - the routes the sources register (`scan`) are exactly the documented ones;
//! - the running server answers every documented operation as documented (probes with
//!   the document's examples, with and without each role), routes no undocumented method
//!   of a documented path, and serves the document at `GET /openapi.json`;
//! - a walk through a whole flash sale, a group buy, the eligibility refusals and the
//!   admin flows (templates, approval, configuration versions and rollback) checks every
//!   reply against the document (status, media type, body schema, error code) and
//!   reaches a success reply of every documented operation.
//!
//! Adding an endpoint: describe it in `openapi.json` (copy a neighbour: responses by
//! status, shared errors from `components/responses`, `x-roles` for admin), then add a
//! step reaching its success reply to [`walk_a_sale`] or one of its helpers.

mod document;
mod scan;
mod server;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use document::{references, Document, Operation, Reply, METHODS};
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use playcore::error::ErrorCode;
use serde_json::{json, Value};
use server::{Request, Server, ADMIN_TOKEN, APPROVER_TOKEN, OPERATOR_TOKEN};
use sha2::Sha256;

/// The roles (README, "Configuration"), with the development token holding each alone.
const ROLE_TOKENS: [(&str, &str); 3] = [
    ("operator", OPERATOR_TOKEN),
    ("approver", APPROVER_TOKEN),
    ("admin", ADMIN_TOKEN),
];
/// The payment secret of `config/default.toml`.
const PAYMENT_SECRET: &[u8] = b"dev-payment-secret";

// ---------------------------------------------------------------------------------------
// The document alone.

#[test]
fn the_document_is_openapi_3_1_shaped() {
    let document = Document::load();
    let root = &document.root;

    assert!(
        root["openapi"]
            .as_str()
            .is_some_and(|version| version.starts_with("3.1.")),
        "openapi: {}",
        root["openapi"]
    );
    for field in ["title", "version"] {
        let value = root["info"][field].as_str().unwrap_or_default();
        assert!(!value.is_empty(), "info.{field} is missing");
    }
    let paths = root["paths"].as_object().expect("paths is an object");
    assert!(!paths.is_empty(), "no paths");
    let mut problems = Vec::new();
    for (path, item) in paths {
        let known = |key: &String| METHODS.contains(&key.as_str()) || key == "parameters";
        let item = item.as_object().expect("a path item is an object");
        if !path.starts_with('/') || item.is_empty() || !item.keys().all(known) {
            problems.push(format!("{path}: not a path item of operations"));
        }
    }
    problems.extend(operation_shape_problems(&document));
    assert!(problems.is_empty(), "{problems:#?}");
}

fn operation_shape_problems(document: &Document) -> Vec<String> {
    let tags: BTreeSet<&str> = document.root["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|tag| tag["name"].as_str())
        .collect();
    let mut identifiers = BTreeSet::new();
    let mut problems = Vec::new();
    for operation in document.operations() {
        let name = operation.name();
        let body = operation.body;
        let identifier = body["operationId"].as_str().unwrap_or_default();
        if identifier.is_empty() || !identifiers.insert(identifier) {
            problems.push(format!("{name}: operationId missing or repeated"));
        }
        if body["summary"].as_str().unwrap_or_default().is_empty() {
            problems.push(format!("{name}: no summary"));
        }
        let tagged = body["tags"].as_array().is_some_and(|list| {
            !list.is_empty()
                && list
                    .iter()
                    .all(|tag| tags.contains(tag.as_str().unwrap_or("")))
        });
        if !tagged {
            problems.push(format!("{name}: tags missing or not declared at the top"));
        }
        problems.extend(response_shape_problems(document, &operation));
    }
    problems
}

fn response_shape_problems(document: &Document, operation: &Operation) -> Vec<String> {
    let name = operation.name();
    let Some(responses) = operation.body["responses"]
        .as_object()
        .filter(|r| !r.is_empty())
    else {
        return vec![format!("{name}: no responses")];
    };
    let mut problems = Vec::new();
    for (status, response) in responses {
        let valid_status = status == "default"
            || status
                .parse::<u16>()
                .is_ok_and(|code| (100..=599).contains(&code));
        if !valid_status {
            problems.push(format!("{name}: response key {status}"));
        }
        if document.resolve(response)["description"].as_str().is_none() {
            problems.push(format!("{name} {status}: no description"));
        }
    }
    problems
}

#[test]
fn every_reference_resolves_and_every_component_is_used() {
    let document = Document::load();
    let mut found = Vec::new();
    references(&document.root, "#", &mut found);

    let unresolved: Vec<_> = found
        .iter()
        .filter(|(_, reference)| document.pointer(reference).is_none())
        .collect();
    let used: BTreeSet<&str> = found
        .iter()
        .map(|(_, reference)| reference.as_str())
        .collect();
    let mut unused = Vec::new();
    for kind in ["schemas", "responses", "parameters", "headers"] {
        for name in document.root["components"][kind]
            .as_object()
            .into_iter()
            .flatten()
        {
            let reference = format!("#/components/{kind}/{}", name.0);
            if !used.contains(reference.as_str()) {
                unused.push(reference);
            }
        }
    }

    assert!(!found.is_empty(), "no references at all");
    assert!(unresolved.is_empty(), "unresolved: {unresolved:#?}");
    assert!(unused.is_empty(), "unused components: {unused:#?}");
}

#[test]
fn path_parameters_are_declared_with_examples() {
    let document = Document::load();
    let mut problems = Vec::new();
    for operation in document.operations() {
        let in_template: BTreeSet<&str> = operation
            .path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let declared: BTreeMap<&str, &Value> = path_parameters(&document, &operation);
        if in_template != declared.keys().copied().collect() {
            problems.push(format!(
                "{}: template names {in_template:?}, parameters {:?}",
                operation.name(),
                declared.keys()
            ));
        }
        for (name, parameter) in declared {
            if parameter["required"] != true || !parameter["example"].is_string() {
                problems.push(format!(
                    "{}: {name} needs required and an example",
                    operation.name()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

fn path_parameters<'a>(
    document: &'a Document,
    operation: &Operation<'a>,
) -> BTreeMap<&'a str, &'a Value> {
    operation.body["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|parameter| document.resolve(parameter))
        .filter(|parameter| parameter["in"] == "path")
        .filter_map(|parameter| Some((parameter["name"].as_str()?, parameter)))
        .collect()
}

#[test]
fn error_responses_list_codes_of_their_status() {
    let document = Document::load();
    let statuses: BTreeMap<&str, u16> = ErrorCode::ALL
        .iter()
        .map(|code| (code.as_str(), code.status().as_u16()))
        .collect();
    let enumerated: BTreeSet<&str> = document.root["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("the ErrorCode schema is an enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        enumerated,
        statuses.keys().copied().collect(),
        "ErrorCode enum"
    );

    let mut problems = Vec::new();
    for operation in document.operations() {
        let responses = operation.body["responses"]
            .as_object()
            .into_iter()
            .flatten();
        for (status, response) in responses {
            let response = document.resolve(response);
            let is_json = response["content"].get("application/json").is_some();
            if !status.starts_with(['4', '5']) || !is_json {
                continue;
            }
            let codes = response["x-error-codes"]
                .as_array()
                .filter(|codes| !codes.is_empty());
            let Some(codes) = codes else {
                problems.push(format!("{} {status}: no x-error-codes", operation.name()));
                continue;
            };
            for code in codes.iter().filter_map(Value::as_str) {
                if statuses.get(code).map(u16::to_string).as_deref() != Some(status.as_str()) {
                    problems.push(format!(
                        "{} {status}: {code} has another status",
                        operation.name()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn admin_operations_need_a_token_and_name_their_roles() {
    let document = Document::load();
    let all_roles: BTreeSet<&str> = ROLE_TOKENS.iter().map(|(role, _)| *role).collect();
    let mut problems = Vec::new();
    for operation in document.operations() {
        let name = operation.name();
        let roles: BTreeSet<&str> = operation.roles().into_iter().collect();
        let responses = &operation.body["responses"];
        if !operation.path.starts_with("/admin/") {
            if operation.is_secured() || !roles.is_empty() {
                problems.push(format!(
                    "{name}: a public operation with security or x-roles"
                ));
            }
            continue;
        }
        if operation.body["security"] != json!([{"bearerAuth": []}]) {
            problems.push(format!("{name}: security is not bearerAuth"));
        }
        if !roles.contains("admin") || !roles.is_subset(&all_roles) {
            problems.push(format!(
                "{name}: x-roles {roles:?} must include admin, name only roles"
            ));
        }
        if responses.get("401").is_none() {
            problems.push(format!("{name}: no 401"));
        }
        if roles != all_roles && responses.get("403").is_none() {
            problems.push(format!(
                "{name}: some roles are refused but there is no 403"
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn request_examples_match_their_schemas() {
    let document = Document::load();
    let mut problems = Vec::new();
    for operation in document.operations() {
        let Some(request) = operation.body.get("requestBody") else {
            continue;
        };
        let media = &request["content"]["application/json"];
        if media["example"].is_null() {
            problems.push(format!(
                "{}: the JSON body has no example",
                operation.name()
            ));
        }
        let found = document.validate(&media["schema"], &media["example"]);
        problems.extend(
            found
                .into_iter()
                .map(|problem| format!("{}: {problem}", operation.name())),
        );
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

// ---------------------------------------------------------------------------------------
// The document against the sources.

fn documented_routes(document: &Document) -> BTreeSet<scan::Route> {
    document
        .operations()
        .iter()
        .map(|operation| {
            (
                operation.method.to_uppercase(),
                scan::normalize(operation.path),
            )
        })
        .collect()
}

#[test]
fn every_registered_route_is_documented_and_every_documented_route_registered() {
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let registered = scan::registered_routes(&sources).unwrap_or_else(|error| panic!("{error}"));
    let documented = documented_routes(&Document::load());

    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let unregistered: Vec<_> = documented.difference(&registered).collect();

    assert!(
        registered.len() > 40,
        "the scanner found only {} routes",
        registered.len()
    );
    assert!(
        undocumented.is_empty(),
        "routes registered in src/ but missing from openapi.json: {undocumented:#?}"
    );
    assert!(
        unregistered.is_empty(),
        "operations in openapi.json that src/ does not register: {unregistered:#?}"
    );
}

// ---------------------------------------------------------------------------------------
// The document against the running server.

#[actix_web::test]
async fn the_server_serves_this_document_without_a_token() {
    let server = Server::start().await;

    let reply = server
        .send("get", "/openapi.json", Request::default())
        .await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.media_type(), "application/json");
    assert_eq!(reply.json(), Some(Document::load().root));
}

/// The operation's path with each parameter replaced by its example.
fn example_path(document: &Document, operation: &Operation) -> String {
    let mut path = operation.path.to_owned();
    for (name, parameter) in path_parameters(document, operation) {
        let example = parameter["example"].as_str().unwrap_or_default();
        path = path.replace(&format!("{{{name}}}"), example);
    }
    path
}

fn example_body<'a>(operation: &Operation<'a>) -> Option<&'a Value> {
    let example = &operation.body["requestBody"]["content"]["application/json"]["example"];
    (!example.is_null()).then_some(example)
}

/// A 403 of the role check (it names the roles that would do).
fn refused_by_role(reply: &Reply) -> bool {
    let body = reply.json().unwrap_or_default();
    reply.status == 403 && body["error"]["details"]["requiredRoles"].is_array()
}

#[actix_web::test]
async fn every_operation_answers_as_documented() {
    let document = Document::load();
    let server = Server::start().await;
    let mut problems = Vec::new();

    for operation in document.operations() {
        let path = example_path(&document, &operation);
        let body = example_body(&operation);
        let request = |token| Request {
            token,
            body,
            ..Request::default()
        };
        let reply = server.send(operation.method, &path, request(None)).await;
        problems.extend(document.check_reply(&operation, &reply));
        if !operation.is_secured() {
            continue;
        }
        if reply.status != 401 {
            problems.push(format!(
                "{}: {} without a token",
                operation.name(),
                reply.status
            ));
        }
        for (role, token) in ROLE_TOKENS {
            let reply = server
                .send(operation.method, &path, request(Some(token)))
                .await;
            problems.extend(document.check_reply(&operation, &reply));
            let allowed = operation.roles().contains(&role);
            if allowed == refused_by_role(&reply) {
                let verdict = if allowed { "refused" } else { "allowed" };
                problems.push(format!(
                    "{}: {role} {verdict}, x-roles disagree",
                    operation.name()
                ));
            }
        }
    }

    assert!(problems.is_empty(), "{problems:#?}");
}

#[actix_web::test]
async fn undocumented_methods_of_documented_paths_are_not_routed() {
    let document = Document::load();
    let server = Server::start().await;
    let mut problems = Vec::new();

    let mut operations = document.operations();
    operations.dedup_by(|next, first| next.path == first.path); // one operation per path
    for operation in operations {
        let path = example_path(&document, &operation);
        let item = &document.root["paths"][operation.path];
        let undocumented = METHODS.iter().filter(|method| item.get(**method).is_none());
        for method in undocumented {
            let reply = server.send(method, &path, Request::default()).await;
            let text = String::from_utf8_lossy(&reply.body);
            let no_route = reply.status == 404
                && reply.media_type() == "application/json"
                && (reply.body.is_empty() || text.contains("no route for"));
            if !no_route {
                problems.push(format!(
                    "{} {path}: {} {text}",
                    method.to_uppercase(),
                    reply.status
                ));
            }
        }
    }

    assert!(
        problems.is_empty(),
        "routed but undocumented: {problems:#?}"
    );
}

// ---------------------------------------------------------------------------------------
// A walk through the flows, every reply checked against the document.

/// Sends requests, checks each reply against the operation its path and method match,
/// and remembers which operations answered with success.
struct Walk<'a> {
    document: &'a Document,
    server: &'a Server,
    problems: Vec<String>,
    succeeded: BTreeSet<String>,
}

impl<'a> Walk<'a> {
    /// Sends, checks, asserts the status, and returns the body's `data` (or the body).
    async fn call(&mut self, method: &str, path: &str, request: Request<'_>, status: u16) -> Value {
        let operation = self.operation(method, path);
        let reply = self.server.send(method, path, request).await;
        self.problems
            .extend(self.document.check_reply(&operation, &reply));
        let body = reply.json().unwrap_or_default();
        assert_eq!(reply.status, status, "{method} {path}: {body}");
        if (200..300).contains(&reply.status) {
            self.succeeded.insert(operation.name());
        }
        match body.get("data") {
            Some(data) => data.clone(),
            None => body,
        }
    }

    /// The documented operation whose template matches the path (literal segments first).
    fn operation(&self, method: &str, path: &str) -> Operation<'a> {
        let path = path.split('?').next().unwrap_or_default();
        let segments: Vec<&str> = path.split('/').collect();
        let score = |template: &str| {
            let parts: Vec<&str> = template.split('/').collect();
            let fits = parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(part, segment)| part == segment || part.starts_with('{'));
            fits.then(|| {
                parts
                    .iter()
                    .zip(&segments)
                    .filter(|(part, segment)| part == segment)
                    .count()
            })
        };
        self.document
            .operations()
            .into_iter()
            .filter(|operation| operation.method == method)
            .filter_map(|operation| Some((score(operation.path)?, operation)))
            .max_by_key(|(score, _)| *score)
            .map(|(_, operation)| operation)
            .unwrap_or_else(|| panic!("{method} {path} is not documented"))
    }

    async fn admin(
        &mut self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
        status: u16,
    ) -> Value {
        let request = Request {
            token: Some(token),
            body,
            ..Request::default()
        };
        self.call(method, path, request, status).await
    }

    async fn public(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        status: u16,
    ) -> Value {
        let request = Request {
            body,
            ..Request::default()
        };
        self.call(method, path, request, status).await
    }
}

fn activity_body(template: &str, title: &str) -> Value {
    let mut body = json!({
        "templateCode": template, "title": title, "storeId": "s1", "serviceId": "dance",
        "price": 990, "stock": 10, "perUserLimit": 2, "payTimeoutSeconds": 300,
        "startAt": "2020-01-01T00:00:00Z", "endAt": "2099-01-01T00:00:00Z",
    });
    if template != "FLASH_SALE" {
        body["rules"] = json!({"groupSize": 2});
    }
    body
}

/// Creates, submits, approves and publishes an activity of the template; returns its id.
async fn online_activity(walk: &mut Walk<'_>, template: &str) -> String {
    publish_activity(walk, &activity_body(template, "在线活动")).await
}

/// Creates an activity from `body`, submits, approves and publishes it; returns its id.
async fn publish_activity(walk: &mut Walk<'_>, body: &Value) -> String {
    let created = walk
        .admin(
            "post",
            "/admin/v1/activities",
            OPERATOR_TOKEN,
            Some(body),
            201,
        )
        .await;
    let id = created["id"].as_str().expect("an id").to_owned();
    let base = format!("/admin/v1/activities/{id}");
    walk.admin("post", &format!("{base}/submit"), OPERATOR_TOKEN, None, 200)
        .await;
    let remark = json!({"remark": "ok"});
    walk.admin(
        "post",
        &format!("{base}/approve"),
        APPROVER_TOKEN,
        Some(&remark),
        200,
    )
    .await;
    let published = walk
        .admin(
            "post",
            &format!("{base}/publish"),
            OPERATOR_TOKEN,
            None,
            200,
        )
        .await;
    assert_eq!(published["status"], "ONLINE");
    id
}

fn signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(PAYMENT_SECRET).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

async fn notify(walk: &mut Walk<'_>, order: &Value, amount: u64, status: u16) -> Value {
    let body = json!({"tradeNo": format!("T-{}", order["orderId"].as_str().unwrap_or("")),
                      "orderId": order["orderId"], "amount": amount,
                      "paidAt": "2026-11-23T10:00:00Z"});
    let raw = serde_json::to_vec(&body).expect("JSON");
    let request = Request {
        headers: vec![("X-Signature", signature(&raw))],
        raw_body: Some(raw),
        ..Request::default()
    };
    walk.call("post", "/api/v1/payments/notify", request, status)
        .await
}

async fn walk_flash_sale(walk: &mut Walk<'_>) -> String {
    let id = online_activity(walk, "FLASH_SALE").await;
    walk.public("get", "/api/v1/activities?storeId=s1", None, 200)
        .await;
    walk.public("get", &format!("/api/v1/activities/{id}"), None, 200)
        .await;
    let grab = format!("/api/v1/activities/{id}/orders");
    let first = json!({"userId": "u1", "requestId": "r1", "channelId": "c1"});
    let order = walk.public("post", &grab, Some(&first), 201).await;
    walk.public("post", &grab, Some(&first), 200).await;
    let order_path = format!("/api/v1/orders/{}", order["orderId"].as_str().unwrap_or(""));
    walk.public("get", &order_path, None, 200).await;
    let user = json!({"userId": "u1"});
    let paid = walk
        .public("post", &format!("{order_path}/pay"), Some(&user), 200)
        .await;
    assert_eq!(paid["status"], "PAID");
    walk.public("post", &format!("{order_path}/cancel"), Some(&user), 409)
        .await;

    let second = json!({"userId": "u2", "requestId": "r2"});
    let order = walk.public("post", &grab, Some(&second), 201).await;
    let order_path = format!("/api/v1/orders/{}", order["orderId"].as_str().unwrap_or(""));
    let cancelled = walk
        .public(
            "post",
            &format!("{order_path}/cancel"),
            Some(&json!({"userId": "u2"})),
            200,
        )
        .await;
    assert_eq!(cancelled["status"], "CANCELLED");

    let third = json!({"userId": "u3", "requestId": "r3"});
    let order = walk.public("post", &grab, Some(&third), 201).await;
    notify(walk, &order, 1, 400).await;
    let paid = notify(walk, &order, 990, 200).await;
    assert_eq!(paid["status"], "PAID");
    walk.public(
        "post",
        &grab,
        Some(&json!({"userId": "u1", "requestId": "r4", "quantity": 5})),
        409,
    )
    .await;
    id
}

async fn walk_records(walk: &mut Walk<'_>, id: &str) {
    let base = format!("/admin/v1/activities/{id}");
    let stats = walk
        .admin("get", &format!("{base}/stats"), APPROVER_TOKEN, None, 200)
        .await;
    assert_eq!(stats["orders"]["paid"], 2);
    let page = walk
        .admin(
            "get",
            &format!("{base}/orders?limit=2"),
            OPERATOR_TOKEN,
            None,
            200,
        )
        .await;
    let cursor = page["nextCursor"].as_str().expect("a next page").to_owned();
    walk.admin(
        "get",
        &format!("{base}/orders?cursor={cursor}&status=PAID"),
        ADMIN_TOKEN,
        None,
        200,
    )
    .await;
    let events = walk
        .admin(
            "get",
            &format!("/admin/v1/events?activityId={id}&limit=50"),
            ADMIN_TOKEN,
            None,
            200,
        )
        .await;
    assert!(
        events["events"]
            .as_array()
            .is_some_and(|events| events.len() > 5),
        "{events}"
    );
    walk.admin(
        "get",
        &format!("{base}/approval"),
        APPROVER_TOKEN,
        None,
        200,
    )
    .await;
    walk.admin(
        "get",
        "/admin/v1/scheduler/runs?limit=5",
        OPERATOR_TOKEN,
        None,
        200,
    )
    .await;
    walk.admin(
        "get",
        "/admin/v1/scheduler/alerts",
        OPERATOR_TOKEN,
        None,
        200,
    )
    .await;
}

async fn walk_gray(walk: &mut Walk<'_>, id: &str) {
    let gray = format!("/admin/v1/activities/{id}/gray");
    let config = json!({"enabled": true, "percentage": 0, "whitelistUserIds": ["u1"],
                        "rules": {"cities": {"notIn": ["nowhere"]}}});
    walk.admin("put", &gray, OPERATOR_TOKEN, Some(&config), 200)
        .await;
    walk.admin("get", &gray, APPROVER_TOKEN, None, 200).await;
    let outsider = json!({"userId": "u-out", "requestId": "r-out"});
    walk.public(
        "post",
        &format!("/api/v1/activities/{id}/orders"),
        Some(&outsider),
        403,
    )
    .await;
    let decisions = walk
        .admin(
            "get",
            &format!("{gray}/decisions?limit=10"),
            ADMIN_TOKEN,
            None,
            200,
        )
        .await;
    assert_eq!(decisions["counters"]["refused"], 1);
    let off = json!({"enabled": false, "percentage": 100});
    walk.admin("put", &gray, ADMIN_TOKEN, Some(&off), 200).await;
}

/// An activity's own flow limit set, shown, removed; the top-keys window reset.
async fn walk_flow(walk: &mut Walk<'_>, id: &str) {
    let limit = format!("/admin/v1/activities/{id}/flow-limit");
    let rate = json!({"perSecond": 1000, "burst": 2000});
    walk.admin("put", &limit, OPERATOR_TOKEN, Some(&rate), 200)
        .await;
    let flow = walk
        .admin("get", "/admin/v1/flow", APPROVER_TOKEN, None, 200)
        .await;
    assert_eq!(flow["activityLimits"][0]["activityId"], id);
    walk.admin(
        "delete",
        "/admin/v1/flow/top-keys",
        OPERATOR_TOKEN,
        None,
        200,
    )
    .await;
    walk.admin("delete", &limit, ADMIN_TOKEN, None, 200).await;
}

/// The eligibility rules refuse with 403 NOT_ELIGIBLE naming the rule: the city rule on
/// a grab, new users only on starting a group (`paid_user` paid before), mutual exclusion
/// on joining one.
async fn walk_eligibility(walk: &mut Walk<'_>, paid_user: &str) {
    let mut sale = activity_body("FLASH_SALE", "上海专享");
    sale["rules"] = json!({"cities": ["上海"], "mutuallyExclusive": true});
    let sale = publish_activity(walk, &sale).await;
    let grab = format!("/api/v1/activities/{sale}/orders");
    let no_city = json!({"userId": "e1", "requestId": "r1"});
    let refused = walk.public("post", &grab, Some(&no_city), 403).await;
    assert_eq!(refused["error"]["details"]["rule"], "cities", "{refused}");
    let in_city = json!({"userId": "e1", "requestId": "r1", "city": "上海"});
    walk.public("post", &grab, Some(&in_city), 201).await;

    let mut group_buy = activity_body("GROUP_BUY", "新人团");
    group_buy["rules"] = json!({"groupSize": 2, "newUserOnly": true, "mutuallyExclusive": true});
    let group_buy = publish_activity(walk, &group_buy).await;
    let start = format!("/api/v1/activities/{group_buy}/groups");
    let old_user = json!({"userId": paid_user, "requestId": "e-r1"});
    let refused = walk.public("post", &start, Some(&old_user), 403).await;
    assert_eq!(
        refused["error"]["details"]["rule"], "newUserOnly",
        "{refused}"
    );
    let leader = json!({"userId": "e2", "requestId": "e-r1", "city": "上海"});
    let started = walk.public("post", &start, Some(&leader), 201).await;
    let order = started["order"]["orderId"].as_str().unwrap_or_default();
    walk.public(
        "post",
        &format!("/api/v1/orders/{order}/pay"),
        Some(&json!({"userId": "e2"})),
        200,
    )
    .await;
    let group = started["group"]["groupId"].as_str().unwrap_or_default();
    let holder = json!({"userId": "e1", "requestId": "e-r2"});
    let refused = walk
        .public(
            "post",
            &format!("/api/v1/groups/{group}/members"),
            Some(&holder),
            403,
        )
        .await;
    let details = &refused["error"]["details"];
    assert_eq!(details["rule"], "mutuallyExclusive", "{refused}");
    assert_eq!(details["conflictingActivityId"], json!(sale));
}

async fn walk_group_buy(walk: &mut Walk<'_>) -> (String, String) {
    let id = online_activity(walk, "GROUP_BUY").await;
    let leader = json!({"userId": "g1", "requestId": "r1"});
    let started = walk
        .public(
            "post",
            &format!("/api/v1/activities/{id}/groups"),
            Some(&leader),
            201,
        )
        .await;
    let group_id = started["group"]["groupId"]
        .as_str()
        .expect("a group id")
        .to_owned();
    let pay = |order: &Value| {
        format!(
            "/api/v1/orders/{}/pay",
            order["orderId"].as_str().unwrap_or("")
        )
    };
    walk.public(
        "post",
        &pay(&started["order"]),
        Some(&json!({"userId": "g1"})),
        200,
    )
    .await;
    let open = walk
        .public(
            "get",
            &format!("/api/v1/activities/{id}/groups?status=ACTIVE"),
            None,
            200,
        )
        .await;
    assert_eq!(open.as_array().map(Vec::len), Some(1));
    let members = format!("/api/v1/groups/{group_id}/members");
    let joined = walk
        .public(
            "post",
            &members,
            Some(&json!({"userId": "g2", "requestId": "r2"})),
            201,
        )
        .await;
    walk.public(
        "post",
        &pay(&joined["order"]),
        Some(&json!({"userId": "g2"})),
        200,
    )
    .await;
    let group = walk
        .public("get", &format!("/api/v1/groups/{group_id}"), None, 200)
        .await;
    assert_eq!(group["status"], "SUCCESS");
    walk.public(
        "post",
        &members,
        Some(&json!({"userId": "g3", "requestId": "r3"})),
        409,
    )
    .await;
    (id, group_id)
}

async fn walk_approval(walk: &mut Walk<'_>) {
    let body = activity_body("COURSE_GROUP", "拼班");
    let created = walk
        .admin(
            "post",
            "/admin/v1/activities",
            OPERATOR_TOKEN,
            Some(&body),
            201,
        )
        .await;
    let base = format!(
        "/admin/v1/activities/{}",
        created["id"].as_str().unwrap_or("")
    );
    walk.admin("get", &base, APPROVER_TOKEN, None, 200).await;
    let edited = activity_body("COURSE_GROUP", "拼班（改）");
    walk.admin("put", &base, OPERATOR_TOKEN, Some(&edited), 200)
        .await;
    walk.admin("post", &format!("{base}/submit"), OPERATOR_TOKEN, None, 200)
        .await;
    let waiting = walk
        .admin(
            "get",
            "/admin/v1/approvals?status=PENDING&approver=me",
            APPROVER_TOKEN,
            None,
            200,
        )
        .await;
    assert_eq!(waiting.as_array().map(Vec::len), Some(1));
    walk.admin(
        "post",
        &format!("{base}/reject"),
        APPROVER_TOKEN,
        Some(&json!({})),
        400,
    )
    .await;
    let rejected = walk
        .admin(
            "post",
            &format!("{base}/reject"),
            APPROVER_TOKEN,
            Some(&json!({"remark": "no"})),
            200,
        )
        .await;
    assert_eq!(rejected["status"], "REJECTED");
    walk.admin("post", &format!("{base}/submit"), OPERATOR_TOKEN, None, 200)
        .await;
    let withdrawn = walk
        .admin(
            "post",
            &format!("{base}/withdraw"),
            OPERATOR_TOKEN,
            None,
            200,
        )
        .await;
    assert_eq!(withdrawn["status"], "DRAFT");
    walk.admin(
        "post",
        &format!("{base}/publish"),
        OPERATOR_TOKEN,
        None,
        409,
    )
    .await;
    walk.admin("get", "/admin/v1/activities", ADMIN_TOKEN, None, 200)
        .await;
    walk_versions(walk, &base).await;
}

/// The activity at `base` was created as 拼班 (version 1) and edited to 拼班（改）
/// (version 2); it is a draft.
async fn walk_versions(walk: &mut Walk<'_>, base: &str) {
    let versions = format!("{base}/versions");
    let history = walk
        .admin("get", &versions, APPROVER_TOKEN, None, 200)
        .await;
    assert_eq!(history["currentVersion"], 2, "{history}");
    assert_eq!(history["versions"][0]["changedFields"], json!(["title"]));
    let first = walk
        .admin("get", &format!("{versions}/1"), OPERATOR_TOKEN, None, 200)
        .await;
    assert_eq!(first["config"]["title"], "拼班", "{first}");
    walk.admin("get", &format!("{versions}/99"), ADMIN_TOKEN, None, 404)
        .await;

    let rollback = format!("{versions}/1/rollback");
    let remark = json!({"remark": "回到初版"});
    walk.admin("post", &rollback, APPROVER_TOKEN, Some(&remark), 403)
        .await;
    let rolled = walk
        .admin("post", &rollback, OPERATOR_TOKEN, Some(&remark), 200)
        .await;
    assert_eq!(rolled["title"], "拼班", "{rolled}");
    walk.admin("post", &rollback, OPERATOR_TOKEN, Some(&remark), 200)
        .await;
    walk.admin("post", &rollback, ADMIN_TOKEN, None, 409).await;
    walk.admin(
        "post",
        &format!("{versions}/99/rollback"),
        OPERATOR_TOKEN,
        None,
        404,
    )
    .await;
    let latest = walk
        .admin("get", &format!("{versions}/3"), ADMIN_TOKEN, None, 200)
        .await;
    assert_eq!(latest["action"], "ROLLBACK", "{latest}");
    assert_eq!(latest["rolledBackFrom"], 1, "{latest}");
    walk_bad_rules(walk, base).await;
}

/// Rules the template's schema refuses are named `rules.<field>`, on create and on edit.
async fn walk_bad_rules(walk: &mut Walk<'_>, base: &str) {
    let mut body = activity_body("GROUP_BUY", "坏规则");
    body["rules"] = json!({"groupSize": 3, "maxDiscount": 5, "cities": ["上海", " "]});
    let refused = walk
        .admin(
            "post",
            "/admin/v1/activities",
            OPERATOR_TOKEN,
            Some(&body),
            400,
        )
        .await;
    let fields = &refused["error"]["details"]["fields"];
    assert!(fields["rules.maxDiscount"].is_string(), "{refused}");
    assert!(fields["rules.cities[1]"].is_string(), "{refused}");
    let mut edit = activity_body("COURSE_GROUP", "拼班");
    edit["rules"] = json!({"groupSize": 1});
    let refused = walk
        .admin("put", base, OPERATOR_TOKEN, Some(&edit), 400)
        .await;
    assert!(
        refused["error"]["details"]["fields"]["rules.groupSize"].is_string(),
        "{refused}"
    );
}

/// The template list, each template's form, and an unknown code.
async fn walk_templates(walk: &mut Walk<'_>) {
    let templates = walk
        .admin("get", "/admin/v1/templates", APPROVER_TOKEN, None, 200)
        .await;
    let codes: Vec<&str> = templates
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|template| template["code"].as_str())
        .collect();
    assert_eq!(codes, ["FLASH_SALE", "GROUP_BUY", "COURSE_GROUP"]);
    for code in codes {
        let form = walk
            .admin(
                "get",
                &format!("/admin/v1/templates/{code}/form-schema"),
                OPERATOR_TOKEN,
                None,
                200,
            )
            .await;
        assert_eq!(form["schema"]["properties"]["templateCode"]["const"], code);
    }
    walk.admin(
        "get",
        "/admin/v1/templates/NO_SUCH_PLAY/form-schema",
        ADMIN_TOKEN,
        None,
        404,
    )
    .await;
}

/// The event catalog, one type of it, and an unknown type.
async fn walk_event_types(walk: &mut Walk<'_>) {
    let catalog = walk
        .admin("get", "/admin/v1/event-types", APPROVER_TOKEN, None, 200)
        .await;
    let listed = catalog["eventTypes"].as_array().map(Vec::len);
    assert_eq!(listed, Some(31), "{catalog}");
    let paid = walk
        .admin(
            "get",
            "/admin/v1/event-types/INSTANCE_PAID",
            OPERATOR_TOKEN,
            None,
            200,
        )
        .await;
    assert_eq!(paid["schema"]["properties"]["orderId"]["type"], "string");
    walk.admin(
        "get",
        "/admin/v1/event-types/NO_SUCH_EVENT",
        ADMIN_TOKEN,
        None,
        404,
    )
    .await;
}

async fn walk_pages_and_operations(walk: &mut Walk<'_>, activity: &str, group: &str) {
    for path in [
        format!("/h5/activities/{activity}"),
        format!("/h5/groups/{group}"),
        "/h5/assets/app.js".to_owned(),
        "/h5/assets/app.css".to_owned(),
    ] {
        walk.public("get", &path, None, 200).await;
        walk.public("head", &path, None, 200).await;
    }
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        walk.public("get", path, None, 200).await;
    }
}

/// The first frame of a websocket, checked against the operation's `x-websocket-frame`.
async fn walk_websocket(walk: &mut Walk<'_>, path: &str) {
    let url = format!("ws://127.0.0.1:{}{path}", walk.server.port);
    let (mut socket, response) = tokio_tungstenite::connect_async(url)
        .await
        .expect("the upgrade");
    let operation = walk.operation("get", path);
    let documented = &operation.body["responses"][response.status().as_u16().to_string()];
    let frame = socket
        .next()
        .await
        .expect("a first frame")
        .expect("a readable frame");
    let frame: Value = serde_json::from_str(frame.to_text().expect("a text frame")).expect("JSON");
    let schema = &documented["x-websocket-frame"]["schema"];
    assert!(
        !schema.is_null(),
        "{path}: the {} reply documents no frame",
        response.status()
    );
    let problems = walk.document.validate(schema, &frame);
    walk.problems.extend(
        problems
            .into_iter()
            .map(|problem| format!("{path} frame: {problem}")),
    );
    walk.succeeded.insert(operation.name());
}

async fn walk_a_sale(walk: &mut Walk<'_>) {
    walk_templates(walk).await;
    walk_event_types(walk).await;
    let endpoint = walk_webhook_endpoint(walk).await;
    let sale = walk_flash_sale(walk).await;
    walk_records(walk, &sale).await;
    walk_gray(walk, &sale).await;
    walk_flow(walk, &sale).await;
    walk_eligibility(walk, "u1").await;
    let (group_buy, group) = walk_group_buy(walk).await;
    walk_approval(walk).await;
    walk_websocket(walk, &format!("/ws/activities/{group_buy}")).await;
    walk_websocket(walk, &format!("/ws/groups/{group}")).await;
    walk_pages_and_operations(walk, &group_buy, &group).await;
    let unpublished = walk
        .admin(
            "post",
            &format!("/admin/v1/activities/{sale}/unpublish"),
            OPERATOR_TOKEN,
            None,
            200,
        )
        .await;
    assert_eq!(unpublished["status"], "OFFLINE");
    walk_backups(walk).await;
    let audit = walk
        .admin("get", "/admin/v1/audit?limit=100", ADMIN_TOKEN, None, 200)
        .await;
    assert!(
        audit["records"]
            .as_array()
            .is_some_and(|records| records.len() > 10),
        "{audit}"
    );
    walk_rollback_records(walk).await;
    walk_webhook_messages(walk, &endpoint).await;
    walk_blacklist(walk).await;
}

/// A blacklist entry listed, replaced, read and removed.
async fn walk_blacklist(walk: &mut Walk<'_>) {
    let base = "/admin/v1/blacklist";
    let body = json!({"kind": "USER", "value": "walk-bot", "reason": "the walk's bot"});
    let created = walk
        .admin("post", base, OPERATOR_TOKEN, Some(&body), 201)
        .await;
    let id = created["id"].as_str().expect("an entry id").to_owned();
    let again = json!({"kind": "USER", "value": "walk-bot", "reason": "still the walk's bot"});
    let replaced = walk
        .admin("post", base, OPERATOR_TOKEN, Some(&again), 200)
        .await;
    assert_eq!(replaced["id"], id.as_str());
    let listed = walk
        .admin("get", &format!("{base}?kind=USER"), ADMIN_TOKEN, None, 200)
        .await;
    assert_eq!(listed["entries"][0]["id"], id.as_str(), "{listed}");
    walk.admin("get", &format!("{base}/{id}"), ADMIN_TOKEN, None, 200)
        .await;
    walk.admin("delete", &format!("{base}/{id}"), ADMIN_TOKEN, None, 200)
        .await;
}

/// A webhook endpoint (created before the walk's events, so it receives them) at this
/// server's own address, where no receiver answers: each event is dead-lettered after its
/// one attempt. Listed, read, changed and its secret rotated; returns its id.
async fn walk_webhook_endpoint(walk: &mut Walk<'_>) -> String {
    let url = format!("{}/no-receiver-here", walk.server.address);
    let body = json!({"url": url, "description": "walk", "eventTypes": ["ACTIVITY_CREATED"]});
    let base = "/admin/v1/webhooks/endpoints";
    let created = walk
        .admin("post", base, ADMIN_TOKEN, Some(&body), 201)
        .await;
    assert!(created["secret"]
        .as_str()
        .is_some_and(|secret| secret.starts_with("whsec_")));
    let id = created["id"].as_str().expect("an endpoint id").to_owned();
    let listed = walk
        .admin("get", &format!("{base}?limit=10"), ADMIN_TOKEN, None, 200)
        .await;
    assert_eq!(listed["endpoints"][0]["id"], id.as_str(), "{listed}");
    walk.admin("get", &format!("{base}/{id}"), ADMIN_TOKEN, None, 200)
        .await;
    let change = json!({"description": "the walk's endpoint"});
    walk.admin(
        "patch",
        &format!("{base}/{id}"),
        ADMIN_TOKEN,
        Some(&change),
        200,
    )
    .await;
    let rotated = walk
        .admin(
            "post",
            &format!("{base}/{id}/rotate-secret"),
            ADMIN_TOKEN,
            None,
            200,
        )
        .await;
    assert_ne!(rotated["secret"], created["secret"]);
    id
}

/// The walk's endpoint's messages and dead letters, their redelivery, then its deletion.
async fn walk_webhook_messages(walk: &mut Walk<'_>, id: &str) {
    let base = format!("/admin/v1/webhooks/endpoints/{id}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let event = loop {
        let letters = walk
            .admin(
                "get",
                &format!("{base}/dead-letters"),
                ADMIN_TOKEN,
                None,
                200,
            )
            .await;
        if let Some(event) = letters["deadLetters"][0]["eventId"].as_str() {
            break event.to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no dead letter: {letters}"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let messages = walk
        .admin("get", &format!("{base}/messages"), ADMIN_TOKEN, None, 200)
        .await;
    assert!(messages["messages"]
        .as_array()
        .is_some_and(|list| !list.is_empty()));
    walk.admin(
        "get",
        &format!("{base}/messages/{event}"),
        ADMIN_TOKEN,
        None,
        200,
    )
    .await;
    let redeliver = format!("{base}/dead-letters/{event}/redeliver");
    walk.admin("post", &redeliver, ADMIN_TOKEN, None, 200).await;
    let since = json!({"since": "2026-01-01T00:00:00Z"});
    let bulk = format!("{base}/dead-letters/redeliver");
    walk.admin("post", &bulk, ADMIN_TOKEN, Some(&since), 200)
        .await;
    walk.admin("delete", &base, ADMIN_TOKEN, None, 200).await;
}

/// A backup on demand, written and verified, then the list naming it first; the audit
/// read after it checks its `backup.create` record against the document.
async fn walk_backups(walk: &mut Walk<'_>) {
    let backup = walk
        .admin("post", "/admin/v1/backups", ADMIN_TOKEN, None, 201)
        .await;
    assert_eq!(backup["verified"], true, "{backup}");
    assert!(
        backup["durableSeq"].as_u64().is_some_and(|seq| seq > 0),
        "{backup}"
    );
    let listed = walk
        .admin("get", "/admin/v1/backups", ADMIN_TOKEN, None, 200)
        .await;
    assert_eq!(listed["backups"][0]["name"], backup["name"], "{listed}");
}

/// The rollback of [`walk_versions`] in the event log and the audit log (its repeat was a
/// no-op: neither shows it).
async fn walk_rollback_records(walk: &mut Walk<'_>) {
    let events = walk
        .admin(
            "get",
            "/admin/v1/events?type=ACTIVITY_ROLLED_BACK",
            OPERATOR_TOKEN,
            None,
            200,
        )
        .await;
    assert_eq!(
        events["events"].as_array().map(Vec::len),
        Some(1),
        "{events}"
    );
    let audit = walk
        .admin(
            "get",
            "/admin/v1/audit?action=activity.rollback",
            ADMIN_TOKEN,
            None,
            200,
        )
        .await;
    assert_eq!(
        audit["records"].as_array().map(Vec::len),
        Some(1),
        "{audit}"
    );
}

#[actix_web::test]
async fn a_walk_through_the_flows_replies_as_documented() {
    let document = Document::load();
    let server = Server::start().await;
    let mut walk = Walk {
        document: &document,
        server: &server,
        problems: Vec::new(),
        succeeded: BTreeSet::new(),
    };

    walk_a_sale(&mut walk).await;

    assert!(walk.problems.is_empty(), "{:#?}", walk.problems);
    let unreached: Vec<String> = document
        .operations()
        .iter()
        .map(Operation::name)
        .filter(|name| !walk.succeeded.contains(name))
        .collect();
    assert!(
        unreached.is_empty(),
        "no step of the walk reaches a success reply of: {unreached:#?}"
    );
}
