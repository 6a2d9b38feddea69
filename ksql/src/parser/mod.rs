//! ksqlDB's language on `sqlparser`: its tokenizer (with a dialect of ksqlDB's identifiers)
//! and its expression parser, under a statement parser written here for what is ksqlDB's own
//! (`CREATE STREAM ... WITH (...)`, `WINDOW TUMBLING (...)`, `EMIT CHANGES`, `WITHIN`, ...).
//!
//! Unquoted identifiers are upper-cased as ksqlDB does (quoted ones, in backquotes or double
//! quotes, keep their case), so names compare exactly from here on.

pub mod ast;
mod lambda;
mod types;

use std::collections::BTreeMap;
use std::fmt;

use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator};
use sqlparser::dialect::Dialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use crate::types::SqlType;
use ast::*;

/// Bad SQL: what is wrong, and where (1-based line and column; 0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong.
    pub message: String,
    /// The line.
    pub line: u64,
    /// The column.
    pub column: u64,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}:{}: {}", self.line, self.column, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for ParseError {}

impl ParseError {
    fn at(location: Location, message: impl Into<String>) -> Self {
        ParseError {
            message: message.into(),
            line: location.line,
            column: location.column,
        }
    }

    fn from_sqlparser(e: ParserError, fallback: Location) -> Self {
        let text = match e {
            ParserError::TokenizerError(s) | ParserError::ParserError(s) => s,
            ParserError::RecursionLimitExceeded => "expression nested too deeply".to_string(),
        };
        // sqlparser appends " at Line: L, Column: C"
        if let Some((message, at)) = text.rsplit_once(" at Line: ") {
            if let Some((line, column)) = at.split_once(", Column: ") {
                if let (Ok(line), Ok(column)) = (line.trim().parse(), column.trim().parse()) {
                    return ParseError {
                        message: format!("Syntax Error\n{message}"),
                        line,
                        column,
                    };
                }
            }
        }
        ParseError::at(fallback, format!("Syntax Error\n{text}"))
    }
}

/// ksqlDB's lexical rules: identifiers of letters, digits, `_` and `@`; quoted identifiers in
/// backquotes or double quotes; strings in single quotes.
#[derive(Debug, Default)]
pub struct KsqlDialect {
    /// The custom types `CREATE TYPE` defined, by upper-case name (for `CAST`).
    types: BTreeMap<String, SqlType>,
}

impl Dialect for KsqlDialect {
    fn is_identifier_start(&self, ch: char) -> bool {
        ch.is_alphabetic() || ch == '_'
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        ch.is_alphanumeric() || ch == '_' || ch == '@'
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '`' || ch == '"'
    }

    // (`=>` starts a lambda: `TRANSFORM(a, x => x + 1)`)
    fn supports_named_fn_args_with_rarrow_operator(&self) -> bool {
        false
    }

    // (ksqlDB's DIGIT_IDENTIFIER: `1R` is an identifier; `1`, `2.0`, `1e5` stay numbers)
    fn supports_numeric_prefix(&self) -> bool {
        true
    }

    // (`CAST(e AS type)` takes ksqlDB's type names: `MAP<K, V>`, `STRUCT<A INT>`, ...)
    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        types::cast(parser, &self.types).or_else(|| lambda::lambda(parser))
    }

    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>> {
        // `a->b` dereferences a struct field, which binds tighter than any operator
        if parser.peek_token_ref().token == Token::Arrow {
            return Some(Ok(
                self.prec_value(sqlparser::dialect::Precedence::DoubleColon)
            ));
        }
        None
    }
}

/// One parsed statement and its text (without the final `;`).
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The statement.
    pub statement: Statement,
    /// Its text as written.
    pub text: String,
    /// Where it starts in the text parsed (line and column, from 1): the positions in its
    /// messages count from the text's start, as ksqlDB's do.
    pub start: Location,
}

/// Parses every statement in `sql` (each ends with `;`, the last one may not). `types` are
/// the custom types `CREATE TYPE` defined, by upper-case name.
pub fn parse(sql: &str, types: &BTreeMap<String, SqlType>) -> Result<Vec<Parsed>, ParseError> {
    parse_at(sql, types, Location::new(1, 1))
}

