//! ksqlDB's type names (`ARRAY<STRUCT<A INT>>`, `DECIMAL(4, 2)`, custom types), parsed for
//! column definitions and for `CAST(e AS type)` inside expressions.

use std::collections::BTreeMap;

use sqlparser::ast as sql;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token};

use super::ParseError;
use crate::types::SqlType;

/// Parses one type from `p`'s tokens.
pub(super) struct TypeParser<'p, 'a> {
    p: &'p mut Parser<'a>,
    types: &'p BTreeMap<String, SqlType>,
    /// Half of a `>>` token is still to be consumed as a `>` (nested type parameters).
    pending_gt: bool,
    /// Where the statement ends (errors at its end point there).
    end: Location,
}

impl<'p, 'a> TypeParser<'p, 'a> {
    /// A parser of a type at `p`'s next token; `types` are the custom types by name.
    pub(super) fn new(
        p: &'p mut Parser<'a>,
        types: &'p BTreeMap<String, SqlType>,
        end: Location,
    ) -> Self {
        TypeParser {
            p,
            types,
            pending_gt: false,
            end,
        }
    }

    /// The whole type (a `>>` left half-consumed is an error).
    pub(super) fn parse(mut self) -> Result<SqlType, ParseError> {
        let t = self.data_type()?;
        if self.pending_gt {
            return Err(ParseError::at(self.here(), "Syntax Error\nunbalanced '>'"));
        }
        Ok(t)
    }

    fn here(&self) -> Location {
        let at = self.p.peek_token_ref().span.start;
        if at.line == 0 {
            self.end
        } else {
            at
        }
    }

