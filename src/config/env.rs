//! The environment layer: each `PLAYCORE__SECTION__KEY` variable is a layer of its own, so
//! an error names the variable. Its value is TOML, except where the layers below hold a
//! string: there it is the string as written, so a secret such as `12345` stays a string.
//! figment's own `Env` provider does neither (it parses values in a syntax of its own) and
//! reads only the process environment, which tests must not change.

use figment::providers::{Format, Toml};
use figment::value::{Dict, Value};
use figment::Figment;

use super::layer::Layer;
use super::{redact, ConfigError};

/// Environment variables with this prefix override settings.
pub(super) const ENV_PREFIX: &str = "PLAYCORE__";

/// Merges the `PLAYCORE__*` variables over `figment`, in name order so the result does not
/// depend on the order the OS lists them in; also returns how many applied.
pub(super) fn merge(
    mut figment: Figment,
    env_vars: &[(String, String)],
) -> Result<(Figment, usize), ConfigError> {
    let mut variables: Vec<&(String, String)> = env_vars
        .iter()
        .filter(|(name, _)| name.starts_with(ENV_PREFIX))
        .collect();
    variables.sort();
    for (name, raw) in &variables {
        let layer = layer(&figment, name, raw).map_err(|reason| ConfigError::EnvVar {
            name: name.clone(),
            reason,
        })?;
        figment = figment.merge(layer);
    }
    Ok((figment, variables.len()))
}

/// The layer of variable `name`, set to what `raw` stands for over `below`.
fn layer(below: &Figment, name: &str, raw: &str) -> Result<Layer, String> {
    let keys: Vec<String> = name[ENV_PREFIX.len()..]
        .split("__")
        .map(str::to_lowercase)
        .collect();
    if keys.iter().any(String::is_empty) {
        return Err("expected PLAYCORE__SECTION__KEY".to_owned());
    }
    check_sections(below, &keys)?;
    let Some((last, parents)) = keys.split_last() else {
        return Err("no key".to_owned());
    };
    let mut values = Dict::from([(last.clone(), value(below, &keys.join("."), raw)?)]);
    for key in parents.iter().rev() {
        values = Dict::from([(key.clone(), Value::from(values))]);
    }
    Ok(Layer {
        name: name.to_owned(),
        values,
    })
}

/// Every key but the last must name a table, or nothing yet.
fn check_sections(below: &Figment, keys: &[String]) -> Result<(), String> {
    for end in 1..keys.len() {
        let is_table = below
            .find_value(&keys[..end].join("."))
            .map_or(true, |value| value.as_dict().is_some());
        if !is_table {
            return Err(format!("`{}` is not a section", keys[end - 1]));
        }
    }
    Ok(())
}

/// A string where the layers below hold a string; otherwise the TOML value `raw` spells.
fn value(below: &Figment, key: &str, raw: &str) -> Result<Value, String> {
    let existing = below.find_value(key).ok();
    if let Some(Value::String(..)) = existing {
        return Ok(Value::from(raw));
    }
    match (toml_value(raw), existing) {
        (Some(value), _) => Ok(value),
        // An unknown key: keep the text; deserialization reports the key as unknown.
        (None, None) => Ok(Value::from(raw)),
        (None, Some(existing)) => Err(format!(
            "{} is not a TOML {}",
            redact::quoted(key, raw),
            kind_name(&existing)
        )),
    }
}

fn toml_value(raw: &str) -> Option<Value> {
    Toml::from_str::<Dict>(&format!("value = {raw}"))
        .ok()?
        .remove("value")
}

/// The TOML name of the kind of `value`.
fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::String(..) | Value::Char(..) => "string",
        Value::Bool(..) => "boolean",
        Value::Num(_, number) if number.to_i128().is_some() => "integer",
        Value::Num(..) => "float",
        Value::Array(..) => "array",
        Value::Dict(..) => "table",
        Value::Empty(..) => "value",
    }
}
