//! Tokens of the expression language, with their positions in the source text (syntax
//! errors quote the source around the offending token, as DynamoDB does).

/// A token kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A bare word: attribute name, keyword or function name.
    Word(String),
    /// `#name` (expression attribute name placeholder).
    NameRef(String),
    /// `:value` (expression attribute value placeholder).
    ValueRef(String),
    /// An unsigned integer (list index).
    Int(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Eof,
}

/// A token and the byte range it covers.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// The text DynamoDB shows for a token in syntax errors.
pub(crate) fn shown(t: &Token, src: &str) -> String {
    match t.tok {
        Tok::Eof => "<EOF>".to_owned(),
        _ => src.get(t.start..t.end).unwrap_or("").to_owned(),
    }
}

fn word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Splits an expression into tokens; the error is the offending character's position.
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, usize> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let single = |t: Tok| (t, 1usize);
        let (tok, len) = match c {
            b'(' => single(Tok::LParen),
            b')' => single(Tok::RParen),
            b'[' => single(Tok::LBracket),
            b']' => single(Tok::RBracket),
            b',' => single(Tok::Comma),
            b'.' => single(Tok::Dot),
            b'+' => single(Tok::Plus),
            b'-' => single(Tok::Minus),
            b'=' => single(Tok::Eq),
            b'<' => match b.get(i + 1) {
                Some(b'=') => (Tok::Le, 2),
                Some(b'>') => (Tok::Ne, 2),
                _ => (Tok::Lt, 1),
            },
            b'>' => match b.get(i + 1) {
                Some(b'=') => (Tok::Ge, 2),
                _ => (Tok::Gt, 1),
            },
            b'#' | b':' => {
                let mut j = i + 1;
                while j < b.len() && word_char(b[j]) {
                    j += 1;
                }
                if j == i + 1 {
                    return Err(i);
                }
                let name = src[i..j].to_owned();
                let t = if c == b'#' {
                    Tok::NameRef(name)
                } else {
                    Tok::ValueRef(name)
                };
                (t, j - i)
            }
            c if c.is_ascii_digit() => {
                let mut j = i;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                if j < b.len() && word_char(b[j]) {
                    // A name that starts with a digit.
                    while j < b.len() && word_char(b[j]) {
                        j += 1;
                    }
                    (Tok::Word(src[i..j].to_owned()), j - i)
                } else {
                    (Tok::Int(src[i..j].to_owned()), j - i)
                }
            }
            c if word_char(c) => {
                let mut j = i;
                while j < b.len() && word_char(b[j]) {
                    j += 1;
                }
                (Tok::Word(src[i..j].to_owned()), j - i)
            }
            _ => return Err(i),
        };
        i += len;
        out.push(Token { tok, start, end: i });
    }
    out.push(Token {
        tok: Tok::Eof,
        start: b.len(),
        end: b.len(),
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let t = lex("a.b[3] <> :v AND #n>=1").unwrap();
        let kinds: Vec<Tok> = t.into_iter().map(|t| t.tok).collect();
        assert_eq!(
            kinds,
            vec![
                Tok::Word("a".into()),
                Tok::Dot,
                Tok::Word("b".into()),
                Tok::LBracket,
                Tok::Int("3".into()),
                Tok::RBracket,
                Tok::Ne,
                Tok::ValueRef(":v".into()),
                Tok::Word("AND".into()),
                Tok::NameRef("#n".into()),
                Tok::Ge,
                Tok::Int("1".into()),
                Tok::Eof
            ]
        );
        assert_eq!(lex("a ! b").unwrap_err(), 2);
        assert!(lex("#").is_err());
    }
}
