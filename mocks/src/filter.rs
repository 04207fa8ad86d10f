//! The Cloud Logging query language: the `filter` of `POST /v2/entries:list`.
//!
//! This module owns parsing a filter into an AST ([`Filter::parse`]) and deciding whether a
//! `LogEntry`, in Google's REST JSON form, matches it ([`Filter::matches`]). It follows
//! <https://cloud.google.com/logging/docs/view/logging-query-language>; anything it cannot
//! parse or does not implement is a [`FilterError`] (which the server reports as
//! `400 INVALID_ARGUMENT`), never a filter that silently matches everything.
//!
//! Semantics implemented, with the reason where the documentation decides it:
//!
//! - **Precedence**: `NOT` (or a leading `-`) binds tightest, then `OR`, then `AND` — the
//!   reverse of SQL. The docs state "The NOT operator has the highest precedence, followed by
//!   OR and AND in that order" and give `"a" OR NOT "b" AND NOT "c" OR "d"` ≡
//!   `("a" OR (NOT "b")) AND ((NOT "c") OR "d")`. Juxtaposition is an implicit `AND`. Boolean
//!   operators are recognised only in upper case; `and`/`or`/`not` are search terms.
//! - **Comparisons** `field OP value`, OP one of `=` `!=` `:` `<` `<=` `>` `>=` `=~` `!~`.
//!   The value may be a parenthesised boolean combination of values
//!   (`resource.type = ("a" OR "b")`), which applies the field and operator to each value.
//! - **Strings**: `=`, `!=` and the orderings ignore letter case (the docs: "string:
//!   Comparisons ignore letter case", NFKC_CF-normalised; approximated here by Unicode
//!   lower-casing). `:` ("has") is a case-insensitive substring test; on an object it searches
//!   every scalar below it. `=~`/`!~` are RE2 searches (the `regex` crate), case sensitive and
//!   unanchored, on string values only.
//! - **Typed fields**: `timestamp`/`receiveTimestamp` compare as instants (RFC 3339 with `Z`,
//!   `±hh:mm` or `±hhmm`, fractional seconds, or a bare `YYYY-MM-DD` meaning midnight UTC; an
//!   invalid value is a parse error); `severity` compares by level (`DEFAULT` < `DEBUG` < … <
//!   `EMERGENCY`, names or numbers; an unknown name is a parse error). Otherwise two numbers
//!   (including int64 values that JSON carries as strings) compare numerically, JSON booleans
//!   compare as booleans (`true > false`), `NULL_VALUE` matches JSON null.
//! - **Paths**: dotted, segments may be double-quoted (`labels."compute.googleapis.com/x"`,
//!   `protoPayload."@type"`). The first segment must be a `LogEntry` field, and fields of the
//!   typed messages (`resource`, `httpRequest`, `operation`, `sourceLocation`, `split`) and the
//!   map `labels` are checked too; an undefined field is a parse error, as in the real service.
//!   A path crossing an array compares every element and ORs the results.
//! - **Missing fields**: under `jsonPayload`, `protoPayload` or the label maps, a comparison on
//!   a missing field fails (so `NOT missing=x` matches and `missing!=x` does not). Scalar
//!   fields defined by `LogEntry` itself are *defaulted*: compared as if present with their
//!   default (`severity` is `DEFAULT`, strings are empty, numbers zero). `field:*` tests
//!   explicit presence.
//! - **Global restrictions** (a bare value such as `unicorn` or `"The cat"`): the entry matches
//!   if any scalar anywhere in it contains the value, case-insensitively — the `:` operator
//!   applied to every field, as the docs describe.
//! - **Functions**: `log_id()`, `source()`, `sample()`, `ip_in_net()` and `SEARCH()` (with a
//!   simplified tokenizer: runs of letters and digits). `cast()`, `regexp_extract()` and any
//!   unknown function are errors.
//! - **Lexical**: `--` starts a comment to end of line; strings take the escapes `\"` `\\`
//!   `\n` `\t` `\r` `\'` `\uXXXX` `\UXXXXXXXX` `\xHH` and octal `\NNN`; any other escape keeps
//!   its backslash so regex escapes like `"\d"` survive. Unquoted values may not contain `.`
//!   (except numbers) or operator characters, as the docs require. Filters over 20,000
//!   characters and nesting deeper than 64 levels are rejected.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::net::IpAddr;

use jiff::Timestamp;
use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value as Json};

/// The real API rejects longer filters; comments count towards the limit.
const MAX_FILTER_CHARS: usize = 20_000;
/// Bounds parser and evaluator recursion so that hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 64;
/// Keeps a pathological pattern from costing the mock unbounded memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A filter that cannot be parsed, with the byte offset in the filter where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct FilterError {
    /// Byte offset into the filter text.
    pub position: usize,
    /// Short, lower-case description.
    pub message: String,
}

impl FilterError {
    fn new(position: usize, message: impl Into<String>) -> Self {
        Self {
            position,
            message: message.into(),
        }
    }
}

/// A parsed Logging query-language filter.
#[derive(Debug, Clone)]
pub struct Filter {
    /// `None` for the empty filter, which matches every entry.
    root: Option<Expr>,
}

impl Filter {
    /// Parses a filter; the empty / whitespace-only filter matches everything (that is the real
    /// API's rule).
    pub fn parse(src: &str) -> Result<Filter, FilterError> {
        if let Some((position, _)) = src.char_indices().nth(MAX_FILTER_CHARS) {
            return Err(FilterError::new(
                position,
                format!("filter exceeds {MAX_FILTER_CHARS} characters"),
            ));
        }
        let tokens = tokenize(src)?;
        let mut parser = Parser {
            tokens,
            pos: 0,
            end: src.len(),
            depth: 0,
        };
        let root = parser.parse_filter()?;
        Ok(Filter { root })
    }

