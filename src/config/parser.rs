//! Parser: lexed lines -> entries (`service`, `defaults`), following `include`/`includedir`,
//! then merge with `defaults` -> [`Config`].
//!
//! Two passes, so that where `defaults` is written does not matter (xinetd applies it only to
//! services that come after it, a trap when it sits in an included file):
//!
//! 1. every file is read and each entry is parsed on its own: scalar values go straight into a
//!    [`Draft`] (first value wins), list assignments are kept as `(operator, values)` in order;
//! 2. [`Loader::finish`] builds the `defaults` lists (`=` counts as `+=` there), then gives each
//!    service a copy of those lists, replays its own list assignments on top, fills its unset
//!    scalars from `defaults`, and applies `disable`, `disabled` and `enabled`.
//!
//! Policy: an error inside a service rejects that service (it goes to `Config::rejected`);
//! an error inside `defaults` drops only the offending attribute; warnings never drop anything.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::attrs::{self, apply_list, Args, Draft, IdLists, ListValue, Parser, Scope};
use super::lexer::{Kind, Lexer, Line, Op, Token};
use super::model::{Config, Diagnostic, Rejected, ServiceDecl, Span};

/// How deep `include`s may nest below the main file.
pub(crate) const MAX_INCLUDE_DEPTH: usize = 16;

/// Top-level keywords; a line starting with one of them (and no operator) ends an open entry.
const KEYWORDS: &[&str] = &["service", "defaults", "include", "includedir"];

/// One `service` or `defaults` block as written.
struct Entry {
    /// `None` for `defaults`.
    name: Option<String>,
    /// Where the `service`/`defaults` keyword is.
    span: Span,
    draft: Draft,
    lists: Vec<(Op, ListValue)>,
    /// Per row of `attrs::ATTRS`: the line of the scalar's first assignment, 0 when unset.
    first: Vec<u32>,
    failed: bool,
}

impl Entry {
    fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("service {name}"),
            None => "defaults".to_owned(),
        }
    }
}

/// Reads files and accumulates entries and diagnostics; [`Loader::finish`] turns them into a
/// [`Config`].
pub(crate) struct Loader<'b> {
    base_dir: &'b Path,
    /// Files being read, innermost last (canonical paths), to catch include cycles.
    stack: Vec<PathBuf>,
    /// Nesting level of the text being parsed: 1 for the main file.
    depth: usize,
    files: Vec<PathBuf>,
    diagnostics: Vec<Diagnostic>,
    defaults: Option<Entry>,
    services: Vec<Entry>,
}

