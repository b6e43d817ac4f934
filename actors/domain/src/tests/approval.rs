//! Approval state machine, edits, publication and the activity's time window.

use super::*;
use crate::state::ApprovalRecord;

fn flash_config() -> ActivityConfig {
    config(TemplateCode::FlashSale, 10, 2, 0)
}

#[test]
fn submit_moves_a_draft_to_pending_with_revision_one() {
    let mut state = draft(flash_config());
    assert_eq!(state.approval.status, ApprovalStatus::Draft);
    let decision = ok(&mut state, submit(OPERATOR), 2_000);
    assert_eq!(types(&decision), ["APPROVAL_SUBMITTED"]);
    assert_eq!(state.approval.status, ApprovalStatus::Pending);
    assert_eq!(state.approval.revision, 1);
    assert_eq!(state.approval.submitted_by.as_deref(), Some(OPERATOR));
}

#[test]
fn submitting_twice_or_after_approval_is_invalid_state() {
    let mut state = draft(flash_config());
    ok(&mut state, submit(OPERATOR), 2_000);
    assert!(matches!(
        run(&mut state, submit(OPERATOR), 2_001),
        Err(Rejection::InvalidState(_))
    ));
    ok(&mut state, approve(APPROVER, "fine"), 2_002);
    assert!(matches!(
        run(&mut state, submit(OPERATOR), 2_003),
        Err(Rejection::InvalidState(_))
    ));
    assert_eq!(state.approval.revision, 1);
}

#[test]
fn approval_by_another_user_approves() {
    let mut state = draft(flash_config());
    ok(&mut state, submit(OPERATOR), 2_000);
    let decision = ok(&mut state, approve(APPROVER, ""), 3_000);
    assert_eq!(types(&decision), ["APPROVAL_APPROVED"]);
    assert_eq!(state.approval.status, ApprovalStatus::Approved);
}

#[test]
fn self_approval_and_self_rejection_are_forbidden() {
    let mut state = draft(flash_config());
    ok(&mut state, submit(OPERATOR), 2_000);
    assert!(matches!(
        run(&mut state, approve(OPERATOR, "mine"), 2_001),
        Err(Rejection::Forbidden(_))
    ));
    assert!(matches!(
        run(&mut state, reject(OPERATOR, "mine"), 2_001),
        Err(Rejection::Forbidden(_))
    ));
    assert_eq!(state.approval.status, ApprovalStatus::Pending);
}

#[test]
fn reviewing_without_a_pending_submission_is_invalid_state() {
    let mut state = draft(flash_config());
    assert!(matches!(
        run(&mut state, approve(APPROVER, ""), 2_000),
        Err(Rejection::InvalidState(_))
    ));
    assert!(matches!(
        run(&mut state, reject(APPROVER, "no"), 2_000),
        Err(Rejection::InvalidState(_))
    ));
    assert_eq!(state.approval.status, ApprovalStatus::Draft);
}

#[test]
fn rejecting_requires_a_remark() {
    let mut state = draft(flash_config());
    ok(&mut state, submit(OPERATOR), 2_000);
    for remark in ["", "   "] {
        let refused = run(&mut state, reject(APPROVER, remark), 2_001);
        assert_eq!(
            refused_field(&refused),
            Some("remark"),
            "{remark:?}: {refused:?}"
        );
    }
    assert_eq!(state.approval.status, ApprovalStatus::Pending);
    ok(&mut state, reject(APPROVER, "price too low"), 2_002);
    assert_eq!(state.approval.status, ApprovalStatus::Rejected);
}

#[test]
fn resubmitting_after_rejection_increments_the_revision() {
    let mut state = draft(flash_config());
    ok(&mut state, submit(OPERATOR), 2_000);
    ok(&mut state, reject(APPROVER, "fix the title"), 2_001);
    ok(&mut state, submit(OPERATOR), 2_002);
    assert_eq!(state.approval.status, ApprovalStatus::Pending);
    assert_eq!(state.approval.revision, 2);
    ok(&mut state, withdraw(OPERATOR), 2_003);
    ok(&mut state, submit(OPERATOR), 2_004);
    assert_eq!(state.approval.revision, 3);
}

