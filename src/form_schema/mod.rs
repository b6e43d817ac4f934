//! The activity form of each play template as JSON Schema (draft 2020-12), kept as data in
//! `src/form_schema/schemas/*.json` and embedded in the binary.
//!
//! Each file holds `{"schema": …, "uiSchema": …}`. `schema` is the JSON Schema of the whole
//! create/edit body of `/admin/v1/activities` for that template, with titles and
//! descriptions in Simplified Chinese to serve as form labels; `uiSchema` holds rendering
//! hints in the react-jsonschema-form convention (`ui:order`, `ui:widget`, `ui:help`,
//! `ui:placeholder`, `ui:options`). `GET /admin/v1/templates/{code}/form-schema` serves both.
//!
//! The server validates a body's `rules` object against `schema.properties.rules`, compiled
//! once with boon, before the typed parse: an unknown rule, a wrong type or an
//! out-of-range value becomes a VALIDATION_FAILED naming `rules.<name>`. The other fields
//! go through the typed parse and the business checks of `ActivityConfig::validate`; the
//! unit tests keep the schema's bounds equal to those checks' constants, so what the form
//! allows is what the server accepts.
//!
//! Schemas are compiled with a loader that knows no URL scheme: nothing but these files
//! (and boon's built-in metaschemas) is ever read, from disk or network.

use std::sync::LazyLock;

use boon::{
    Compiler, Draft, ErrorKind, InstanceToken, SchemaIndex, Schemas, SchemeUrlLoader,
    ValidationError,
};
use playcore_actors::domain::TemplateCode;
use serde_json::{Map, Value};

/// Field errors one `rules` object reports at most: a `cities` list of 500 bad entries
/// would otherwise name each one. The first ones are enough to fix the form.
pub const RULE_ERRORS_MAX: usize = 20;

/// The embedded form of each template, in `TemplateCode::ALL` order.
const SOURCES: [(TemplateCode, &str); 3] = [
    (
        TemplateCode::FlashSale,
        include_str!("schemas/flash_sale.json"),
    ),
    (
        TemplateCode::GroupBuy,
        include_str!("schemas/group_buy.json"),
    ),
    (
        TemplateCode::CourseGroup,
        include_str!("schemas/course_group.json"),
    ),
];

/// One template's form: the schema and UI hints served to the admin page, and the
/// compiled schema of its `rules`.
pub struct TemplateForm {
    pub template: TemplateCode,
    /// The JSON Schema of the whole body.
    pub schema: Value,
    /// Rendering hints (field order, widgets).
    pub ui_schema: Value,
    rules_index: SchemaIndex,
    /// Rule names in form order (the rules' `ui:order`), for error messages and the list.
    rule_names: Vec<String>,
}

/// Every template's form, compiled once.
pub struct Catalog {
    schemas: Schemas,
    forms: Vec<TemplateForm>,
}

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    // The files are part of the binary; the unit tests compile every one of them.
    Catalog::build().unwrap_or_else(|error| panic!("embedded template schemas: {error}"))
});

/// The forms of all templates.
pub fn catalog() -> &'static Catalog {
    &CATALOG
}

/// The location the form of `template` is compiled under (also its `$id`).
fn form_location(template: TemplateCode) -> String {
    format!("urn:playcore:form:{}", template.code())
}

impl Catalog {
    fn build() -> Result<Catalog, String> {
        let mut compiler = Compiler::new();
        compiler.set_default_draft(Draft::V2020_12);
        compiler.use_loader(Box::new(SchemeUrlLoader::new()));
        let mut schemas = Schemas::new();
        let mut forms = Vec::with_capacity(SOURCES.len());
        for (template, text) in SOURCES {
            let form = compile_form(&mut compiler, &mut schemas, template, text)
                .map_err(|error| format!("{}: {error}", template.code()))?;
            forms.push(form);
        }
        Ok(Catalog { schemas, forms })
    }

    /// The form of `template`.
    pub fn form(&self, template: TemplateCode) -> &TemplateForm {
        // `build` compiles one form per entry of SOURCES, which lists every template.
        self.forms
            .iter()
            .find(|form| form.template == template)
            .expect("every template has a form")
    }

