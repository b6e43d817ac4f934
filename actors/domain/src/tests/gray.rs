//! Gray release: the pure decision (order, whitelists, rules, stable and monotonic
//! buckets, the share admitted) and its configuration through decide/apply and the journal.

use super::*;
use crate::gray::{self, bucket, set_of, GrayRules, SetRule, BASIS_POINTS_MAX};
use proptest::prelude::*;

fn enabled(basis_points: u32) -> GrayConfig {
    GrayConfig {
        enabled: true,
        percentage_basis_points: basis_points,
        ..GrayConfig::default()
    }
}

fn user(name: &str) -> GrayUser<'_> {
    GrayUser {
        user: name,
        ..GrayUser::default()
    }
}

fn decide(config: &GrayConfig, asker: &GrayUser) -> GrayDecision {
    gray::decide(config, ACTIVITY, asker)
}

fn verdict(admitted: bool, reason: GrayReason) -> GrayDecision {
    GrayDecision { admitted, reason }
}

fn rule(included: &[&str], excluded: &[&str]) -> SetRule {
    SetRule {
        included: set_of(included.iter().copied()),
        excluded: set_of(excluded.iter().copied()),
    }
}

#[test]
fn disabled_admits_everyone_even_at_zero_percent() {
    let config = GrayConfig {
        enabled: false,
        rules: GrayRules {
            cities: rule(&["sh"], &[]),
            ..GrayRules::default()
        },
        ..GrayConfig::default()
    };
    let decision = decide(&config, &user("anyone"));
    assert_eq!(decision, verdict(true, GrayReason::Disabled));
}

#[test]
fn the_user_whitelist_admits_at_zero_percent_and_before_the_rules() {
    let config = GrayConfig {
        whitelist_user_ids: set_of(["vip"]),
        rules: GrayRules {
            cities: rule(&["sh"], &[]),
            ..GrayRules::default()
        },
        ..enabled(0)
    };
    let decision = decide(&config, &user("vip"));
    assert_eq!(decision, verdict(true, GrayReason::UserWhitelist));
    let stranger = GrayUser {
        city: Some("sh"),
        ..user("stranger")
    };
    assert_eq!(
        decide(&config, &stranger),
        verdict(false, GrayReason::Bucket)
    );
}

#[test]
fn the_store_whitelist_admits_users_of_that_store_only() {
    let config = GrayConfig {
        whitelist_store_ids: set_of(["store-1"]),
        ..enabled(0)
    };
    let in_store = GrayUser {
        store: Some("store-1"),
        ..user("u1")
    };
    let other_store = GrayUser {
        store: Some("store-2"),
        ..user("u1")
    };
    assert_eq!(
        decide(&config, &in_store),
        verdict(true, GrayReason::StoreWhitelist)
    );
    assert_eq!(
        decide(&config, &other_store),
        verdict(false, GrayReason::Bucket)
    );
    assert_eq!(
        decide(&config, &user("u1")),
        verdict(false, GrayReason::Bucket)
    );
}

/// At 100 % every user who passes the rules is in: a refusal can only come from a rule.
fn with_rules(rules: GrayRules) -> GrayConfig {
    GrayConfig {
        rules,
        ..enabled(BASIS_POINTS_MAX)
    }
}

#[test]
fn city_rules_in_and_not_in() {
    let within = with_rules(GrayRules {
        cities: rule(&["sh", "bj"], &[]),
        ..GrayRules::default()
    });
    let outside = with_rules(GrayRules {
        cities: rule(&[], &["sz"]),
        ..GrayRules::default()
    });
    let city = |city: Option<&'static str>| GrayUser { city, ..user("u") };
    let passed = verdict(true, GrayReason::Bucket);
    let failed = verdict(false, GrayReason::CityRule);
    assert_eq!(decide(&within, &city(Some("sh"))), passed);
    assert_eq!(decide(&within, &city(Some("sz"))), failed);
    assert_eq!(decide(&within, &city(None)), failed, "no city fails `in`");
    assert_eq!(decide(&outside, &city(Some("sz"))), failed);
    assert_eq!(decide(&outside, &city(Some("sh"))), passed);
    assert_eq!(
        decide(&outside, &city(None)),
        passed,
        "no city passes `notIn`"
    );
}

#[test]
fn device_rules_in_and_not_in() {
    let within = with_rules(GrayRules {
        devices: rule(&["ios"], &[]),
        ..GrayRules::default()
    });
    let outside = with_rules(GrayRules {
        devices: rule(&[], &["android"]),
        ..GrayRules::default()
    });
    let device = |device: Option<&'static str>| GrayUser {
        device,
        ..user("u")
    };
    let passed = verdict(true, GrayReason::Bucket);
    let failed = verdict(false, GrayReason::DeviceRule);
    assert_eq!(decide(&within, &device(Some("ios"))), passed);
    assert_eq!(decide(&within, &device(Some("android"))), failed);
    assert_eq!(decide(&within, &device(None)), failed);
    assert_eq!(decide(&outside, &device(Some("android"))), failed);
    assert_eq!(decide(&outside, &device(Some("ios"))), passed);
}