#[test]
fn only_the_submitter_may_withdraw() {
    let mut state = draft(flash_config());
    ok(&mut state, submit(OPERATOR), 2_000);
    assert!(matches!(
        run(&mut state, withdraw(APPROVER), 2_001),
        Err(Rejection::Forbidden(_))
    ));
    assert_eq!(state.approval.status, ApprovalStatus::Pending);
    let decision = ok(&mut state, withdraw(OPERATOR), 2_002);
    assert_eq!(types(&decision), ["APPROVAL_WITHDRAWN"]);
    assert_eq!(state.approval.status, ApprovalStatus::Draft);
}

#[test]
fn withdrawing_without_a_pending_submission_is_invalid_state() {
    let mut state = draft(flash_config());
    assert!(matches!(
        run(&mut state, withdraw(OPERATOR), 2_000),
        Err(Rejection::InvalidState(_))
    ));
    let mut state = approved(flash_config());
    assert!(matches!(
        run(&mut state, withdraw(OPERATOR), 2_000),
        Err(Rejection::InvalidState(_))
    ));
}

#[test]
fn publishing_needs_an_approved_activity() {
    let mut state = draft(flash_config());
    assert!(matches!(
        run(&mut state, publish(OPERATOR), START),
        Err(Rejection::InvalidState(_))
    ));
    ok(&mut state, submit(OPERATOR), 2_000);
    assert!(matches!(
        run(&mut state, publish(OPERATOR), START),
        Err(Rejection::InvalidState(_))
    ));
    ok(&mut state, reject(APPROVER, "no"), 2_001);
    assert!(matches!(
        run(&mut state, publish(OPERATOR), START),
        Err(Rejection::InvalidState(_))
    ));
    assert_eq!(state.publication.phase, Phase::Unpublished);
    assert!(!state.publication.ever_published);
}

#[test]
fn editing_an_approved_published_activity_sends_it_back_to_draft_and_unpublishes_it() {
    let mut state = flash_sale(10, 2);
    let mut edited = flash_config();
    edited.title = "new title".to_string();
    let decision = ok(&mut state, update(edited.clone()), START + 1);
    assert_eq!(types(&decision), ["ACTIVITY_UPDATED"]);
    assert_eq!(state.approval.status, ApprovalStatus::Draft);
    assert_eq!(state.publication.phase, Phase::Unpublished);
    assert!(
        state.publication.ever_published,
        "an unpublished activity is OFFLINE, not a fresh draft"
    );
    assert_eq!(*state.config, edited);
    assert_eq!(
        run(&mut state, grab("u1", "r1", 1), START + 2),
        Err(Rejection::Offline)
    );
    assert!(matches!(
        run(&mut state, publish(OPERATOR), START + 2),
        Err(Rejection::InvalidState(_))
    ));
}

#[test]
fn editing_an_approved_unpublished_activity_sends_it_back_to_draft() {
    let mut state = approved(flash_config());
    let mut edited = flash_config();
    edited.title = "edited".to_string();
    ok(&mut state, update(edited), 3_000);
    assert_eq!(state.approval.status, ApprovalStatus::Draft);
}

#[test]
fn editing_while_pending_is_refused() {
    let mut state = draft(flash_config());
    ok(&mut state, submit(OPERATOR), 2_000);
    let mut edited = flash_config();
    edited.title = "sneaky".to_string();
    assert!(matches!(
        run(&mut state, update(edited), 2_001),
        Err(Rejection::InvalidState(_))
    ));
    assert_eq!(state.config.title, "test activity");
    assert_eq!(state.approval.status, ApprovalStatus::Pending);
}

#[test]
fn an_invalid_edit_is_refused_with_the_field() {
    let mut state = draft(flash_config());
    let mut edited = flash_config();
    edited.end_at_ms = edited.start_at_ms;
    assert!(matches!(
        run(&mut state, update(edited), 2_000),
        Err(Rejection::Validation { field: "endAt", .. })
    ));
    let mut edited = flash_config();
    edited.rules.group_size = Some(3);
    assert!(matches!(
        run(&mut state, update(edited), 2_000),
        Err(Rejection::Validation {
            field: "rules.groupSize",
            ..
        })
    ));
}