impl<'b> Loader<'b> {
    pub(crate) fn new(base_dir: &'b Path) -> Self {
        Loader {
            base_dir,
            stack: Vec::new(),
            depth: 0,
            files: Vec::new(),
            diagnostics: Vec::new(),
            defaults: None,
            services: Vec::new(),
        }
    }

    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::error(Some(span), message));
    }

    fn warning(&mut self, span: Span, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::warning(Some(span), message));
    }

    /// Parse text that was not read from a file (the main text of `parse_str`).
    pub(crate) fn parse_main(&mut self, text: &str, file: &str) {
        self.depth += 1;
        self.parse_text(text, &Arc::from(file));
        self.depth -= 1;
    }

    /// Parse the contents of `path` (already read), recording it in `files`.
    pub(crate) fn parse_file(&mut self, path: &Path, bytes: &[u8]) {
        let name: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
        let text = String::from_utf8_lossy(bytes);
        if let (Cow::Owned(_), Err(e)) = (&text, std::str::from_utf8(bytes)) {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            let span = Span {
                file: name.clone(),
                line: u32::try_from(line).unwrap_or(0),
                col: 1,
            };
            self.warning(
                span,
                "file is not valid UTF-8; invalid bytes were replaced by U+FFFD",
            );
        }
        self.files.push(path.to_path_buf());
        self.stack
            .push(fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
        self.depth += 1;
        self.parse_text(&text, &name);
        self.depth -= 1;
        self.stack.pop();
    }

    fn parse_text(&mut self, text: &str, file: &Arc<str>) {
        let mut lines = Lexer::new(text);
        let mut next = lines.next();
        while let Some(line) = next.take() {
            next = self
                .top_level(line, &mut lines, file)
                .or_else(|| lines.next());
        }
    }

    /// Handle one top-level line; returns a line read ahead that the caller must handle next.
    fn top_level<'t>(
        &mut self,
        line: Line<'t>,
        lines: &mut Lexer<'t>,
        file: &Arc<str>,
    ) -> Option<Line<'t>> {
        let first = line.tokens[0];
        let span = span(file, line.number, first.col);
        if line.starts_with_keyword("service") {
            return self.entry(true, line, lines, file);
        }
        if line.starts_with_keyword("defaults") {
            return self.entry(false, line, lines, file);
        }
        if line.starts_with_keyword("include") || line.starts_with_keyword("includedir") {
            self.include(&line, file);
            return None;
        }
        let message = match (first.kind, line.tokens.get(1).map(|t| t.kind)) {
            (Kind::Open, _) => {
                self.error(
                    span,
                    "unexpected '{': a block must start with 'service NAME' or 'defaults'",
                );
                return skip_block(lines);
            }
            (Kind::Close, _) => "unexpected '}': no service or defaults block is open".to_owned(),
            (Kind::Word, Some(Kind::Op(_))) => format!(
                "attribute {} is outside any block; put it inside 'service NAME {{ ... }}' \
                 or 'defaults {{ ... }}'",
                first.text.to_ascii_lowercase()
            ),
            _ => format!(
                "expected 'service', 'defaults', 'include' or 'includedir', found '{}'{}",
                first.text,
                comment_hint(first.text)
            ),
        };
        self.error(span, message);
        None
    }

    /// Parse a `service NAME` or `defaults` block whose header is `header`.
    fn entry<'t>(
        &mut self,
        is_service: bool,
        header: Line<'t>,
        lines: &mut Lexer<'t>,
        file: &Arc<str>,
    ) -> Option<Line<'t>> {
        let keyword = header.tokens[0];
        let mut entry = Entry {
            name: None,
            span: span(file, header.number, keyword.col),
            draft: Draft::default(),
            lists: Vec::new(),
            first: vec![0; attrs::ATTRS.len()],
            failed: false,
        };
        let mut rest = &header.tokens[1..];
        if is_service {
            match rest.first() {
                Some(t) if t.is_word() && !t.text.starts_with('#') => {
                    entry.name = Some(t.text.to_owned());
                    rest = &rest[1..];
                }
                _ => {
                    entry.name = Some(String::new());
                    entry.failed = true;
                    let at = rest.first().map_or(keyword.col, |t| t.col);
                    let found = rest
                        .first()
                        .map_or("end of line".to_owned(), |t| format!("'{}'", t.text));
                    let hint = rest.first().map_or("", |t| comment_hint(t.text));
                    let message =
                        format!("expected a service name after 'service', found {found}{hint}");
                    self.error(span(file, header.number, at), message);
                }
            }
        } else if let Some(first) = &self.defaults {
            let message = format!(
                "only one defaults block is allowed; this one is ignored (the first is at {})",
                first.span
            );
            self.error(entry.span.clone(), message);
        }
        let mut open = false;
        if rest.first().is_some_and(|t| t.kind == Kind::Open) {
            open = true;
            rest = &rest[1..];
        }
        if !open && entry.name.is_some() && rest.first().is_some_and(|t| t.kind == Kind::Word) {
            // `service NAME extra words`: xinetd ignores the words, and configurations in the
            // field rely on it; say so, but keep the service.
            let t = rest[0];
            let message = format!(
                "words after 'service {}' are ignored, starting at '{}'{}",
                entry.name.as_deref().unwrap_or_default(),
                t.text,
                comment_hint(t.text)
            );
            self.warning(span(file, header.number, t.col), message);
            rest = &rest[rest
                .iter()
                .position(|t| t.kind != Kind::Word)
                .unwrap_or(rest.len())..];
            if rest.first().is_some_and(|t| t.kind == Kind::Open) {
                open = true;
                rest = &rest[1..];
            }
        }
        if !rest.is_empty() {
            let after = if open {
                "'{'".to_owned()
            } else {
                format!("'{}'", entry.label())
            };
            self.stray(&mut entry, rest, &after, file, header.number);
        }

        let mut pending = None;
        if !open {
            match lines.next() {
                Some(line) if line.tokens[0].kind == Kind::Open => {
                    self.stray(&mut entry, &line.tokens[1..], "'{'", file, line.number);
                }
                Some(line) => {
                    let first = line.tokens[0];
                    let label = entry.label();
                    let message = format!(
                        "expected '{{' after '{label}' (on the same line or the next one), \
                         found '{}'",
                        first.text
                    );
                    self.error(span(file, line.number, first.col), message);
                    entry.failed = true;
                    if is_keyword_line(&line) {
                        self.close(entry);
                        return Some(line);
                    }
                    // Read on as if '{' were there, to report what else is wrong.
                    pending = Some(line);
                }
                None => {
                    let label = entry.label();
                    let message =
                        format!("expected '{{' after '{label}', found the end of the file");
                    self.error(entry.span.clone(), message);
                    entry.failed = true;
                    self.close(entry);
                    return None;
                }
            }
        }

        let ahead = loop {
            let Some(line) = pending.take().or_else(|| lines.next()) else {
                let label = entry.label();
                let message =
                    format!("{label} is not closed: expected '}}' before the end of the file");
                self.error(entry.span.clone(), message);
                entry.failed = true;
                break None;
            };
            let first = line.tokens[0];
            let at = span(file, line.number, first.col);
            match first.kind {
                Kind::Close => {
                    self.stray(&mut entry, &line.tokens[1..], "'}'", file, line.number);
                    break None;
                }
                Kind::Open => {
                    self.error(at, format!("unexpected '{{' inside {}", entry.label()));
                    entry.failed = true;
                }
                Kind::Op(op) => {
                    self.error(
                        at,
                        format!("expected an attribute name before '{}'", op.as_str()),
                    );
                    entry.failed = true;
                }
                Kind::Word if is_keyword_line(&line) => {
                    let message = format!(
                        "missing '}}': {} (line {}) is still open at '{}'",
                        entry.label(),
                        entry.span.line,
                        first.text
                    );
                    self.error(at, message);
                    entry.failed = true;
                    break Some(line);
                }
                Kind::Word => self.attribute(&mut entry, &line, file),
            }
        };
        self.close(entry);
        ahead
    }

    /// Report tokens left over on a structural line (`service foo x`, `{ x`, `} x`).
    fn stray(
        &mut self,
        entry: &mut Entry,
        tokens: &[Token],
        after: &str,
        file: &Arc<str>,
        line: u32,
    ) {
        if let Some(t) = tokens.first() {
            let message = format!(
                "unexpected '{}' after {after}{}",
                t.text,
                if comment_hint(t.text).is_empty() {
                    "; attributes go on lines of their own"
                } else {
                    comment_hint(t.text)
                }
            );
            self.error(span(file, line, t.col), message);
            entry.failed = true;
        }
    }

    fn close(&mut self, entry: Entry) {
        if entry.name.is_some() {
            self.services.push(entry);
        } else if self.defaults.is_none() {
            self.defaults = Some(entry);
        }
    }

    /// Parse one `name op values...` line into `entry`.
    fn attribute(&mut self, entry: &mut Entry, line: &Line, file: &Arc<str>) {
        let name_tok = line.tokens[0];
        let name = match name_tok.text.bytes().any(|b| b.is_ascii_uppercase()) {
            true => Cow::Owned(name_tok.text.to_ascii_lowercase()),
            false => Cow::Borrowed(name_tok.text),
        };
        let at = |col: u32| span(file, line.number, col);
        let in_defaults = entry.name.is_none();
        let (op, op_tok) = match line.tokens.get(1) {
            Some(
                t @ Token {
                    kind: Kind::Op(op), ..
                },
            ) => (*op, *t),
            other => {
                let found = other.map_or("end of line".to_owned(), |t| format!("'{}'", t.text));
                let message = format!(
                    "expected '=', '+=' or '-=' after '{}', found {found}",
                    name_tok.text
                );
                self.error(at(other.map_or(name_tok.col, |t| t.col)), message);
                entry.failed = true;
                return;
            }
        };
        let Some((index, def)) = attrs::lookup(&name) else {
            let message = match attrs::UNSUPPORTED.iter().find(|(n, _)| *n == name) {
                Some((_, why)) => format!("attribute {name} is not supported ({why}); ignored"),
                None => match attrs::suggest(&name) {
                    Some(close) => format!(
                        "unknown attribute '{}' (did you mean '{close}'?); ignored",
                        name_tok.text
                    ),
                    None => format!("unknown attribute '{}'; ignored", name_tok.text),
                },
            };
            self.warning(at(name_tok.col), message);
            return;
        };
        if op_tok.glued {
            let message = format!(
                "no space between {name} and '{}'; accepted, but xinetd would reject this service",
                op.as_str()
            );
            self.warning(at(op_tok.col), message);
        }
        match (def.scope, in_defaults) {
            (Scope::Service, true) => {
                let message = format!("attribute {name} is not allowed in defaults; ignored");
                return self.warning(at(name_tok.col), message);
            }
            (Scope::DefaultsOnly, false) => {
                let message = format!("attribute {name} is only allowed in defaults; ignored");
                return self.warning(at(name_tok.col), message);
            }
            _ => {}
        }
        if !def.ops.contains(&op) {
            let message = match def.parser {
                Parser::Scalar(_) => format!(
                    "operator '{}' cannot be used with {name}, which takes a single setting; \
                     use '='",
                    op.as_str()
                ),
                Parser::List(_) => {
                    format!(
                        "operator '{}' cannot be used with {name}; use '=' or '+='",
                        op.as_str()
                    )
                }
            };
            self.error(at(op_tok.col), message);
            entry.failed = true;
            return;
        }
        let values = &line.tokens[2..];
        for v in values.iter().filter(|v| v.text.starts_with('#')) {
            if def.name == "server_args" {
                let message = format!(
                    "'{}' is passed to the server as an argument; '#' starts a comment only at \
                     the beginning of a line",
                    v.text
                );
                self.warning(at(v.col), message);
            } else {
                let message = format!(
                    "unexpected '{}' in the value of {name}: '#' starts a comment only at the \
                     beginning of a line; move the comment to a line of its own",
                    v.text
                );
                self.error(at(v.col), message);
                entry.failed = true;
                return;
            }
        }
        if values.len() < def.min || values.len() > def.max {
            let expected = match (def.min, def.max) {
                (1, 1) => "exactly 1 value".to_owned(),
                (min, max) if min == max => format!("exactly {min} values"),
                (min, attrs::MANY) => {
                    format!("at least {min} value{}", if min == 1 { "" } else { "s" })
                }
                (min, max) => format!("{min} to {max} values"),
            };
            let col = values.get(def.max).map_or(name_tok.col, |t| t.col);
            let hint = if values.iter().any(|v| v.text == "}") {
                "; '}' must be on a line of its own"
            } else {
                ""
            };
            let message = format!(
                "wrong number of values for {name}: expected {expected}, found {}{hint}",
                values.len()
            );
            self.error(at(col), message);
            entry.failed = true;
            return;
        }
        if let (Parser::Scalar(_), first @ 1..) = (def.parser, entry.first[index]) {
            let message = format!(
                "{name} is already set on line {first}; this value is ignored (the first value \
                 wins, as in xinetd)"
            );
            return self.warning(at(name_tok.col), message);
        }
        let mut args = Args {
            attr: &name,
            file,
            line: line.number,
            name_col: name_tok.col,
            values,
            warnings: &mut self.diagnostics,
        };
        let result = match def.parser {
            Parser::Scalar(parse) => parse(&mut entry.draft, &mut args).map(|()| {
                entry.first[index] = line.number;
            }),
            Parser::List(parse) => parse(&mut args).map(|value| entry.lists.push((op, value))),
        };
        if let Err(diagnostic) = result {
            self.diagnostics.push(diagnostic);
            entry.failed = true;
        }
    }

    /// `include FILE` or `includedir DIR`.
    fn include(&mut self, line: &Line, file: &Arc<str>) {
        let keyword = line.tokens[0];
        let dir = keyword.text.eq_ignore_ascii_case("includedir");
        let what = if dir { "includedir" } else { "include" };
        let Some(arg) = line.tokens.get(1) else {
            let message = format!(
                "expected a {} name after {what}",
                if dir { "directory" } else { "file" }
            );
            return self.error(span(file, line.number, keyword.col), message);
        };
        // The path is the raw word (it may contain '=', '{' or '}', which split tokens).
        let start = line.offset_of(arg);
        let raw = &line.text[start..];
        let end = raw.find([' ', '\t']).unwrap_or(raw.len());
        if let Some(extra) = line
            .tokens
            .iter()
            .find(|t| line.offset_of(t) >= start + end)
        {
            let message = format!(
                "{what} takes exactly one path; unexpected '{}'{}",
                extra.text,
                comment_hint(extra.text)
            );
            return self.error(span(file, line.number, extra.col), message);
        }
        let path = self.base_dir.join(&raw[..end]);
        let at = span(file, line.number, arg.col);
        if dir {
            self.include_dir(&path, &at);
        } else {
            self.include_file(&path, &at);
        }
    }

    fn include_file(&mut self, path: &Path, at: &Span) {
        if self.depth > MAX_INCLUDE_DEPTH {
            let message = format!(
                "includes nest more than {MAX_INCLUDE_DEPTH} levels deep; '{}' is not read",
                path.display()
            );
            return self.error(at.clone(), message);
        }
        let key = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.stack.contains(&key) {
            let message = format!(
                "include cycle: '{}' is already being read; not reading it again",
                path.display()
            );
            return self.error(at.clone(), message);
        }
        match fs::read(path) {
            Ok(bytes) => self.parse_file(path, &bytes),
            Err(e) => {
                let message = format!("cannot read include file '{}': {e}", path.display());
                self.error(at.clone(), message);
            }
        }
    }

    /// Every regular file of `dir` whose name has no '.' and does not end in '~', in byte order.
    fn include_dir(&mut self, dir: &Path, at: &Span) {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                let message = format!("cannot read include directory '{}': {e}", dir.display());
                return self.error(at.clone(), message);
            }
        };
        let mut names = Vec::new();
        for entry in entries {
            match entry {
                Ok(entry) => names.push(entry.file_name()),
                Err(e) => {
                    let message = format!("cannot read include directory '{}': {e}", dir.display());
                    self.error(at.clone(), message);
                }
            }
        }
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let bytes = name.as_bytes();
            if bytes.contains(&b'.') || bytes.ends_with(b"~") {
                continue;
            }
            let path = dir.join(&name);
            match fs::metadata(&path) {
                Ok(meta) if meta.is_file() => self.include_file(&path, at),
                Ok(_) => {
                    let message = format!("'{}' is not a regular file; skipped", path.display());
                    self.warning(at.clone(), message);
                }
                Err(e) => {
                    let message = format!("cannot read '{}': {e}", path.display());
                    self.error(at.clone(), message);
                }
            }
        }
    }

    /// Merge every service with `defaults` and apply `disable`, `disabled` and `enabled`.
    pub(crate) fn finish(self) -> Config {
        let mut ids = IdLists::default();
        let mut defaults = ServiceDecl::default();
        if let Some(entry) = self.defaults {
            defaults = entry.draft.decl;
            defaults.span = Some(entry.span);
            for (op, value) in &entry.lists {
                // In defaults, lists accumulate: '=' means '+='.
                let op = if *op == Op::Set { Op::Add } else { *op };
                apply_list(&mut defaults, &mut ids, op, value);
            }
        }
        let disabled: HashSet<&str> = ids.disabled.iter().map(String::as_str).collect();
        let enabled: Option<HashSet<&str>> = ids
            .enabled
            .as_ref()
            .map(|list| list.iter().map(String::as_str).collect());
        let wanted = |id: &str| {
            !disabled.contains(id) && enabled.as_ref().is_none_or(|list| list.contains(id))
        };

        let mut services = Vec::with_capacity(self.services.len());
        let mut rejected = Vec::new();
        let mut scratch = IdLists::default();
        for entry in self.services {
            let mut decl = entry.draft.decl;
            let name = entry.name.unwrap_or_default();
            let id = if decl.id.is_empty() {
                name.clone()
            } else {
                std::mem::take(&mut decl.id)
            };
            if entry.draft.disable == Some(true) || !wanted(&id) {
                continue;
            }
            if entry.failed {
                rejected.push(Rejected {
                    name,
                    id,
                    span: entry.span,
                });
                continue;
            }
            decl.name = name;
            decl.id = id;
            decl.span = Some(entry.span);
            inherit(&mut decl, &defaults);
            for (op, value) in &entry.lists {
                apply_list(&mut decl, &mut scratch, *op, value);
            }
            services.push(decl);
        }
        Config {
            services,
            rejected,
            defaults,
            diagnostics: self.diagnostics,
            files: self.files,
        }
    }
}

