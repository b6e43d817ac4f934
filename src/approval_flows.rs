//! Approval flows from the settings: `[[approval.flows]]` keyed by template code and an
//! optional store id (read and checked at start by [`crate::config`]), resolved into the
//! domain's [`ApprovalFlow`] when an activity is submitted.
//!
//! Resolution turns each level's roles into the names of the tokens holding them (an
//! admin holds every role, as everywhere in the admin API, so an ALL level by role waits
//! for the admins too; name the candidates to leave them out), so the flow the
//! submission's event carries names every candidate: a later change of tokens or flows
//! does not change a running level.

use playcore_actors::domain::{ApprovalFlow, FlowLevel, LevelMode, TemplateCode};

use crate::config::{Role, Settings, TokenSettings};
// The flows' settings types, under the names the tests build flows with.
pub use crate::config::{ApprovalSettings, FlowSettings, LevelSettings, ModeSetting};

/// The domain's mode of a configured level.
fn mode(level: &LevelSettings) -> LevelMode {
    match level.mode {
        ModeSetting::Any => LevelMode::Any,
        ModeSetting::All => LevelMode::All,
        ModeSetting::Count => LevelMode::Count(level.required.unwrap_or(0)),
        ModeSetting::Ratio => LevelMode::Ratio(level.percent.unwrap_or(0)),
    }
}

/// The domain's flow of a configured one, each level's candidates named.
fn resolve(flow: &FlowSettings, tokens: &[TokenSettings]) -> ApprovalFlow {
    let levels = flow.levels.iter().map(|level| FlowLevel {
        mode: mode(level),
        candidates: level.candidates(tokens),
    });
    ApprovalFlow {
        levels: levels.collect(),
    }
}

/// The default flow: one ANY level of role approver.
fn default_flow() -> FlowSettings {
    FlowSettings {
        template: String::new(),
        store_id: None,
        levels: vec![LevelSettings {
            mode: ModeSetting::Any,
            required: None,
            percent: None,
            roles: vec![Role::Approver],
            names: Vec::new(),
        }],
    }
}

/// The flow of an activity of `template` in `store_id`, with candidates named.
pub fn flow_for(settings: &Settings, template: TemplateCode, store_id: &str) -> ApprovalFlow {
    let flows = &settings.approval.flows;
    let code = template.code();
    let of_store = flows
        .iter()
        .find(|flow| flow.template == code && flow.store_id.as_deref() == Some(store_id));
    let of_template = || {
        flows
            .iter()
            .find(|flow| flow.template == code && flow.store_id.is_none())
    };
    match of_store.or_else(of_template) {
        Some(flow) => resolve(flow, &settings.auth.tokens),
        None => resolve(&default_flow(), &settings.auth.tokens),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_resolve_to_the_names_of_their_tokens() {
        let mut settings = Settings::embedded_defaults().expect("defaults load");
        settings.approval.flows.clear();
        let flow = flow_for(&settings, TemplateCode::FlashSale, "store-1");
        assert_eq!(flow.levels.len(), 1);
        assert_eq!(flow.levels[0].mode, LevelMode::Any);
        assert_eq!(
            flow.levels[0].candidates,
            vec![
                "dev-admin".to_string(),
                "dev-approver".to_string(),
                "dev-approver-2".to_string()
            ]
        );
    }
}
