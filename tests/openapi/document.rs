//! The document under test: its operations, `$ref` resolution, a checker for the subset
//! of JSON Schema the document uses, and the check of one server reply against the
//! operation that produced it.
//!
//! The checker treats every object schema with `properties` as closed (a field the
//! schema does not declare is a problem) unless it says `additionalProperties` other than
//! `false` (free-form objects such as a template's JSON Schema). The document itself stays
//! open for clients, but a field the server sends and the document does not describe fails
//! the tests.

use std::path::PathBuf;

use serde_json::{Map, Value};

/// The HTTP methods an OpenAPI path item may hold (lowercase, as in the document).
pub const METHODS: [&str; 6] = ["get", "head", "post", "put", "delete", "patch"];

/// Longest `$ref` chain followed, so a reference cycle fails instead of looping.
const REFERENCE_DEPTH_MAX: usize = 16;

pub struct Document {
    pub root: Value,
}

/// One operation: `method` is lowercase, `path` the templated path of the document.
pub struct Operation<'a> {
    pub path: &'a str,
    pub method: &'a str,
    pub body: &'a Value,
}

impl Operation<'_> {
    pub fn name(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }

    /// `x-roles`, empty for an operation without a token.
    pub fn roles(&self) -> Vec<&str> {
        self.body["x-roles"]
            .as_array()
            .map(|roles| roles.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    pub fn is_secured(&self) -> bool {
        self.body.get("security").is_some()
    }
}

/// What the server answered, as the checks need it.
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The media type without parameters, lowercase (`application/json`).
    pub fn media_type(&self) -> String {
        let essence = self.content_type.split(';').next().unwrap_or_default();
        essence.trim().to_ascii_lowercase()
    }
}

pub fn document_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi.json")
}

impl Document {
    pub fn load() -> Document {
        let path = document_path();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        let root = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()));
        Document { root }
    }

    pub fn operations(&self) -> Vec<Operation<'_>> {
        let Some(paths) = self.root["paths"].as_object() else {
            return Vec::new();
        };
        let mut operations = Vec::new();
        for (path, item) in paths {
            for method in METHODS {
                if let Some(body) = item.get(method) {
                    operations.push(Operation { path, method, body });
                }
            }
        }
        operations
    }

    /// The value a local reference (`#/components/…`) points to.
    pub fn pointer(&self, reference: &str) -> Option<&Value> {
        let pointer = reference.strip_prefix('#')?;
        self.root.pointer(pointer)
    }

    /// Follows `$ref` until a value without one (an unresolvable reference panics: the
    /// reference test reports those with their names).
    pub fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        for _ in 0..REFERENCE_DEPTH_MAX {
            let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
                return value;
            };
            value = self
                .pointer(reference)
                .unwrap_or_else(|| panic!("unresolved reference {reference}"));
        }
        panic!("a $ref chain longer than {REFERENCE_DEPTH_MAX}: a cycle?")
    }

    /// Problems of `value` against `schema`; empty when it conforms.
    pub fn validate(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        self.check(schema, value, "$", true, &mut problems);
        problems
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, closed: bool, out: &mut Vec<String>) {
        let schema = self.resolve(schema);
        for branch in schema["allOf"].as_array().into_iter().flatten() {
            self.check(branch, value, at, false, out);
        }
        self.check_alternatives(schema, value, at, closed, out);
        if let Some(expected) = schema.get("const") {
            if value != expected {
                out.push(format!("{at}: {value} is not {expected}"));
            }
        }
        if let Some(options) = schema["enum"].as_array() {
            if !options.contains(value) {
                out.push(format!("{at}: {value} is not one of {options:?}"));
            }
        }
        if let Some(types) = schema.get("type") {
            if !type_matches(types, value) {
                out.push(format!("{at}: {value} is not of type {types}"));
                return;
            }
        }
        check_bounds(schema, value, at, out);
        match value {
            Value::Object(fields) => self.check_object(schema, fields, at, closed, out),
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (index, item) in items.iter().enumerate() {
                        self.check(item_schema, item, &format!("{at}[{index}]"), true, out);
                    }
                }
            }
            _ => {}
        }
    }

    fn check_alternatives(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        closed: bool,
        out: &mut Vec<String>,
    ) {
        let alternatives = schema.get("anyOf").or_else(|| schema.get("oneOf"));
        let Some(alternatives) = alternatives.and_then(Value::as_array) else {
            return;
        };
        let fits = |branch: &Value| {
            let mut problems = Vec::new();
            self.check(branch, value, at, closed, &mut problems);
            problems.is_empty()
        };
        if !alternatives.iter().any(fits) {
            out.push(format!("{at}: {value} matches none of the alternatives"));
        }
    }

    fn check_object(
        &self,
        schema: &Value,
        fields: &Map<String, Value>,
        at: &str,
        closed: bool,
        out: &mut Vec<String>,
    ) {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if !fields.contains_key(name) {
                out.push(format!("{at}.{name}: missing (required)"));
            }
        }
        let properties = schema["properties"].as_object();
        for (name, field) in fields {
            let field_at = format!("{at}.{name}");
            match properties.and_then(|properties| properties.get(name)) {
                Some(property) => self.check(property, field, &field_at, true, out),
                None if closed && self.closes(schema) && !self.declares(schema, name) => {
                    out.push(format!("{field_at}: not in the document"));
                }
                None => {}
            }
        }
    }

    /// Whether the schema lists its fields (so others are unexpected).
    fn closes(&self, schema: &Value) -> bool {
        if let Some(additional) = schema.get("additionalProperties") {
            return *additional == Value::Bool(false);
        }
        schema.get("properties").is_some()
            || self.branches(schema).any(|branch| self.closes(branch))
    }

    /// Whether the schema or one of its `allOf` branches declares the field.
    fn declares(&self, schema: &Value, name: &str) -> bool {
        schema["properties"].get(name).is_some()
            || self
                .branches(schema)
                .any(|branch| self.declares(branch, name))
    }

    fn branches<'a>(&'a self, schema: &'a Value) -> impl Iterator<Item = &'a Value> + 'a {
        let branches = schema["allOf"].as_array().into_iter().flatten();
        branches.map(|branch| self.resolve(branch))
    }

    /// Problems of a reply against the operation's documented responses.
    pub fn check_reply(&self, operation: &Operation, reply: &Reply) -> Vec<String> {
        let name = operation.name();
        let status = reply.status.to_string();
        let responses = &operation.body["responses"];
        let Some(response) = responses.get(&status).or_else(|| responses.get("default")) else {
            return vec![format!("{name}: status {status} is not documented")];
        };
        let response = self.resolve(response);
        if reply.body.is_empty() {
            return Vec::new();
        }
        let media_type = reply.media_type();
        let Some(media) = response["content"].get(&media_type) else {
            return vec![format!(
                "{name}: {status} answered {media_type}, not documented"
            )];
        };
        if media_type != "application/json" {
            return Vec::new();
        }
        let Some(body) = reply.json() else {
            return vec![format!("{name}: {status} is not JSON")];
        };
        let mut problems: Vec<String> = self
            .validate(&media["schema"], &body)
            .into_iter()
            .map(|problem| format!("{name} {status}: {problem}"))
            .collect();
        if let Some(codes) = response["x-error-codes"].as_array() {
            if !codes.contains(&body["error"]["code"]) {
                let code = &body["error"]["code"];
                problems.push(format!("{name} {status}: code {code} not in {codes:?}"));
            }
        }
        problems
    }
}

