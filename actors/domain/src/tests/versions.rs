//! Configuration versions: created at ACTIVITY_CREATED, one more per edit and rollback,
//! bounded, rebuilt by replay and kept by snapshots; rollback under the rules of an edit.

use super::*;
use crate::versions::VERSIONS_KEPT_MAX;

const OTHER_OPERATOR: &str = "op-2";

fn flash_config() -> ActivityConfig {
    config(TemplateCode::FlashSale, 10, 2, 0)
}

fn titled(title: &str) -> ActivityConfig {
    let mut edited = flash_config();
    edited.title = title.to_string();
    edited
}

fn rollback(to_version: u64, by: &str, remark: &str) -> Command {
    Command::Rollback {
        to_version,
        by: by.to_string(),
        remark: remark.to_string(),
    }
}

fn numbers(state: &ActivityState) -> Vec<u64> {
    state
        .versions
        .newest_first()
        .map(|version| version.number)
        .collect()
}

/// What recovery makes of a snapshot: encoded, decoded, indexes rebuilt; the image must
/// encode like the state. Encoded as JSON, a pure codec; playcore-actors'
/// `tests/domain_codec.rs` checks the storage codec.
fn snapshot_round_trip(state: &ActivityState) -> ActivityState {
    let bytes = serde_json::to_vec(&state.image()).expect("encode the image");
    let direct = serde_json::to_vec(state).expect("encode the state");
    assert_eq!(bytes, direct, "an image encodes like its state");
    let mut decoded: ActivityState = serde_json::from_slice(&bytes).expect("decode");
    decoded.rebuild_indexes();
    decoded
}

#[test]
fn creation_is_version_one() {
    let state = draft(flash_config());
    let first = state.versions.current().expect("version 1");
    assert_eq!(first.number, 1);
    assert_eq!(first.action, VersionAction::Create);
    assert_eq!((first.by.as_str(), first.at_ms), (OPERATOR, CREATED_AT));
    assert_eq!(first.rolled_back_from, None);
    assert_eq!(*first.config, flash_config());
    assert_eq!(first.config_hash, config_hash(&flash_config()));
    assert_eq!(state.versions.changed_fields(1), Some(vec![]));
}

#[test]
fn versions_grow_on_every_edit_and_rollback() {
    let mut state = draft(flash_config());
    let mut edited = titled("renamed");
    edited.stock_total = 12;
    ok(&mut state, update(edited.clone()), 2_000);
    let decision = ok(&mut state, rollback(1, OTHER_OPERATOR, "undo"), 3_000);

    assert_eq!(types(&decision), ["ACTIVITY_ROLLED_BACK"]);
    assert_eq!(numbers(&state), [3, 2, 1]);
    let second = state.versions.get(2).expect("version 2");
    assert_eq!(second.action, VersionAction::Update);
    assert_eq!((second.by.as_str(), second.at_ms), (OPERATOR, 2_000));
    assert_eq!(*second.config, edited);
    let third = state.versions.current().expect("version 3");
    assert_eq!(third.action, VersionAction::Rollback);
    assert_eq!(third.rolled_back_from, Some(1));
    assert_eq!(
        (third.by.as_str(), third.remark.as_str()),
        (OTHER_OPERATOR, "undo")
    );
    assert_eq!(*third.config, flash_config());
    assert_eq!(third.config_hash, config_hash(&flash_config()));
    assert_eq!(*state.config, flash_config());
    assert_eq!(state.stock.total, 10);
    assert_eq!(
        state.versions.changed_fields(2),
        Some(vec!["title", "stock"])
    );
    assert_eq!(
        state.versions.changed_fields(3),
        Some(vec!["title", "stock"])
    );
}

#[test]
fn the_latest_version_shares_the_activity_configuration() {
    let mut state = draft(flash_config());
    ok(&mut state, update(titled("renamed")), 2_000);
    let current = state.versions.current().expect("a version");
    assert!(std::sync::Arc::ptr_eq(&current.config, &state.config));
}

#[test]
fn an_edit_that_changes_nothing_makes_no_event_and_no_version() {
    let mut state = approved(flash_config());
    let before = state.clone();

    let decision = ok(&mut state, update(flash_config()), 2_000);

    assert!(decision.replayed);
    assert!(decision.events.is_empty());
    assert_eq!(state, before, "an approved activity stays approved");
    ok(&mut state, update(titled("renamed")), 2_001);
    ok(&mut state, submit(OPERATOR), 2_002);
    let pending = state.clone();
    let again = ok(&mut state, update(titled("renamed")), 2_003);
    assert!(
        again.replayed,
        "an unchanged edit is a no-op even while pending"
    );
    assert_eq!(state, pending);
}

