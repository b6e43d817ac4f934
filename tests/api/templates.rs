//! The template endpoints (`GET /admin/v1/templates`, `…/{code}/form-schema`) and the
//! validation of an activity's `rules` against its template's schema on create and edit.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixtures::{create_activity, error_fields, flash_sale_body, group_buy_body};
use playcore_testkit::app::{
    assert_error, json, spawn_app, success_data, TestApp, ADMIN_TOKEN, APPROVER_TOKEN,
    OPERATOR_TOKEN,
};

const CODES: [&str; 3] = ["FLASH_SALE", "GROUP_BUY", "COURSE_GROUP"];

async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let response = app.admin_get(path, token).await;
    let status = response.status();
    (status, json(response).await)
}

async fn send(app: &TestApp, method: &str, path: &str, body: &Value) -> (StatusCode, Value) {
    let response = match method {
        "POST" => app.admin_post(path, OPERATOR_TOKEN, body).await,
        _ => app.admin_put(path, OPERATOR_TOKEN, body).await,
    };
    let status = response.status();
    (status, json(response).await)
}

fn names(fields: &Value) -> Vec<&str> {
    fields
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|field| field["name"].as_str())
        .collect()
}

#[actix_web::test]
async fn every_admin_role_lists_the_templates_with_their_rule_fields() {
    let app = spawn_app().await;

    for token in [OPERATOR_TOKEN, APPROVER_TOKEN, ADMIN_TOKEN] {
        let (status, reply) = get(&app, "/admin/v1/templates", token).await;

        assert_eq!(status, StatusCode::OK, "{token}: {reply}");
        let list = success_data(&reply).as_array().expect("a list").clone();
        let codes: Vec<&str> = list.iter().filter_map(|t| t["code"].as_str()).collect();
        assert_eq!(codes, CODES);
        assert_eq!(list[0]["isGroup"], false);
        assert_eq!(list[0]["unitName"], "件");
        assert_eq!(
            names(&list[0]["ruleFields"]),
            ["newUserOnly", "cities", "mutuallyExclusive"]
        );
        for group in &list[1..] {
            assert_eq!(group["isGroup"], true);
            let fields = &group["ruleFields"];
            assert_eq!(names(fields)[..2], ["groupSize", "groupTtlSeconds"]);
            assert_eq!(fields[0]["required"], true);
            assert_eq!(fields[0]["minimum"], 2);
            assert_eq!(fields[0]["maximum"], 100);
        }
        assert_eq!(list[2]["name"], "拼班");
        assert_eq!(list[2]["ruleFields"][0]["title"], "开班人数");
    }
}

#[actix_web::test]
async fn the_form_schema_of_each_template_describes_its_whole_body() {
    let app = spawn_app().await;

    for code in CODES {
        let path = format!("/admin/v1/templates/{code}/form-schema");
        let (status, reply) = get(&app, &path, APPROVER_TOKEN).await;

        assert_eq!(status, StatusCode::OK, "{code}: {reply}");
        let data = success_data(&reply);
        assert_eq!(data["code"], code);
        let schema = &data["schema"];
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(schema["properties"]["templateCode"]["const"], code);
        assert_eq!(schema["properties"]["startAt"]["format"], "date-time");
        assert_eq!(schema["properties"]["price"]["title"], "活动价（分）");
        let rules = &schema["properties"]["rules"];
        assert_eq!(rules["additionalProperties"], false);
        let group = code != "FLASH_SALE";
        assert_eq!(
            rules["properties"]["groupSize"].is_object(),
            group,
            "{code}"
        );
        assert_eq!(rules["required"] == json!(["groupSize"]), group, "{code}");
        let order = data["uiSchema"]["ui:order"].as_array().expect("an order");
        assert_eq!(order.first(), Some(&json!("templateCode")));
        assert_eq!(order.last(), Some(&json!("rules")));
        assert_eq!(data["uiSchema"]["startAt"]["ui:widget"], "datetime");
    }
}

#[actix_web::test]
async fn an_unknown_template_has_no_form_schema() {
    let app = spawn_app().await;

    for code in ["NO_SUCH_PLAY", "flash_sale"] {
        let path = format!("/admin/v1/templates/{code}/form-schema");
        let (status, reply) = get(&app, &path, OPERATOR_TOKEN).await;

        assert_eq!(status, StatusCode::NOT_FOUND, "{reply}");
        assert_error(&reply, "NOT_FOUND");
    }
}

