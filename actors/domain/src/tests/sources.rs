//! The domain's own sources hold no catch-all arm: every match on events and statuses
//! names each case, so a new event kind or status does not compile until every machine,
//! `apply` and `decide` says what it does with it. Checked on the text of the sources
//! (the tests under `src/tests` excepted, which match the few events they look at).

use std::path::{Path, PathBuf};

fn sources(directory: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(directory).expect("read the source directory");
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() && !path.ends_with("tests") {
            sources(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}

/// Why `line` is a catch-all arm (`_ =>`, `other =>`, `_ if …`) or an `unreachable!`.
fn catch_all(line: &str) -> Option<&'static str> {
    let code = line.trim_start();
    if code.starts_with("//") {
        return None;
    }
    if code.contains("unreachable!") {
        return Some("unreachable!");
    }
    let (pattern, _) = code.split_once("=>")?;
    let pattern = pattern.trim();
    let binding = pattern.split(" if ").next().unwrap_or(pattern).trim();
    let is_binding = !binding.is_empty()
        && binding
            .bytes()
            .all(|byte| byte == b'_' || byte.is_ascii_lowercase() || byte.is_ascii_digit())
        && !binding.as_bytes()[0].is_ascii_digit();
    is_binding.then_some("a catch-all arm")
}

#[test]
fn the_checker_finds_what_it_looks_for() {
    for line in [
        "            _ => {}",
        "            other => self.apply_trade(other),",
        "            kind => self.apply_trade(kind, at_ms),",
        "        _ if approve => false,",
        "            _ => unreachable!(\"handled elsewhere\"),",
    ] {
        assert!(catch_all(line).is_some(), "{line}");
    }
    for line in [
        "            OrderStatus::Paid => replayed(Subject::Order(order)),",
        "            EventKind::ActivityOnline => self.change_phase(kind),",
        "            0 => false,",
        "            1..BASIS_POINTS_MAX => bucket(activity, user) < basis_points,",
        "            Some(group) => group,",
        "    // _ => is refused",
    ] {
        assert_eq!(catch_all(line), None, "{line}");
    }
}

#[test]
fn no_match_in_the_domain_has_a_catch_all_arm() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(files.len() > 20, "the sources were found: {files:?}");
    let mut offenders = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read a source");
        for (index, line) in text.lines().enumerate() {
            if let Some(what) = catch_all(line) {
                offenders.push(format!("{}:{}: {what}: {line}", file.display(), index + 1));
            }
        }
    }
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
}