#[test]
fn the_history_keeps_the_newest_versions_and_numbers_keep_counting() {
    let mut run = Journaled::new(flash_config());
    let edits = VERSIONS_KEPT_MAX as u64 + 20;
    for edit in 1..=edits {
        run.ok(update(titled(&format!("edit {edit}"))), 2_000 + edit as i64);
    }
    let state = &run.state;
    let latest = edits + 1;
    let oldest_kept = latest - VERSIONS_KEPT_MAX as u64 + 1;

    assert_eq!(state.versions.len(), VERSIONS_KEPT_MAX);
    assert_eq!(state.versions.current_number(), latest);
    assert!(state.versions.get(oldest_kept - 1).is_none());
    assert_eq!(state.versions.changed_fields(oldest_kept), None);
    assert_eq!(
        state.versions.changed_fields(oldest_kept + 1),
        Some(vec!["title"])
    );
    let mut state = run.state.clone();
    assert_eq!(
        run_rollback(&mut state, oldest_kept - 1),
        Err(Rejection::NotFound("version"))
    );
    assert_eq!(run.recovered(), run.state);
    assert_eq!(snapshot_round_trip(&run.state), run.state);

    run.ok(rollback(oldest_kept, OPERATOR, ""), 9_000);
    assert_eq!(run.state.versions.current_number(), latest + 1);
    assert!(
        run.state.versions.get(oldest_kept).is_none(),
        "the restored version itself was the oldest and is dropped"
    );
    assert_eq!(run.state.config.title, format!("edit {}", oldest_kept - 1));
    assert_eq!(run.recovered(), run.state);
}

fn run_rollback(state: &mut ActivityState, to_version: u64) -> Result<Decision, Rejection> {
    run(state, rollback(to_version, OPERATOR, ""), 5_000)
}

#[test]
fn rolling_back_to_an_unknown_version_is_not_found() {
    let mut state = draft(flash_config());
    ok(&mut state, update(titled("renamed")), 2_000);
    let before = state.clone();
    for unknown in [0, 3, u64::MAX] {
        assert_eq!(
            run_rollback(&mut state, unknown),
            Err(Rejection::NotFound("version"))
        );
    }
    assert_eq!(state, before);
}

#[test]
fn rolling_back_to_the_current_configuration_is_invalid_state() {
    let mut state = draft(flash_config());
    ok(&mut state, update(titled("renamed")), 2_000);
    ok(&mut state, update(flash_config()), 2_001);

    assert!(matches!(
        run_rollback(&mut state, 3),
        Err(Rejection::InvalidState(_))
    ));
    assert!(
        matches!(run_rollback(&mut state, 1), Err(Rejection::InvalidState(_))),
        "version 1 has the current configuration"
    );
    assert_eq!(state.versions.current_number(), 3);
}

#[test]
fn repeating_the_latest_rollback_is_a_no_op_and_someone_else_gets_invalid_state() {
    let mut state = draft(flash_config());
    ok(&mut state, update(titled("renamed")), 2_000);
    ok(&mut state, rollback(1, OPERATOR, ""), 3_000);
    let before = state.clone();

    let again = ok(&mut state, rollback(1, OPERATOR, ""), 3_001);

    assert!(again.replayed);
    assert_eq!(state, before);
    assert!(matches!(
        run(&mut state, rollback(1, OTHER_OPERATOR, ""), 3_002),
        Err(Rejection::InvalidState(_))
    ));
}

#[test]
fn rolling_back_a_published_activity_sends_it_back_to_draft_and_offline() {
    let mut state = draft(flash_config());
    ok(&mut state, update(titled("renamed")), CREATED_AT);
    ok(&mut state, submit(OPERATOR), CREATED_AT);
    ok(&mut state, approve(APPROVER, ""), CREATED_AT);
    ok(&mut state, publish(OPERATOR), START);
    assert_eq!(state.publication.phase, Phase::Online);

    ok(&mut state, rollback(1, OPERATOR, "wrong title"), START + 1);

    assert_eq!(state.approval.status, ApprovalStatus::Draft);
    assert_eq!(state.publication.phase, Phase::Unpublished);
    assert!(matches!(
        run(&mut state, publish(OPERATOR), START + 2),
        Err(Rejection::InvalidState(_))
    ));
    ok(&mut state, submit(OPERATOR), START + 3);
    ok(&mut state, approve(APPROVER, ""), START + 4);
    ok(&mut state, publish(OPERATOR), START + 5);
    assert_eq!(state.publication.phase, Phase::Online);
    assert_eq!(state.config.title, flash_config().title);
    assert_eq!(state.approval.config_hash, config_hash(&flash_config()));
}