    fn expected<T>(&self, what: &str) -> Result<T, ParseError> {
        let found = match &self.p.peek_token_ref().token {
            Token::EOF => "end of statement".to_string(),
            t => format!("'{t}'"),
        };
        Err(ParseError::at(
            self.here(),
            format!("expected {what}, found {found}"),
        ))
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

    fn expect_gt(&mut self) -> Result<(), ParseError> {
        if self.pending_gt {
            self.pending_gt = false;
            return Ok(());
        }
        if self.token(&Token::Gt) {
            return Ok(());
        }
        if self.token(&Token::ShiftRight) {
            self.pending_gt = true;
            return Ok(());
        }
        self.expected("'>'")
    }

    fn ident(&mut self) -> Result<String, ParseError> {
        match self.p.peek_token_ref().token.clone() {
            Token::Word(w) => {
                self.p.next_token();
                Ok(w.value)
            }
            _ => self.expected("an identifier"),
        }
    }

    fn uint(&mut self) -> Result<u64, ParseError> {
        let at = self.here();
        self.p
            .parse_literal_uint()
            .map_err(|e| ParseError::from_sqlparser(e, at))
    }

    fn data_type(&mut self) -> Result<SqlType, ParseError> {
        let at = self.here();
        let name = match self.p.next_token().token {
            Token::Word(w) => w,
            _ => {
                self.p.prev_token();
                return self.expected("a type");
            }
        };
        let upper = if name.quote_style.is_none() {
            name.value.clone()
        } else {
            name.value.to_uppercase()
        };
        Ok(match upper.as_str() {
            "NULL" if name.quote_style.is_none() => {
                return Err(ParseError::at(
                    at,
                    format!(
                        "Syntax Error\nSyntax error at or near 'NULL' at line {}:{}",
                        at.line, at.column
                    ),
                ))
            }
            "BOOLEAN" => SqlType::Boolean,
            "INT" | "INTEGER" => SqlType::Int,
            "BIGINT" => SqlType::Bigint,
            "DOUBLE" => SqlType::Double,
            "VARCHAR" | "STRING" => SqlType::String,
            "BYTES" => SqlType::Bytes,
            "DATE" => SqlType::Date,
            "TIME" => SqlType::Time,
            "TIMESTAMP" => SqlType::Timestamp,
            "DECIMAL" => {
                self.expect_token(&Token::LParen)?;
                let precision = self.uint()?;
                self.expect_token(&Token::Comma)?;
                let scale = self.uint()?;
                self.expect_token(&Token::RParen)?;
                if !(1..=38).contains(&precision) {
                    return Err(ParseError::at(
                        at,
                        format!("DECIMAL precision must be between 1 and 38: {precision}"),
                    ));
                }
                if scale > precision {
                    return Err(ParseError::at(
                        at,
                        format!(
                            "DECIMAL precision must be >= scale: DECIMAL({precision}, {scale})"
                        ),
                    ));
                }
                SqlType::Decimal {
                    precision: precision as u8,
                    scale: scale as i8,
                }
            }
            "ARRAY" => {
                self.expect_token(&Token::Lt)?;
                let item = self.data_type()?;
                self.expect_gt()?;
                SqlType::Array(Box::new(item))
            }
            "MAP" => {
                self.expect_token(&Token::Lt)?;
                let k = self.data_type()?;
                self.expect_token(&Token::Comma)?;
                let v = self.data_type()?;
                self.expect_gt()?;
                SqlType::Map(Box::new(k), Box::new(v))
            }
            "STRUCT" => {
                self.expect_token(&Token::Lt)?;
                let mut fields = Vec::new();
                if !self.pending_gt && self.token(&Token::Gt) {
                    return Ok(SqlType::Struct(fields));
                }
                loop {
                    let n = self.ident()?;
                    let t = self.data_type()?;
                    fields.push((n, t));
                    if !self.pending_gt && self.token(&Token::Comma) {
                        continue;
                    }
                    self.expect_gt()?;
                    break;
                }
                SqlType::Struct(fields)
            }
            _ => match self.types.get(&name.value) {
                Some(t) => t.clone(),
                None => return Err(ParseError::at(at, format!("Unknown type: {}", name.value))),
            },
        })
    }
}

/// `CAST(e AS type)` with ksqlDB's type names, for the dialect's expression parser: `None`
/// when the next tokens are not a cast.
pub(super) fn cast(
    p: &mut Parser<'_>,
    types: &BTreeMap<String, SqlType>,
) -> Option<Result<sql::Expr, ParserError>> {
    let is_cast = matches!(&p.peek_token_ref().token,
        Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("CAST"))
        && p.peek_nth_token_ref(1).token == Token::LParen;
    if !is_cast {
        return None;
    }
    p.next_token();
    p.next_token();
    Some((|| {
        let expr = p.parse_expr()?;
        p.expect_keyword(sqlparser::keywords::Keyword::AS)?;
        let end = p.peek_token_ref().span.start;
        let ty = TypeParser::new(p, types, end).parse().map_err(|e| {
            let message = e
                .message
                .strip_prefix("Syntax Error\n")
                .unwrap_or(&e.message);
            ParserError::ParserError(format!(
                "{message} at Line: {}, Column: {}",
                e.line, e.column
            ))
        })?;
        p.expect_token(&Token::RParen)?;
        Ok(sql::Expr::Cast {
            kind: sql::CastKind::Cast,
            expr: Box::new(expr),
            data_type: sql_type(&ty),
            array: false,
            format: None,
        })
    })())
}

/// A SQL type as sqlparser's (read back by the planner).
pub fn sql_type(t: &SqlType) -> sql::DataType {
    use sql::DataType as D;
    match t {
        SqlType::Boolean => D::Boolean,
        SqlType::Int => D::Int(None),
        SqlType::Bigint => D::BigInt(None),
        SqlType::Double => D::Double(sql::ExactNumberInfo::None),
        SqlType::String => D::String(None),
        SqlType::Bytes => D::Bytes(None),
        SqlType::Date => D::Date,
        SqlType::Time => D::Time(None, sql::TimezoneInfo::None),
        SqlType::Timestamp => D::Timestamp(None, sql::TimezoneInfo::None),
        SqlType::Decimal { precision, scale } => D::Decimal(
            sql::ExactNumberInfo::PrecisionAndScale(u64::from(*precision), i64::from(*scale)),
        ),
        SqlType::Array(item) => D::Array(sql::ArrayElemTypeDef::AngleBracket(Box::new(sql_type(
            item,
        )))),
        SqlType::Map(k, v) => D::Map(Box::new(sql_type(k)), Box::new(sql_type(v))),
        SqlType::Struct(fields) => D::Struct(
            fields
                .iter()
                .map(|(n, t)| sql::StructField {
                    field_name: Some(sql::Ident::with_quote('`', n.clone())),
                    field_type: sql_type(t),
                    options: None,
                })
                .collect(),
            sql::StructBracketKind::AngleBrackets,
        ),
    }
}