#[test]
fn tag_rules_need_one_included_tag_and_no_excluded_tag() {
    let config = with_rules(GrayRules {
        tags: rule(&["vip", "new"], &["blocked"]),
        ..GrayRules::default()
    });
    let tagged = |tags: &[&str]| -> GrayDecision {
        let tags: Vec<String> = tags.iter().map(|tag| tag.to_string()).collect();
        let asker = GrayUser {
            tags: &tags,
            ..user("u")
        };
        decide(&config, &asker)
    };
    let failed = verdict(false, GrayReason::TagRule);
    assert_eq!(tagged(&["new", "x"]), verdict(true, GrayReason::Bucket));
    assert_eq!(tagged(&["x"]), failed);
    assert_eq!(tagged(&[]), failed);
    assert_eq!(tagged(&["vip", "blocked"]), failed);
}

#[test]
fn rules_apply_in_order_city_device_tags() {
    let config = with_rules(GrayRules {
        cities: rule(&["sh"], &[]),
        devices: rule(&["ios"], &[]),
        tags: rule(&["vip"], &[]),
    });
    let asker = GrayUser {
        city: Some("bj"),
        device: Some("android"),
        ..user("u")
    };
    assert_eq!(decide(&config, &asker).reason, GrayReason::CityRule);
}

#[test]
fn the_bucket_is_md5_first_eight_bytes_big_endian_modulo_ten_thousand() {
    // Computed independently: int.from_bytes(md5(b"7:u1").digest()[:8], "big") % 10000.
    assert_eq!(ACTIVITY, ActivityId(7));
    assert_eq!(bucket(ActivityId(7), "u1"), 3115);
    assert_eq!(bucket(ActivityId(42), "alice"), 4348);
    assert_eq!(
        bucket(ActivityId(10), "x"),
        132,
        "every digit of the id, zeros too"
    );
    assert_eq!(bucket(ActivityId(u64::MAX), "x"), 4938);
    assert!(decide(&enabled(3116), &user("u1")).admitted);
    assert!(!decide(&enabled(3115), &user("u1")).admitted);
}

#[test]
fn zero_percent_admits_nobody_and_one_hundred_everybody() {
    for index in 0..1_000 {
        let name = format!("user-{index}");
        assert!(!decide(&enabled(0), &user(&name)).admitted);
        assert!(decide(&enabled(BASIS_POINTS_MAX), &user(&name)).admitted);
    }
}

#[test]
fn the_share_admitted_is_within_one_point_of_the_setting() {
    const USERS: u32 = 100_000;
    for basis_points in [50, 1_000, 3_333, 5_000, 9_000] {
        let config = enabled(basis_points);
        let admitted = (0..USERS)
            .filter(|index| decide(&config, &user(&format!("user-{index}"))).admitted)
            .count() as f64;
        let share_percent = admitted * 100.0 / f64::from(USERS);
        let setting_percent = f64::from(basis_points) / 100.0;
        assert!(
            (share_percent - setting_percent).abs() <= 1.0,
            "{share_percent}% admitted at {setting_percent}%"
        );
    }
}

#[test]
fn validation_names_each_field_over_its_bound() {
    let too_many: Vec<String> = (0..=gray::WHITELIST_ENTRIES_MAX)
        .map(|index| format!("u{index}"))
        .collect();
    let config = GrayConfig {
        percentage_basis_points: BASIS_POINTS_MAX + 1,
        whitelist_user_ids: set_of(too_many),
        whitelist_store_ids: set_of([""]),
        rules: GrayRules {
            devices: rule(&[], &["d".repeat(gray::VALUE_LENGTH_MAX + 1).as_str()]),
            tags: SetRule {
                included: set_of((0..=gray::RULE_VALUES_MAX).map(|index| format!("t{index}"))),
                ..SetRule::default()
            },
            ..GrayRules::default()
        },
        ..enabled(0)
    };
    let fields: Vec<&str> = config.validate().iter().map(|error| error.field).collect();
    let expected = [
        "percentage",
        "whitelistUserIds",
        "whitelistStoreIds",
        "rules.devices",
        "rules.tags",
    ];
    assert_eq!(fields, expected);
    assert_eq!(enabled(BASIS_POINTS_MAX).validate(), vec![]);
}

