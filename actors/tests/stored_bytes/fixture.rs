//! Fixture files: bytes as lowercase hex, 32 bytes a line, so a changed encoding shows in
//! a diff.

use std::path::PathBuf;

const BYTES_PER_LINE: usize = 32;

/// Whether this run writes the fixtures instead of checking them.
pub fn writing() -> bool {
    std::env::var_os("PLAYCORE_WRITE_FIXTURES").is_some_and(|value| value == "1")
}

pub fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.hex"))
}

/// The committed bytes of fixture `name`, after writing `bytes` there when
/// [`writing`].
pub fn stored(name: &str, bytes: &[u8]) -> Vec<u8> {
    let path = path(name);
    if writing() {
        std::fs::create_dir_all(path.parent().expect("fixture directory")).expect("mkdir");
        std::fs::write(&path, to_text(bytes)).expect("write fixture");
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "fixture {} unreadable ({error}); a new kind or layout needs \
             PLAYCORE_WRITE_FIXTURES=1 once",
            path.display()
        )
    });
    let digits: String = text.split_whitespace().collect();
    hex::decode(digits).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn to_text(bytes: &[u8]) -> String {
    let mut text = String::new();
    for line in bytes.chunks(BYTES_PER_LINE) {
        text.push_str(&hex::encode(line));
        text.push('\n');
    }
    text
}

/// Asserts that `encoded` (this build's encoding) equals `stored`, the committed bytes of
/// `name`.
pub fn assert_same_bytes(name: &str, stored: &[u8], encoded: &[u8]) {
    assert!(
        stored == encoded,
        "the encoding of {name} changed: stored data written by earlier builds would not \
         read back the same.\n stored:  {}\n encoded: {}",
        hex::encode(stored),
        hex::encode(encoded)
    );
}