    /// Whether a LogEntry, in Google's REST JSON form (camelCase: logName, timestamp, severity,
    /// resource.type, resource.labels.x, protoPayload.methodName, ...), matches.
    pub fn matches(&self, entry: &serde_json::Value) -> bool {
        self.root.as_ref().is_none_or(|root| root.eval(entry))
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Dot,
    Star,
    Minus,
    Op(CmpOp),
    Str(String),
    Word(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Has,
    Lt,
    Le,
    Gt,
    Ge,
    Re,
    NotRe,
}

impl CmpOp {
    fn from_text(text: &str) -> Option<Self> {
        Some(match text {
            "=" => Self::Eq,
            "!=" => Self::Ne,
            ":" => Self::Has,
            "<" => Self::Lt,
            "<=" => Self::Le,
            ">" => Self::Gt,
            ">=" => Self::Ge,
            "=~" => Self::Re,
            "!~" => Self::NotRe,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Has => ":",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Re => "=~",
            Self::NotRe => "!~",
        }
    }

    /// The operators whose meaning depends on the field's type (as opposed to `:` and the
    /// regex operators, which work on the textual form).
    fn is_typed(self) -> bool {
        matches!(
            self,
            Self::Eq | Self::Ne | Self::Lt | Self::Le | Self::Gt | Self::Ge
        )
    }

    fn accepts(self, ord: Ordering) -> bool {
        match self {
            Self::Eq => ord == Ordering::Equal,
            Self::Ne => ord != Ordering::Equal,
            Self::Lt => ord == Ordering::Less,
            Self::Le => ord != Ordering::Greater,
            Self::Gt => ord == Ordering::Greater,
            Self::Ge => ord != Ordering::Less,
            Self::Has | Self::Re | Self::NotRe => false,
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::LParen => "'('".to_owned(),
        Tok::RParen => "')'".to_owned(),
        Tok::Comma => "','".to_owned(),
        Tok::Dot => "'.'".to_owned(),
        Tok::Star => "'*'".to_owned(),
        Tok::Minus => "'-'".to_owned(),
        Tok::Op(op) => format!("operator '{}'", op.as_str()),
        Tok::Str(s) => format!("string \"{s}\""),
        Tok::Word(w) => format!("'{w}'"),
    }
}

fn is_word_start(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '@' | '/' | '%' | '$' | '#')
}

/// `-` and `+` may appear inside unquoted text (`us-central1`, `1e+5`) but not lead it: a
/// leading `-` is NOT, and the docs require strings starting with `+` to be quoted.
fn is_word_char(c: char) -> bool {
    is_word_start(c) || matches!(c, '-' | '+')
}

fn is_op_char(c: char) -> bool {
    matches!(c, '=' | '!' | '<' | '>' | '~' | ':')
}

fn tokenize(src: &str) -> Result<Vec<Token>, FilterError> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ',' => Some(Tok::Comma),
            '.' => Some(Tok::Dot),
            '*' => Some(Tok::Star),
            _ => None,
        };
        if let Some(tok) = single {
            chars.next();
            out.push(Token {
                tok,
                start,
                end: start + c.len_utf8(),
            });
            continue;
        }
        match c {
            '-' => {
                chars.next();
                if matches!(chars.peek(), Some(&(_, '-'))) {
                    for (_, c) in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                } else {
                    out.push(Token {
                        tok: Tok::Minus,
                        start,
                        end: start + 1,
                    });
                }
            }
            '"' => {
                chars.next();
                let (text, end) = lex_string(start, &mut chars)?;
                out.push(Token {
                    tok: Tok::Str(text),
                    start,
                    end,
                });
            }
            c if is_op_char(c) => {
                // Maximal munch, so that `==` or `=>` is reported as one unknown operator
                // rather than as a confusing "expected a value".
                let mut end = start;
                while let Some(&(i, c)) = chars.peek() {
                    if !is_op_char(c) {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                let text = src.get(start..end).unwrap_or_default();
                let op = CmpOp::from_text(text).ok_or_else(|| {
                    FilterError::new(start, format!("unknown comparison operator '{text}'"))
                })?;
                out.push(Token {
                    tok: Tok::Op(op),
                    start,
                    end,
                });
            }
            c if is_word_start(c) => {
                let mut end = start;
                while let Some(&(i, c)) = chars.peek() {
                    if !is_word_char(c) {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                out.push(Token {
                    tok: Tok::Word(src.get(start..end).unwrap_or_default().to_owned()),
                    start,
                    end,
                });
            }
            '\'' => {
                return Err(FilterError::new(
                    start,
                    "unexpected character ''' (strings use double quotes)",
                ));
            }
            c => {
                return Err(FilterError::new(
                    start,
                    format!("unexpected character '{c}'"),
                ));
            }
        }
    }
    Ok(out)
}

type CharStream<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

/// Lexes a string whose opening quote (at `open`) has been consumed; returns the decoded text
/// and the byte offset just past the closing quote.
fn lex_string(open: usize, chars: &mut CharStream<'_>) -> Result<(String, usize), FilterError> {
    let unterminated = || FilterError::new(open, "unterminated string");
    let mut text = String::new();
    loop {
        let (i, c) = chars.next().ok_or_else(unterminated)?;
        match c {
            '"' => return Ok((text, i + 1)),
            '\\' => {
                let (_, e) = chars.next().ok_or_else(unterminated)?;
                match e {
                    '"' | '\\' | '\'' => text.push(e),
                    'n' => text.push('\n'),
                    't' => text.push('\t'),
                    'r' => text.push('\r'),
                    'u' => {
                        let first = hex_escape(chars, 4, i)?;
                        text.push(decode_utf16_escape(first, chars, i)?);
                    }
                    'U' => {
                        let code = hex_escape(chars, 8, i)?;
                        text.push(char::from_u32(code).ok_or_else(|| {
                            FilterError::new(i, "escape is not a valid unicode code point")
                        })?);
                    }
                    'x' => {
                        let code = hex_escape(chars, 2, i)?;
                        text.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                    }
                    '0'..='7' => {
                        let mut code = e.to_digit(8).unwrap_or(0);
                        for _ in 0..2 {
                            match chars.peek().and_then(|&(_, d)| d.to_digit(8)) {
                                Some(d) => {
                                    code = code * 8 + d;
                                    chars.next();
                                }
                                None => break,
                            }
                        }
                        text.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                    }
                    // Kept verbatim: regular expressions are written as strings, and `\d`,
                    // `\.` or `\b` must reach the regex engine intact.
                    other => {
                        text.push('\\');
                        text.push(other);
                    }
                }
            }
            c => text.push(c),
        }
    }
}

fn hex_escape(chars: &mut CharStream<'_>, digits: usize, at: usize) -> Result<u32, FilterError> {
    let mut code: u32 = 0;
    for _ in 0..digits {
        let d = chars
            .peek()
            .and_then(|&(_, c)| c.to_digit(16))
            .ok_or_else(|| FilterError::new(at, "invalid escape sequence in string"))?;
        chars.next();
        code = code.saturating_mul(16).saturating_add(d);
    }
    Ok(code)
}

/// `\uXXXX` is a UTF-16 code unit, so characters outside the BMP arrive as a surrogate pair.
fn decode_utf16_escape(
    first: u32,
    chars: &mut CharStream<'_>,
    at: usize,
) -> Result<char, FilterError> {
    let invalid = || FilterError::new(at, "invalid unicode escape in string");
    if !(0xD800..0xDC00).contains(&first) {
        return char::from_u32(first).ok_or_else(invalid);
    }
    if chars.next().map(|(_, c)| c) != Some('\\') || chars.next().map(|(_, c)| c) != Some('u') {
        return Err(invalid());
    }
    let second = hex_escape(chars, 4, at)?;
    if !(0xDC00..0xE000).contains(&second) {
        return Err(invalid());
    }
    let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
    char::from_u32(code).ok_or_else(invalid)
}

// ---------------------------------------------------------------------------------------------
// AST
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Compare(Box<Comparison>),
    Global(Box<Value>),
    Call(Box<Call>),
}

#[derive(Debug, Clone)]
struct Comparison {
    path: FieldPath,
    op: CmpOp,
    rhs: Rhs,
}

#[derive(Debug, Clone)]
enum Rhs {
    /// `field:*`
    Present,
    Values(ValueExpr),
}

/// The right-hand side of a comparison: one value, or a boolean combination of values to each
/// of which the field and operator are applied.
#[derive(Debug, Clone)]
enum ValueExpr {
    And(Vec<ValueExpr>),
    Or(Vec<ValueExpr>),
    Not(Box<ValueExpr>),
    Leaf(Box<Value>),
}

/// A literal, pre-converted to every type it may be compared as so that evaluation never
/// re-parses it.
#[derive(Debug, Clone)]
struct Value {
    folded: String,
    number: Option<Num>,
    boolean: Option<bool>,
    timestamp: Option<Timestamp>,
    severity: Option<i64>,
    regex: Option<Regex>,
    is_null: bool,
}

#[derive(Debug, Clone)]
enum Call {
    /// `log_id("a/b")`: logName ends with one of these (lower-cased) suffixes.
    LogId(Vec<String>),
    /// `source(projects/p)`: logName starts with this (lower-cased) prefix.
    Source(String),
    Sample { field: FieldPath, fraction: f64 },
    IpInNet { field: FieldPath, net: IpNet },
    Search {
        field: Option<FieldPath>,
        terms: Vec<Vec<String>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    Timestamp,
    Severity,
    Other,
}

#[derive(Debug, Clone)]
struct PathSeg {
    name: String,
    /// Protocol-buffer field names are matched ignoring case and underscores (the docs: "when
    /// querying the regular protocol buffer field protoPayload, you don't need to preserve
    /// case"); map and struct keys are matched exactly.
    loose: bool,
}

#[derive(Debug, Clone)]
struct FieldPath {
    segs: Vec<PathSeg>,
    kind: FieldKind,
    /// The value a defaulted `LogEntry` field is compared as when absent.
    default: Option<Json>,
}

// ---------------------------------------------------------------------------------------------
// LogEntry schema
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Fallback {
    /// Not defaulted: absent means missing.
    Missing,
    Str,
    Int,
    Bool,
    Severity,
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Scalar(Fallback),
    /// A `map<string, string>`: exactly one more, case-sensitive, segment.
    Map,
    /// `jsonPayload`: arbitrary depth, keys case-sensitive.
    Struct,
    /// A protocol buffer whose schema this mock does not know: arbitrary depth, loose names.
    Proto,
    Message(&'static [(&'static str, Shape)]),
}

const RESOURCE: &[(&str, Shape)] = &[
    ("type", Shape::Scalar(Fallback::Str)),
    ("labels", Shape::Map),
];

const HTTP_REQUEST: &[(&str, Shape)] = &[
    ("requestMethod", Shape::Scalar(Fallback::Str)),
    ("requestUrl", Shape::Scalar(Fallback::Str)),
    ("requestSize", Shape::Scalar(Fallback::Int)),
    ("status", Shape::Scalar(Fallback::Int)),
    ("responseSize", Shape::Scalar(Fallback::Int)),
    ("userAgent", Shape::Scalar(Fallback::Str)),
    ("remoteIp", Shape::Scalar(Fallback::Str)),
    ("serverIp", Shape::Scalar(Fallback::Str)),
    ("referer", Shape::Scalar(Fallback::Str)),
    ("latency", Shape::Scalar(Fallback::Str)),
    ("cacheLookup", Shape::Scalar(Fallback::Bool)),
    ("cacheHit", Shape::Scalar(Fallback::Bool)),
    ("cacheValidatedWithOriginServer", Shape::Scalar(Fallback::Bool)),
    ("cacheFillBytes", Shape::Scalar(Fallback::Int)),
    ("protocol", Shape::Scalar(Fallback::Str)),
];

const OPERATION: &[(&str, Shape)] = &[
    ("id", Shape::Scalar(Fallback::Str)),
    ("producer", Shape::Scalar(Fallback::Str)),
    ("first", Shape::Scalar(Fallback::Bool)),
    ("last", Shape::Scalar(Fallback::Bool)),
];

const SOURCE_LOCATION: &[(&str, Shape)] = &[
    ("file", Shape::Scalar(Fallback::Str)),
    ("line", Shape::Scalar(Fallback::Int)),
    ("function", Shape::Scalar(Fallback::Str)),
];

const SPLIT: &[(&str, Shape)] = &[
    ("uid", Shape::Scalar(Fallback::Str)),
    ("index", Shape::Scalar(Fallback::Int)),
    ("totalSplits", Shape::Scalar(Fallback::Int)),
];

const LOG_ENTRY: &[(&str, Shape)] = &[
    ("logName", Shape::Scalar(Fallback::Str)),
    ("resource", Shape::Message(RESOURCE)),
    ("protoPayload", Shape::Proto),
    ("textPayload", Shape::Scalar(Fallback::Missing)),
    ("jsonPayload", Shape::Struct),
    ("timestamp", Shape::Scalar(Fallback::Missing)),
    ("receiveTimestamp", Shape::Scalar(Fallback::Missing)),
    ("severity", Shape::Scalar(Fallback::Severity)),
    ("insertId", Shape::Scalar(Fallback::Str)),
    ("httpRequest", Shape::Message(HTTP_REQUEST)),
    ("labels", Shape::Map),
    ("operation", Shape::Message(OPERATION)),
    ("trace", Shape::Scalar(Fallback::Str)),
    ("spanId", Shape::Scalar(Fallback::Str)),
    ("traceSampled", Shape::Scalar(Fallback::Bool)),
    ("sourceLocation", Shape::Message(SOURCE_LOCATION)),
    ("split", Shape::Message(SPLIT)),
    ("metadata", Shape::Proto),
    ("errorGroups", Shape::Proto),
    ("apphub", Shape::Proto),
    ("apphubDestination", Shape::Proto),
    ("apphubSource", Shape::Proto),
];

/// Protocol-buffer names compare ignoring case and `_`, so `log_name` finds `logName`.
fn loose_eq(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(|&c| c != '_')
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    norm(a) == norm(b)
}

/// One `.`-separated component of a path or value as written.
#[derive(Debug, Clone)]
struct Segment {
    text: String,
    quoted: bool,
    start: usize,
}

#[derive(Debug, Clone)]
struct Atom {
    segs: Vec<Segment>,
    start: usize,
    end: usize,
}

impl Atom {
    fn display(&self) -> String {
        self.segs
            .iter()
            .map(|s| {
                if s.quoted {
                    format!("\"{}\"", s.text)
                } else {
                    s.text.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The atom as a literal value; only numbers may contain an unquoted `.`.
    fn as_value_text(&self) -> Result<(String, bool), FilterError> {
        match self.segs.as_slice() {
            [only] => Ok((only.text.clone(), only.quoted)),
            segs => {
                let joined = segs
                    .iter()
                    .map(|s| s.text.as_str())
                    .collect::<Vec<_>>()
                    .join(".");
                if segs.iter().all(|s| !s.quoted) && parse_num(&joined).is_some() {
                    Ok((joined, false))
                } else {
                    Err(FilterError::new(
                        self.start,
                        "values containing '.' must be double-quoted",
                    ))
                }
            }
        }
    }

    fn to_field_path(&self) -> Result<FieldPath, FilterError> {
        let mut segs = self.segs.iter();
        let first = segs
            .next()
            .ok_or_else(|| FilterError::new(self.start, "expected a field name"))?;
        let undefined = |seg: &Segment| {
            FilterError::new(seg.start, format!("undefined field '{}'", self.display()))
        };
        let &(name, mut shape) = LOG_ENTRY
            .iter()
            .find(|(name, _)| loose_eq(name, &first.text))
            .ok_or_else(|| undefined(first))?;
        let mut path = vec![PathSeg {
            name: name.to_owned(),
            loose: false,
        }];
        for seg in segs {
            shape = match shape {
                Shape::Scalar(_) => return Err(undefined(seg)),
                Shape::Map => {
                    path.push(PathSeg {
                        name: seg.text.clone(),
                        loose: false,
                    });
                    Shape::Scalar(Fallback::Missing)
                }
                Shape::Struct | Shape::Proto => {
                    path.push(PathSeg {
                        name: seg.text.clone(),
                        loose: matches!(shape, Shape::Proto),
                    });
                    shape
                }
                Shape::Message(fields) => {
                    let (name, sub) = fields
                        .iter()
                        .find(|(name, _)| loose_eq(name, &seg.text))
                        .ok_or_else(|| undefined(seg))?;
                    path.push(PathSeg {
                        name: (*name).to_owned(),
                        loose: false,
                    });
                    *sub
                }
            };
        }
        let default = match shape {
            Shape::Scalar(Fallback::Str) => Some(Json::String(String::new())),
            Shape::Scalar(Fallback::Int) => Some(Json::from(0)),
            Shape::Scalar(Fallback::Bool) => Some(Json::Bool(false)),
            Shape::Scalar(Fallback::Severity) => Some(Json::String("DEFAULT".to_owned())),
            _ => None,
        };
        let kind = match path.as_slice() {
            [only] if only.name == "timestamp" || only.name == "receiveTimestamp" => {
                FieldKind::Timestamp
            }
            [only] if only.name == "severity" => FieldKind::Severity,
            _ => FieldKind::Other,
        };
        Ok(FieldPath {
            segs: path,
            kind,
            default,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// Byte length of the source, the position reported for "unexpected end".
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_at(&self, offset: usize) -> Option<&Token> {
        self.tokens.get(self.pos + offset)
    }

    fn bump(&mut self) -> Option<Token> {
        let tok = self.tokens.get(self.pos).cloned();
        if tok.is_some() {
            self.pos += 1;
        }
        tok
    }

    fn at_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(w), .. }) if w == kw)
    }

    fn at(&self, tok: &Tok) -> bool {
        self.peek().is_some_and(|t| &t.tok == tok)
    }

    fn here(&self) -> usize {
        self.peek().map_or(self.end, |t| t.start)
    }

    fn enter(&mut self, at: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::new(
                at,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Whether the next token is a `-` glued to a number, i.e. a negative literal rather than
    /// a NOT.
    fn at_negative_number(&self) -> bool {
        match (self.peek(), self.peek_at(1)) {
            (
                Some(Token {
                    tok: Tok::Minus,
                    end,
                    ..
                }),
                Some(Token {
                    tok: Tok::Word(w),
                    start,
                    ..
                }),
            ) => end == start && w.starts_with(|c: char| c.is_ascii_digit()),
            _ => false,
        }
    }

    fn parse_filter(&mut self) -> Result<Option<Expr>, FilterError> {
        if self.tokens.is_empty() {
            return Ok(None);
        }
        let expr = self.parse_and()?;
        if let Some(t) = self.peek() {
            let message = if t.tok == Tok::RParen {
                "unbalanced ')'".to_owned()
            } else {
                format!("unexpected {}", describe(&t.tok))
            };
            return Err(FilterError::new(t.start, message));
        }
        Ok(Some(expr))
    }

    fn parse_and(&mut self) -> Result<Expr, FilterError> {
        let mut items = vec![self.parse_or()?];
        loop {
            if self.peek().is_none() || self.at(&Tok::RParen) {
                break;
            }
            if self.at_keyword("AND") {
                self.bump();
                if self.peek().is_none() || self.at(&Tok::RParen) {
                    return Err(FilterError::new(
                        self.here(),
                        "expected an expression after AND",
                    ));
                }
            }
            items.push(self.parse_or()?);
        }
        Ok(collapse(items, Expr::And))
    }

    fn parse_or(&mut self) -> Result<Expr, FilterError> {
        let mut items = vec![self.parse_unary()?];
        while self.at_keyword("OR") {
            self.bump();
            if self.peek().is_none() || self.at(&Tok::RParen) {
                return Err(FilterError::new(
                    self.here(),
                    "expected an expression after OR",
                ));
            }
            items.push(self.parse_unary()?);
        }
        Ok(collapse(items, Expr::Or))
    }

    fn parse_unary(&mut self) -> Result<Expr, FilterError> {
        if self.at_keyword("NOT") || self.at(&Tok::Minus) {
            let start = self.here();
            self.bump();
            if self.peek().is_none() {
                return Err(FilterError::new(self.end, "expected an expression after NOT"));
            }
            self.enter(start)?;
            let inner = self.parse_unary();
            self.leave();
            return Ok(Expr::Not(Box::new(inner?)));
        }
        self.parse_primary()
    }

    fn parse_primary(&mut self) -> Result<Expr, FilterError> {
        let Some(tok) = self.peek().cloned() else {
            return Err(FilterError::new(self.end, "unexpected end of filter"));
        };
        match &tok.tok {
            Tok::LParen => {
                self.bump();
                if self.at(&Tok::RParen) {
                    return Err(FilterError::new(tok.start, "empty parentheses"));
                }
                self.enter(tok.start)?;
                let inner = self.parse_and();
                self.leave();
                let inner = inner?;
                self.expect_close(tok.start)?;
                Ok(inner)
            }
            Tok::Word(w) if w == "AND" || w == "OR" => Err(FilterError::new(
                tok.start,
                format!("unexpected {w}: expected an expression"),
            )),
            Tok::Word(name)
                if self
                    .peek_at(1)
                    .is_some_and(|next| next.tok == Tok::LParen && next.start == tok.end) =>
            {
                let name = name.clone();
                self.parse_call(&name, tok.start)
            }
            Tok::Word(_) | Tok::Str(_) => {
                let atom = self.parse_atom()?;
                match self.peek() {
                    Some(Token {
                        tok: Tok::Op(op), ..
                    }) => {
                        let op = *op;
                        self.bump();
                        self.parse_comparison(&atom, op)
                    }
                    _ => {
                        let (text, quoted) = atom.as_value_text().map_err(|_| {
                            FilterError::new(
                                atom.end,
                                format!(
                                    "expected a comparison operator after '{}'",
                                    atom.display()
                                ),
                            )
                        })?;
                        let value =
                            Value::build(&text, quoted, atom.start, FieldKind::Other, CmpOp::Has)?;
                        Ok(Expr::Global(Box::new(value)))
                    }
                }
            }
            Tok::Op(op) => Err(FilterError::new(
                tok.start,
                format!("comparison operator '{}' without a field name", op.as_str()),
            )),
            Tok::RParen => Err(FilterError::new(tok.start, "expected an expression")),
            other => Err(FilterError::new(
                tok.start,
                format!("unexpected {}", describe(other)),
            )),
        }
    }

    fn expect_close(&mut self, open: usize) -> Result<(), FilterError> {
        match self.peek() {
            Some(Token {
                tok: Tok::RParen, ..
            }) => {
                self.bump();
                Ok(())
            }
            Some(t) => Err(FilterError::new(
                t.start,
                format!("expected ')' but found {}", describe(&t.tok)),
            )),
            None => Err(FilterError::new(open, "unbalanced '('")),
        }
    }

    /// A field path or literal: words and strings joined by `.` with no space around it.
    fn parse_atom(&mut self) -> Result<Atom, FilterError> {
        let (text, quoted, start, mut end) = match self.bump() {
            Some(Token {
                tok: Tok::Word(text),
                start,
                end,
            }) => (text, false, start, end),
            Some(Token {
                tok: Tok::Str(text),
                start,
                end,
            }) => (text, true, start, end),
            Some(t) => {
                return Err(FilterError::new(
                    t.start,
                    format!("expected a field name or value, found {}", describe(&t.tok)),
                ));
            }
            None => return Err(FilterError::new(self.end, "unexpected end of filter")),
        };
        let mut segs = vec![Segment {
            text,
            quoted,
            start,
        }];
        while let Some(dot) = self.peek().filter(|t| t.tok == Tok::Dot && t.start == end) {
            let dot_end = dot.end;
            let dot_start = dot.start;
            self.bump();
            match self.peek().cloned() {
                Some(Token {
                    tok: tok @ (Tok::Word(_) | Tok::Str(_)),
                    start,
                    end: seg_end,
                }) if start == dot_end => {
                    self.bump();
                    let (text, quoted) = match tok {
                        Tok::Str(s) => (s, true),
                        Tok::Word(w) => (w, false),
                        _ => (String::new(), false),
                    };
                    segs.push(Segment {
                        text,
                        quoted,
                        start,
                    });
                    end = seg_end;
                }
                _ => {
                    return Err(FilterError::new(
                        dot_start,
                        "expected a name after '.'",
                    ));
                }
            }
        }
        Ok(Atom { segs, start, end })
    }

    fn parse_comparison(&mut self, atom: &Atom, op: CmpOp) -> Result<Expr, FilterError> {
        let path = atom.to_field_path()?;
        let rhs = match self.peek().cloned() {
            Some(Token {
                tok: Tok::Star,
                start,
                ..
            }) => {
                if op != CmpOp::Has {
                    return Err(FilterError::new(start, "'*' is only valid as ':*'"));
                }
                self.bump();
                Rhs::Present
            }
            Some(Token {
                tok: Tok::LParen,
                start,
                ..
            }) => Rhs::Values(self.parse_value_group(start, path.kind, op)?),
            _ => Rhs::Values(ValueExpr::Leaf(Box::new(
                self.parse_value(path.kind, op)?,
            ))),
        };
        Ok(Expr::Compare(Box::new(Comparison { path, op, rhs })))
    }

    fn parse_value_group(
        &mut self,
        open: usize,
        kind: FieldKind,
        op: CmpOp,
    ) -> Result<ValueExpr, FilterError> {
        self.bump();
        if self.at(&Tok::RParen) {
            return Err(FilterError::new(open, "empty parentheses"));
        }
        self.enter(open)?;
        let inner = self.parse_value_and(kind, op);
        self.leave();
        let inner = inner?;
        self.expect_close(open)?;
        Ok(inner)
    }

    fn parse_value_and(&mut self, kind: FieldKind, op: CmpOp) -> Result<ValueExpr, FilterError> {
        let mut items = vec![self.parse_value_or(kind, op)?];
        loop {
            if self.peek().is_none() || self.at(&Tok::RParen) {
                break;
            }
            if self.at_keyword("AND") {
                self.bump();
            }
            items.push(self.parse_value_or(kind, op)?);
        }
        Ok(collapse(items, ValueExpr::And))
    }

    fn parse_value_or(&mut self, kind: FieldKind, op: CmpOp) -> Result<ValueExpr, FilterError> {
        let mut items = vec![self.parse_value_unary(kind, op)?];
        while self.at_keyword("OR") {
            self.bump();
            items.push(self.parse_value_unary(kind, op)?);
        }
        Ok(collapse(items, ValueExpr::Or))
    }

    fn parse_value_unary(&mut self, kind: FieldKind, op: CmpOp) -> Result<ValueExpr, FilterError> {
        if self.at_keyword("NOT") || (self.at(&Tok::Minus) && !self.at_negative_number()) {
            let start = self.here();
            self.bump();
            self.enter(start)?;
            let inner = self.parse_value_unary(kind, op);
            self.leave();
            return Ok(ValueExpr::Not(Box::new(inner?)));
        }
        if let Some(open) = self.peek().filter(|t| t.tok == Tok::LParen).map(|t| t.start) {
            return self.parse_value_group(open, kind, op);
        }
        Ok(ValueExpr::Leaf(Box::new(self.parse_value(kind, op)?)))
    }

    /// A single literal on the right of an operator.
    fn parse_value(&mut self, kind: FieldKind, op: CmpOp) -> Result<Value, FilterError> {
        let expected = || format!("expected a value after '{}'", op.as_str());
        let Some(tok) = self.peek().cloned() else {
            return Err(FilterError::new(self.end, expected()));
        };
        let negative = self.at_negative_number();
        if negative {
            self.bump();
        }
        match self.peek().cloned().map(|t| t.tok) {
            Some(Tok::Word(w)) if w == "AND" || w == "OR" || w == "NOT" => {
                Err(FilterError::new(tok.start, expected()))
            }
            Some(Tok::Word(_)) | Some(Tok::Str(_)) => {
                if let Some(next) = self.peek_at(1)
                    && next.tok == Tok::LParen
                    && self.peek().is_some_and(|t| t.end == next.start)
                {
                    return Err(FilterError::new(
                        tok.start,
                        "functions are not supported as comparison values",
                    ));
                }
                let atom = self.parse_atom()?;
                let (mut text, quoted) = atom.as_value_text()?;
                if negative {
                    text.insert(0, '-');
                }
                Value::build(&text, quoted, tok.start, kind, op)
            }
            Some(Tok::Star) => Err(FilterError::new(tok.start, "'*' is only valid as ':*'")),
            _ => Err(FilterError::new(tok.start, expected())),
        }
    }

    fn parse_call(&mut self, name: &str, start: usize) -> Result<Expr, FilterError> {
        self.bump();
        let open = self.here();
        self.bump();
        let mut args = Vec::new();
        if self.at(&Tok::RParen) {
            self.bump();
        } else {
            loop {
                match self.peek().map(|t| &t.tok) {
                    Some(Tok::Word(_) | Tok::Str(_)) => args.push(self.parse_atom()?),
                    Some(other) => {
                        return Err(FilterError::new(
                            self.here(),
                            format!("unexpected {} in function arguments", describe(other)),
                        ));
                    }
                    None => return Err(FilterError::new(open, "unbalanced '('")),
                }
                match self.bump() {
                    Some(Token {
                        tok: Tok::Comma, ..
                    }) => {}
                    Some(Token {
                        tok: Tok::RParen, ..
                    }) => break,
                    Some(t) => {
                        return Err(FilterError::new(
                            t.start,
                            format!("expected ',' or ')' but found {}", describe(&t.tok)),
                        ));
                    }
                    None => return Err(FilterError::new(open, "unbalanced '('")),
                }
            }
        }
        let lower = name.to_ascii_lowercase();
        let arity = |n: usize| -> Result<(), FilterError> {
            if args.len() == n {
                Ok(())
            } else {
                Err(FilterError::new(
                    start,
                    format!("{lower}() takes {n} argument(s), got {}", args.len()),
                ))
            }
        };
        let call = match lower.as_str() {
            "log_id" => {
                arity(1)?;
                let (id, _) = single_value(&args, 0)?;
                let encoded = url_encode(&id);
                Call::LogId(vec![
                    format!("/logs/{encoded}").to_lowercase(),
                    format!("/logs/{id}").to_lowercase(),
                ])
            }
            "source" => {
                arity(1)?;
                let (resource, _) = single_value(&args, 0)?;
                let valid = resource.split_once('/').is_some_and(|(kind, id)| {
                    matches!(
                        kind,
                        "projects" | "folders" | "organizations" | "billingAccounts"
                    ) && !id.is_empty()
                        && !id.contains('/')
                });
                if !valid {
                    return Err(FilterError::new(
                        start,
                        format!("invalid source resource '{resource}'"),
                    ));
                }
                Call::Source(format!("{resource}/").to_lowercase())
            }
            "sample" => {
                arity(2)?;
                let field = field_arg(&args, 0)?;
                let (text, _) = single_value(&args, 1)?;
                let fraction = text
                    .parse::<f64>()
                    .ok()
                    .filter(|f| *f > 0.0 && *f <= 1.0)
                    .ok_or_else(|| {
                        FilterError::new(
                            arg_start(&args, 1, start),
                            "sample() fraction must be a number in (0, 1]",
                        )
                    })?;
                Call::Sample { field, fraction }
            }
            "ip_in_net" => {
                arity(2)?;
                let field = field_arg(&args, 0)?;
                let (text, _) = single_value(&args, 1)?;
                let net = IpNet::parse(&text).ok_or_else(|| {
                    FilterError::new(
                        arg_start(&args, 1, start),
                        format!("invalid IP address or range '{text}'"),
                    )
                })?;
                Call::IpInNet { field, net }
            }
            "search" => {
                let (field, query_arg) = match args.len() {
                    1 => (None, 0),
                    2 => (Some(field_arg(&args, 0)?), 1),
                    n => {
                        return Err(FilterError::new(
                            start,
                            format!("search() takes 1 or 2 arguments, got {n}"),
                        ));
                    }
                };
                let (query, quoted) = single_value(&args, query_arg)?;
                let at = arg_start(&args, query_arg, start);
                if !quoted {
                    return Err(FilterError::new(
                        at,
                        "search() query must be a string literal",
                    ));
                }
                Call::Search {
                    field,
                    terms: search_terms(&query, at)?,
                }
            }
            "cast" | "regexp_extract" => {
                return Err(FilterError::new(
                    start,
                    format!("function {lower}() is not supported"),
                ));
            }
            _ => {
                return Err(FilterError::new(start, format!("unknown function '{name}'")));
            }
        };
        Ok(Expr::Call(Box::new(call)))
    }
}

fn arg_start(args: &[Atom], index: usize, fallback: usize) -> usize {
    args.get(index).map_or(fallback, |a| a.start)
}

fn single_value(args: &[Atom], index: usize) -> Result<(String, bool), FilterError> {
    args.get(index)
        .ok_or_else(|| FilterError::new(0, "missing function argument"))?
        .as_value_text()
}

fn field_arg(args: &[Atom], index: usize) -> Result<FieldPath, FilterError> {
    args.get(index)
        .ok_or_else(|| FilterError::new(0, "missing function argument"))?
        .to_field_path()
}

/// Builds an n-ary node, or returns the only operand so single terms stay flat.
fn collapse<T>(mut items: Vec<T>, make: fn(Vec<T>) -> T) -> T {
    if items.len() == 1
        && let Some(only) = items.pop()
    {
        return only;
    }
    make(items)
}

// ---------------------------------------------------------------------------------------------
// Literals and conversions
// ---------------------------------------------------------------------------------------------

impl Value {
    fn build(
        text: &str,
        quoted: bool,
        at: usize,
        kind: FieldKind,
        op: CmpOp,
    ) -> Result<Value, FilterError> {
        let is_null = !quoted && text == "NULL_VALUE";
        if is_null && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
            return Err(FilterError::new(
                at,
                "NULL_VALUE can only be compared with '=' or '!='",
            ));
        }
        let regex = if matches!(op, CmpOp::Re | CmpOp::NotRe) {
            Some(
                RegexBuilder::new(text)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|_| {
                        FilterError::new(at, format!("invalid regular expression \"{text}\""))
                    })?,
            )
        } else {
            None
        };
        let typed = op.is_typed() && !is_null;
        let timestamp = if kind == FieldKind::Timestamp && typed {
            Some(
                parse_timestamp(text)
                    .ok_or_else(|| FilterError::new(at, format!("invalid timestamp \"{text}\"")))?,
            )
        } else {
            None
        };
        let severity = if kind == FieldKind::Severity && typed {
            Some(
                severity_level(text)
                    .ok_or_else(|| FilterError::new(at, format!("invalid severity \"{text}\"")))?,
            )
        } else {
            None
        };
        let boolean = if text.eq_ignore_ascii_case("true") {
            Some(true)
        } else if text.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            None
        };
        Ok(Value {
            folded: fold(text),
            number: parse_num(text),
            boolean,
            timestamp,
            severity,
            regex,
            is_null,
        })
    }
}

/// Stands in for the NFKC_CF normalisation the real service applies before comparing strings.
fn fold(s: &str) -> String {
    s.to_lowercase()
}

#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            // Precision loss only matters beyond 2^53, where both sides are integers anyway.
            Self::Int(i) => i as f64,
            Self::Float(f) => f,
        }
    }

    fn compare(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Self::Int(a), Self::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }

    fn from_json(n: &serde_json::Number) -> Option<Num> {
        if let Some(i) = n.as_i64() {
            Some(Self::Int(i128::from(i)))
        } else if let Some(u) = n.as_u64() {
            Some(Self::Int(i128::from(u)))
        } else {
            n.as_f64().map(Self::Float)
        }
    }
}

/// Decimal numbers only: Rust's float parser would also take "nan" and "inf", which must stay
/// ordinary words when compared against string fields.
fn parse_num(s: &str) -> Option<Num> {
    let bytes = s.as_bytes();
    let mut i = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if i == int_start {
        return None;
    }
    let mut integral = true;
    if bytes.get(i) == Some(&b'.') {
        integral = false;
        i += 1;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        integral = false;
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    if integral && let Ok(n) = s.parse::<i128>() {
        return Some(Num::Int(n));
    }
    s.parse::<f64>().ok().map(Num::Float)
}

const SEVERITIES: [(&str, i64); 9] = [
    ("DEFAULT", 0),
    ("DEBUG", 100),
    ("INFO", 200),
    ("NOTICE", 300),
    ("WARNING", 400),
    ("ERROR", 500),
    ("CRITICAL", 600),
    ("ALERT", 700),
    ("EMERGENCY", 800),
];

fn severity_level(s: &str) -> Option<i64> {
    SEVERITIES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map(|&(_, level)| level)
        .or_else(|| s.parse::<i64>().ok())
}

fn severity_of(json: &Json) -> Option<i64> {
    match json {
        Json::String(s) => severity_level(s),
        Json::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// Accepts what the docs allow in queries (RFC 3339 with `Z` or `±hh:mm`, ISO 8601 dates) plus
/// the `±hhmm` offset some clients send; jiff does the rest.
fn parse_timestamp(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    let bytes = s.as_bytes();
    let is_date_only = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if is_date_only {
        return format!("{s}T00:00:00Z").parse().ok();
    }
    let has_time = s.contains(['T', 't', ' ']);
    if has_time
        && let Some(split) = s.len().checked_sub(5)
        && let (Some(head), Some(tail)) = (s.get(..split), s.get(split..))
        && tail.starts_with(['+', '-'])
        && tail.bytes().skip(1).all(|b| b.is_ascii_digit())
        && head.ends_with(|c: char| c.is_ascii_digit())
        && head.contains(':')
    {
        let (sign_hh, mm) = tail.split_at(3);
        return format!("{head}{sign_hh}:{mm}").parse().ok();
    }
    s.parse().ok()
}

/// How `logName` spells a log id: every byte outside the URL-unreserved set is %-encoded, so
/// `cloudaudit.googleapis.com/activity` becomes `cloudaudit.googleapis.com%2Factivity`.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    fn parse(s: &str) -> Option<IpNet> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(IpNet { addr, prefix })
    }

    /// Whether `inner` (an address or a range) lies entirely within `self`.
    fn contains(&self, inner: &IpNet) -> bool {
        if inner.prefix < self.prefix {
            return false;
        }
        match (self.addr, inner.addr) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX
                    .checked_shl(32u32.saturating_sub(u32::from(self.prefix)))
                    .unwrap_or(0);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX
                    .checked_shl(128u32.saturating_sub(u32::from(self.prefix)))
                    .unwrap_or(0);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

/// Splits text into lower-cased runs of letters and digits, a simplification of the BigQuery
/// `LOG_ANALYZER` that `SEARCH()` uses.
fn search_tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(fold)
        .collect()
}

/// Each term is a token sequence: one token for a bare word, several for a backticked phrase.
fn search_terms(query: &str, at: usize) -> Result<Vec<Vec<String>>, FilterError> {
    let mut terms = Vec::new();
    let parts: Vec<&str> = query.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return Err(FilterError::new(at, "unbalanced '`' in search() query"));
    }
    for (i, part) in parts.iter().enumerate() {
        let tokens = search_tokens(part);
        if i % 2 == 1 {
            if !tokens.is_empty() {
                terms.push(tokens);
            }
        } else {
            terms.extend(tokens.into_iter().map(|t| vec![t]));
        }
    }
    if terms.is_empty() {
        return Err(FilterError::new(at, "search() query has no searchable terms"));
    }
    Ok(terms)
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

fn lookup<'a>(map: &'a Map<String, Json>, seg: &PathSeg) -> Option<&'a Json> {
    map.get(&seg.name).or_else(|| {
        if seg.loose {
            map.iter()
                .find(|(key, _)| loose_eq(key, &seg.name))
                .map(|(_, v)| v)
        } else {
            None
        }
    })
}

/// Every value the path reaches; arrays anywhere along it (or at its end) fan out.
fn resolve<'a>(entry: &'a Json, segs: &[PathSeg]) -> Vec<&'a Json> {
    let mut out = Vec::new();
    let mut stack = vec![(entry, 0usize)];
    while let Some((node, depth)) = stack.pop() {
        match node {
            // Reversed so that results come out in document order.
            Json::Array(items) => stack.extend(items.iter().rev().map(|it| (it, depth))),
            _ => match segs.get(depth) {
                None => out.push(node),
                Some(seg) => {
                    if let Json::Object(map) = node
                        && let Some(child) = lookup(map, seg)
                    {
                        stack.push((child, depth + 1));
                    }
                }
            },
        }
    }
    out
}