/// The flash-sale configuration with `text` in `field` (a city for `rules.cities`).
fn with_text(field: &str, text: &str) -> ActivityConfig {
    let mut config = flash_config();
    let text = text.to_string();
    match field {
        "title" => config.title = text,
        "storeId" => config.store_id = text,
        "serviceId" => config.service_id = text,
        "unitName" => config.unit_name = text,
        _ => config.rules.cities = vec![text],
    }
    config
}

#[test]
fn text_fields_refuse_controls_bidirectional_controls_and_blanks() {
    let mut state = draft(flash_config());
    let fields = ["title", "storeId", "serviceId", "unitName", "rules.cities"];
    for field in fields {
        for text in ["a\0b", "a\r\nb", "abc\u{202E}cba", "   "] {
            let edited = with_text(field, text);
            let refused = run(&mut state, update(edited), 2_000);
            assert!(
                matches!(refused, Err(Rejection::Validation { field: named, .. }) if named == field),
                "{field} = {text:?}: {refused:?}"
            );
        }
    }
    let mut spaced = flash_config();
    spaced.title = "Haircut  flash sale".to_string();
    spaced.store_id = "store 1".to_string();
    let fields: Vec<&str> = spaced.validate().iter().map(|error| error.field).collect();
    assert_eq!(fields, ["storeId"], "spaces in a title, not in an id");
}

#[test]
fn remarks_refuse_controls_bidirectional_controls_and_blanks() {
    let mut state = draft(flash_config());
    ok(&mut state, submit(OPERATOR), 2_000);
    for remark in ["ok\0", "line\nbreak", "\u{2067}ok", "   "] {
        for command in [approve(APPROVER, remark), reject(APPROVER, remark)] {
            let refused = run(&mut state, command, 2_001);
            assert_eq!(
                refused_field(&refused),
                Some("remark"),
                "{remark:?}: {refused:?}"
            );
        }
    }
    assert_eq!(state.approval.status, ApprovalStatus::Pending);
    ok(&mut state, approve(APPROVER, "looks right"), 2_002);
    assert_eq!(state.approval.status, ApprovalStatus::Approved);
}

#[test]
fn a_stock_edit_below_reserved_plus_sold_is_refused() {
    let mut state = flash_sale(10, 3);
    let first = order_of(&ok(&mut state, grab("u1", "r1", 3), START));
    ok(&mut state, mock_pay(first, "u1"), START);
    ok(&mut state, grab("u2", "r1", 2), START);
    assert_eq!(units(&state), (5, 2, 3));

    let mut edited = config(TemplateCode::FlashSale, 4, 3, 0);
    let refused = run(&mut state, update(edited.clone()), START + 1);
    assert!(
        matches!(refused, Err(Rejection::Validation { field: "stock", .. })),
        "{refused:?}"
    );
    assert_eq!(state.stock.total, 10);

    edited.stock_total = 5;
    ok(&mut state, update(edited), START + 1);
    assert_eq!(state.stock.total, 5);
    assert_eq!(units(&state), (0, 2, 3));

    let raised = config(TemplateCode::FlashSale, 12, 3, 0);
    ok(&mut state, update(raised), START + 2);
    assert_eq!(units(&state), (7, 2, 3));
}

#[test]
fn the_template_cannot_change_once_orders_exist() {
    let mut state = flash_sale(10, 1);
    let group_config = config(TemplateCode::GroupBuy, 10, 1, 2);
    let mut before = draft(flash_config());
    ok(&mut before, update(group_config.clone()), 2_000);
    assert_eq!(before.config.template, TemplateCode::GroupBuy);

    ok(&mut state, grab("u1", "r1", 1), START);
    let refused = run(&mut state, update(group_config), START);
    assert!(
        matches!(
            refused,
            Err(Rejection::Validation {
                field: "templateCode",
                ..
            })
        ),
        "{refused:?}"
    );
}

