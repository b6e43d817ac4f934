//! Approval flows from the settings: `[[approval.flows]]` keyed by template code and an
//! optional store id, checked at start, and resolved into the domain's [`ApprovalFlow`]
//! when an activity is submitted.
//!
//! Resolution turns each level's roles into the names of the tokens holding them (an
//! admin holds every role, as everywhere in the admin API, so an ALL level by role waits
//! for the admins too; name the candidates to leave them out), so the flow the
//! submission's event carries names every candidate: a later change of tokens or flows
//! does not change a running level.

use std::collections::HashSet;

use playcore_actors::domain::approval::{CANDIDATES_MAX, LEVELS_MAX};
use playcore_actors::domain::{ApprovalFlow, FlowLevel, LevelMode, TemplateCode};
use serde::Deserialize;

use crate::config::{Settings, TokenSettings};
use crate::http::auth::Role;

/// The `[approval]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSettings {
    /// Flows per template (and store); without a match the default flow applies: one ANY
    /// level of role approver.
    #[serde(default)]
    pub flows: Vec<FlowSettings>,
}

/// One `[[approval.flows]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowSettings {
    /// A template code such as `FLASH_SALE`.
    pub template: String,
    /// Only activities of this store; an entry with a store wins over one without.
    #[serde(default)]
    pub store_id: Option<String>,
    pub levels: Vec<LevelSettings>,
}

/// How one level decides, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ModeSetting {
    Any,
    All,
    Count,
    Ratio,
}

/// One level of a flow: `{mode = "COUNT", required = 2, roles = ["approver"]}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelSettings {
    pub mode: ModeSetting,
    /// Approvals needed, with COUNT.
    #[serde(default)]
    pub required: Option<u32>,
    /// Percentage of the candidates, with RATIO.
    #[serde(default)]
    pub percent: Option<u32>,
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default)]
    pub names: Vec<String>,
}

/// Whether a token with `roles` holds `role`; an admin holds every role, as
/// [`crate::http::auth::Caller::has_role`] has it.
fn holds(roles: &[Role], role: Role) -> bool {
    roles.contains(&Role::Admin) || roles.contains(&role)
}

impl LevelSettings {
    fn mode(&self) -> LevelMode {
        match self.mode {
            ModeSetting::Any => LevelMode::Any,
            ModeSetting::All => LevelMode::All,
            ModeSetting::Count => LevelMode::Count(self.required.unwrap_or(0)),
            ModeSetting::Ratio => LevelMode::Ratio(self.percent.unwrap_or(0)),
        }
    }

    /// Named candidates, then the holders of each listed role, each name once.
    fn candidates(&self, tokens: &[TokenSettings]) -> Vec<String> {
        let holders = tokens
            .iter()
            .filter(|token| self.roles.iter().any(|role| holds(&token.roles, *role)))
            .map(|token| token.name.clone());
        let mut seen = HashSet::new();
        self.names
            .iter()
            .cloned()
            .chain(holders)
            .filter(|name| seen.insert(name.clone()))
            .take(CANDIDATES_MAX)
            .collect()
    }

    /// Candidates must be configured token holders, or nobody could ever act.
    fn token_problems(&self, key: &str, tokens: &[TokenSettings], problems: &mut Vec<String>) {
        let known: HashSet<&str> = tokens.iter().map(|token| token.name.as_str()).collect();
        for name in self
            .names
            .iter()
            .filter(|name| !known.contains(name.as_str()))
        {
            problems.push(format!("{key}.names: no configured token is named {name}"));
        }
        if self.names.is_empty() && !self.roles.is_empty() && self.candidates(tokens).is_empty() {
            problems.push(format!("{key}.roles: no configured token holds them"));
        }
    }