/// Give a service the `defaults` lists (its own list assignments are replayed on top) and the
/// `defaults` value of every scalar it did not set. Also used for inetd.conf entries.
pub(crate) fn inherit(decl: &mut ServiceDecl, defaults: &ServiceDecl) {
    decl.only_from = defaults.only_from.clone();
    decl.no_access = defaults.no_access.clone();
    decl.log_on_success = defaults.log_on_success;
    decl.log_on_failure = defaults.log_on_failure;
    decl.passenv = defaults.passenv.clone();
    macro_rules! fill {
        ($($field:ident),*) => {
            $(if decl.$field.is_none() {
                decl.$field = defaults.$field.clone();
            })*
        };
    }
    fill!(
        instances,
        per_source,
        cps,
        max_load,
        groups,
        umask,
        bind,
        v6only,
        log_type,
        banner,
        banner_success,
        banner_fail,
        on_limit
    );
}

fn span(file: &Arc<str>, line: u32, col: u32) -> Span {
    Span {
        file: file.clone(),
        line,
        col,
    }
}

fn is_keyword_line(line: &Line) -> bool {
    KEYWORDS.iter().any(|k| line.starts_with_keyword(k))
}

/// Explain a stray `#word`: xinetd has no comments after text.
fn comment_hint(word: &str) -> &'static str {
    if word.starts_with('#') {
        "; '#' starts a comment only at the beginning of a line"
    } else {
        ""
    }
}

/// After a stray top-level `{`: skip to its `}`, or stop before the next top-level keyword.
fn skip_block<'t>(lines: &mut Lexer<'t>) -> Option<Line<'t>> {
    for line in lines.by_ref() {
        if line.tokens[0].kind == Kind::Close {
            return None;
        }
        if is_keyword_line(&line) {
            return Some(line);
        }
    }
    None
}
