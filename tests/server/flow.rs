//! Flow control in the real binary: a bad trusted proxy is a configuration error at
//! start that names the key, and the `[flow]` settings from the environment take effect
//! (the embedded defaults' per-user limit refuses a bot's burst with 429 and Retry-After).

use playcore_testkit::process::{client, read_log, Server, TestDir};
use serde_json::json;

#[test]
fn a_bad_trusted_proxy_refuses_to_start_naming_the_key() {
    let directory = TestDir::new("flow-bad-cidr");
    let log = directory.path().join("server.log");
    let env = [(
        "PLAYCORE__FLOW__TRUSTED_PROXIES",
        r#"["10.0.0.0/8", "10.0.0.0/33"]"#,
    )];
    match Server::try_start(&directory.data_dir(), &log, &env) {
        Ok(_) => panic!("the server started with a bad CIDR"),
        Err(status) => assert!(!status.success()),
    }
    let text = read_log(&log);
    assert!(text.contains("flow.trusted_proxies[1]"), "{text}");
}

#[test]
fn the_default_user_limit_refuses_a_bot_burst() {
    let directory = TestDir::new("flow-defaults");
    let log = directory.path().join("server.log");
    let env = [("PLAYCORE__FLOW__ENABLED", "true")];
    let server = Server::start_with_args_and_env(&directory.data_dir(), &log, &["--demo"], &env);
    let client = client();
    let list = client
        .get(server.url("/api/v1/activities"))
        .send()
        .expect("a reply");
    let list: serde_json::Value = list.json().expect("JSON");
    let id = list["data"][0]["id"]
        .as_str()
        .expect("a demo activity")
        .to_owned();
    let url = server.url(&format!("/api/v1/activities/{id}/orders"));
    let mut refused = None;
    for request in 0..100 {
        let body = json!({"userId": "bot", "requestId": format!("r{request}")});
        let reply = client.post(&url).json(&body).send().expect("a reply");
        if reply.status().as_u16() == 429 {
            refused = Some(reply);
            break;
        }
    }
    let refused = refused.expect("100 grabs at once from one user meet the default limit");
    let retry_after = refused
        .headers()
        .get("Retry-After")
        .expect("Retry-After")
        .clone();
    let body: serde_json::Value = refused.json().expect("JSON");
    assert_eq!(body["error"]["code"], "RATE_LIMITED", "{body}");
    assert_eq!(body["error"]["details"]["limit"], "user", "{body}");
    assert!(
        retry_after
            .to_str()
            .expect("ASCII")
            .parse::<u64>()
            .expect("seconds")
            >= 1
    );
}