/// The textual form of every scalar at or below `node`.
fn scalar_texts(node: &Json) -> Vec<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        match node {
            Json::String(s) => out.push(Cow::Borrowed(s.as_str())),
            Json::Number(n) => out.push(Cow::Owned(n.to_string())),
            Json::Bool(b) => out.push(Cow::Owned(b.to_string())),
            Json::Null => {}
            Json::Array(items) => stack.extend(items.iter().rev()),
            Json::Object(map) => stack.extend(map.values().rev()),
        }
    }
    out
}

fn has(node: &Json, needle_folded: &str) -> bool {
    scalar_texts(node)
        .iter()
        .any(|t| fold(t).contains(needle_folded))
}

fn compare(kind: FieldKind, leaf: &Json, value: &Value) -> Option<Ordering> {
    match kind {
        FieldKind::Timestamp => {
            let have = parse_timestamp(leaf.as_str()?)?;
            Some(have.cmp(&value.timestamp?))
        }
        FieldKind::Severity => Some(severity_of(leaf)?.cmp(&value.severity?)),
        FieldKind::Other => match leaf {
            Json::Bool(b) => Some(b.cmp(&value.boolean?)),
            Json::Number(n) => Num::from_json(n)?.compare(value.number?),
            Json::String(s) => match (parse_num(s), value.number) {
                (Some(have), Some(want)) => have.compare(want),
                _ => Some(fold(s).cmp(&value.folded)),
            },
            Json::Null | Json::Array(_) | Json::Object(_) => None,
        },
    }
}