#[actix_web::test]
async fn the_template_endpoints_need_a_known_token() {
    let app = spawn_app().await;

    for path in [
        "/admin/v1/templates",
        "/admin/v1/templates/GROUP_BUY/form-schema",
    ] {
        let anonymous = app.get(path).await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_error(&json(anonymous).await, "UNAUTHORIZED");
        let (status, reply) = get(&app, path, "not-a-token").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_error(&reply, "UNAUTHORIZED");
    }
}

/// Rules a template's schema refuses, with the one field each must name.
fn bad_rules() -> Vec<(Value, &'static str)> {
    let mut unknown = group_buy_body(3);
    unknown["rules"]["maxDiscount"] = json!(5);
    let mut wrong_type = flash_sale_body(10, 2, 300);
    wrong_type["rules"] = json!({"newUserOnly": "yes"});
    let mut out_of_range = group_buy_body(3);
    out_of_range["rules"]["groupTtlSeconds"] = json!(59);
    let mut blank_city = flash_sale_body(10, 2, 300);
    blank_city["rules"] = json!({"cities": ["上海", " "]});
    let mut not_an_object = flash_sale_body(10, 2, 300);
    not_an_object["rules"] = json!("newUserOnly");
    let mut missing_size = group_buy_body(3);
    missing_size["rules"] = json!({"groupTtlSeconds": 600});
    let mut group_rule_on_flash_sale = flash_sale_body(10, 2, 300);
    group_rule_on_flash_sale["rules"] = json!({"groupTtlSeconds": 600});
    vec![
        (unknown, "rules.maxDiscount"),
        (wrong_type, "rules.newUserOnly"),
        (out_of_range, "rules.groupTtlSeconds"),
        (blank_city, "rules.cities[1]"),
        (not_an_object, "rules"),
        (missing_size, "rules.groupSize"),
        (group_rule_on_flash_sale, "rules.groupTtlSeconds"),
    ]
}

#[actix_web::test]
async fn a_create_with_bad_rules_is_refused_naming_the_rule() {
    let app = spawn_app().await;

    for (body, field) in bad_rules() {
        let (status, reply) = send(&app, "POST", "/admin/v1/activities", &body).await;

        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {reply}");
        assert_error(&reply, "VALIDATION_FAILED");
        assert_eq!(error_fields(&reply), vec![field], "{reply}");
    }
    let (_, list) = get(&app, "/admin/v1/activities", ADMIN_TOKEN).await;
    let activities = &success_data(&list)["activities"];
    assert_eq!(activities, &json!([]), "nothing was created");
}

#[actix_web::test]
async fn an_edit_with_bad_rules_is_refused_naming_the_rule_and_changes_nothing() {
    let app = spawn_app().await;
    let flash_id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    let group_id = create_activity(&app, &group_buy_body(3)).await;

    for (body, field) in bad_rules() {
        let id = if body["templateCode"] == "FLASH_SALE" {
            &flash_id
        } else {
            &group_id
        };
        let path = format!("/admin/v1/activities/{id}");
        let (status, reply) = send(&app, "PUT", &path, &body).await;

        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {reply}");
        assert_error(&reply, "VALIDATION_FAILED");
        assert_eq!(error_fields(&reply), vec![field], "{reply}");
    }
    for (id, rules) in [
        (
            &flash_id,
            json!({"groupSize": null, "groupTtlSeconds": null}),
        ),
        (&group_id, json!({"groupSize": 3, "groupTtlSeconds": 600})),
    ] {
        let (_, reply) = get(&app, &format!("/admin/v1/activities/{id}"), ADMIN_TOKEN).await;
        let activity = success_data(&reply);
        assert_eq!(activity["version"], 1, "{reply}");
        assert_eq!(activity["rules"]["groupSize"], rules["groupSize"]);
        assert_eq!(
            activity["rules"]["groupTtlSeconds"],
            rules["groupTtlSeconds"]
        );
    }
}

#[actix_web::test]
async fn an_edit_with_valid_rules_is_accepted() {
    let app = spawn_app().await;
    let id = create_activity(&app, &group_buy_body(3)).await;
    let mut edited = group_buy_body(5);
    edited["rules"]["cities"] = json!(["上海", "杭州"]);
    edited["rules"]["newUserOnly"] = json!(true);

    let path = format!("/admin/v1/activities/{id}");
    let (status, reply) = send(&app, "PUT", &path, &edited).await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    let (_, read) = get(&app, &path, OPERATOR_TOKEN).await;
    let rules = &success_data(&read)["rules"];
    assert_eq!(rules["groupSize"], 5);
    assert_eq!(rules["cities"], json!(["上海", "杭州"]));
    assert_eq!(rules["newUserOnly"], true);
}