    /// Checks `rules` (the body's `rules`, `{}` when absent) against the template's rules
    /// schema; the errors name fields from the body's root (`rules.groupSize`,
    /// `rules.cities[2]`), at most [`RULE_ERRORS_MAX`].
    pub fn validate_rules(
        &self,
        template: TemplateCode,
        rules: &Value,
    ) -> Result<(), Vec<(String, String)>> {
        let form = self.form(template);
        let Err(error) = self.schemas.validate(rules, form.rules_index) else {
            return Ok(());
        };
        let mut fields = Vec::new();
        collect_leaves(&error, form, &mut fields);
        if fields.is_empty() {
            // Never expected: every failure has a leaf. Still name the object.
            fields.push(("rules".to_owned(), error.kind.to_string()));
        }
        Err(fields)
    }
}

fn compile_form(
    compiler: &mut Compiler,
    schemas: &mut Schemas,
    template: TemplateCode,
    text: &str,
) -> Result<TemplateForm, String> {
    let mut file: Value = serde_json::from_str(text).map_err(|error| error.to_string())?;
    let schema = file.get_mut("schema").map(Value::take).unwrap_or_default();
    let ui_schema = file
        .get_mut("uiSchema")
        .map(Value::take)
        .unwrap_or_default();
    let location = form_location(template);
    compiler
        .add_resource(&location, schema.clone())
        .map_err(|error| format!("{error:#}"))?;
    compiler
        .compile(&location, schemas)
        .map_err(|error| format!("{error:#}"))?;
    let rules_index = compiler
        .compile(&format!("{location}#/properties/rules"), schemas)
        .map_err(|error| format!("{error:#}"))?;
    let rule_names = string_list(&ui_schema["rules"]["ui:order"]);
    Ok(TemplateForm {
        template,
        schema,
        ui_schema,
        rules_index,
        rule_names,
    })
}

fn string_list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

impl TemplateForm {
    /// The schema of the `rules` object.
    pub fn rules_schema(&self) -> &Value {
        &self.schema["properties"]["rules"]
    }

    /// The rules of this template for a form or a list: each rule's schema (title,
    /// description, type, bounds, default) with its `name` and whether it is `required`,
    /// in form order.
    pub fn rule_fields(&self) -> Vec<Value> {
        let rules = self.rules_schema();
        let required = string_list(&rules["required"]);
        self.rule_names
            .iter()
            .map(|name| {
                let mut field = Map::new();
                field.insert("name".to_owned(), Value::from(name.as_str()));
                field.insert("required".to_owned(), Value::from(required.contains(name)));
                if let Some(schema) = rules["properties"][name].as_object() {
                    field.extend(schema.clone());
                }
                Value::Object(field)
            })
            .collect()
    }
}

/// Adds a field error for each leaf of the error tree, first reason per field wins.
fn collect_leaves(
    error: &ValidationError,
    form: &TemplateForm,
    fields: &mut Vec<(String, String)>,
) {
    if !error.causes.is_empty() {
        for cause in &error.causes {
            collect_leaves(cause, form, fields);
        }
        return;
    }
    let path = field_path(&error.instance_location.tokens);
    for (field, reason) in leaf_errors(&path, &error.kind, form) {
        if fields.len() >= RULE_ERRORS_MAX {
            return;
        }
        if !fields.iter().any(|(known, _)| *known == field) {
            fields.push((field, reason));
        }
    }
}

/// `rules` followed by the location inside it: `rules.cities[2]`.
fn field_path(tokens: &[InstanceToken]) -> String {
    let mut path = String::from("rules");
    for token in tokens {
        match token {
            InstanceToken::Prop(name) => {
                path.push('.');
                path.push_str(name);
            }
            InstanceToken::Item(index) => path.push_str(&format!("[{index}]")),
        }
    }
    path
}

/// The field errors one failed keyword stands for. `required` and
/// `additionalProperties` fail at the object but name its members.
fn leaf_errors(path: &str, kind: &ErrorKind, form: &TemplateForm) -> Vec<(String, String)> {
    let code = form.template.code();
    match kind {
        ErrorKind::Required { want } => want
            .iter()
            .map(|name| (format!("{path}.{name}"), format!("required for {code}")))
            .collect(),
        ErrorKind::AdditionalProperties { got } => {
            let allowed = form.rule_names.join(", ");
            got.iter()
                .map(|name| {
                    let reason = format!("not a rule of {code}; its rules: {allowed}");
                    (format!("{path}.{name}"), reason)
                })
                .collect()
        }
        other => vec![(path.to_owned(), reason(other))],
    }
}