/// [`parse`] of text that starts at `start` of a larger text (a statement parsed again on its
/// own): positions count from the larger text's start.
pub fn parse_at(
    sql: &str,
    types: &BTreeMap<String, SqlType>,
    start: Location,
) -> Result<Vec<Parsed>, ParseError> {
    let dialect = KsqlDialect {
        types: types.clone(),
    };
    let shift = |l: Location| {
        if l.line == 0 {
            l
        } else if l.line == 1 {
            Location::new(start.line, l.column + start.column - 1)
        } else {
            Location::new(l.line + start.line - 1, l.column)
        }
    };
    let mut tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| {
            let at = shift(e.location);
            ParseError {
                message: e.message,
                line: at.line,
                column: at.column,
            }
        })?;
    for t in &mut tokens {
        t.span.start = shift(t.span.start);
        t.span.end = shift(t.span.end);
    }
    let offsets = LineOffsets::new(sql);
    let unshift = |l: Location| {
        if l.line == start.line {
            Location::new(1, l.column + 1 - start.column)
        } else {
            Location::new(l.line + 1 - start.line, l.column)
        }
    };
    let mut statements = Vec::new();
    let mut current: Vec<TokenWithSpan> = Vec::new();
    let mut tokens = tokens.into_iter().map(normalize).peekable();
    loop {
        let token = tokens.next();
        let end = match &token {
            None => true,
            Some(t) => matches!(t.token, Token::SemiColon | Token::EOF),
        };
        if !end {
            if let Some(t) = token {
                current.push(t);
            }
            continue;
        }
        let meaningful: Vec<TokenWithSpan> = current
            .drain(..)
            .filter(|t| !matches!(t.token, Token::Whitespace(_)))
            .collect();
        if let (Some(first), Some(last)) = (meaningful.first(), meaningful.last()) {
            let text = offsets
                .slice(sql, unshift(first.span.start), unshift(last.span.end))
                .to_string();
            let start = first.span.start;
            check_numbers(&meaningful)?;
            let statement = StatementParser::new(meaningful, &dialect).statement()?;
            statements.push(Parsed {
                statement,
                text,
                start,
            });
        }
        if token.is_none() || matches!(token.map(|t| t.token), Some(Token::EOF)) {
            break;
        }
    }
    Ok(statements)
}

/// ksqlDB's checks of numeric literals as it builds its tree: an integer must fit a BIGINT
/// (`-9223372036854775808` does, with its sign), a number with an exponent a DOUBLE. (Its
/// position is one column past the literal's, as ksqlDB reports it.)
fn check_numbers(tokens: &[TokenWithSpan]) -> Result<(), ParseError> {
    for (i, t) in tokens.iter().enumerate() {
        let Token::Number(text, _) = &t.token else {
            continue;
        };
        // (a minus with no operand before it is the literal's sign)
        let signed = i > 0
            && matches!(tokens[i - 1].token, Token::Minus)
            && match i.checked_sub(2).map(|j| &tokens[j].token) {
                None => true,
                Some(Token::Number(..) | Token::RParen | Token::RBracket) => false,
                Some(Token::SingleQuotedString(_)) => false,
                Some(Token::Word(w)) => {
                    w.keyword != Keyword::NoKeyword
                        && !matches!(
                            w.keyword,
                            Keyword::NULL | Keyword::TRUE | Keyword::FALSE | Keyword::END
                        )
                }
                Some(_) => true,
            };
        let shown = if signed {
            format!("-{text}")
        } else {
            text.clone()
        };
        let at = t.span.start;
        let fail = |message: String| ParseError {
            message: format!(
                "Failed to prepare statement: line {}:{}: {message}",
                at.line,
                at.column + 1
            ),
            line: 0,
            column: 0,
        };
        let integer = text.bytes().all(|b| b.is_ascii_digit());
        if integer && shown.parse::<i64>().is_err() {
            return Err(fail(format!("Invalid numeric literal: {shown}")));
        }
        let double = text.contains(['e', 'E']);
        if double && text.parse::<f64>().is_ok_and(f64::is_infinite) {
            return Err(fail(format!("Number overflows DOUBLE: {shown}")));
        }
    }
    Ok(())
}

/// Parses exactly one statement.
pub fn parse_one(sql: &str, types: &BTreeMap<String, SqlType>) -> Result<Parsed, ParseError> {
    let mut all = parse(sql, types)?;
    match all.len() {
        1 => Ok(all.remove(0)),
        0 => Err(ParseError::at(Location::new(1, 1), "no statement")),
        n => Err(ParseError::at(
            Location::new(1, 1),
            format!("expected one statement, found {n}"),
        )),
    }
}

/// Parses a lone expression (`INSERT ... VALUES` literals, tests).
pub fn parse_expr(sql: &str) -> Result<Expr, ParseError> {
    let dialect = KsqlDialect::default();
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| ParseError {
            message: e.message,
            line: e.location.line,
            column: e.location.column,
        })?
        .into_iter()
        .map(normalize)
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let mut p = StatementParser::new(tokens, &dialect);
    let e = p.expr()?;
    p.end()?;
    Ok(e)
}

/// Upper-cases unquoted words (identifiers and keywords alike) as ksqlDB does.
fn normalize(mut t: TokenWithSpan) -> TokenWithSpan {
    if let Token::Word(w) = &mut t.token {
        if w.quote_style.is_none() {
            w.value = w.value.to_uppercase();
        }
    }
    t
}