    fn problems(&self, key: &str, problems: &mut Vec<String>) {
        if self.roles.is_empty() && self.names.is_empty() {
            problems.push(format!("{key} needs candidates (roles or names)"));
        }
        if self.names.len() > CANDIDATES_MAX {
            problems.push(format!("{key}.names has at most {CANDIDATES_MAX} names"));
        }
        let count_only = self.mode == ModeSetting::Count;
        if self.required.is_some() != count_only {
            problems.push(format!("{key}.required is set with mode COUNT only"));
        }
        if self.required == Some(0) {
            problems.push(format!("{key}.required must be at least 1"));
        }
        let exceeds = self.required.unwrap_or(0) as usize > self.names.len();
        if count_only && self.roles.is_empty() && exceeds {
            problems.push(format!("{key}.required exceeds the named candidates"));
        }
        let ratio = self.mode == ModeSetting::Ratio;
        if self.percent.is_some() != ratio {
            problems.push(format!("{key}.percent is set with mode RATIO only"));
        }
        if self
            .percent
            .is_some_and(|percent| !(1..=100).contains(&percent))
        {
            problems.push(format!("{key}.percent must be 1 to 100"));
        }
    }
}

impl FlowSettings {
    fn problems(&self, key: &str, problems: &mut Vec<String>) {
        if TemplateCode::parse(&self.template).is_none() {
            problems.push(format!("{key}.template is not a known template code"));
        }
        if self.levels.is_empty() || self.levels.len() > LEVELS_MAX {
            problems.push(format!("{key}.levels must hold 1 to {LEVELS_MAX} levels"));
        }
        for (index, level) in self.levels.iter().enumerate() {
            level.problems(&format!("{key}.levels[{index}]"), problems);
        }
    }

    fn resolve(&self, tokens: &[TokenSettings]) -> ApprovalFlow {
        let levels = self.levels.iter().map(|level| FlowLevel {
            mode: level.mode(),
            candidates: level.candidates(tokens),
        });
        ApprovalFlow {
            levels: levels.collect(),
        }
    }
}

impl ApprovalSettings {
    /// Every problem of the flows, for the start-up check; `tokens` are the configured
    /// tokens, which every level needs a candidate among.
    pub fn problems(&self, tokens: &[TokenSettings], problems: &mut Vec<String>) {
        let mut keys = HashSet::new();
        for (index, flow) in self.flows.iter().enumerate() {
            let key = format!("approval.flows[{index}]");
            flow.problems(&key, problems);
            for (number, level) in flow.levels.iter().enumerate() {
                level.token_problems(&format!("{key}.levels[{number}]"), tokens, problems);
            }
            if !keys.insert((flow.template.as_str(), flow.store_id.as_deref())) {
                problems.push(format!(
                    "{key} repeats the template and store of an earlier flow"
                ));
            }
        }
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
        Some(flow) => flow.resolve(&settings.auth.tokens),
        None => default_flow().resolve(&settings.auth.tokens),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(mode: ModeSetting, required: Option<u32>, names: &[&str]) -> LevelSettings {
        LevelSettings {
            mode,
            required,
            percent: None,
            roles: Vec::new(),
            names: names.iter().map(|name| name.to_string()).collect(),
        }
    }

    fn problems_of(levels: Vec<LevelSettings>) -> Vec<String> {
        let settings = ApprovalSettings {
            flows: vec![FlowSettings {
                template: "FLASH_SALE".to_string(),
                store_id: None,
                levels,
            }],
        };
        let tokens = Settings::embedded_defaults()
            .expect("defaults load")
            .auth
            .tokens;
        let mut problems = Vec::new();
        settings.problems(&tokens, &mut problems);
        problems
    }

    #[test]
    fn a_count_above_the_named_candidates_is_refused() {
        let names = ["dev-approver", "dev-approver-2"];
        let problems = problems_of(vec![level(ModeSetting::Count, Some(3), &names)]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("exceeds"));
    }

    #[test]
    fn a_flow_needs_levels_and_candidates() {
        assert_eq!(problems_of(Vec::new()).len(), 1);
        assert_eq!(
            problems_of(vec![level(ModeSetting::Any, None, &[])]).len(),
            1
        );
        assert!(problems_of(vec![level(ModeSetting::All, None, &["dev-admin"])]).is_empty());
        let unknown = problems_of(vec![level(ModeSetting::All, None, &["nobody"])]);
        assert!(unknown[0].contains("nobody"), "{unknown:?}");
    }

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