#[test]
fn validation_refuses_controls_bidirectional_controls_and_blanks() {
    for text in ["u\0", "u\r\n", "\u{202E}u", "   "] {
        let config = GrayConfig {
            whitelist_user_ids: set_of([text]),
            whitelist_store_ids: set_of([text]),
            rules: GrayRules {
                cities: rule(&[text], &[]),
                devices: rule(&[], &[text]),
                tags: rule(&[text], &[]),
            },
            ..enabled(0)
        };
        let fields: Vec<&str> = config.validate().iter().map(|error| error.field).collect();
        let expected = [
            "whitelistUserIds",
            "whitelistStoreIds",
            "rules.cities",
            "rules.devices",
            "rules.tags",
        ];
        assert_eq!(fields, expected, "{text:?}");
    }
    let names = GrayConfig {
        whitelist_store_ids: set_of(["store 1"]),
        rules: GrayRules {
            cities: rule(&["New York"], &[]),
            ..GrayRules::default()
        },
        ..enabled(0)
    };
    let fields: Vec<&str> = names.validate().iter().map(|error| error.field).collect();
    assert_eq!(
        fields,
        ["whitelistStoreIds"],
        "spaces in a name, not in an id"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_decision_is_stable(name in "[a-z0-9]{1,16}", basis_points in 0..=BASIS_POINTS_MAX) {
        let config = enabled(basis_points);
        let first = decide(&config, &user(&name));
        let again = decide(&config.clone(), &user(&name.clone()));
        prop_assert_eq!(first, again);
    }

    #[test]
    fn raising_the_percentage_never_removes_a_user(
        name in "[a-z0-9]{1,16}",
        lower in 0..=BASIS_POINTS_MAX,
        raise in 0..=BASIS_POINTS_MAX,
    ) {
        let higher = lower.saturating_add(raise).min(BASIS_POINTS_MAX);
        if decide(&enabled(lower), &user(&name)).admitted {
            prop_assert!(decide(&enabled(higher), &user(&name)).admitted);
        }
    }
}

// Configuration through decide and apply.

fn configure(config: GrayConfig) -> Command {
    Command::ConfigureGray {
        config: std::sync::Arc::new(config),
        by: OPERATOR.to_string(),
    }
}

fn sample_config() -> GrayConfig {
    GrayConfig {
        whitelist_user_ids: set_of(["vip"]),
        whitelist_store_ids: set_of(["store-1"]),
        rules: GrayRules {
            cities: rule(&["sh"], &["sz"]),
            ..GrayRules::default()
        },
        ..enabled(1_250)
    }
}

#[test]
fn each_change_stores_the_config_with_the_next_version() {
    let mut state = draft(config(TemplateCode::FlashSale, 10, 1, 0));
    assert_eq!(state.gray.version, 0);
    assert!(!state.gray.enabled);
    let decision = ok(&mut state, configure(sample_config()), CREATED_AT);
    assert_eq!(decision.subject, Subject::Activity);
    assert_eq!(decision.events[0].type_name(), "GRAY_CONFIGURED");
    let expected = GrayConfig {
        version: 1,
        ..sample_config()
    };
    assert_eq!(*state.gray, expected);
    ok(&mut state, configure(enabled(0)), CREATED_AT + 1);
    assert_eq!(state.gray.version, 2);
    assert_eq!(state.gray.percentage_basis_points, 0);
}

#[test]
fn an_online_activity_can_change_its_gray_release_and_its_view_shows_it() {
    let mut state = flash_sale(10, 1);
    ok(&mut state, configure(sample_config()), START + 1);
    assert_eq!(state.gray.version, 1, "the state holds the new release");
    assert_eq!(
        state.public_status(),
        ActivityStatus::Online,
        "configuring gray leaves the phase alone"
    );
}

#[test]
fn an_invalid_config_is_refused_naming_the_field() {
    let mut state = flash_sale(10, 1);
    let refused = run(&mut state, configure(enabled(BASIS_POINTS_MAX + 1)), START);
    assert!(matches!(
        refused,
        Err(Rejection::Validation {
            field: "percentage",
            ..
        })
    ));
    assert_eq!(state.gray.version, 0);
}

#[test]
fn the_gray_release_survives_a_journal_replay_and_a_snapshot() {
    let mut journaled = Journaled::new(config(TemplateCode::FlashSale, 10, 1, 0));
    journaled.ok(configure(sample_config()), CREATED_AT);
    journaled.ok(configure(enabled(5_000)), CREATED_AT + 1);
    let recovered = journaled.recovered();
    assert_eq!(recovered, journaled.state);
    assert_eq!(recovered.gray.version, 2);
    let bytes = serde_json::to_vec(&journaled.state.image()).expect("encode the image");
    let direct = serde_json::to_vec(&journaled.state).expect("encode the state");
    assert_eq!(bytes, direct, "an image encodes like its state");
    let mut decoded: ActivityState = serde_json::from_slice(&bytes).expect("decode");
    decoded.rebuild_indexes();
    assert_eq!(decoded.gray, journaled.state.gray);
}
