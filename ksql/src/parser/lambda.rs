//! ksqlDB's lambda literals: `x => body` and `(x, y) => body`, arguments of the lambda
//! functions (`TRANSFORM`, `FILTER`, `REDUCE`). sqlparser reads `->` lambdas (ksqlDB's struct
//! dereference), so the dialect reads ksqlDB's `=>` form itself.

use sqlparser::ast::{
    self as sql, Ident, LambdaFunctionParameter, LambdaSyntax, OneOrManyWithParens,
};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

/// How many tokens the parameter list at the parser's position takes when a lambda's `=>`
/// follows it (`None`: no lambda starts here).
fn parameter_tokens(p: &Parser<'_>) -> Option<usize> {
    let word = |n: usize| matches!(p.peek_nth_token_ref(n).token, Token::Word(_));
    if word(0) {
        return (p.peek_nth_token_ref(1).token == Token::RArrow).then_some(1);
    }
    if p.peek_nth_token_ref(0).token != Token::LParen {
        return None;
    }
    let mut n = 1;
    loop {
        if !word(n) {
            return None;
        }
        match p.peek_nth_token_ref(n + 1).token {
            Token::Comma => n += 2,
            Token::RParen => break,
            _ => return None,
        }
    }
    (p.peek_nth_token_ref(n + 2).token == Token::RArrow).then_some(n + 2)
}

/// The lambda starting at the parser's position, if one does.
pub(super) fn lambda(p: &mut Parser<'_>) -> Option<Result<sql::Expr, ParserError>> {
    let tokens = parameter_tokens(p)?;
    let mut params = Vec::new();
    for _ in 0..tokens {
        let t = p.next_token();
        if let Token::Word(w) = t.token {
            params.push(LambdaFunctionParameter {
                name: Ident {
                    value: w.value,
                    quote_style: w.quote_style,
                    span: t.span,
                },
                data_type: None,
            });
        }
    }
    p.next_token(); // `=>`
    Some(p.parse_expr().map(|body| {
        sql::Expr::Lambda(sql::LambdaFunction {
            params: OneOrManyWithParens::Many(params),
            body: Box::new(body),
            syntax: LambdaSyntax::Arrow,
        })
    }))
}
