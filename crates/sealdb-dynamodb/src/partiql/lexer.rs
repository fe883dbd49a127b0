//! Tokens of DynamoDB's PartiQL: identifiers (bare or `"quoted"`), `'string'` literals,
//! numbers, `?` parameters and punctuation (`<<` `>>` delimit a set literal).

use super::syntax_error;
use crate::error::DynamoError;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Token {
    /// A bare identifier or keyword (keywords are matched case-insensitively).
    Word(String),
    /// A `"double-quoted"` identifier: never a keyword.
    Quoted(String),
    /// A `'single-quoted'` string literal.
    Str(String),
    /// A number literal, as written.
    Number(String),
    /// `?`.
    Param,
    /// Punctuation and operators: `( ) [ ] { } , . : * = <> != < <= > >= + - << >>`.
    Punct(&'static str),
}

const PUNCT: [&str; 20] = [
    "<<", ">>", "<>", "!=", "<=", ">=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "*", "=", "<",
    ">", "+",
];

/// Splits a statement into tokens.
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, DynamoError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '"' || c == '\'' {
            let (s, next) = quoted(&chars, i, c)?;
            out.push(if c == '"' {
                Token::Quoted(s)
            } else {
                Token::Str(s)
            });
            i = next;
            continue;
        }
        if c.is_ascii_digit()
            || (c == '-'
                && chars.get(i + 1).is_some_and(char::is_ascii_digit)
                && after_operator(&out))
        {
            let start = i;
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || chars[i] == '.'
                    || chars[i] == 'e'
                    || chars[i] == 'E'
                    || ((chars[i] == '+' || chars[i] == '-') && matches!(chars[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            out.push(Token::Number(chars[start..i].iter().collect()));
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
            continue;
        }
        if c == '?' {
            out.push(Token::Param);
            i += 1;
            continue;
        }
        if c == '-' {
            out.push(Token::Punct("-"));
            i += 1;
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
        match PUNCT.iter().find(|p| rest.starts_with(**p)) {
            Some(p) => {
                out.push(Token::Punct(p));
                i += p.len();
            }
            None => return Err(syntax_error(&format!("Unexpected character: {c}"))),
        }
    }
    Ok(out)
}

/// Whether a `-` here starts a negative number (after an operator or at the start).
fn after_operator(tokens: &[Token]) -> bool {
    matches!(tokens.last(), None | Some(Token::Punct(_)))
        || matches!(tokens.last(), Some(Token::Word(w)) if
            ["and", "or", "not", "between", "in", "value", "set", "where"]
                .iter()
                .any(|k| w.eq_ignore_ascii_case(k)))
}

/// A quoted run starting at `start` (the quote), with the quote doubled as its escape.
fn quoted(chars: &[char], start: usize, quote: char) -> Result<(String, usize), DynamoError> {
    let mut s = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => return Err(syntax_error("Unterminated quoted text")),
            Some(&c) if c == quote => {
                if chars.get(i + 1) == Some(&quote) {
                    s.push(quote);
                    i += 2;
                } else {
                    return Ok((s, i + 1));
                }
            }
            Some(&c) => {
                s.push(c);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let t = tokenize(r#"SELECT "a""b", x FROM t WHERE p >= -1.5e+3 AND s = 'it''s' AND q = ?"#)
            .unwrap();
        assert_eq!(t[1], Token::Quoted("a\"b".into()));
        assert!(t.contains(&Token::Number("-1.5e+3".into())));
        assert!(t.contains(&Token::Str("it's".into())));
        assert!(t.contains(&Token::Punct(">=")));
        assert_eq!(t.last(), Some(&Token::Param));
        let t = tokenize("<<'a', 'b'>> a-1").unwrap();
        assert_eq!(t[0], Token::Punct("<<"));
        assert_eq!(t[4], Token::Punct(">>"));
        assert_eq!(t[6], Token::Punct("-"));
        assert!(tokenize("'open").is_err());
        assert!(tokenize("a ; b").is_err());
    }
}
