//! What an admin page needs to render the activity form of a play template:
//!
//! - `GET /admin/v1/templates`: every template with its code, name, default unit, whether
//!   it sells through groups, and its rule fields (schema of each rule, `required`, form
//!   order);
//! - `GET /admin/v1/templates/{code}/form-schema`: the JSON Schema (draft 2020-12) of the
//!   whole create/edit body for that template and its UI hints; 404 for an unknown code.
//!
//! Both come from the embedded schema files (`crate::form_schema`) the server validates
//! rules with, so the form and the validation cannot disagree. Any admin-API role reads.

use crate::form_schema::{self, TemplateForm};
use crate::http::auth::{Caller, Role};
use crate::http::envelope;
use crate::http::error::ApiError;
use actix_web::{web, HttpResponse};
use playcore_actors::domain::TemplateCode;
use serde_json::{json, Value};

const ANY_ROLE: [Role; 3] = [Role::Operator, Role::Approver, Role::Admin];

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/admin/v1/templates", web::get().to(list_templates))
        .route(
            "/admin/v1/templates/{code}/form-schema",
            web::get().to(form_schema),
        );
}

/// A template's summary: the fields a list or a picker shows.
fn summary(form: &TemplateForm) -> Value {
    let template = form.template;
    json!({
        "code": template.code(),
        "name": template.name(),
        "unitName": template.unit_name(),
        "isGroup": template.is_group(),
        "ruleFields": form.rule_fields(),
    })
}

async fn list_templates(caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(&ANY_ROLE)?;
    let catalog = form_schema::catalog();
    let list: Vec<Value> = TemplateCode::ALL
        .into_iter()
        .map(|template| summary(catalog.form(template)))
        .collect();
    Ok(envelope::ok(list))
}

async fn form_schema(caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    caller.require(&ANY_ROLE)?;
    let code = path.into_inner();
    let template =
        TemplateCode::parse(&code).ok_or_else(|| ApiError::not_found("template", &code))?;
    let form = form_schema::catalog().form(template);
    let mut reply = summary(form);
    reply["schema"] = form.schema.clone();
    reply["uiSchema"] = form.ui_schema.clone();
    Ok(envelope::ok(reply))
}