/// Byte offsets of line starts, to cut a statement's text out by token locations.
struct LineOffsets(Vec<usize>);

impl LineOffsets {
    fn new(sql: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(sql.match_indices('\n').map(|(i, _)| i + 1));
        LineOffsets(starts)
    }

    fn offset(&self, sql: &str, at: Location) -> usize {
        let Some(&start) = self.0.get((at.line as usize).saturating_sub(1)) else {
            return sql.len();
        };
        let line = &sql[start..];
        let col = (at.column as usize).saturating_sub(1);
        start + line.char_indices().nth(col).map_or(line.len(), |(i, _)| i)
    }

    fn slice<'a>(&self, sql: &'a str, start: Location, end: Location) -> &'a str {
        let a = self.offset(sql, start);
        let b = self.offset(sql, end).max(a);
        &sql[a..b]
    }
}

/// The statement parser: sqlparser's parser over one statement's tokens.
struct StatementParser<'a> {
    p: Parser<'a>,
    dialect: &'a KsqlDialect,
    /// Where the statement ends (errors at its end point there).
    end: Location,
}

impl<'a> StatementParser<'a> {
    fn new(tokens: Vec<TokenWithSpan>, dialect: &'a KsqlDialect) -> Self {
        let end = tokens.last().map_or(Location::new(1, 1), |t| t.span.end);
        StatementParser {
            end,
            p: Parser::new(dialect).with_tokens_with_locations(tokens),
            dialect,
        }
    }

