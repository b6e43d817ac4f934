//! The layering, the environment layer, validation and production's refusals, each
//! loaded from explicit sources in a temporary directory.

use std::path::{Path, PathBuf};

use super::*;

fn sources(base_dir: &Path, env_vars: &[(&str, &str)]) -> Sources {
    Sources {
        base_dir: base_dir.to_owned(),
        env_vars: env_vars
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("create dir");
    std::fs::write(path, text).expect("write config");
}

#[test]
fn embedded_defaults_follow_the_contract() {
    let settings = Settings::embedded_defaults().expect("defaults load");
    assert_eq!(settings.server.bind, "127.0.0.1:8080");
    assert_eq!(settings.server.body_limit_bytes, 65536);
    assert_eq!(settings.storage.data_dir, PathBuf::from("./data"));
    assert_eq!(settings.storage.durability, Durability::Fsync);
    assert!(settings.payment.mock);
    assert_eq!(settings.auth.tokens.len(), 4);
    settings.validate().expect("defaults are valid");
}

#[test]
fn scheduler_settings_are_layered_and_validated() {
    let directory = tempfile::tempdir().expect("tempdir");
    let env = [("PLAYCORE__SCHEDULER__HEALTH_INTERVAL_SECONDS", "1")];
    let settings = Settings::load_from(&sources(directory.path(), &env), &Overrides::default())
        .expect("loads");
    assert_eq!(settings.scheduler.health_interval_seconds, 1);
    let defaults = Settings::embedded_defaults().expect("defaults load");
    assert_eq!(defaults.scheduler.health_interval_seconds, 30);
    assert_eq!(defaults.scheduler.archive_after_seconds, 30 * 86_400);
    assert_eq!(defaults.scheduler.archive_interval_seconds, 600);
    let base = SchedulerSettings::default;
    let invalid = [
        (
            "health_interval_seconds",
            SchedulerSettings {
                health_interval_seconds: 0,
                ..base()
            },
        ),
        (
            "overdue_grace_ms",
            SchedulerSettings {
                overdue_grace_ms: 99,
                ..base()
            },
        ),
        (
            "mailbox_depth_percent_max",
            SchedulerSettings {
                mailbox_depth_percent_max: 101,
                ..base()
            },
        ),
        (
            "scan_items_per_activity_max",
            SchedulerSettings {
                scan_items_per_activity_max: 0,
                ..base()
            },
        ),
        (
            "archive_interval_seconds",
            SchedulerSettings {
                archive_interval_seconds: 0,
                ..base()
            },
        ),
        (
            "archive_after_seconds",
            SchedulerSettings {
                archive_after_seconds: 3_651 * 86_400,
                ..base()
            },
        ),
        (
            "archive_batch_orders_max",
            SchedulerSettings {
                archive_batch_orders_max: 10_001,
                ..base()
            },
        ),
        (
            "archive_orders_per_run_max",
            SchedulerSettings {
                archive_orders_per_run_max: 0,
                ..base()
            },
        ),
        (
            "archive_scan_orders_max",
            SchedulerSettings {
                archive_scan_orders_max: 0,
                ..base()
            },
        ),
    ];
    for (key, scheduler) in invalid {
        let mut settings = settings.clone();
        settings.scheduler = scheduler;
        let error = settings.validate().expect_err(key);
        assert!(error.to_string().contains(key), "{key}: {error}");
    }
}

#[test]
fn flow_settings_are_layered_and_trusted_proxies_validated() {
    let directory = tempfile::tempdir().expect("tempdir");
    let env = [
        (
            "PLAYCORE__FLOW__TRUSTED_PROXIES",
            r#"["10.0.0.0/8", "192.168.1.7"]"#,
        ),
        ("PLAYCORE__FLOW__TRADING__USER__BURST", "5"),
    ];
    let settings = Settings::load_from(&sources(directory.path(), &env), &Overrides::default())
        .expect("loads");
    assert_eq!(settings.flow.trusted_networks().expect("CIDRs").len(), 2);
    assert_eq!(settings.flow.trading.user.burst, 5);
    assert_eq!(
        settings.flow.trading.user.per_second, 10,
        "the rest of the table stays"
    );
    let defaults = Settings::embedded_defaults().expect("defaults load");
    assert!(defaults.flow.enabled);
    assert!(
        !defaults.flow.trading.ip.is_on(),
        "one address may be many humans"
    );
    for (index, bad) in [(0, "10.0.0.0/33"), (0, "not-an-address")] {
        let mut settings = settings.clone();
        settings.flow.trusted_proxies = vec![bad.to_owned()];
        let error = settings.validate().expect_err(bad);
        let key = format!("flow.trusted_proxies[{index}]");
        assert!(error.to_string().contains(&key), "{bad}: {error}");
    }
    let mut settings = settings.clone();
    settings.flow.trading_in_flight_max = 0;
    let error = settings.validate().expect_err("0 in flight");
    assert!(
        error.to_string().contains("flow.trading_in_flight_max"),
        "{error}"
    );
}

#[test]
fn event_retention_is_layered_and_validated() {
    let directory = tempfile::tempdir().expect("tempdir");
    let env = [("PLAYCORE__EVENTS__RETENTION_DAYS", "7")];
    let settings = Settings::load_from(&sources(directory.path(), &env), &Overrides::default())
        .expect("loads");
    assert_eq!(settings.events.retention_days, 7);
    let defaults = Settings::embedded_defaults().expect("defaults load");
    assert_eq!(defaults.events.retention_days, 30);
    assert_eq!(defaults.events.bytes_max, 10 * 1024 * 1024 * 1024);
    for (key, retention_days, bytes_max) in [
        ("events.retention_days", 0, 1 << 30),
        ("events.retention_days", 3651, 1 << 30),
        ("events.bytes_max", 30, 1000),
    ] {
        let mut settings = settings.clone();
        settings.events.retention_days = retention_days;
        settings.events.bytes_max = bytes_max;
        let error = settings.validate().expect_err(key);
        assert!(error.to_string().contains(key), "{key}: {error}");
    }
}

#[test]
fn runs_on_embedded_defaults_from_an_empty_directory() {
    let directory = tempfile::tempdir().expect("tempdir");
    let settings = Settings::load_from(&sources(directory.path(), &[]), &Overrides::default())
        .expect("loads without any file");
    assert_eq!(settings.layers, vec!["embedded defaults"]);
}

#[test]
fn layers_override_in_order() {
    let directory = tempfile::tempdir().expect("tempdir");
    let base = directory.path();
    write(
        &base.join("config/staging.toml"),
        "[server]\nworkers = 2\nbody_limit_bytes = 1000\nbind = \"0.0.0.0:1\"\n\
         [actors]\ntimer_tick_ms = 20\nmailbox_capacity = 20\n[ws]\npush_interval_ms = 20\n",
    );
    write(
        &base.join("extra.toml"),
        "[server]\nbody_limit_bytes = 2000\nbind = \"0.0.0.0:2\"\n\
         [actors]\ntimer_tick_ms = 30\nmailbox_capacity = 30\n",
    );
    let env = [
        ("PLAYCORE_ENV", "staging"),
        ("PLAYCORE__ACTORS__TIMER_TICK_MS", "40"),
        ("PLAYCORE__server__bind", "0.0.0.0:3"),
        ("PLAYCORE__STORAGE__DURABILITY", "relaxed"),
        ("UNRELATED", "ignored"),
    ];
    let overrides = Overrides {
        config_file: Some(PathBuf::from("extra.toml")),
        bind: Some("127.0.0.1:0".to_owned()),
        data_dir: None,
        demo: true,
    };
    let settings = Settings::load_from(&sources(base, &env), &overrides).expect("loads");
    assert_eq!(settings.server.workers, 2, "env file over defaults");
    assert_eq!(settings.ws.push_interval_ms, 20, "env file over defaults");
    assert_eq!(
        settings.server.body_limit_bytes, 2000,
        "--config over env file"
    );
    assert_eq!(
        settings.actors.mailbox_capacity, 30,
        "--config over env file"
    );
    assert_eq!(settings.actors.timer_tick_ms, 40, "env var over --config");
    assert_eq!(settings.storage.durability, Durability::Relaxed, "env var");
    assert_eq!(settings.server.bind, "127.0.0.1:0", "flag over env var");
    assert_eq!(settings.environment.as_deref(), Some("staging"));
    assert!(settings.demo);
}

#[test]
fn a_local_default_file_is_read_over_the_embedded_one() {
    let directory = tempfile::tempdir().expect("tempdir");
    write(
        &directory.path().join("config/default.toml"),
        "[ws]\npush_interval_ms = 7\n",
    );
    let settings =
        Settings::load_from(&sources(directory.path(), &[]), &Overrides::default()).expect("loads");
    assert_eq!(settings.ws.push_interval_ms, 7);
    assert_eq!(
        settings.server.bind, "127.0.0.1:8080",
        "the rest stays embedded"
    );
}

#[test]
fn a_missing_environment_file_is_an_error() {
    let directory = tempfile::tempdir().expect("tempdir");
    let env = [("PLAYCORE_ENV", "nowhere")];
    let error = Settings::load_from(&sources(directory.path(), &env), &Overrides::default())
        .expect_err("missing file");
    assert!(error.to_string().contains("nowhere.toml"), "{error}");
}

#[test]
fn env_strings_stay_strings_and_arrays_parse() {
    let directory = tempfile::tempdir().expect("tempdir");
    let env = [
        ("PLAYCORE__PAYMENT__SECRET", "12345"),
        (
            "PLAYCORE__AUTH__TOKENS",
            r#"[{token = "t-1", name = "ops", roles = ["operator", "approver"]}]"#,
        ),
    ];
    let settings = Settings::load_from(&sources(directory.path(), &env), &Overrides::default())
        .expect("loads");
    assert_eq!(settings.payment.secret.expose(), "12345");
    assert_eq!(settings.auth.tokens.len(), 1);
    assert_eq!(
        settings.auth.tokens[0].roles,
        vec![Role::Operator, Role::Approver]
    );
}

#[test]
fn bad_values_name_their_key() {
    let directory = tempfile::tempdir().expect("tempdir");
    let load = |env: &[(&str, &str)]| {
        Settings::load_from(&sources(directory.path(), env), &Overrides::default())
            .expect_err("invalid")
            .to_string()
    };
    let durability = load(&[("PLAYCORE__STORAGE__DURABILITY", "sometimes")]);
    assert!(durability.contains("storage.durability"), "{durability}");
    assert!(durability.contains("fsync"), "{durability}");
    let policy = load(&[("PLAYCORE__SERVER__THREAD_POLICY", "realtime")]);
    assert!(policy.contains("server.thread_policy"), "{policy}");
    assert!(policy.contains("batch"), "{policy}");
    let zero = load(&[("PLAYCORE__ACTORS__MAILBOX_CAPACITY", "0")]);
    assert!(
        zero.contains("actors.mailbox_capacity must be greater than 0"),
        "{zero}"
    );
    let typo = load(&[("PLAYCORE__SERVER__WORKRES", "2")]);
    assert!(typo.contains("workres"), "{typo}");
    let not_a_number = load(&[("PLAYCORE__SERVER__WORKERS", "many")]);
    assert!(
        not_a_number.contains("PLAYCORE__SERVER__WORKERS"),
        "{not_a_number}"
    );
}

#[test]
fn websocket_bounds_are_checked() {
    let directory = tempfile::tempdir().expect("tempdir");
    let load = |env: &[(&str, &str)]| {
        Settings::load_from(&sources(directory.path(), env), &Overrides::default())
            .expect_err("invalid")
            .to_string()
    };
    let silent = load(&[("PLAYCORE__WS__CLIENT_TIMEOUT_MS", "10000")]);
    assert!(silent.contains("ws.client_timeout_ms"), "{silent}");
    let slow = load(&[("PLAYCORE__WS__SLOW_CLIENT_TIMEOUT_MS", "100")]);
    assert!(slow.contains("ws.slow_client_timeout_ms"), "{slow}");
    let none = load(&[("PLAYCORE__WS__MAX_CONNECTIONS", "0")]);
    assert!(
        none.contains("ws.max_connections must be greater than 0"),
        "{none}"
    );
    let defaults = Settings::embedded_defaults().expect("defaults load");
    assert_eq!(defaults.ws.max_connections, 20_000);
    assert_eq!(defaults.ws.heartbeat_interval_ms, 10_000);
}

fn production_error(extra_env: &[(&str, &str)]) -> String {
    let directory = tempfile::tempdir().expect("tempdir");
    let production = include_str!("../../config/production.toml");
    write(&directory.path().join("config/production.toml"), production);
    let mut env = vec![("PLAYCORE_ENV", "production")];
    env.extend_from_slice(extra_env);
    match Settings::load_from(&sources(directory.path(), &env), &Overrides::default()) {
        Ok(_) => String::new(),
        Err(error) => error.to_string(),
    }
}

#[test]
fn production_refuses_to_start_without_real_secrets() {
    let real_token = r#"[{token = "a-long-random-token", name = "ops", roles = ["admin"]}]"#;
    let dev_token = r#"[{token = "dev-operator", name = "ops", roles = ["admin"]}]"#;
    assert!(production_error(&[]).contains("no auth tokens configured"));
    let with_dev_token = production_error(&[("PLAYCORE__AUTH__TOKENS", dev_token)]);
    assert!(
        with_dev_token.contains("development tokens"),
        "{with_dev_token}"
    );
    let with_dev_secret = production_error(&[("PLAYCORE__AUTH__TOKENS", real_token)]);
    assert!(
        with_dev_secret.contains("payment secret"),
        "{with_dev_secret}"
    );
    let ready = production_error(&[
        ("PLAYCORE__AUTH__TOKENS", real_token),
        ("PLAYCORE__PAYMENT__SECRET", "a-real-secret"),
    ]);
    assert_eq!(ready, "", "real secrets start");
    let with_fault = production_error(&[
        ("PLAYCORE__AUTH__TOKENS", real_token),
        ("PLAYCORE__PAYMENT__SECRET", "a-real-secret"),
        ("PLAYCORE__STORAGE__FAULT_FAILING_SYNC_NUMBER", "10"),
    ]);
    assert!(
        with_fault.contains("storage.fault_failing_sync_number"),
        "{with_fault}"
    );
}

#[test]
fn the_free_space_reserve_is_checked() {
    let defaults = Settings::embedded_defaults().expect("defaults load");
    assert_eq!(defaults.storage.free_space_reserve_bytes, 256 * 1024 * 1024);
    assert_eq!(defaults.storage.free_space_reserve_percent, 5);
    assert_eq!(defaults.storage.fault_failing_sync_number, 0);
    let directory = tempfile::tempdir().expect("tempdir");
    let env = [("PLAYCORE__STORAGE__FREE_SPACE_RESERVE_PERCENT", "51")];
    let error = Settings::load_from(&sources(directory.path(), &env), &Overrides::default())
        .expect_err("invalid")
        .to_string();
    assert!(
        error.contains("storage.free_space_reserve_percent must be 0..=50"),
        "{error}"
    );
}

#[test]
fn debug_output_redacts_secrets() {
    let directory = tempfile::tempdir().expect("tempdir");
    let env = [
        ("PLAYCORE__PAYMENT__SECRET", "very-secret-key"),
        (
            "PLAYCORE__AUTH__TOKENS",
            r#"[{token = "tok-123", name = "ops", roles = ["admin"]}]"#,
        ),
    ];
    let settings = Settings::load_from(&sources(directory.path(), &env), &Overrides::default())
        .expect("loads");
    let debug = format!("{settings:?}");
    assert!(
        !debug.contains("very-secret-key") && !debug.contains("tok-123"),
        "{debug}"
    );
    assert!(debug.contains("redacted"));
}

fn load_error(base: &Path, env: &[(&str, &str)], overrides: &Overrides) -> String {
    Settings::load_from(&sources(base, env), overrides)
        .expect_err("invalid")
        .to_string()
}

fn with_config_file(name: &str) -> Overrides {
    Overrides {
        config_file: Some(PathBuf::from(name)),
        ..Overrides::default()
    }
}

#[test]
fn each_layer_is_named_in_the_startup_log() {
    let directory = tempfile::tempdir().expect("tempdir");
    let base = directory.path();
    write(
        &base.join("config/default.toml"),
        "[ws]\npush_interval_ms = 7\n",
    );
    write(&base.join("config/staging.toml"), "[server]\nworkers = 2\n");
    write(&base.join("extra.toml"), "[server]\nworkers = 3\n");
    let env = [
        ("PLAYCORE_ENV", "staging"),
        ("PLAYCORE__SERVER__WORKERS", "4"),
        ("PLAYCORE__WS__PUSH_INTERVAL_MS", "8"),
    ];
    let overrides = Overrides {
        data_dir: Some(PathBuf::from("/tmp/elsewhere")),
        ..with_config_file("extra.toml")
    };
    let settings = Settings::load_from(&sources(base, &env), &overrides).expect("loads");
    let file = |name: &str| base.join(name).display().to_string();
    assert_eq!(
        settings.layers,
        vec![
            "embedded defaults".to_owned(),
            file("config/default.toml"),
            file("config/staging.toml"),
            file("extra.toml"),
            "2 PLAYCORE__ environment variable(s)".to_owned(),
            "command-line flags".to_owned(),
        ]
    );
    assert_eq!(settings.server.workers, 4);
    assert_eq!(settings.storage.data_dir, PathBuf::from("/tmp/elsewhere"));
}

#[test]
fn an_unknown_key_names_the_variable_that_gave_it() {
    let directory = tempfile::tempdir().expect("tempdir");
    let error = load_error(
        directory.path(),
        &[("PLAYCORE__SERVER__WORKRES", "2")],
        &Overrides::default(),
    );
    assert!(error.contains("`server.workres`"), "{error}");
    assert!(error.contains("PLAYCORE__SERVER__WORKRES"), "{error}");
    let token = r#"[{token = "t-1", name = "ops", roles = ["admin"], rol = 1}]"#;
    let nested = load_error(
        directory.path(),
        &[("PLAYCORE__AUTH__TOKENS", token)],
        &Overrides::default(),
    );
    assert!(nested.contains("`auth.tokens[0].rol`"), "{nested}");
    assert!(nested.contains("PLAYCORE__AUTH__TOKENS"), "{nested}");
    let section = load_error(
        directory.path(),
        &[("PLAYCORE__SERVR__WORKERS", "2")],
        &Overrides::default(),
    );
    assert!(section.contains("`servr`"), "{section}");
    assert!(section.contains("PLAYCORE__SERVR__WORKERS"), "{section}");
}

#[test]
fn an_unknown_key_names_the_file_that_gave_it() {
    let directory = tempfile::tempdir().expect("tempdir");
    let base = directory.path();
    write(&base.join("config/staging.toml"), "[server]\nworkers = 2\n");
    write(&base.join("extra.toml"), "[storage]\ndata_dri = \"/x\"\n");
    let env = [("PLAYCORE_ENV", "staging")];
    let error = load_error(base, &env, &with_config_file("extra.toml"));
    assert!(error.contains("`storage.data_dri`"), "{error}");
    assert!(
        error.contains(&base.join("extra.toml").display().to_string()),
        "{error}"
    );
    assert!(!error.contains("staging.toml"), "{error}");
}

#[test]
fn a_bad_value_names_the_layer_that_gave_it() {
    let directory = tempfile::tempdir().expect("tempdir");
    let base = directory.path();
    write(
        &base.join("extra.toml"),
        "[storage]\ndurability = \"sometimes\"\n",
    );
    let error = load_error(base, &[], &with_config_file("extra.toml"));
    assert!(error.contains("`storage.durability`"), "{error}");
    assert!(error.contains("extra.toml"), "{error}");
    let from_env = load_error(
        base,
        &[("PLAYCORE__SERVER__WORKERS", "-1")],
        &Overrides::default(),
    );
    assert!(from_env.contains("`server.workers`"), "{from_env}");
    assert!(from_env.contains("PLAYCORE__SERVER__WORKERS"), "{from_env}");
    write(&base.join("broken.toml"), "[server\n");
    let syntax = load_error(base, &[], &with_config_file("broken.toml"));
    assert!(
        syntax.contains("broken.toml") && syntax.contains("not valid TOML"),
        "{syntax}"
    );
    let missing = load_error(base, &[], &with_config_file("absent.toml"));
    assert!(missing.contains("cannot read config file"), "{missing}");
}

#[test]
fn env_values_set_arrays_and_refuse_to_descend_into_values() {
    let directory = tempfile::tempdir().expect("tempdir");
    let not_a_section = load_error(
        directory.path(),
        &[("PLAYCORE__SERVER__BIND__PORT", "1")],
        &Overrides::default(),
    );
    assert!(
        not_a_section.contains("PLAYCORE__SERVER__BIND__PORT")
            && not_a_section.contains("`bind` is not a section"),
        "{not_a_section}"
    );
    let empty = load_error(
        directory.path(),
        &[("PLAYCORE__SERVER____WORKERS", "1")],
        &Overrides::default(),
    );
    assert!(empty.contains("expected PLAYCORE__SECTION__KEY"), "{empty}");
    let env = [
        ("PLAYCORE__AUTH__TOKENS", "[]"),
        ("PLAYCORE__SERVER__BIND", "7"),
    ];
    let settings = Settings::load_from(&sources(directory.path(), &env), &Overrides::default())
        .expect("loads");
    assert!(settings.auth.tokens.is_empty(), "an array replaces");
    assert_eq!(settings.server.bind, "7", "a string stays a string");
}

#[test]
fn errors_never_quote_a_secret() {
    let directory = tempfile::tempdir().expect("tempdir");
    let base = directory.path();
    let bare_token = load_error(
        base,
        &[("PLAYCORE__AUTH__TOKENS", "tok-123")],
        &Overrides::default(),
    );
    assert!(
        bare_token.contains("PLAYCORE__AUTH__TOKENS"),
        "{bare_token}"
    );
    assert!(!bare_token.contains("tok-123"), "{bare_token}");
    let quoted_token = load_error(
        base,
        &[("PLAYCORE__AUTH__TOKENS", "\"tok-456\"")],
        &Overrides::default(),
    );
    assert!(quoted_token.contains("`auth.tokens`"), "{quoted_token}");
    assert!(!quoted_token.contains("tok-456"), "{quoted_token}");
    write(&base.join("extra.toml"), "[payment]\nsecret = 1.25\n");
    let float_secret = load_error(base, &[], &with_config_file("extra.toml"));
    assert!(float_secret.contains("`payment.secret`"), "{float_secret}");
    assert!(!float_secret.contains("1.25"), "{float_secret}");
}

#[test]
fn cors_origins_must_be_bare_origins() {
    let mut settings = Settings::embedded_defaults().expect("defaults load");
    assert!(settings.server.cors_allowed_origins.is_empty());
    assert!(!settings.server.served_over_tls);
    settings.server.cors_allowed_origins = vec![
        "https://console.example.com".to_owned(),
        "http://127.0.0.1:3000".to_owned(),
    ];
    settings.validate().expect("bare origins are valid");
    for bad in [
        "https://console.example.com/admin",
        "*",
        "console.example.com",
        "ftp://console.example.com",
        "https://console.example.com:0",
    ] {
        settings.server.cors_allowed_origins = vec![bad.to_owned()];
        let error = settings.validate().expect_err(bad).to_string();
        assert!(
            error.contains("server.cors_allowed_origins"),
            "{bad}: {error}"
        );
    }
}