#[test]
fn the_approval_history_records_every_step() {
    let mut state = draft(flash_config());
    ok(&mut state, submit(OPERATOR), 2_000);
    ok(&mut state, reject(APPROVER, "too cheap"), 2_100);
    ok(&mut state, submit(OPERATOR), 2_200);
    ok(&mut state, withdraw(OPERATOR), 2_300);
    ok(&mut state, submit(OPERATOR), 2_400);
    ok(&mut state, approve(APPROVER, "ok now"), 2_500);
    assert!(run(&mut state, approve(OPERATOR, "again"), 2_600).is_err());

    let config_hash = config_hash(&state.config);
    let record = |action: &str, by: &str, remark: &str, at_ms, revision| ApprovalRecord {
        action: ApprovalAction::parse(action).expect("an action"),
        by: by.to_string(),
        remark: remark.to_string(),
        at_ms,
        revision,
        level: 1,
        config_hash: config_hash.clone(),
    };
    assert_eq!(
        state.approval.history,
        vec![
            record("SUBMIT", OPERATOR, "", 2_000, 1),
            record("REJECT", APPROVER, "too cheap", 2_100, 1),
            record("SUBMIT", OPERATOR, "", 2_200, 2),
            record("WITHDRAW", OPERATOR, "", 2_300, 2),
            record("SUBMIT", OPERATOR, "", 2_400, 3),
            record("APPROVE", APPROVER, "ok now", 2_500, 3),
        ]
    );
}

// The time window.

#[test]
fn publishing_before_start_schedules_then_open_and_close_follow_the_window() {
    let mut state = approved(flash_config());
    let decision = ok(&mut state, publish(OPERATOR), START - 10);
    assert_eq!(types(&decision), ["ACTIVITY_PUBLISHED"]);
    assert_eq!(state.publication.phase, Phase::Scheduled);
    assert_eq!(
        run(&mut state, grab("u1", "r1", 1), START - 1),
        Err(Rejection::NotStarted)
    );

    let early = ok(&mut state, Command::Open, START - 1);
    assert!(early.events.is_empty(), "an early nudge does nothing");
    assert_eq!(state.publication.phase, Phase::Scheduled);

    assert_eq!(
        types(&ok(&mut state, Command::Open, START)),
        ["ACTIVITY_ONLINE"]
    );
    assert_eq!(state.publication.phase, Phase::Online);
    assert!(
        ok(&mut state, Command::Open, START + 1).events.is_empty(),
        "open twice does nothing"
    );

    assert!(
        ok(&mut state, Command::Close, END - 1).events.is_empty(),
        "an early close does nothing"
    );
    assert_eq!(
        types(&ok(&mut state, Command::Close, END)),
        ["ACTIVITY_ENDED"]
    );
    assert_eq!(state.publication.phase, Phase::Ended);
    assert!(ok(&mut state, Command::Close, END + 1).events.is_empty());
}

#[test]
fn publishing_inside_the_window_goes_online_at_once() {
    let mut state = approved(flash_config());
    let decision = ok(&mut state, publish(OPERATOR), START + 5);
    assert_eq!(types(&decision), ["ACTIVITY_PUBLISHED", "ACTIVITY_ONLINE"]);
    assert_eq!(state.publication.phase, Phase::Online);
    assert!(state.publication.ever_published);
}

#[test]
fn publishing_after_the_end_ends_at_once() {
    let mut state = approved(flash_config());
    let decision = ok(&mut state, publish(OPERATOR), END);
    assert_eq!(types(&decision), ["ACTIVITY_PUBLISHED", "ACTIVITY_ENDED"]);
    assert_eq!(state.publication.phase, Phase::Ended);
}

#[test]
fn publishing_twice_is_a_replay_and_unpublish_takes_it_offline() {
    let mut state = flash_sale(10, 1);
    let again = ok(&mut state, publish(OPERATOR), START + 1);
    assert!(again.replayed && again.events.is_empty());
    assert_eq!(
        types(&ok(&mut state, unpublish(OPERATOR), START + 2)),
        ["ACTIVITY_UNPUBLISHED"]
    );
    assert_eq!(state.publication.phase, Phase::Unpublished);
    assert_eq!(
        run(&mut state, grab("u1", "r1", 1), START + 3),
        Err(Rejection::Offline)
    );
    assert!(ok(&mut state, unpublish(OPERATOR), START + 4).replayed);
    assert!(
        ok(&mut state, Command::Open, START + 5).events.is_empty(),
        "an unpublished activity does not go online"
    );
    assert_eq!(state.publication.phase, Phase::Unpublished);
    ok(&mut state, publish(OPERATOR), START + 6);
    assert_eq!(state.publication.phase, Phase::Online);
}

