//! Lexer: configuration text -> non-empty lines of tokens with 1-based columns.
//!
//! xinetd.conf is line oriented and has no quoting or escapes, so the lexer is a few dozen lines
//! written by hand rather than a grammar crate. Each line is lexed in two modes:
//!
//! * **head**, until the first operator: words split on space/TAB and on `=`, `+=`, `-=`, `{`,
//!   `}`, so `service foo{`, `nice=5` and `defaults{` all come apart;
//! * **values**, after the operator: words split on space/TAB only, so `env = A=b` and
//!   `only_from = 10.0.{1,2}` keep their `=` and braces.
//!
//! Whole-line comments (first non-blank character `#`) and blank lines are skipped. A trailing
//! `\r` is stripped, so CRLF files work (xinetd reads `no\r` as a value and breaks). A `#` later
//! on a line is an ordinary word; the parser decides what it means.

/// An assignment operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// `=`
    Set,
    /// `+=`
    Add,
    /// `-=`
    Remove,
}

impl Op {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Op::Set => "=",
            Op::Add => "+=",
            Op::Remove => "-=",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Word,
    Op(Op),
    Open,
    Close,
}

/// One token: its kind, its text (a slice of the line) and where it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token<'t> {
    pub kind: Kind,
    pub text: &'t str,
    /// 1-based column, counted in characters.
    pub col: u32,
    /// True when no blank separates this token from the previous one (`nice=5`).
    pub glued: bool,
}

impl Token<'_> {
    pub(crate) fn is_word(&self) -> bool {
        self.kind == Kind::Word
    }

    /// Is this the word `keyword`, compared case-insensitively as xinetd does?
    pub(crate) fn is_keyword(&self, keyword: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(keyword)
    }
}

/// A line with at least one token.
#[derive(Clone, Debug)]
pub(crate) struct Line<'t> {
    /// 1-based line number.
    pub number: u32,
    /// The line as written, without its line ending.
    pub text: &'t str,
    pub tokens: Vec<Token<'t>>,
}

impl<'t> Line<'t> {
    /// Byte offset of `token` within `text` (tokens are slices of it).
    pub(crate) fn offset_of(&self, token: &Token<'t>) -> usize {
        token.text.as_ptr() as usize - self.text.as_ptr() as usize
    }

    /// Is this line `keyword ...` with no operator after the keyword (so not an attribute)?
    pub(crate) fn starts_with_keyword(&self, keyword: &str) -> bool {
        self.tokens[0].is_keyword(keyword)
            && !matches!(self.tokens.get(1).map(|t| t.kind), Some(Kind::Op(_)))
    }
}

/// Iterator over the non-blank, non-comment lines of a text.
pub(crate) struct Lexer<'t> {
    rest: Option<&'t str>,
    number: u32,
}

impl<'t> Lexer<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        Lexer {
            rest: Some(text),
            number: 0,
        }
    }
}

impl<'t> Iterator for Lexer<'t> {
    type Item = Line<'t>;

    fn next(&mut self) -> Option<Line<'t>> {
        loop {
            let rest = self.rest?;
            let (raw, tail) = match rest.find('\n') {
                Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                None => (rest, None),
            };
            self.rest = tail;
            self.number = self.number.saturating_add(1);
            if raw.is_empty() && tail.is_none() {
                return None;
            }
            let text = raw.strip_suffix('\r').unwrap_or(raw);
            match text.trim_start_matches([' ', '\t']).as_bytes().first() {
                None | Some(b'#') => continue,
                Some(_) => {}
            }
            return Some(Line {
                number: self.number,
                text,
                tokens: lex_line(text),
            });
        }
    }
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// In head mode, does a token boundary start at `i`?
fn is_head_delimiter(bytes: &[u8], i: usize) -> bool {
    match bytes[i] {
        b' ' | b'\t' | b'{' | b'}' | b'=' => true,
        b'+' | b'-' => bytes.get(i + 1) == Some(&b'='),
        _ => false,
    }
}