#[test]
fn rolling_back_while_pending_is_invalid_state() {
    let mut state = draft(flash_config());
    ok(&mut state, update(titled("renamed")), 2_000);
    ok(&mut state, submit(OPERATOR), 2_001);
    let before = state.clone();

    assert!(matches!(
        run_rollback(&mut state, 1),
        Err(Rejection::InvalidState(_))
    ));
    assert_eq!(state, before);
    ok(&mut state, withdraw(OPERATOR), 2_002);
    ok(&mut state, rollback(1, OPERATOR, ""), 2_003);
    assert_eq!(state.approval.status, ApprovalStatus::Draft);
}

#[test]
fn a_rollback_follows_the_stock_and_template_rules_of_an_edit() {
    let mut state = draft(config(TemplateCode::FlashSale, 2, 5, 0));
    ok(
        &mut state,
        update(config(TemplateCode::FlashSale, 6, 5, 0)),
        CREATED_AT,
    );
    ok(&mut state, submit(OPERATOR), CREATED_AT);
    ok(&mut state, approve(APPROVER, ""), CREATED_AT);
    ok(&mut state, publish(OPERATOR), START);
    ok(&mut state, grab("u1", "r1", 3), START);
    let before = state.clone();

    assert!(matches!(
        run_rollback(&mut state, 1),
        Err(Rejection::Validation { field: "stock", .. })
    ));
    assert_eq!(state, before);

    let mut group = config(TemplateCode::GroupBuy, 6, 5, 2);
    group.title = "now a group".to_string();
    let mut other = draft(group);
    ok(
        &mut other,
        update(config(TemplateCode::FlashSale, 6, 5, 0)),
        CREATED_AT,
    );
    ok(&mut other, submit(OPERATOR), CREATED_AT);
    ok(&mut other, approve(APPROVER, ""), CREATED_AT);
    ok(&mut other, publish(OPERATOR), START);
    ok(&mut other, grab("u1", "r1", 1), START);
    assert!(matches!(
        run_rollback(&mut other, 1),
        Err(Rejection::Validation {
            field: "templateCode",
            ..
        })
    ));
}

#[test]
fn a_rollback_keeps_held_units_and_recomputes_available_stock() {
    let mut state = draft(config(TemplateCode::FlashSale, 8, 5, 0));
    ok(
        &mut state,
        update(config(TemplateCode::FlashSale, 6, 5, 0)),
        CREATED_AT,
    );
    ok(&mut state, submit(OPERATOR), CREATED_AT);
    ok(&mut state, approve(APPROVER, ""), CREATED_AT);
    ok(&mut state, publish(OPERATOR), START);
    ok(&mut state, grab("u1", "r1", 3), START);

    ok(&mut state, rollback(1, OPERATOR, ""), START + 1);

    assert_eq!(state.stock.total, 8);
    assert_eq!(units(&state), (5, 3, 0));
}

#[test]
fn a_long_remark_is_refused() {
    let mut state = draft(flash_config());
    ok(&mut state, update(titled("renamed")), 2_000);
    let remark = "x".repeat(crate::versions::REMARK_LENGTH_MAX + 1);
    assert!(matches!(
        run(&mut state, rollback(1, OPERATOR, &remark), 2_001),
        Err(Rejection::Validation {
            field: "remark",
            ..
        })
    ));
}

#[test]
fn a_remark_with_a_control_or_bidirectional_control_is_refused() {
    let mut state = draft(flash_config());
    ok(&mut state, update(titled("renamed")), 2_000);
    for remark in ["why\r\n", "\u{202E}why", "  "] {
        let refused = run(&mut state, rollback(1, OPERATOR, remark), 2_001);
        assert_eq!(
            refused_field(&refused),
            Some("remark"),
            "{remark:?}: {refused:?}"
        );
    }
    ok(&mut state, rollback(1, OPERATOR, ""), 2_002);
}

#[test]
fn replay_and_snapshots_keep_the_history() {
    let mut run = Journaled::new(flash_config());
    run.ok(update(titled("one")), 2_000);
    run.ok(update(titled("two")), 2_001);
    run.ok(submit(OPERATOR), 2_002);
    run.ok(approve(APPROVER, ""), 2_003);
    run.ok(publish(OPERATOR), START);
    run.ok(grab("u1", "r1", 1), START);
    run.ok(rollback(2, OPERATOR, "back to one"), START + 1);
    run.ok(update(titled("three")), START + 2);

    let recovered = run.recovered();
    assert_eq!(recovered, run.state);
    assert_eq!(numbers(&recovered), [5, 4, 3, 2, 1]);
    let snapshot = snapshot_round_trip(&run.state);
    assert_eq!(snapshot, run.state);
    let mut continued = snapshot;
    ok(&mut continued, rollback(1, OPERATOR, ""), START + 3);
    assert_eq!(continued.versions.current_number(), 6);
    assert_eq!(*continued.config, flash_config());
}