#[test]
fn grab_after_end_is_refused_with_ended_even_before_the_close_nudge() {
    let mut state = flash_sale(10, 1);
    assert_eq!(state.publication.phase, Phase::Online);
    assert_eq!(
        run(&mut state, grab("u1", "r1", 1), END),
        Err(Rejection::Ended)
    );
    assert_eq!(units(&state), (10, 0, 0));
}

// Multi-level flows.

const FIRST: &str = "approver-1";
const SECOND: &str = "approver-2";
const THIRD: &str = "approver-3";

fn level(mode: LevelMode, candidates: &[&str]) -> FlowLevel {
    FlowLevel {
        mode,
        candidates: candidates.iter().map(|name| name.to_string()).collect(),
    }
}

fn flow(levels: Vec<FlowLevel>) -> ApprovalFlow {
    ApprovalFlow { levels }
}

/// A draft submitted by the operator through `levels`, with the journal of its events.
fn pending(levels: Vec<FlowLevel>) -> (ActivityState, Vec<Event>) {
    let mut journal = Vec::new();
    let mut state = draft(flash_config());
    step(
        &mut state,
        &mut journal,
        submit_through(OPERATOR, flow(levels)),
    );
    (state, journal)
}

/// Runs a command that must be accepted and keeps its events in `journal`.
fn step(state: &mut ActivityState, journal: &mut Vec<Event>, command: Command) -> Decision {
    let at_ms = 3_000 + journal.len() as i64;
    let decision = ok(state, command, at_ms);
    journal.extend(decision.events.iter().map(|kind| Event {
        at_ms,
        kind: kind.clone(),
    }));
    decision
}

fn forbidden(state: &mut ActivityState, command: Command) -> bool {
    matches!(run(state, command, 3_500), Err(Rejection::Forbidden(_)))
}

#[test]
fn any_level_is_decided_by_the_first_approval() {
    let (mut state, mut journal) = pending(vec![level(LevelMode::Any, &[FIRST, SECOND])]);
    let decision = step(&mut state, &mut journal, approve(SECOND, ""));
    assert_eq!(types(&decision), ["APPROVAL_APPROVED"]);
    assert_eq!(state.approval.status, ApprovalStatus::Approved);
}

#[test]
fn all_level_needs_every_candidate_and_one_reject_ends_it() {
    let candidates = [FIRST, SECOND, THIRD];
    let (mut state, mut journal) = pending(vec![level(LevelMode::All, &candidates)]);
    assert_eq!(
        types(&step(&mut state, &mut journal, approve(FIRST, ""))),
        ["APPROVAL_VOTED"]
    );
    step(&mut state, &mut journal, approve(SECOND, ""));
    assert_eq!(state.approval.status, ApprovalStatus::Pending);
    step(&mut state, &mut journal, approve(THIRD, ""));
    assert_eq!(state.approval.status, ApprovalStatus::Approved);

    let (mut vetoed, mut journal) = pending(vec![level(LevelMode::All, &candidates)]);
    step(&mut vetoed, &mut journal, approve(FIRST, ""));
    step(&mut vetoed, &mut journal, reject(SECOND, "no"));
    assert_eq!(vetoed.approval.status, ApprovalStatus::Rejected);
    assert!(run(&mut vetoed, approve(THIRD, ""), 3_900).is_err());
}

#[test]
fn count_and_ratio_levels_complete_at_their_threshold() {
    let candidates = [FIRST, SECOND, THIRD];
    let (mut counted, mut journal) = pending(vec![level(LevelMode::Count(2), &candidates)]);
    step(&mut counted, &mut journal, approve(FIRST, ""));
    assert_eq!(counted.approval.status, ApprovalStatus::Pending);
    step(&mut counted, &mut journal, approve(THIRD, ""));
    assert_eq!(counted.approval.status, ApprovalStatus::Approved);

    // 60 % of 3 is 1.8, rounded up to 2.
    let (mut ratio, mut journal) = pending(vec![level(LevelMode::Ratio(60), &candidates)]);
    assert_eq!(ratio.approval.levels[0].required(), 2);
    step(&mut ratio, &mut journal, approve(SECOND, ""));
    assert_eq!(ratio.approval.status, ApprovalStatus::Pending);
    step(&mut ratio, &mut journal, approve(FIRST, ""));
    assert_eq!(ratio.approval.status, ApprovalStatus::Approved);
}

