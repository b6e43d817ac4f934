//! The routes the server registers, read from its sources: every `.route("PATH", …)` call
//! in `src/` outside `#[cfg(test)]` modules, with the methods of its route
//! (`web::get()`, …, `guard::Head()`, or those named in the body of a local helper such
//! as `get_or_head()`).
//!
//! A registration the scanner cannot read (`web::resource`, `web::scope`, `.service`, a
//! path that is not a string literal, a route whose method it cannot tell) is an error:
//! a new way of registering routes fails the test instead of slipping past it.

use std::collections::BTreeSet;
use std::path::Path;

/// `(METHOD, path)`, the method uppercase, parameters normalized to `{}`.
pub type Route = (String, String);

/// Method constructors and guards, and the method each stands for.
const METHOD_CALLS: [(&str, &str); 12] = [
    ("web::get()", "GET"),
    ("web::post()", "POST"),
    ("web::put()", "PUT"),
    ("web::delete()", "DELETE"),
    ("web::patch()", "PATCH"),
    ("web::head()", "HEAD"),
    ("guard::Get()", "GET"),
    ("guard::Post()", "POST"),
    ("guard::Put()", "PUT"),
    ("guard::Delete()", "DELETE"),
    ("guard::Patch()", "PATCH"),
    ("guard::Head()", "HEAD"),
];

/// Registrations this scanner does not read.
const UNREAD_FORMS: [&str; 3] = ["web::resource(", "web::scope(", ".service("];

const ROUTE_CALL: &str = ".route(";

/// Every route registered by the sources under `source_dir` (recursively).
pub fn registered_routes(source_dir: &Path) -> Result<BTreeSet<Route>, String> {
    let mut routes = BTreeSet::new();
    for file in rust_files(source_dir)? {
        let text = std::fs::read_to_string(&file)
            .map_err(|error| format!("{}: {error}", file.display()))?;
        routes.extend(routes_in(&file.display().to_string(), &text)?);
    }
    Ok(routes)
}

fn rust_files(directory: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let entries = std::fs::read_dir(directory)
        .map_err(|error| format!("{}: {error}", directory.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|error| error.to_string())?.path();
        if path.is_dir() {
            files.extend(rust_files(&path)?);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// `{orderId}` → `{}`: the document and the code may name a parameter differently.
pub fn normalize(path: &str) -> String {
    let mut normalized = String::with_capacity(path.len());
    let mut in_parameter = false;
    for character in path.chars() {
        match character {
            '{' => {
                in_parameter = true;
                normalized.push_str("{}");
            }
            '}' => in_parameter = false,
            _ if in_parameter => {}
            _ => normalized.push(character),
        }
    }
    normalized
}

/// The routes one source file registers; `file` names it in errors.
pub fn routes_in(file: &str, text: &str) -> Result<Vec<Route>, String> {
    let text = production_code(text);
    let line = |index: usize| text[..index].lines().count().max(1);
    for form in UNREAD_FORMS {
        if let Some(index) = text.find(form) {
            return Err(format!(
                "{file}:{}: `{form}` registrations are not read by tests/openapi/scan.rs; \
                 register with `.route(\"/path\", web::METHOD().to(handler))` or teach \
                 the scanner",
                line(index)
            ));
        }
    }
    let mut routes = Vec::new();
    for (index, _) in text.match_indices(ROUTE_CALL) {
        let at = format!("{file}:{}", line(index));
        let call = &text[index + ROUTE_CALL.len()..];
        let (path, arguments) =
            route_arguments(call).map_err(|reason| format!("{at}: {reason}"))?;
        let methods = route_methods(&text, arguments);
        if methods.is_empty() {
            return Err(format!("{at}: cannot tell the HTTP method of {path}"));
        }
        routes.extend(methods.into_iter().map(|method| (method, normalize(path))));
    }
    Ok(routes)
}

/// The text before the first `#[cfg(test)] mod` (test modules come last), with comment
/// lines blanked (line numbers stay right).
fn production_code(text: &str) -> String {
    let mut code = String::with_capacity(text.len());
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        let next_is_module = lines
            .peek()
            .is_some_and(|next| next.trim_start().starts_with("mod "));
        if trimmed.starts_with("#[cfg(test)]") && next_is_module {
            break;
        }
        if !trimmed.starts_with("//") {
            code.push_str(line);
        }
        code.push('\n');
    }
    code
}

/// The path literal and the rest of the call's arguments, up to its closing parenthesis.
fn route_arguments(call: &str) -> Result<(&str, &str), String> {
    let call = call.trim_start();
    let Some(after_quote) = call.strip_prefix('"') else {
        return Err("the route's path is not a string literal".to_owned());
    };
    let end = after_quote
        .find('"')
        .ok_or("an unterminated path literal")?;
    let (path, rest) = (&after_quote[..end], &after_quote[end + 1..]);
    let close = closing_parenthesis(rest).ok_or("an unterminated .route( call")?;
    Ok((path, &rest[..close]))
}

/// The index of the parenthesis closing an already open one, skipping string literals.
fn closing_parenthesis(text: &str) -> Option<usize> {
    let mut depth = 1usize;
    let mut in_string = false;
    let mut escaped = false;
    for (index, character) in text.char_indices() {
        match character {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return Some(index);
                }
            }
            _ => {}
        }
    }
    None
}