fn lex_line(text: &str) -> Vec<Token<'_>> {
    let bytes = text.as_bytes();
    let ascii = text.is_ascii();
    // Most lines are `name = value` or `name = v1 v2 v3`: one allocation.
    let mut tokens = Vec::with_capacity(8);
    let mut values = false;
    let mut glued = false;
    // Column bookkeeping for non-ASCII lines: characters counted up to `counted` bytes.
    let (mut counted, mut chars) = (0usize, 0usize);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if is_blank(b) {
            glued = false;
            i += 1;
            continue;
        }
        let start = i;
        let kind = if values {
            while i < bytes.len() && !is_blank(bytes[i]) {
                i += 1;
            }
            Kind::Word
        } else {
            match b {
                b'{' => {
                    i += 1;
                    Kind::Open
                }
                b'}' => {
                    i += 1;
                    Kind::Close
                }
                b'=' => {
                    i += 1;
                    values = true;
                    Kind::Op(Op::Set)
                }
                b'+' | b'-' if bytes.get(i + 1) == Some(&b'=') => {
                    i += 2;
                    values = true;
                    Kind::Op(if b == b'+' { Op::Add } else { Op::Remove })
                }
                _ => {
                    i += 1;
                    while i < bytes.len() && !is_head_delimiter(bytes, i) {
                        i += 1;
                    }
                    Kind::Word
                }
            }
        };
        let col = if ascii {
            start + 1
        } else {
            chars += text[counted..start].chars().count();
            counted = start;
            chars + 1
        };
        let col = u32::try_from(col).unwrap_or(u32::MAX);
        tokens.push(Token {
            kind,
            text: &text[start..i],
            col,
            glued,
        });
        glued = true;
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(line: &str) -> Vec<(Kind, &str, u32, bool)> {
        lex_line(line)
            .into_iter()
            .map(|t| (t.kind, t.text, t.col, t.glued))
            .collect()
    }

    #[test]
    fn attribute_line_splits_name_operator_values() {
        assert_eq!(
            kinds("\tserver_args = -a  b"),
            vec![
                (Kind::Word, "server_args", 2, false),
                (Kind::Op(Op::Set), "=", 14, false),
                (Kind::Word, "-a", 16, false),
                (Kind::Word, "b", 20, false),
            ]
        );
    }

    #[test]
    fn operator_glued_to_name_is_split_and_marked() {
        assert_eq!(
            kinds("nice=5"),
            vec![
                (Kind::Word, "nice", 1, false),
                (Kind::Op(Op::Set), "=", 5, true),
                (Kind::Word, "5", 6, true),
            ]
        );
        assert_eq!(
            kinds("a+=b c-=d"),
            vec![
                (Kind::Word, "a", 1, false),
                (Kind::Op(Op::Add), "+=", 2, true),
                (Kind::Word, "b", 4, true),
                (Kind::Word, "c-=d", 6, false),
            ]
        );
        assert_eq!(kinds("x -= y")[1].0, Kind::Op(Op::Remove));
    }

    #[test]
    fn values_keep_equals_and_braces() {
        let toks = kinds("env = A=b only={1,2} }");
        let words: Vec<&str> = toks.iter().map(|t| t.1).collect();
        assert_eq!(words, ["env", "=", "A=b", "only={1,2}", "}"]);
        assert!(toks[2..].iter().all(|t| t.0 == Kind::Word));
    }

    #[test]
    fn braces_split_in_head_mode() {
        let toks = kinds("service foo{");
        assert_eq!(toks[1], (Kind::Word, "foo", 9, false));
        assert_eq!(toks[2], (Kind::Open, "{", 12, true));
        assert_eq!(kinds("}")[0].0, Kind::Close);
        assert_eq!(kinds("a-b")[0].1, "a-b");
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let toks = kinds("é = ü x");
        assert_eq!(toks.iter().map(|t| t.2).collect::<Vec<_>>(), [1, 3, 5, 7]);
    }

    #[test]
    fn lexer_skips_comments_blank_lines_and_strips_cr() {
        let text = "# c\r\n\r\n   # indented\n\t\nwait = no\r\n}\n";
        let lines: Vec<Line> = Lexer::new(text).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].number, 5);
        assert_eq!(lines[0].tokens[2].text, "no");
        assert_eq!(lines[1].number, 6);
        assert_eq!(lines[1].tokens[0].kind, Kind::Close);
    }

    #[test]
    fn last_line_without_newline_is_read() {
        let lines: Vec<Line> = Lexer::new("a = b\nc = d").collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].number, 2);
        assert_eq!(Lexer::new("").count(), 0);
    }
}