#[test]
fn levels_run_in_order_and_only_current_candidates_may_act() {
    let levels = vec![
        level(LevelMode::Any, &[FIRST]),
        level(LevelMode::All, &[SECOND, THIRD]),
    ];
    let (mut state, mut journal) = pending(levels);
    assert!(forbidden(&mut state, approve(SECOND, "")));
    assert!(forbidden(&mut state, reject(THIRD, "not mine")));
    let decision = step(&mut state, &mut journal, approve(FIRST, ""));
    assert_eq!(
        types(&decision),
        ["APPROVAL_VOTED", "APPROVAL_LEVEL_ADVANCED"]
    );
    assert_eq!(state.approval.current_level(), Some(2));
    assert!(forbidden(&mut state, approve(FIRST, "")));
    step(&mut state, &mut journal, approve(SECOND, ""));
    assert_eq!(state.approval.status, ApprovalStatus::Pending);
    step(&mut state, &mut journal, approve(THIRD, ""));
    assert_eq!(state.approval.status, ApprovalStatus::Approved);
    let levels: Vec<u32> = state
        .approval
        .history
        .iter()
        .map(|record| record.level)
        .collect();
    assert_eq!(levels, [1, 1, 2, 2]);
}

#[test]
fn a_repeated_approval_is_a_no_op_not_a_second_count() {
    let (mut state, mut journal) = pending(vec![level(LevelMode::Count(2), &[FIRST, SECOND])]);
    step(&mut state, &mut journal, approve(FIRST, ""));
    let again = step(&mut state, &mut journal, approve(FIRST, "again"));
    assert!(again.replayed);
    assert!(again.events.is_empty());
    assert_eq!(state.approval.levels[0].approvals, [FIRST]);
    assert_eq!(state.approval.status, ApprovalStatus::Pending);
}

#[test]
fn repeating_the_final_approval_or_a_reject_is_a_no_op() {
    let (mut state, mut journal) = pending(vec![level(LevelMode::Any, &[FIRST])]);
    step(&mut state, &mut journal, approve(FIRST, ""));
    assert!(step(&mut state, &mut journal, approve(FIRST, "")).replayed);
    let (mut rejected, mut journal) = pending(vec![level(LevelMode::Any, &[FIRST])]);
    step(&mut rejected, &mut journal, reject(FIRST, "no"));
    assert!(step(&mut rejected, &mut journal, reject(FIRST, "no")).replayed);
    assert_eq!(rejected.approval.history.len(), 2);
}

#[test]
fn the_submitter_may_not_approve_even_as_a_candidate() {
    let (mut state, _) = pending(vec![level(LevelMode::Any, &[OPERATOR, FIRST])]);
    assert!(forbidden(&mut state, approve(OPERATOR, "")));
    assert!(forbidden(&mut state, reject(OPERATOR, "mine")));
}

#[test]
fn withdraw_then_resubmit_restarts_at_level_one_with_a_new_revision() {
    let levels = vec![
        level(LevelMode::Any, &[FIRST]),
        level(LevelMode::Any, &[SECOND]),
    ];
    let (mut state, mut journal) = pending(levels.clone());
    step(&mut state, &mut journal, approve(FIRST, ""));
    assert_eq!(state.approval.current_level(), Some(2));
    step(&mut state, &mut journal, withdraw(OPERATOR));
    assert_eq!(state.approval.status, ApprovalStatus::Draft);
    assert!(step(&mut state, &mut journal, withdraw(OPERATOR)).replayed);
    step(
        &mut state,
        &mut journal,
        submit_through(OPERATOR, flow(levels)),
    );
    assert_eq!(state.approval.revision, 2);
    assert_eq!(state.approval.current_level(), Some(1));
    assert!(state.approval.levels[0].approvals.is_empty());
}

#[test]
fn candidates_are_snapshotted_when_the_level_starts() {
    let (mut state, mut journal) = pending(vec![
        level(LevelMode::Any, &[FIRST]),
        level(LevelMode::Any, &[SECOND]),
    ]);
    // Someone changes the flow of the running submission's snapshot source: no effect.
    state.approval.flow.levels[0].candidates = vec![THIRD.to_string()];
    assert!(forbidden(&mut state, approve(THIRD, "")));
    step(&mut state, &mut journal, approve(FIRST, ""));
    assert_eq!(state.approval.levels[1].candidates, [SECOND]);
}