/// The methods a route's arguments name, directly or through a local helper function.
fn route_methods(text: &str, arguments: &str) -> BTreeSet<String> {
    let direct = methods_named(arguments);
    if !direct.is_empty() {
        return direct;
    }
    helper_body(text, arguments)
        .map(methods_named)
        .unwrap_or_default()
}

fn methods_named(text: &str) -> BTreeSet<String> {
    METHOD_CALLS
        .iter()
        .filter(|(call, _)| text.contains(call))
        .map(|(_, method)| (*method).to_owned())
        .collect()
}

/// The body of `fn NAME(` when the route is built by a call `NAME()` of this file.
fn helper_body<'a>(text: &'a str, arguments: &str) -> Option<&'a str> {
    let start = arguments
        .trim_start_matches(|character: char| character == ',' || character.is_whitespace());
    let name_length = start
        .find(|character: char| !(character.is_alphanumeric() || character == '_'))
        .unwrap_or(start.len());
    let (name, rest) = start.split_at(name_length);
    if name.is_empty() || !rest.starts_with("()") {
        return None;
    }
    let definition = text.find(&format!("fn {name}("))?;
    let body = &text[definition..];
    let open = body.find('{')?;
    let mut depth = 0usize;
    for (index, character) in body[open..].char_indices() {
        match character {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&body[open..open + index]);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> Route {
        (method.to_owned(), path.to_owned())
    }

    #[test]
    fn reads_one_line_and_wrapped_registrations() {
        let source = r#"
            pub fn configure(config: &mut web::ServiceConfig) {
                config
                    .route("/a/{id}", web::get().to(a))
                    .route(
                        "/a/{id}/b",
                        web::post().to(b),
                    );
            }
        "#;

        let routes = routes_in("x.rs", source).expect("readable");

        assert_eq!(routes, [route("GET", "/a/{}"), route("POST", "/a/{}/b")]);
    }

    #[test]
    fn reads_methods_through_a_local_helper() {
        let source = r#"
            fn configure(config: &mut web::ServiceConfig) {
                config.route("/page/{id}", get_or_head().to(page));
            }
            fn get_or_head() -> actix_web::Route {
                web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
            }
        "#;

        let routes = routes_in("x.rs", source).expect("readable");

        assert_eq!(
            routes,
            [route("GET", "/page/{}"), route("HEAD", "/page/{}")]
        );
    }

    #[test]
    fn skips_test_modules_and_comment_lines() {
        let source = "// .route(\"/commented\", web::get())\n\
                      fn configure(c: &mut C) { c.route(\"/x\", web::put().to(x)); }\n\
                      #[cfg(test)]\n\
                      mod tests { fn t() { App::new().route(\"/grab\", web::post()); } }\n";

        let routes = routes_in("x.rs", source).expect("readable");

        assert_eq!(routes, [route("PUT", "/x")]);
    }

    #[test]
    fn refuses_registrations_it_cannot_read() {
        let unread = [
            "c.service(web::resource(\"/r\").route(web::get().to(r)));",
            "c.route(PATH, web::get().to(r));",
            "c.route(\"/r\", web::route().to(r));",
        ];
        for source in unread {
            assert!(routes_in("x.rs", source).is_err(), "{source}");
        }
    }

    #[test]
    fn normalizes_parameter_names() {
        assert_eq!(normalize("/o/{orderId}/pay/{x}"), "/o/{}/pay/{}");
        assert_eq!(normalize("/healthz"), "/healthz");
    }
}