fn type_matches(types: &Value, value: &Value) -> bool {
    let matches = |name: &str| match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    };
    match types {
        Value::String(name) => matches(name),
        Value::Array(names) => names.iter().filter_map(Value::as_str).any(matches),
        _ => false,
    }
}

/// `minimum` / `maximum`, `minLength` / `maxLength` / `format: date-time`, `maxItems`.
fn check_bounds(schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(number) = value.as_f64() {
        let below = schema["minimum"]
            .as_f64()
            .is_some_and(|minimum| number < minimum);
        let above = schema["maximum"]
            .as_f64()
            .is_some_and(|maximum| number > maximum);
        if below || above {
            out.push(format!("{at}: {number} is out of range"));
        }
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as u64;
        let short = schema["minLength"].as_u64().is_some_and(|min| length < min);
        let long = schema["maxLength"].as_u64().is_some_and(|max| length > max);
        if short || long {
            out.push(format!("{at}: {text:?} has a length out of range"));
        }
        let time = schema["format"] == "date-time";
        if time && chrono::DateTime::parse_from_rfc3339(text).is_err() {
            out.push(format!("{at}: {text:?} is not an RFC 3339 time"));
        }
    }
    if let Some(items) = value.as_array() {
        if schema["maxItems"]
            .as_u64()
            .is_some_and(|max| items.len() as u64 > max)
        {
            out.push(format!("{at}: more than maxItems items"));
        }
    }
}

/// Every `$ref` in the value, with where it is.
pub fn references(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                match (key.as_str(), field.as_str()) {
                    ("$ref", Some(reference)) => out.push((at.to_owned(), reference.to_owned())),
                    _ => references(field, &format!("{at}/{key}"), out),
                }
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                references(item, &format!("{at}/{index}"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document() -> Document {
        Document {
            root: json!({"components": {"schemas": {
                "Base": {"type": "object", "required": ["a"],
                         "properties": {"a": {"type": "integer", "minimum": 1}}},
                "Child": {"allOf": [{"$ref": "#/components/schemas/Base"}],
                          "properties": {"b": {"type": ["string", "null"]}}}
            }}}),
        }
    }

    #[test]
    fn the_checker_finds_wrong_types_missing_and_undocumented_fields() {
        let document = document();
        let schema = json!({"$ref": "#/components/schemas/Child"});

        assert!(document
            .validate(&schema, &json!({"a": 2, "b": null}))
            .is_empty());
        let problems = document.validate(&schema, &json!({"a": 0, "b": 3, "c": true}));

        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(document.validate(&schema, &json!({"b": "x"}))[0].contains("missing"));
    }

    #[test]
    fn additional_properties_false_closes_and_anything_else_opens() {
        let document = document();
        let value = json!({"a": 1, "extra": true});
        let free_form = json!({"properties": {"a": {}}, "additionalProperties": true});
        let closed = json!({"properties": {"a": {}}, "additionalProperties": false});

        assert!(document.validate(&free_form, &value).is_empty());
        let problems = document.validate(&closed, &value);

        assert_eq!(problems, vec!["$.extra: not in the document".to_owned()]);
    }
}