#[test]
fn an_invalid_flow_is_refused_at_submission() {
    let mut state = draft(flash_config());
    let too_many = flow(vec![level(LevelMode::Count(3), &[FIRST, SECOND])]);
    assert!(matches!(
        run(&mut state, submit_through(OPERATOR, too_many), 3_000),
        Err(Rejection::Validation {
            field: "approvalFlow",
            ..
        })
    ));
    let empty = flow(Vec::new());
    assert!(run(&mut state, submit_through(OPERATOR, empty), 3_000).is_err());
    assert_eq!(state.approval.status, ApprovalStatus::Draft);
}

#[test]
fn the_history_carries_the_hash_of_the_configuration_under_review() {
    let (mut state, mut journal) = pending(vec![level(LevelMode::Any, &[FIRST])]);
    step(&mut state, &mut journal, approve(FIRST, "ok"));
    let expected = config_hash(&state.config);
    assert_eq!(expected.len(), 64);
    assert!(state
        .approval
        .history
        .iter()
        .all(|record| record.config_hash == expected));
}

#[test]
fn replaying_the_journal_gives_the_same_approval_state() {
    let (mut state, mut journal) = pending(vec![
        level(LevelMode::Any, &[FIRST]),
        level(LevelMode::Count(2), &[SECOND, THIRD, FIRST]),
    ]);
    step(&mut state, &mut journal, approve(FIRST, ""));
    step(&mut state, &mut journal, approve(THIRD, ""));
    let mut replayed = draft(flash_config());
    for event in &journal {
        replayed.apply(event);
    }
    assert_eq!(replayed.approval, state.approval);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    const PEOPLE: [&str; 4] = [OPERATOR, FIRST, SECOND, THIRD];

    fn mode() -> impl Strategy<Value = LevelMode> {
        prop_oneof![
            Just(LevelMode::Any),
            Just(LevelMode::All),
            (1u32..=2).prop_map(LevelMode::Count),
            (1u32..=100).prop_map(LevelMode::Ratio),
        ]
    }

    fn flow_strategy() -> impl Strategy<Value = ApprovalFlow> {
        let level = (
            mode(),
            proptest::sample::subsequence(PEOPLE[1..].to_vec(), 2..=3),
        )
            .prop_map(|(mode, names)| level(mode, &names));
        proptest::collection::vec(level, 1..=3).prop_map(flow)
    }

    fn command(action: u8, person: usize, flow: &ApprovalFlow) -> Command {
        let by = PEOPLE[person % PEOPLE.len()];
        match action % 5 {
            0 | 1 => approve(by, ""),
            2 => reject(by, "no"),
            3 => withdraw(by),
            _ => submit_through(by, flow.clone()),
        }
    }

    proptest! {
        #[test]
        fn the_approval_machine_keeps_its_invariants_and_replays(
            flow in flow_strategy(),
            actions in proptest::collection::vec((0u8..5, 0usize..4), 0..40),
        ) {
            let mut state = draft(flash_config());
            let mut journal = Vec::new();
            for (index, (action, person)) in actions.into_iter().enumerate() {
                let at_ms = 3_000 + index as i64;
                let Ok(decision) = run(&mut state, command(action, person, &flow), at_ms) else {
                    continue;
                };
                journal.extend(decision.events.iter().map(|kind| Event { at_ms, kind: kind.clone() }));
                let approval = &state.approval;
                for level in &approval.levels {
                    prop_assert!(level.approvals.len() <= level.candidates.len());
                    prop_assert!(level.approvals.iter().all(|name| level.candidates.contains(name)));
                    prop_assert!(!level.approvals.iter().any(|name| Some(name) == approval.submitted_by.as_ref()));
                }
                if approval.status == ApprovalStatus::Approved {
                    prop_assert_eq!(approval.levels.len(), flow.levels.len());
                    prop_assert!(approval.levels.iter().all(|level| level.approvals.len() >= level.required()));
                }
            }
            let mut replayed = draft(flash_config());
            for event in &journal {
                replayed.apply(event);
            }
            prop_assert_eq!(replayed.approval, state.approval);
        }
    }
}
