//! The one rule on the text a caller sends: what an id and what free text may hold.
//!
//! Control characters (NUL, CR, LF, ESC …), bidirectional controls (which reorder what an
//! operator or a log reader sees: U+202E writes the rest of a line backwards) and line or
//! paragraph separators never belong in a field; an id holds no whitespace at all; and a
//! value of whitespace only is never a value. Every field a caller names is checked by
//! [`check_text`]; the length and emptiness bounds stay each field's own rule.

/// What a text field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextKind {
    /// An id, a single token (`storeId`, a whitelisted user id): no whitespace.
    Token,
    /// One line of free text (a title, a name, a remark): ordinary spaces.
    Line,
    /// Text that is multi-line by nature (a description): also `\n` and `\t`. No field of
    /// the API is one today.
    Lines,
}

/// `Ok` when `text` may be a field of `kind`, else the reason, naming the first character
/// refused. Empty text passes: whether a field may be empty is the field's own rule.
pub fn check_text(text: &str, kind: TextKind) -> Result<(), String> {
    if !text.is_empty() && text.chars().all(char::is_whitespace) {
        return Err("must not be only whitespace".to_string());
    }
    match text.chars().find_map(|character| kind.refuses(character)) {
        Some((character, what)) => Err(format!(
            "must not contain U+{:04X} ({what})",
            u32::from(character)
        )),
        None => Ok(()),
    }
}

impl TextKind {
    /// `character` and what it is, when a field of this kind may not hold it.
    fn refuses(self, character: char) -> Option<(char, &'static str)> {
        let what = if matches!(character, '\n' | '\t') && self == TextKind::Lines {
            return None;
        } else if character.is_control() {
            "a control character"
        } else if is_bidirectional_control(character) {
            "a bidirectional control"
        } else if matches!(character, '\u{2028}' | '\u{2029}') {
            "a line break"
        } else if self == TextKind::Token && character.is_whitespace() {
            "whitespace in an id"
        } else {
            return None;
        };
        Some((character, what))
    }
}

/// The marks, embeddings, overrides and isolates of the Unicode bidirectional algorithm.
fn is_bidirectional_control(character: char) -> bool {
    matches!(
        character,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY_KIND: [TextKind; 3] = [TextKind::Token, TextKind::Line, TextKind::Lines];

    #[test]
    fn ordinary_text_passes() {
        for kind in EVERY_KIND {
            for text in ["", "store-1", "拼团按摩", "café", "a\u{200D}b", "👩‍👩‍👧"]
            {
                assert_eq!(check_text(text, kind), Ok(()), "{text:?} as {kind:?}");
            }
        }
    }

    #[test]
    fn control_characters_are_refused_except_newline_and_tab_in_lines() {
        for kind in EVERY_KIND {
            for text in [
                "a\0b",
                "a\rb",
                "a\u{1B}[31m",
                "a\u{7F}",
                "a\u{85}b",
                "a\r\nb",
            ] {
                let reason = check_text(text, kind).expect_err(text);
                assert!(reason.contains("a control character"), "{reason}");
            }
        }
        assert_eq!(check_text("line 1\n\tline 2", TextKind::Lines), Ok(()));
        for kind in [TextKind::Token, TextKind::Line] {
            for text in ["a\nb", "a\tb"] {
                assert!(check_text(text, kind).is_err(), "{text:?} as {kind:?}");
            }
        }
    }

    #[test]
    fn every_bidirectional_control_is_refused() {
        let controls = ['\u{061C}', '\u{200E}', '\u{200F}']
            .into_iter()
            .chain('\u{202A}'..='\u{202E}')
            .chain('\u{2066}'..='\u{2069}');
        for control in controls {
            for kind in EVERY_KIND {
                let text = format!("abc{control}def");
                let reason = check_text(&text, kind).expect_err(&text);
                let code = format!("U+{:04X} (a bidirectional control)", u32::from(control));
                assert!(reason.ends_with(&code), "{reason}");
            }
        }
    }

    #[test]
    fn line_and_paragraph_separators_are_refused() {
        for kind in EVERY_KIND {
            assert!(check_text("a\u{2028}b", kind).is_err());
            assert!(check_text("a\u{2029}b", kind).is_err());
        }
    }

    #[test]
    fn whitespace_only_is_refused() {
        for kind in EVERY_KIND {
            for text in [" ", "   ", "\u{3000}", "\u{A0} "] {
                assert_eq!(
                    check_text(text, kind),
                    Err("must not be only whitespace".to_string()),
                    "{text:?} as {kind:?}"
                );
            }
        }
        assert!(check_text("\n\t", TextKind::Lines).is_err());
    }

    #[test]
    fn spaces_are_for_free_text_not_ids() {
        for text in ["store 1", "store\u{3000}1", " store-1"] {
            let reason = check_text(text, TextKind::Token).expect_err(text);
            assert!(reason.contains("whitespace in an id"), "{reason}");
            assert_eq!(check_text(text, TextKind::Line), Ok(()));
            assert_eq!(check_text(text, TextKind::Lines), Ok(()));
        }
    }
}
