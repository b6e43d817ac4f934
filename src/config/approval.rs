//! The `[approval]` table: approval flows keyed by template code and an optional store id,
//! and their start-up checks. `approval_flows` resolves them into the domain's
//! flows when an activity is submitted.

use std::collections::HashSet;

use playcore_actors::domain::approval::{CANDIDATES_MAX, LEVELS_MAX};
use playcore_actors::domain::TemplateCode;
use serde::Deserialize;

use super::{Role, TokenSettings};

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

impl LevelSettings {
    /// Named candidates, then the holders of each listed role (an admin holds every
    /// role), each name once.
    pub fn candidates(&self, tokens: &[TokenSettings]) -> Vec<String> {
        let holders = tokens
            .iter()
            .filter(|token| self.roles.iter().any(|role| role.is_held_by(&token.roles)))
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
        self.count_problems(key, problems);
        self.ratio_problems(key, problems);
    }

    fn count_problems(&self, key: &str, problems: &mut Vec<String>) {
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
    }

    fn ratio_problems(&self, key: &str, problems: &mut Vec<String>) {
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
    fn problems(&self, key: &str, tokens: &[TokenSettings], problems: &mut Vec<String>) {
        if TemplateCode::parse(&self.template).is_none() {
            problems.push(format!("{key}.template is not a known template code"));
        }
        if self.levels.is_empty() || self.levels.len() > LEVELS_MAX {
            problems.push(format!("{key}.levels must hold 1 to {LEVELS_MAX} levels"));
        }
        for (index, level) in self.levels.iter().enumerate() {
            level.problems(&format!("{key}.levels[{index}]"), problems);
        }
        for (index, level) in self.levels.iter().enumerate() {
            level.token_problems(&format!("{key}.levels[{index}]"), tokens, problems);
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
            flow.problems(&key, tokens, problems);
            if !keys.insert((flow.template.as_str(), flow.store_id.as_deref())) {
                problems.push(format!(
                    "{key} repeats the template and store of an earlier flow"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

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
}
