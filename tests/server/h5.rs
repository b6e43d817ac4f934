//! Black-box tests of the H5 routes against the real binary: `--demo` logs the pages' links,
//! the pages are HTML in Chinese with the right headers, their script and style sheet load,
//! and an id that is malformed, unknown or not public gets the 404 page (HTML, not the
//! JSON envelope: a person's browser asked for it). The page's behaviour in a browser is
//! tested end to end in `e2e/` (headless Chromium).

use playcore_testkit::process::{client, Api, Server, TestDir, OPERATOR_TOKEN};
use reqwest::blocking::Response;
use serde_json::json;

/// Starts `playcore serve --demo`: a flash sale (id 1) and a group buy (id 2), online.
fn demo_server(dir: &TestDir) -> Server {
    Server::start_with_args(&dir.data_dir(), &dir.path().join("server.log"), &["--demo"])
}

/// A page or asset: status, a header's value and the body.
struct Page {
    status: u16,
    content_type: String,
    cache_control: String,
    body: String,
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn fetch(server: &Server, path: &str) -> Page {
    let response = client()
        .get(server.url(path))
        .send()
        .unwrap_or_else(|error| panic!("GET {path}: {error}"));
    Page {
        status: response.status().as_u16(),
        content_type: header(&response, "content-type"),
        cache_control: header(&response, "cache-control"),
        body: response.text().expect("a text body"),
    }
}

/// The `?v=` of the asset `name` linked from `html`.
fn linked_asset(html: &str, name: &str) -> String {
    let start = html
        .find(&format!("/h5/assets/{name}?v="))
        .unwrap_or_else(|| panic!("the page links {name}:\n{html}"));
    let rest = &html[start..];
    rest[..rest.find('"').expect("a closing quote")].to_owned()
}

fn assert_html_page(page: &Page, status: u16, texts: &[&str]) {
    assert_eq!(page.status, status, "{}", page.body);
    assert_eq!(page.content_type, "text/html; charset=utf-8");
    assert_eq!(page.cache_control, "no-cache");
    assert!(
        page.body.contains(r#"<html lang="zh-CN">"#),
        "{}",
        page.body
    );
    for text in texts {
        assert!(
            page.body.contains(text),
            "the page shows {text}:\n{}",
            page.body
        );
    }
}

#[test]
fn the_demo_logs_the_h5_links_of_its_activities() {
    let dir = TestDir::new("h5-demo-links");
    let server = demo_server(&dir);

    let log = server.log();

    for id in [1, 2] {
        let link = format!("{}/h5/activities/{id}", server.base);
        assert!(
            log.contains(&format!("demo activity online: {link}")),
            "the log names {link}:\n{log}"
        );
        let page = fetch(&server, &format!("/h5/activities/{id}"));
        assert_html_page(&page, 200, &[&format!(r#"data-activity-id="{id}""#)]);
    }
}

#[test]
fn the_activity_page_is_chinese_html_that_loads_its_script_and_style() {
    let dir = TestDir::new("h5-activity");
    let server = demo_server(&dir);

    let page = fetch(&server, "/h5/activities/1?uid=u-1&c_id=wechat&u_id=u-2");

    assert_html_page(
        &page,
        200,
        &[
            "限时活动",
            "已抢",
            "剩余",
            "我的订单",
            "立即支付",
            "支付成功",
        ],
    );
    let script = fetch(&server, &linked_asset(&page.body, "app.js"));
    assert_eq!(script.status, 200);
    assert_eq!(script.content_type, "text/javascript; charset=utf-8");
    assert_eq!(script.cache_control, "public, max-age=31536000, immutable");
    for rule in [
        "未开始",
        "已结束",
        "已抢光",
        "/ws/activities/",
        "localStorage",
    ] {
        assert!(script.body.contains(rule), "the script holds {rule}");
    }
    let style = fetch(&server, &linked_asset(&page.body, "app.css"));
    assert_eq!(style.status, 200);
    assert_eq!(style.content_type, "text/css; charset=utf-8");
    assert!(style.body.contains(".action-bar"));
}

#[test]
fn the_group_page_serves_a_started_group() {
    let dir = TestDir::new("h5-group");
    let server = demo_server(&dir);
    let api = Api::new(&server);
    let started = api
        .post(
            "/api/v1/activities/2/groups",
            &json!({"userId": "leader-1", "requestId": "start-1"}),
        )
        .expect("start a group");
    assert_eq!(started.status, 201, "{started:?}");
    let group_id = started.data()["group"]["groupId"]
        .as_str()
        .expect("a group id")
        .to_owned();

    let page = fetch(&server, &format!("/h5/groups/{group_id}"));

    assert_html_page(
        &page,
        200,
        &[
            &format!(r#"data-group-id="{group_id}""#),
            "拼团进度",
            "邀请好友参团",
            "复制链接",
            "/h5/assets/app.js?v=",
        ],
    );
}

#[test]
fn unknown_malformed_and_unpublished_ids_get_the_404_page() {
    let dir = TestDir::new("h5-not-found");
    let server = demo_server(&dir);
    let api = Api::new(&server);
    let draft = api
        .admin_post(
            "/admin/v1/activities",
            OPERATOR_TOKEN,
            &json!({
                "templateCode": "FLASH_SALE", "title": "draft", "storeId": "store-1",
                "serviceId": "service-1", "price": 100, "stock": 5, "perUserLimit": 1,
                "startAt": "2030-01-01T00:00:00Z", "endAt": "2030-01-02T00:00:00Z",
            }),
        )
        .expect("create a draft");
    assert_eq!(draft.status, 201, "{draft:?}");
    let draft_id = draft.data()["id"].as_str().expect("an id").to_owned();

    for path in [
        "/h5/activities/999".to_owned(),
        "/h5/activities/abc".to_owned(),
        "/h5/activities/1%3Cscript%3E".to_owned(),
        format!("/h5/activities/{draft_id}"),
        "/h5/groups/grp-1-999".to_owned(),
        "/h5/groups/not-a-group".to_owned(),
    ] {
        let page = fetch(&server, &path);
        assert_html_page(&page, 404, &["活动不存在或已下线"]);
        assert!(
            !page.body.contains("<script"),
            "{path}: no script on the 404 page"
        );
    }
}

#[test]
fn pages_carry_security_headers_and_answer_head() {
    let dir = TestDir::new("h5-headers");
    let server = demo_server(&dir);

    let response = client()
        .head(server.url("/h5/activities/1"))
        .send()
        .expect("HEAD the page");

    assert_eq!(response.status().as_u16(), 200);
    let policy = header(&response, "content-security-policy");
    assert!(policy.contains("default-src 'self'"), "{policy}");
    assert!(policy.contains("connect-src 'self' ws: wss:"), "{policy}");
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert_eq!(response.text().expect("a body"), "");
}
