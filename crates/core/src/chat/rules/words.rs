//! A message as the rules see it: a list of words, each with the text as
//! typed (titles and targets are built from it, so they keep the user's
//! capitalisation) and a lowercase key without surrounding punctuation (the
//! rules match on it). Working on whole words means no rule ever slices the
//! message at a byte offset, whatever characters it holds.

/// Marks that quote a title or target: words between them are taken as typed
/// and never read as keywords (`task "buy milk tomorrow"`).
const QUOTES: &[char] = &['"', '“', '”', '„'];

/// Punctuation that may stand before a word without changing it.
const LEADING: &[char] = &[
    '"', '“', '”', '„', '\'', '‘', '’', '(', '[', '{', '¿', '¡', '*', '_',
];

/// Punctuation that may stand after a word without changing it.
const TRAILING: &[char] = &[
    '.', ',', '!', '?', ';', ':', '"', '“', '”', '„', '\'', '‘', '’', ')', ']', '}', '…', '*', '_',
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Word<'a> {
    /// As typed, less the quote marks around a quoted span.
    pub text: &'a str,
    /// Lowercase, surrounding punctuation removed, `’` read as `'`.
    pub key: String,
    /// Inside quotes: part of a title or target, never a keyword.
    pub quoted: bool,
    /// A line break, `,` or `;` stands right before this word: where one
    /// todo of a message may end and the next begin.
    pub break_before: bool,
}

impl Word<'_> {
    /// The key if this word may be read as a keyword.
    pub fn keyword(&self) -> Option<&str> {
        (!self.quoted).then_some(self.key.as_str())
    }

    pub fn is(&self, key: &str) -> bool {
        !self.quoted && self.key == key
    }

    pub fn is_any(&self, keys: &[&str]) -> bool {
        !self.quoted && keys.contains(&self.key.as_str())
    }
}

/// The key of the word at `at`, if there is one and it may be a keyword.
pub(super) fn key<'w>(words: &'w [Word<'_>], at: usize) -> Option<&'w str> {
    words.get(at).and_then(Word::keyword)
}

/// `at`, moved past the word there if it is one of `keys`.
pub(super) fn skip(words: &[Word<'_>], at: usize, keys: &[&str]) -> usize {
    if words.get(at).is_some_and(|w| w.is_any(keys)) {
        at + 1
    } else {
        at
    }
}

/// Matches `pattern` at `at`, one word per slot, each any of its slot's
/// keys; a slot holding `""` may be left out. Greedy, without going back:
/// patterns are written so that this is enough. Returns the index after it.
pub(super) fn phrase(words: &[Word<'_>], at: usize, pattern: &[&[&str]]) -> Option<usize> {
    let mut i = at;
    for slot in pattern {
        match words.get(i) {
            Some(w) if !w.key.is_empty() && w.is_any(slot) => i += 1,
            _ if slot.contains(&"") => {}
            _ => return None,
        }
    }
    Some(i)
}

/// The words of a message, split at any whitespace.
pub(super) fn split(message: &str) -> Vec<Word<'_>> {
    let mut words = Vec::new();
    let mut break_next = false;
    for line in message.lines() {
        for raw in line.split_whitespace() {
            words.push(Word {
                text: raw,
                key: key_of(raw),
                quoted: false,
                break_before: break_next,
            });
            break_next = raw.ends_with([',', ';']);
        }
        break_next = !words.is_empty();
    }
    mark_quotes(&mut words);
    words
}

fn key_of(raw: &str) -> String {
    let bare = raw.trim_start_matches(LEADING).trim_end_matches(TRAILING);
    let mut key = String::with_capacity(bare.len());
    for c in bare.chars() {
        match c {
            '’' | '‘' | '`' => key.push('\''),
            c if c.is_ascii() => key.push(c.to_ascii_lowercase()),
            c => key.extend(c.to_lowercase()),
        }
    }
    key
}

/// Marks each span from a word that opens a quote to the next word that
/// closes one; a quote that is never closed quotes nothing.
fn mark_quotes(words: &mut [Word<'_>]) {
    let mut open: Option<usize> = None;
    for i in 0..words.len() {
        let Some(text) = words.get(i).map(|w| w.text) else {
            break;
        };
        let (start, rest) = match open {
            Some(start) => (start, text),
            None => match text.strip_prefix(QUOTES) {
                Some(rest) => (i, rest),
                None => continue,
            },
        };
        let Some(inner) = closing_quote(rest) else {
            open = Some(start);
            continue;
        };
        if let Some(first) = words.get_mut(start) {
            first.text = first.text.strip_prefix(QUOTES).unwrap_or(first.text);
        }
        if let Some(last) = words.get_mut(i) {
            last.text = inner;
        }
        for quoted in words.iter_mut().take(i + 1).skip(start) {
            quoted.quoted = true;
        }
        open = None;
    }
}

/// The text before the closing quote, if this word ends one (punctuation
/// may follow the quote: `milk",`).
fn closing_quote(text: &str) -> Option<&str> {
    let before_punctuation =
        text.trim_end_matches(|c: char| TRAILING.contains(&c) && !QUOTES.contains(&c));
    if !before_punctuation.ends_with(QUOTES) {
        return None;
    }
    text.rfind(QUOTES).and_then(|at| text.get(..at))
}

/// The texts of these words joined by single spaces, without control
/// characters and without punctuation that only separated it from words
/// the rules took away (`buy milk, tomorrow` → `buy milk`).
pub(super) fn join_text<'a>(words: impl IntoIterator<Item = &'a Word<'a>>) -> String {
    let mut out = String::new();
    for word in words {
        if word.text.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.text.chars().filter(|c| !c.is_control()));
    }
    out.trim_matches(|c: char| {
        c.is_whitespace() || matches!(c, ',' | ';' | ':' | '.' | '-' | '–' | '—' | '…')
    })
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(message: &str) -> Vec<String> {
        split(message).into_iter().map(|w| w.key).collect()
    }

    #[test]
    fn keys_are_lowercase_without_surrounding_punctuation() {
        assert_eq!(
            keys("  What’s DUE   today?\t(#Shopping), 17:30. a.s.a.p."),
            ["what's", "due", "today", "#shopping", "17:30", "a.s.a.p"]
        );
    }

    #[test]
    fn line_breaks_commas_and_semicolons_mark_where_a_todo_may_end() {
        let breaks: Vec<bool> = split("a b,\nc; d\ne f")
            .into_iter()
            .map(|w| w.break_before)
            .collect();
        assert_eq!(breaks, [false, false, true, true, true, false]);
    }

    #[test]
    fn quoted_words_keep_their_text_and_are_no_keywords() {
        let words = split(r#"rename "go to bank" to “Go to the bank”."#);
        let texts: Vec<&str> = words.iter().map(|w| w.text).collect();
        assert_eq!(
            texts,
            ["rename", "go", "to", "bank", "to", "Go", "to", "the", "bank"]
        );
        let quoted: Vec<bool> = words.iter().map(|w| w.quoted).collect();
        assert_eq!(
            quoted,
            [false, true, true, true, false, true, true, true, true]
        );
        assert!(!words[2].is("to"));
        assert!(words[4].is("to"));
    }

    #[test]
    fn an_unclosed_quote_quotes_nothing() {
        let words = split(r#"task "buy milk tomorrow"#);
        assert!(words.iter().all(|w| !w.quoted));
        assert_eq!(words[3].key, "tomorrow");
    }

    #[test]
    fn joined_text_drops_control_characters_and_dangling_separators() {
        let words = split("- buy\u{7} milk,");
        assert_eq!(join_text(&words), "buy milk");
    }
}