    fn here(&self) -> Location {
        let at = self.p.peek_token_ref().span.start;
        if at.line == 0 {
            self.end
        } else {
            at
        }
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError::at(self.here(), message))
    }

    fn wrap<T>(&self, r: Result<T, ParserError>) -> Result<T, ParseError> {
        r.map_err(|e| ParseError::from_sqlparser(e, self.here()))
    }

    fn found(&self) -> String {
        match &self.p.peek_token_ref().token {
            Token::EOF => "end of statement".to_string(),
            t => format!("'{t}'"),
        }
    }

    fn expected<T>(&self, what: &str) -> Result<T, ParseError> {
        self.error(format!("expected {what}, found {}", self.found()))
    }

    fn keyword(&mut self, k: Keyword) -> bool {
        self.p.parse_keyword(k)
    }

    /// The next word, when it is `word` (for words that are not sqlparser keywords).
    fn word(&mut self, word: &str) -> bool {
        match &self.p.peek_token_ref().token {
            Token::Word(w) if w.quote_style.is_none() && w.value == word => {
                self.p.next_token();
                true
            }
            _ => false,
        }
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(&self.p.peek_token_ref().token,
            Token::Word(w) if w.quote_style.is_none() && w.value == word)
    }

    fn expect_word(&mut self, word: &str) -> Result<(), ParseError> {
        if self.word(word) {
            Ok(())
        } else {
            self.expected(word)
        }
    }

    fn token(&mut self, t: &Token) -> bool {
        self.p.consume_token(t)
    }

    fn expect_token(&mut self, t: &Token) -> Result<(), ParseError> {
        if self.token(t) {
            Ok(())
        } else {
            self.expected(&format!("'{t}'"))
        }
    }

    fn end(&mut self) -> Result<(), ParseError> {
        match self.p.peek_token_ref().token {
            Token::EOF => Ok(()),
            _ => self.error(format!(
                "unexpected {} after the end of the statement",
                self.found()
            )),
        }
    }

    /// An identifier: a word (upper case unless quoted) or a quoted name.
    fn ident(&mut self) -> Result<String, ParseError> {
        match self.p.peek_token_ref().token.clone() {
            Token::Word(w) => {
                self.p.next_token();
                Ok(w.value)
            }
            _ => self.expected("an identifier"),
        }
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        let r = self.p.parse_expr();
        self.wrap(r)
    }

    fn statement(mut self) -> Result<Statement, ParseError> {
        let s = self.statement_body()?;
        self.end()?;
        Ok(s)
    }

    fn statement_body(&mut self) -> Result<Statement, ParseError> {
        if self.keyword(Keyword::CREATE) {
            return self.create();
        }
        if self.keyword(Keyword::INSERT) {
            return self.insert();
        }
        if self.peek_word("SELECT") {
            return Ok(Statement::Query(Box::new(self.query()?)));
        }
        if self.keyword(Keyword::DROP) {
            return self.drop();
        }
        if self.word("TERMINATE") {
            if self.keyword(Keyword::ALL) {
                return Ok(Statement::Terminate(None));
            }
            return Ok(Statement::Terminate(Some(self.ident()?)));
        }
        if self.keyword(Keyword::SHOW) || self.word("LIST") {
            return self.show();
        }
        if self.keyword(Keyword::DESCRIBE) {
            return self.describe();
        }
        if self.keyword(Keyword::EXPLAIN) {
            if self.peek_word("SELECT") || self.peek_word("CREATE") || self.peek_word("INSERT") {
                let inner = self.statement_body()?;
                return Ok(Statement::Explain(ExplainTarget::Statement(Box::new(
                    inner,
                ))));
            }
            return Ok(Statement::Explain(ExplainTarget::QueryId(self.ident()?)));
        }
        if self.word("PRINT") {
            return self.print();
        }
        if self.keyword(Keyword::SET) {
            let name = self.string()?;
            self.expect_token(&Token::Eq)?;
            let value = self.string()?;
            return Ok(Statement::SetProperty { name, value });
        }
        if self.word("UNSET") {
            return Ok(Statement::UnsetProperty(self.string()?));
        }
        self.expected("a statement")
    }

    fn string(&mut self) -> Result<String, ParseError> {
        match self.p.peek_token_ref().token.clone() {
            Token::SingleQuotedString(s) => {
                self.p.next_token();
                Ok(s)
            }
            _ => self.expected("a quoted string"),
        }
    }

    fn create(&mut self) -> Result<Statement, ParseError> {
        let or_replace = self.keyword(Keyword::OR);
        if or_replace {
            self.expect_word("REPLACE")?;
        }
        let source = self.keyword(Keyword::SOURCE);
        let kind = if self.keyword(Keyword::STREAM) || self.word("STREAM") {
            SourceKind::Stream
        } else if self.keyword(Keyword::TABLE) {
            SourceKind::Table
        } else if !or_replace && !source && self.keyword(Keyword::TYPE) {
            let if_not_exists = self.if_not_exists()?;
            let name = self.ident()?;
            self.expect_word("AS")?;
            let ty = self.data_type()?;
            return Ok(Statement::CreateType {
                name,
                ty,
                if_not_exists,
            });
        } else {
            return self.expected("STREAM or TABLE");
        };
        let if_not_exists = self.if_not_exists()?;
        let name = self.ident()?;
        if self.token(&Token::LParen) {
            let columns = self.column_defs()?;
            let properties = if self.keyword(Keyword::WITH) {
                self.properties()?
            } else {
                Properties::new()
            };
            return Ok(Statement::CreateSource(CreateSource {
                kind,
                name,
                or_replace,
                if_not_exists,
                source,
                columns,
                properties,
            }));
        }
        let properties = if self.keyword(Keyword::WITH) {
            self.properties()?
        } else {
            Properties::new()
        };
        if self.keyword(Keyword::AS) {
            if source {
                return self.error("CREATE SOURCE cannot be used with AS SELECT");
            }
            let query = Box::new(self.query()?);
            return Ok(Statement::CreateAsSelect(CreateAsSelect {
                kind,
                name,
                or_replace,
                if_not_exists,
                properties,
                query,
            }));
        }
        if matches!(self.p.peek_token_ref().token, Token::EOF) {
            // no columns: they would come from a schema registry
            return Ok(Statement::CreateSource(CreateSource {
                kind,
                name,
                or_replace,
                if_not_exists,
                source,
                columns: Vec::new(),
                properties,
            }));
        }
        self.expected("'(' or AS")
    }

    fn if_not_exists(&mut self) -> Result<bool, ParseError> {
        if self.keyword(Keyword::IF) {
            if !self.p.parse_keywords(&[Keyword::NOT, Keyword::EXISTS]) {
                return self.expected("NOT EXISTS");
            }
            return Ok(true);
        }
        Ok(false)
    }

    fn column_defs(&mut self) -> Result<Vec<ColumnDef>, ParseError> {
        let mut columns = Vec::new();
        loop {
            let name = self.ident()?;
            let ty = self.data_type()?;
            let mut kind = ColumnKind::Value;
            let mut primary = false;
            if self.keyword(Keyword::PRIMARY) {
                self.expect_word("KEY")?;
                kind = ColumnKind::Key;
                primary = true;
            } else if self.keyword(Keyword::KEY) || self.word("KEY") {
                kind = ColumnKind::Key;
            } else if self.word("HEADERS") {
                kind = ColumnKind::Headers(None);
            } else if self.word("HEADER") {
                self.expect_token(&Token::LParen)?;
                let h = self.string()?;
                self.expect_token(&Token::RParen)?;
                kind = ColumnKind::Headers(Some(h));
            }
            columns.push(ColumnDef {
                name,
                ty,
                kind,
                primary,
            });
            if self.token(&Token::Comma) {
                continue;
            }
            self.expect_token(&Token::RParen)?;
            return Ok(columns);
        }
    }

    fn data_type(&mut self) -> Result<SqlType, ParseError> {
        let end = self.end;
        types::TypeParser::new(&mut self.p, &self.dialect.types, end).parse()
    }

    /// `LIMIT n`'s count, with ksqlDB's messages for a negative one (of a pull query) and a
    /// number that is not an integer.
    fn limit(&mut self, pull: bool) -> Result<u64, ParseError> {
        let unlocated = |message: &str| ParseError {
            message: message.to_string(),
            line: 0,
            column: 0,
        };
        let negative = matches!(self.p.peek_token_ref().token, Token::Minus);
        if let (true, Token::Number(..)) = (negative, &self.p.peek_nth_token_ref(1).token) {
            if pull {
                return Err(unlocated(
                    "Pull queries don't support negative integers in the LIMIT clause. See https://cnfl.io/queries for more info.",
                ));
            }
        }
        if let Token::Number(n, _) = &self.p.peek_token_ref().token {
            if n.contains(['.', 'e', 'E']) {
                return Err(unlocated(
                    "Failed to prepare statement: Value must be integer for command: LIMIT",
                ));
            }
        }
        self.uint()
    }

    fn uint(&mut self) -> Result<u64, ParseError> {
        let r = self.p.parse_literal_uint();
        self.wrap(r)
    }

    fn properties(&mut self) -> Result<Properties, ParseError> {
        self.expect_token(&Token::LParen)?;
        let mut props = Properties::new();
        if self.token(&Token::RParen) {
            return Ok(props);
        }
        loop {
            let at = self.here();
            let name = self.ident()?.to_uppercase();
            self.expect_token(&Token::Eq)?;
            let negative = self.token(&Token::Minus);
            let value = match self.p.next_token().token {
                Token::SingleQuotedString(s) => Literal::String(s),
                Token::Number(n, _) if negative => Literal::Number(format!("-{n}")),
                Token::Number(n, _) => Literal::Number(n),
                Token::Word(w) if w.value.eq_ignore_ascii_case("true") => Literal::Boolean(true),
                Token::Word(w) if w.value.eq_ignore_ascii_case("false") => Literal::Boolean(false),
                _ => {
                    self.p.prev_token();
                    return self.expected("a literal value");
                }
            };
            if props.insert(name.clone(), value).is_some() {
                return Err(ParseError::at(at, format!("Duplicate property: {name}")));
            }
            if self.token(&Token::Comma) {
                continue;
            }
            self.expect_token(&Token::RParen)?;
            return Ok(props);
        }
    }

    fn insert(&mut self) -> Result<Statement, ParseError> {
        self.expect_word("INTO")?;
        let target_at = self.here();
        let target = self.ident()?;
        let mut columns = Vec::new();
        if self.token(&Token::LParen) {
            loop {
                columns.push(self.ident()?);
                if self.token(&Token::Comma) {
                    continue;
                }
                self.expect_token(&Token::RParen)?;
                break;
            }
        }
        if self.keyword(Keyword::VALUES) {
            self.expect_token(&Token::LParen)?;
            let mut values = Vec::new();
            if !self.token(&Token::RParen) {
                loop {
                    values.push(self.expr()?);
                    if self.token(&Token::Comma) {
                        continue;
                    }
                    self.expect_token(&Token::RParen)?;
                    break;
                }
            }
            return Ok(Statement::InsertValues {
                target,
                columns,
                values,
            });
        }
        if !columns.is_empty() {
            return self.expected("VALUES");
        }
        if self.keyword(Keyword::WITH) {
            // (INSERT INTO ... WITH (QUERY_ID='...') SELECT: the id is not kept)
            self.properties()?;
        }
        let query = Box::new(self.query()?);
        Ok(Statement::InsertInto {
            target,
            target_at: (target_at.line, target_at.column),
            query,
        })
    }

    fn drop(&mut self) -> Result<Statement, ParseError> {
        let kind = if self.keyword(Keyword::STREAM) || self.word("STREAM") {
            SourceKind::Stream
        } else if self.keyword(Keyword::TABLE) {
            SourceKind::Table
        } else if self.keyword(Keyword::TYPE) {
            let if_exists = self.p.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
            let name = self.ident()?;
            return Ok(Statement::DropType { name, if_exists });
        } else {
            return self.expected("STREAM, TABLE or TYPE");
        };
        let if_exists = self.p.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
        let name = self.ident()?;
        let delete_topic = self.keyword(Keyword::DELETE);
        if delete_topic {
            self.expect_word("TOPIC")?;
        }
        Ok(Statement::Drop {
            kind,
            name,
            if_exists,
            delete_topic,
        })
    }

    fn show(&mut self) -> Result<Statement, ParseError> {
        let what = if self.word("STREAMS") {
            ShowWhat::Streams
        } else if self.keyword(Keyword::TABLES) || self.word("TABLES") {
            ShowWhat::Tables
        } else if self.word("TOPICS") {
            ShowWhat::Topics
        } else if self.keyword(Keyword::ALL) {
            self.expect_word("TOPICS")?;
            ShowWhat::AllTopics
        } else if self.word("QUERIES") {
            ShowWhat::Queries
        } else if self.word("PROPERTIES") {
            ShowWhat::Properties
        } else if self.keyword(Keyword::FUNCTIONS) || self.word("FUNCTIONS") {
            ShowWhat::Functions
        } else if self.word("CONNECTORS") {
            ShowWhat::Connectors
        } else if self.word("TYPES") {
            ShowWhat::Types
        } else {
            return self
                .expected("STREAMS, TABLES, [ALL] TOPICS, QUERIES, PROPERTIES or FUNCTIONS");
        };
        let extended = self.keyword(Keyword::EXTENDED);
        Ok(Statement::Show { what, extended })
    }

    fn describe(&mut self) -> Result<Statement, ParseError> {
        if self.keyword(Keyword::FUNCTION) {
            return Ok(Statement::DescribeFunction(self.ident()?));
        }
        let extended = self.keyword(Keyword::EXTENDED);
        if self.word("STREAMS") {
            let extended = extended || self.keyword(Keyword::EXTENDED);
            return Ok(Statement::Describe {
                name: None,
                all: Some(SourceKind::Stream),
                extended,
            });
        }
        if self.keyword(Keyword::TABLES) || self.word("TABLES") {
            let extended = extended || self.keyword(Keyword::EXTENDED);
            return Ok(Statement::Describe {
                name: None,
                all: Some(SourceKind::Table),
                extended,
            });
        }
        let name = self.ident()?;
        let extended = extended || self.keyword(Keyword::EXTENDED);
        Ok(Statement::Describe {
            name: Some(name),
            all: None,
            extended,
        })
    }

    fn print(&mut self) -> Result<Statement, ParseError> {
        let topic = match self.p.next_token().token {
            Token::Word(w) => w.value,
            Token::SingleQuotedString(s) => s,
            _ => {
                self.p.prev_token();
                return self.expected("a topic name");
            }
        };
        let mut from_beginning = false;
        let mut interval = None;
        let mut limit = None;
        loop {
            if self.keyword(Keyword::FROM) {
                self.expect_word("BEGINNING")?;
                from_beginning = true;
            } else if self.keyword(Keyword::INTERVAL) || self.word("SAMPLE") {
                interval = Some(self.uint()?);
            } else if self.keyword(Keyword::LIMIT) {
                limit = Some(self.uint()?);
            } else {
                break;
            }
        }
        Ok(Statement::Print {
            topic,
            from_beginning,
            interval,
            limit,
        })
    }

    /// `SELECT ... FROM ... [WINDOW] [WHERE] [GROUP BY] [PARTITION BY] [HAVING] [EMIT] [LIMIT]`.
    fn query(&mut self) -> Result<Query, ParseError> {
        self.expect_word("SELECT")?;
        let mut select = Vec::new();
        loop {
            select.push(self.select_item()?);
            if !self.token(&Token::Comma) {
                break;
            }
        }
        if !self.keyword(Keyword::FROM) {
            return self.expected("FROM");
        }
        let from = self.from()?;
        let window = if self.keyword(Keyword::WINDOW) {
            Some(self.window()?)
        } else {
            None
        };
        let filter = if self.keyword(Keyword::WHERE) {
            Some(self.expr()?)
        } else {
            None
        };
        let group_by = if self.p.parse_keywords(&[Keyword::GROUP, Keyword::BY]) {
            self.expr_list("GROUP BY")?
        } else {
            Vec::new()
        };
        let partition_by = if self.p.parse_keywords(&[Keyword::PARTITION, Keyword::BY]) {
            self.expr_list("PARTITION BY")?
        } else {
            Vec::new()
        };
        let having = if self.keyword(Keyword::HAVING) {
            Some(self.expr()?)
        } else {
            None
        };
        let emit = if self.word("EMIT") {
            if self.word("CHANGES") {
                Some(Emit::Changes)
            } else if self.word("FINAL") {
                Some(Emit::Final)
            } else {
                return self.expected("CHANGES or FINAL");
            }
        } else {
            None
        };
        let limit = if self.keyword(Keyword::LIMIT) {
            Some(self.limit(emit.is_none())?)
        } else {
            None
        };
        Ok(Query {
            select,
            from,
            window,
            filter,
            group_by,
            partition_by,
            having,
            emit,
            limit,
        })
    }

    /// `GROUP BY`'s or `PARTITION BY`'s value expressions: `a, b` or `(a, b)`.
    fn expr_list(&mut self, clause: &str) -> Result<Vec<Expr>, ParseError> {
        let parens = matches!(self.p.peek_token_ref().token, Token::LParen)
            && (self.paren_list_ahead()
                || matches!(self.p.peek_nth_token_ref(1).token, Token::RParen));
        if parens {
            self.p.next_token();
            if self.token(&Token::RParen) {
                return self.error(format!("{clause} requires at least one expression"));
            }
        }
        let mut list = vec![self.value_expr()?];
        while self.token(&Token::Comma) {
            list.push(self.value_expr()?);
        }
        if parens {
            self.expect_token(&Token::RParen)?;
        }
        Ok(list)
    }

    /// ksqlDB's `valueExpression`: no comparison, logical operator or other predicate outside
    /// parentheses, and one value in a pair of them.
    fn value_expr(&mut self) -> Result<Expr, ParseError> {
        let start = self.here();
        if matches!(self.p.peek_token_ref().token, Token::LParen) && self.paren_list_ahead() {
            // (where ksqlDB's grammar wants the `)` closing one value)
            let mut n = 1;
            let mut depth = 1;
            loop {
                let t = self.p.peek_nth_token_ref(n);
                match t.token {
                    Token::LParen | Token::LBracket => depth += 1,
                    Token::RParen | Token::RBracket => depth -= 1,
                    Token::Comma if depth == 1 => {
                        return Err(ParseError::at(
                            t.span.start,
                            "Syntax Error\nmissing ')' at ','",
                        ))
                    }
                    Token::EOF => break,
                    _ => {}
                }
                n += 1;
            }
        }
        let e = self.expr()?;
        let predicate = match &e {
            Expr::BinaryOp { op, .. } => !matches!(
                op,
                BinaryOperator::Plus
                    | BinaryOperator::Minus
                    | BinaryOperator::Multiply
                    | BinaryOperator::Divide
                    | BinaryOperator::Modulo
                    | BinaryOperator::StringConcat
                    // (struct dereference: `a->b`)
                    | BinaryOperator::Arrow
            ),
            Expr::UnaryOp { op, .. } => *op == UnaryOperator::Not,
            Expr::Between { .. }
            | Expr::InList { .. }
            | Expr::Like { .. }
            | Expr::IsNull(_)
            | Expr::IsNotNull(_)
            | Expr::IsDistinctFrom(..)
            | Expr::IsNotDistinctFrom(..) => true,
            _ => false,
        };
        if predicate {
            return Err(ParseError::at(start, "Syntax Error"));
        }
        Ok(e)
    }

    /// Whether a `(` opens a comma-separated list (`GROUP BY (A, B)`) rather than a
    /// parenthesized expression: a comma at depth one before the matching `)`.
    fn paren_list_ahead(&self) -> bool {
        let mut depth = 0i32;
        for n in 0.. {
            match self.p.peek_nth_token(n).token {
                Token::LParen | Token::LBracket => depth += 1,
                Token::RParen | Token::RBracket => {
                    depth -= 1;
                    if depth == 0 {
                        return false;
                    }
                }
                Token::Comma if depth == 1 => return true,
                Token::EOF => return false,
                _ => {}
            }
        }
        false
    }

    fn select_item(&mut self) -> Result<SelectItem, ParseError> {
        if self.token(&Token::Mul) {
            return Ok(SelectItem::Wildcard);
        }
        if let (Token::Word(w), Token::Period, Token::Mul) = (
            self.p.peek_nth_token(0).token,
            self.p.peek_nth_token(1).token,
            self.p.peek_nth_token(2).token,
        ) {
            for _ in 0..3 {
                self.p.next_token();
            }
            return Ok(SelectItem::QualifiedWildcard(w.value));
        }
        let expr = self.expr()?;
        let alias = self.alias()?;
        Ok(SelectItem::Expr {
            expr: Box::new(expr),
            alias,
        })
    }

    /// `AS name`, or a bare name that is not the next clause's keyword.
    fn alias(&mut self) -> Result<Option<String>, ParseError> {
        if self.keyword(Keyword::AS) {
            return Ok(Some(self.ident()?));
        }
        match self.p.peek_token_ref().token.clone() {
            Token::Word(w) if !is_clause_word(&w.value) || w.quote_style.is_some() => {
                self.p.next_token();
                Ok(Some(w.value))
            }
            _ => Ok(None),
        }
    }

    fn relation(&mut self) -> Result<Relation, ParseError> {
        let name = self.ident()?;
        let alias = self.alias()?;
        Ok(Relation { name, alias })
    }

    fn from(&mut self) -> Result<From, ParseError> {
        let first = self.relation()?;
        let mut joins = Vec::new();
        loop {
            let kind = if self.keyword(Keyword::JOIN) {
                JoinKind::Inner
            } else if self.keyword(Keyword::INNER) {
                self.expect_join()?;
                JoinKind::Inner
            } else if self.keyword(Keyword::LEFT) {
                self.keyword(Keyword::OUTER);
                self.expect_join()?;
                JoinKind::Left
            } else if self.keyword(Keyword::RIGHT) {
                self.keyword(Keyword::OUTER);
                self.expect_join()?;
                JoinKind::Right
            } else if self.keyword(Keyword::FULL) {
                self.keyword(Keyword::OUTER);
                self.expect_join()?;
                JoinKind::Outer
            } else if self.keyword(Keyword::OUTER) {
                self.expect_join()?;
                JoinKind::Outer
            } else {
                break;
            };
            let right = self.relation()?;
            let within = if self.keyword(Keyword::WITHIN) {
                Some(self.within()?)
            } else {
                None
            };
            if !self.keyword(Keyword::ON) {
                return self.expected("ON");
            }
            let on = self.expr()?;
            joins.push(Join {
                kind,
                right,
                within,
                on,
            });
        }
        Ok(From { first, joins })
    }

    fn expect_join(&mut self) -> Result<(), ParseError> {
        if self.keyword(Keyword::JOIN) {
            Ok(())
        } else {
            self.expected("JOIN")
        }
    }

    fn within(&mut self) -> Result<Within, ParseError> {
        let (before, after) = if self.token(&Token::LParen) {
            let before = self.duration()?;
            self.expect_token(&Token::Comma)?;
            let after = self.duration()?;
            self.expect_token(&Token::RParen)?;
            (before, after)
        } else {
            let d = self.duration()?;
            (d, d)
        };
        let grace = if self.grace()? {
            Some(self.duration()?)
        } else {
            None
        };
        Ok(Within {
            before,
            after,
            grace,
        })
    }

    fn grace(&mut self) -> Result<bool, ParseError> {
        if self.word("GRACE") {
            if !(self.word("PERIOD") || self.keyword(Keyword::PERIOD)) {
                return self.expected("PERIOD");
            }
            return Ok(true);
        }
        Ok(false)
    }

    /// `n UNIT` in milliseconds.
    fn duration(&mut self) -> Result<i64, ParseError> {
        let at = self.here();
        let n = self.uint()?;
        let unit = match self.p.next_token().token {
            Token::Word(w) => w.value.to_uppercase(),
            _ => {
                self.p.prev_token();
                return self.expected("a time unit");
            }
        };
        let ms: u64 = match unit.trim_end_matches('S') {
            "MILLISECOND" => 1,
            "SECOND" => 1_000,
            "MINUTE" => 60_000,
            "HOUR" => 3_600_000,
            "DAY" => 86_400_000,
            "WEEK" => 7 * 86_400_000,
            _ => {
                return Err(ParseError::at(
                    at,
                    format!(
                    "unknown time unit {unit}: use MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS"
                ),
                ))
            }
        };
        n.checked_mul(ms)
            .and_then(|v| i64::try_from(v).ok())
            .ok_or_else(|| ParseError::at(at, "duration too large"))
    }

    fn window(&mut self) -> Result<WindowExpr, ParseError> {
        let kind_word = self.ident()?;
        self.expect_token(&Token::LParen)?;
        let mut size = None;
        let mut advance = None;
        let mut gap = None;
        let mut retention = None;
        let mut grace = None;
        let session = kind_word == "SESSION";
        loop {
            if self.word("SIZE") {
                size = Some(self.duration()?);
            } else if self.word("ADVANCE") {
                self.expect_word("BY")?;
                advance = Some(self.duration()?);
            } else if self.word("RETENTION") {
                retention = Some(self.duration()?);
            } else if self.grace()? {
                grace = Some(self.duration()?);
            } else if session && gap.is_none() {
                gap = Some(self.duration()?);
            } else {
                return self.expected("SIZE, ADVANCE BY, RETENTION or GRACE PERIOD");
            }
            if self.token(&Token::Comma) {
                continue;
            }
            self.expect_token(&Token::RParen)?;
            break;
        }
        let kind = match (kind_word.as_str(), size, advance, gap) {
            ("TUMBLING", Some(size), None, None) => WindowKind::Tumbling { size },
            ("HOPPING", Some(size), Some(advance), None) => WindowKind::Hopping { size, advance },
            ("SESSION", None, None, Some(gap)) => WindowKind::Session { gap },
            ("TUMBLING", ..) => return self.error("TUMBLING windows take SIZE"),
            ("HOPPING", ..) => return self.error("HOPPING windows take SIZE and ADVANCE BY"),
            ("SESSION", ..) => return self.error("SESSION windows take a gap"),
            _ => {
                return self.error(format!(
                    "unknown window type {kind_word}: use TUMBLING, HOPPING or SESSION"
                ))
            }
        };
        Ok(WindowExpr {
            kind,
            retention,
            grace,
        })
    }
}

/// Words that end a projection item or a FROM source rather than name an alias.
fn is_clause_word(w: &str) -> bool {
    matches!(
        w,
        "FROM"
            | "WINDOW"
            | "WHERE"
            | "GROUP"
            | "PARTITION"
            | "HAVING"
            | "EMIT"
            | "LIMIT"
            | "JOIN"
            | "INNER"
            | "LEFT"
            | "RIGHT"
            | "FULL"
            | "OUTER"
            | "ON"
            | "WITHIN"
    )
}

#[cfg(test)]
mod tests;