/// A short reason for one failed keyword on a value.
fn reason(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::Type { got, want } => {
            let wanted: Vec<String> = want.iter().map(|kind| kind.to_string()).collect();
            format!("must be of type {}, got {got}", wanted.join(" or "))
        }
        ErrorKind::Minimum { got, want } => format!("must be at least {want}, got {got}"),
        ErrorKind::Maximum { got, want } => format!("must be at most {want}, got {got}"),
        ErrorKind::MinLength { want: 1, .. } => "must not be empty".to_owned(),
        ErrorKind::MinLength { got, want } => {
            format!("must be at least {want} characters, got {got}")
        }
        ErrorKind::MaxLength { got, want } => {
            format!("must be at most {want} characters, got {got}")
        }
        ErrorKind::MaxItems { got, want } => format!("must have at most {want} items, got {got}"),
        // The forms' only pattern is `\S` (some character that is not white space; a test
        // keeps it so); boon reports it rewritten as a character class, hence no match on
        // `want`.
        ErrorKind::Pattern { .. } => "must not be blank".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use playcore_actors::domain::config::{
        CITIES_MAX, GROUP_TTL_SECONDS_MAX, GROUP_TTL_SECONDS_MIN, ID_LENGTH_MAX,
        PAY_TIMEOUT_SECONDS_MAX, PAY_TIMEOUT_SECONDS_MIN, PER_USER_LIMIT_MAX, PRICE_CENTS_MAX,
        STOCK_MAX, TITLE_LENGTH_MAX, UNITS_PER_ORDER_MAX, UNIT_NAME_LENGTH_MAX,
    };
    use playcore_actors::domain::template::{
        GROUP_SIZE_MAX, GROUP_SIZE_MIN, GROUP_TTL_SECONDS_DEFAULT,
    };
    use serde_json::json;

    const GROUP_TEMPLATES: [TemplateCode; 2] = [TemplateCode::GroupBuy, TemplateCode::CourseGroup];

    fn errors(template: TemplateCode, rules: Value) -> Vec<(String, String)> {
        catalog()
            .validate_rules(template, &rules)
            .expect_err("the rules are refused")
    }

    fn fields(template: TemplateCode, rules: Value) -> Vec<String> {
        errors(template, rules)
            .into_iter()
            .map(|(field, _)| field)
            .collect()
    }

    fn accepts(template: TemplateCode, rules: Value) {
        let result = catalog().validate_rules(template, &rules);
        assert_eq!(result, Ok(()), "{} {rules}", template.code());
    }

    #[test]
    fn every_template_has_a_form_that_compiles() {
        for template in TemplateCode::ALL {
            let form = catalog().form(template);
            assert_eq!(form.template, template);
            assert_eq!(
                form.schema["$id"],
                json!(form_location(template)),
                "{}",
                template.code()
            );
            assert_eq!(
                form.schema["properties"]["templateCode"]["const"],
                json!(template.code())
            );
        }
    }

    #[test]
    fn valid_rules_pass_for_each_template() {
        accepts(TemplateCode::FlashSale, json!({}));
        accepts(
            TemplateCode::FlashSale,
            json!({"newUserOnly": true, "cities": ["上海", "北京"], "mutuallyExclusive": true}),
        );
        for template in GROUP_TEMPLATES {
            accepts(template, json!({"groupSize": GROUP_SIZE_MIN}));
            accepts(
                template,
                json!({
                    "groupSize": GROUP_SIZE_MAX,
                    "groupTtlSeconds": GROUP_TTL_SECONDS_MAX,
                    "newUserOnly": false,
                    "cities": [],
                    "mutuallyExclusive": false,
                }),
            );
            accepts(
                template,
                json!({"groupSize": 3, "groupTtlSeconds": GROUP_TTL_SECONDS_MIN}),
            );
        }
    }

    #[test]
    fn an_unknown_rule_is_named_with_the_allowed_ones() {
        for template in TemplateCode::ALL {
            let mut rules = json!({"maxDiscount": 5});
            if template.is_group() {
                rules["groupSize"] = json!(3);
            }
            let found = errors(template, rules);
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!(found[0].0, "rules.maxDiscount");
            assert!(found[0].1.contains("newUserOnly"), "{found:?}");
        }
    }

    #[test]
    fn a_wrong_type_is_named() {
        for template in TemplateCode::ALL {
            let mut rules = json!({"newUserOnly": "yes", "cities": "上海"});
            if template.is_group() {
                rules["groupSize"] = json!("3");
            }
            let mut found = fields(template, rules);
            found.sort();
            let mut expected = vec!["rules.cities", "rules.newUserOnly"];
            if template.is_group() {
                expected.insert(1, "rules.groupSize");
            }
            assert_eq!(found, expected, "{}", template.code());
        }
        let found = errors(TemplateCode::GroupBuy, json!({"groupSize": 2.5}));
        assert_eq!(found[0].0, "rules.groupSize");
        assert!(found[0].1.contains("integer"), "{found:?}");
    }

    #[test]
    fn rules_that_are_not_an_object_are_named_as_rules() {
        assert_eq!(
            fields(TemplateCode::FlashSale, json!(["newUserOnly"])),
            vec!["rules"]
        );
    }

    #[test]
    fn out_of_range_values_are_named() {
        for template in GROUP_TEMPLATES {
            for size in [GROUP_SIZE_MIN - 1, GROUP_SIZE_MAX + 1] {
                assert_eq!(
                    fields(template, json!({"groupSize": size})),
                    vec!["rules.groupSize"]
                );
            }
            for ttl in [GROUP_TTL_SECONDS_MIN - 1, GROUP_TTL_SECONDS_MAX + 1] {
                let rules = json!({"groupSize": 3, "groupTtlSeconds": ttl});
                assert_eq!(fields(template, rules), vec!["rules.groupTtlSeconds"]);
            }
            let negative = errors(template, json!({"groupSize": -1}));
            assert_eq!(negative[0].0, "rules.groupSize");
            assert!(negative[0].1.contains("at least 2"), "{negative:?}");
        }
    }

    #[test]
    fn cities_are_a_bounded_list_of_non_blank_names() {
        let too_many: Vec<String> = (0..=CITIES_MAX).map(|index| format!("c{index}")).collect();
        assert_eq!(
            fields(TemplateCode::FlashSale, json!({"cities": too_many})),
            vec!["rules.cities"]
        );
        let long = "城".repeat(65);
        let found = fields(
            TemplateCode::FlashSale,
            json!({"cities": ["上海", "", " ", 7, long]}),
        );
        assert_eq!(
            found,
            vec![
                "rules.cities[1]",
                "rules.cities[2]",
                "rules.cities[3]",
                "rules.cities[4]"
            ]
        );
        let at_most: Vec<String> = (0..CITIES_MAX).map(|index| format!("c{index}")).collect();
        accepts(TemplateCode::FlashSale, json!({"cities": at_most}));
    }

    #[test]
    fn a_group_template_without_group_size_names_it() {
        for template in GROUP_TEMPLATES {
            let found = errors(template, json!({}));
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!(found[0].0, "rules.groupSize");
            assert!(found[0].1.contains(template.code()), "{found:?}");
        }
    }

    #[test]
    fn group_rules_on_a_flash_sale_are_named() {
        let mut found = fields(
            TemplateCode::FlashSale,
            json!({"groupSize": 3, "groupTtlSeconds": 600}),
        );
        found.sort();
        assert_eq!(found, vec!["rules.groupSize", "rules.groupTtlSeconds"]);
    }

    #[test]
    fn errors_are_bounded() {
        let blanks = vec![""; CITIES_MAX];
        let found = fields(TemplateCode::FlashSale, json!({"cities": blanks}));
        assert_eq!(found.len(), RULE_ERRORS_MAX);
    }

    /// The bound `keyword` of `field` (a pointer into the schema's properties) as u64.
    fn bound(template: TemplateCode, field: &str, keyword: &str) -> u64 {
        let pointer = format!("/properties/{field}/{keyword}");
        let schema = &catalog().form(template).schema;
        schema
            .pointer(&pointer)
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("{} has {pointer}", template.code()))
    }

    fn to_u64(value: impl TryInto<u64>) -> u64 {
        value.try_into().unwrap_or(u64::MAX)
    }

    #[test]
    fn the_schemas_bounds_are_the_business_checks_bounds() {
        let ranges = [
            ("price", 1, PRICE_CENTS_MAX),
            ("stock", 1, STOCK_MAX),
            ("perUserLimit", 1, u64::from(PER_USER_LIMIT_MAX)),
            ("unitsPerOrder", 1, u64::from(UNITS_PER_ORDER_MAX)),
            (
                "payTimeoutSeconds",
                PAY_TIMEOUT_SECONDS_MIN,
                PAY_TIMEOUT_SECONDS_MAX,
            ),
        ];
        let lengths = [
            ("title", TITLE_LENGTH_MAX),
            ("storeId", ID_LENGTH_MAX),
            ("serviceId", ID_LENGTH_MAX),
            ("unitName", UNIT_NAME_LENGTH_MAX),
        ];
        for template in TemplateCode::ALL {
            for (field, minimum, maximum) in ranges {
                assert_eq!(bound(template, field, "minimum"), minimum, "{field}");
                assert_eq!(bound(template, field, "maximum"), maximum, "{field}");
            }
            for (field, maximum) in lengths {
                assert_eq!(bound(template, field, "minLength"), 1, "{field}");
                assert_eq!(bound(template, field, "maxLength"), to_u64(maximum));
            }
            let unit = &catalog().form(template).schema["properties"]["unitName"]["default"];
            assert_eq!(unit, &json!(template.unit_name()));
            let cities = bound(template, "rules/properties/cities", "maxItems");
            assert_eq!(cities, to_u64(CITIES_MAX));
        }
        for template in GROUP_TEMPLATES {
            let size = "rules/properties/groupSize";
            assert_eq!(bound(template, size, "minimum"), u64::from(GROUP_SIZE_MIN));
            assert_eq!(bound(template, size, "maximum"), u64::from(GROUP_SIZE_MAX));
            let ttl = "rules/properties/groupTtlSeconds";
            assert_eq!(bound(template, ttl, "minimum"), GROUP_TTL_SECONDS_MIN);
            assert_eq!(bound(template, ttl, "maximum"), GROUP_TTL_SECONDS_MAX);
            assert_eq!(bound(template, ttl, "default"), GROUP_TTL_SECONDS_DEFAULT);
        }
    }

    /// The keys of an object, sorted.
    fn keys(value: &Value) -> Vec<String> {
        let mut keys: Vec<String> = value
            .as_object()
            .map(|object| object.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    }

    fn sorted(mut names: Vec<String>) -> Vec<String> {
        names.sort();
        names
    }

    #[test]
    fn the_ui_order_lists_every_field_once() {
        for template in TemplateCode::ALL {
            let form = catalog().form(template);
            let order = string_list(&form.ui_schema["ui:order"]);
            assert_eq!(sorted(order), keys(&form.schema["properties"]));
            let rule_order = string_list(&form.ui_schema["rules"]["ui:order"]);
            assert_eq!(sorted(rule_order), keys(&form.rules_schema()["properties"]));
        }
    }

    #[test]
    fn every_field_has_a_chinese_title_and_description() {
        let is_chinese = |text: &str| text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        for template in TemplateCode::ALL {
            let form = catalog().form(template);
            let properties = form.schema["properties"].as_object().expect("properties");
            let rules = form.rules_schema()["properties"]
                .as_object()
                .expect("rule properties");
            for (name, field) in properties.iter().chain(rules) {
                for keyword in ["title", "description"] {
                    let text = field[keyword].as_str().unwrap_or_default();
                    assert!(is_chinese(text), "{} {name}.{keyword}", template.code());
                }
            }
        }
    }

    /// Every `pattern` keyword under `value`, with its location.
    fn patterns(value: &Value, location: String, found: &mut Vec<(String, Value)>) {
        match value {
            Value::Object(object) => {
                for (key, child) in object {
                    let at = format!("{location}/{key}");
                    if key == "pattern" {
                        found.push((at.clone(), child.clone()));
                    }
                    patterns(child, at, found);
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    patterns(child, format!("{location}/{index}"), found);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn the_only_pattern_is_not_blank_as_the_reasons_assume() {
        for template in TemplateCode::ALL {
            let mut found = Vec::new();
            patterns(&catalog().form(template).schema, String::new(), &mut found);
            assert!(!found.is_empty());
            for (location, pattern) in found {
                assert_eq!(pattern, json!("\\S"), "{} {location}", template.code());
            }
        }
        let found = errors(TemplateCode::FlashSale, json!({"cities": [" \t"]}));
        assert_eq!(
            found[0],
            ("rules.cities[0]".to_owned(), "must not be blank".to_owned())
        );
    }

    #[test]
    fn rule_fields_follow_the_form_order_and_mark_required_ones() {
        let group = catalog().form(TemplateCode::GroupBuy).rule_fields();
        let names: Vec<&str> = group.iter().filter_map(|f| f["name"].as_str()).collect();
        assert_eq!(
            names,
            [
                "groupSize",
                "groupTtlSeconds",
                "newUserOnly",
                "cities",
                "mutuallyExclusive"
            ]
        );
        assert_eq!(group[0]["required"], true);
        assert_eq!(group[0]["type"], "integer");
        assert_eq!(group[0]["minimum"], GROUP_SIZE_MIN);
        assert_eq!(group[1]["required"], false);
        let flash = catalog().form(TemplateCode::FlashSale).rule_fields();
        assert!(flash.iter().all(|field| field["required"] == false));
        assert!(!flash.iter().any(|field| field["name"] == "groupSize"));
    }
}
