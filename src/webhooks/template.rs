//! Payload templates: an endpoint whose receiver wants its own JSON shape (a WeCom or
//! DingTalk group robot wants `{"msgtype":"text","text":{"content":"…"}}`) gets its body
//! from a template instead of the standard `{type, timestamp, data}`.
//!
//! A template is any JSON value; in its strings (never its keys) the placeholders
//! `{{type}}`, `{{id}}`, `{{activityId}}`, `{{storeId}}`, `{{occurredAt}}` and
//! `{{data.<field>}}` (a path into the event's `data`, fields separated by dots) are
//! replaced by the event's values. A string that is exactly one placeholder takes the
//! value as it is (a number stays a number); inside longer text a value is written as
//! text (a string without quotes, anything else as JSON), and a missing field as nothing.
//! The result is JSON, so a value can never break out of its string.

use serde_json::{Map, Value};

/// The largest template, as compact JSON.
pub const TEMPLATE_BYTES_MAX: usize = 8 * 1024;

/// What a template is rendered with: one event.
pub struct Context<'a> {
    pub event_type: &'a str,
    pub id: &'a str,
    pub activity_id: &'a str,
    pub store_id: Option<&'a str>,
    pub occurred_at: &'a str,
    pub data: &'a Value,
}

/// Checks a template: its size and every placeholder's name.
pub fn validate(template: &Value) -> Result<(), String> {
    let bytes = serde_json::to_vec(template)
        .map_err(|error| error.to_string())?
        .len();
    if bytes > TEMPLATE_BYTES_MAX {
        return Err(format!(
            "at most {TEMPLATE_BYTES_MAX} bytes as JSON, got {bytes}"
        ));
    }
    let mut problem = None;
    visit_strings(template, &mut |text| {
        for name in placeholders(text)? {
            if !is_known(name) {
                return Err(format!(
                    "unknown placeholder {{{{{name}}}}}: use type, id, activityId, storeId, \
                     occurredAt or data.<field>"
                ));
            }
        }
        Ok(())
    })
    .unwrap_or_else(|error| problem = Some(error));
    problem.map_or(Ok(()), Err)
}

/// The template with every placeholder replaced by the event's value.
pub fn render(template: &Value, context: &Context<'_>) -> Value {
    match template {
        Value::String(text) => render_string(text, context),
        Value::Array(items) => items.iter().map(|item| render(item, context)).collect(),
        Value::Object(fields) => {
            let rendered: Map<String, Value> = fields
                .iter()
                .map(|(key, value)| (key.clone(), render(value, context)))
                .collect();
            Value::Object(rendered)
        }
        other => other.clone(),
    }
}

fn render_string(text: &str, context: &Context<'_>) -> Value {
    if let Some(name) = sole_placeholder(text) {
        return lookup(name, context).unwrap_or(Value::Null);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(length) = rest[start + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let name = rest[start + 2..start + 2 + length].trim();
        match lookup(name, context) {
            Some(Value::String(value)) => out.push_str(&value),
            Some(Value::Null) | None => {}
            Some(other) => out.push_str(&other.to_string()),
        }
        rest = &rest[start + 2 + length + 2..];
    }
    out.push_str(rest);
    Value::String(out)
}

/// The placeholder's name when `text` is exactly one placeholder.
fn sole_placeholder(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then(|| inner.trim())
}

fn lookup(name: &str, context: &Context<'_>) -> Option<Value> {
    let text = |value: &str| Some(Value::String(value.to_owned()));
    match name {
        "type" => text(context.event_type),
        "id" => text(context.id),
        "activityId" => text(context.activity_id),
        "storeId" => context.store_id.and_then(text),
        "occurredAt" => text(context.occurred_at),
        _ => {
            let path = name.strip_prefix("data.")?;
            path.split('.')
                .try_fold(context.data, |value, field| value.get(field))
                .cloned()
        }
    }
}

fn is_known(name: &str) -> bool {
    match name {
        "type" | "id" | "activityId" | "storeId" | "occurredAt" => true,
        _ => name
            .strip_prefix("data.")
            .is_some_and(|path| path.split('.').all(|field| !field.is_empty())),
    }
}

/// The names of `text`'s placeholders; an opening `{{` without its `}}` is an error.
fn placeholders(text: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(length) = rest[start + 2..].find("}}") else {
            return Err(format!(
                "a placeholder without its closing }}}} in {text:?}"
            ));
        };
        names.push(rest[start + 2..start + 2 + length].trim());
        rest = &rest[start + 2 + length + 2..];
    }
    Ok(names)
}

fn visit_strings(
    value: &Value,
    check: &mut impl FnMut(&str) -> Result<(), String>,
) -> Result<(), String> {
    match value {
        Value::String(text) => check(text),
        Value::Array(items) => items.iter().try_for_each(|item| visit_strings(item, check)),
        Value::Object(fields) => fields
            .values()
            .try_for_each(|item| visit_strings(item, check)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn context(data: &Value) -> Context<'_> {
        Context {
            event_type: "INSTANCE_PAID",
            id: "evt_0000000000050001",
            activity_id: "7",
            store_id: Some("store-1"),
            occurred_at: "2026-12-07T10:00:00.000Z",
            data,
        }
    }

    #[test]
    fn a_robot_template_renders_the_event() {
        let template = json!({
            "msgtype": "text",
            "text": {"content": "{{type}} 活动 {{activityId}} 门店 {{storeId}}: 订单 {{data.orderId}} 支付 {{data.amount}} 分 @ {{occurredAt}} ({{id}})"}
        });
        validate(&template).expect("a valid template");
        let data = json!({"orderId": "ord-7-3", "amount": 990});
        let body = render(&template, &context(&data));
        assert_eq!(
            body,
            json!({
                "msgtype": "text",
                "text": {"content": "INSTANCE_PAID 活动 7 门店 store-1: 订单 ord-7-3 支付 990 分 @ 2026-12-07T10:00:00.000Z (evt_0000000000050001)"}
            })
        );
    }

    #[test]
    fn a_sole_placeholder_keeps_the_values_type_and_nested_paths_work() {
        let template = json!({"amount": "{{data.amount}}", "who": ["{{ data.user.id }}"], "n": 3});
        let data = json!({"amount": 990, "user": {"id": "u1"}});
        let body = render(&template, &context(&data));
        assert_eq!(body, json!({"amount": 990, "who": ["u1"], "n": 3}));
    }

    #[test]
    fn missing_fields_render_as_nothing_and_values_cannot_break_out() {
        let data = json!({"remark": "\"}, {\"evil\": true"});
        let body = render(
            &json!({"a": "x{{data.none}}y", "b": "{{data.none}}", "c": "<{{data.remark}}>"}),
            &context(&data),
        );
        assert_eq!(body["a"], "xy");
        assert_eq!(body["b"], Value::Null);
        assert_eq!(body["c"], "<\"}, {\"evil\": true>");
        assert!(body.get("evil").is_none());
    }

    #[test]
    fn unknown_or_unclosed_placeholders_are_refused() {
        for bad in [
            json!({"t": "{{secret}}"}),
            json!({"t": "{{data.}}"}),
            json!({"t": "{{data..x}}"}),
            json!(["ok", {"t": "{{type"}]),
        ] {
            assert!(validate(&bad).is_err(), "{bad}");
        }
        let large = json!({"t": "x".repeat(TEMPLATE_BYTES_MAX)});
        assert!(validate(&large).is_err());
    }
}