fn leaf_matches(op: CmpOp, kind: FieldKind, leaf: &Json, value: &Value) -> bool {
    match op {
        CmpOp::Re | CmpOp::NotRe => {
            let (Some(s), Some(re)) = (leaf.as_str(), value.regex.as_ref()) else {
                return false;
            };
            re.is_match(s) == (op == CmpOp::Re)
        }
        CmpOp::Has => has(leaf, &value.folded),
        _ if value.is_null => leaf.is_null() == (op == CmpOp::Eq),
        _ => compare(kind, leaf, value).is_some_and(|ord| op.accepts(ord)),
    }
}

impl ValueExpr {
    fn eval(&self, leaf: &dyn Fn(&Value) -> bool) -> bool {
        match self {
            Self::And(items) => items.iter().all(|e| e.eval(leaf)),
            Self::Or(items) => items.iter().any(|e| e.eval(leaf)),
            Self::Not(inner) => !inner.eval(leaf),
            Self::Leaf(value) => leaf(value),
        }
    }
}

impl Comparison {
    fn eval(&self, entry: &Json) -> bool {
        let mut found = resolve(entry, &self.path.segs);
        let values = match &self.rhs {
            Rhs::Present => return !found.is_empty(),
            Rhs::Values(values) => values,
        };
        if found.is_empty()
            && let Some(default) = &self.path.default
        {
            found.push(default);
        }
        values.eval(&|value: &Value| {
            found
                .iter()
                .any(|leaf| leaf_matches(self.op, self.path.kind, leaf, value))
        })
    }
}

