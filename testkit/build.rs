//! Reads the development tokens from `config/default.toml` (the one place they are
//! defined) and writes them as constants for the tests.

use std::fmt::Write;
use std::path::Path;

/// The constants, by the roles of the token they name: the first admin, the first
/// operator, the first and the second approver.
const WANTED: [(&str, &str, usize); 4] = [
    ("ADMIN", "admin", 0),
    ("OPERATOR", "operator", 0),
    ("APPROVER", "approver", 0),
    ("SECOND_APPROVER", "approver", 1),
];

fn main() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/default.toml");
    println!("cargo:rerun-if-changed={}", config.display());
    let text = std::fs::read_to_string(&config).expect("config/default.toml is readable");
    let table: toml::Table = text.parse().expect("config/default.toml is TOML");
    let tokens = table["auth"]["tokens"].as_array().expect("auth.tokens");
    let mut out = String::new();
    for (constant, role, index) in WANTED {
        let token = tokens
            .iter()
            .filter(|token| roles(token) == [role])
            .nth(index)
            .unwrap_or_else(|| panic!("config/default.toml has no token {constant}"));
        let field = |name: &str| token[name].as_str().expect("a string").to_owned();
        let (value, name) = (field("token"), field("name"));
        writeln!(out, "/// `{value}`, role {role}.").unwrap();
        writeln!(out, "pub const {constant}_TOKEN: &str = {value:?};").unwrap();
        writeln!(
            out,
            "/// The name approvals and the audit log record for {constant}_TOKEN."
        )
        .unwrap();
        writeln!(out, "pub const {constant}_NAME: &str = {name:?};").unwrap();
    }
    let path = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("tokens.rs");
    std::fs::write(path, out).expect("write tokens.rs");
}

fn roles(token: &toml::Value) -> Vec<&str> {
    let roles = token["roles"].as_array().expect("roles");
    roles.iter().filter_map(toml::Value::as_str).collect()
}