/// The values a function's field argument refers to, with defaulting applied.
fn field_values<'a>(entry: &'a Json, field: &'a FieldPath) -> Vec<&'a Json> {
    let mut found = resolve(entry, &field.segs);
    if found.is_empty()
        && let Some(default) = &field.default
    {
        found.push(default);
    }
    found
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn contains_phrase(haystack: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && haystack.windows(phrase.len()).any(|w| w == phrase)
}

impl Call {
    fn eval(&self, entry: &Json) -> bool {
        let log_name = || {
            entry
                .get("logName")
                .and_then(Json::as_str)
                .map(fold)
                .unwrap_or_default()
        };
        match self {
            Self::LogId(suffixes) => {
                let name = log_name();
                suffixes.iter().any(|s| name.ends_with(s.as_str()))
            }
            Self::Source(prefix) => log_name().starts_with(prefix.as_str()),
            Self::Sample { field, fraction } => {
                let Some(first) = field_values(entry, field).into_iter().next() else {
                    return false;
                };
                let key = match first {
                    Json::String(s) => s.clone(),
                    Json::Number(n) => n.to_string(),
                    _ => return false,
                };
                let position = fnv1a(key.as_bytes()) as f64 / u64::MAX as f64;
                position <= *fraction
            }
            Self::IpInNet { field, net } => field_values(entry, field)
                .iter()
                .filter_map(|v| v.as_str())
                .filter_map(IpNet::parse)
                .any(|ip| net.contains(&ip)),
            Self::Search { field, terms } => {
                let scope: Vec<&Json> = match field {
                    Some(field) => resolve(entry, &field.segs),
                    None => vec![entry],
                };
                let fields: Vec<Vec<String>> = scope
                    .iter()
                    .flat_map(|node| scalar_strings(node))
                    .map(search_tokens)
                    .collect();
                terms
                    .iter()
                    .all(|term| fields.iter().any(|tokens| contains_phrase(tokens, term)))
            }
        }
    }
}

/// String scalars only: `SEARCH()` does not match non-text fields.
fn scalar_strings(node: &Json) -> Vec<&str> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        match node {
            Json::String(s) => out.push(s.as_str()),
            Json::Array(items) => stack.extend(items.iter().rev()),
            Json::Object(map) => stack.extend(map.values().rev()),
            Json::Null | Json::Bool(_) | Json::Number(_) => {}
        }
    }
    out
}

impl Expr {
    fn eval(&self, entry: &Json) -> bool {
        match self {
            Self::And(items) => items.iter().all(|e| e.eval(entry)),
            Self::Or(items) => items.iter().any(|e| e.eval(entry)),
            Self::Not(inner) => !inner.eval(entry),
            Self::Compare(cmp) => cmp.eval(entry),
            Self::Global(value) => has(entry, &value.folded),
            Self::Call(call) => call.eval(entry),
        }
    }
}
