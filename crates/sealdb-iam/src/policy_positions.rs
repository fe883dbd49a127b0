//! Where each statement of a policy sits in its text, for the policy simulator's
//! `StartPosition` / `EndPosition` (serde_json keeps no spans, so a small scan of the
//! JSON text finds them).
//!
//! As AWS reports them: lines and columns count from 1 (columns in characters), the
//! start is the statement's opening `{` and the end the column just after its `}`.

/// A line and column in a policy text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) line: u32,
    pub(crate) column: u32,
}

/// Where a statement starts and (just after) where it ends.
pub(crate) type Span = (Position, Position);

/// The (start, end) of each statement of `text`'s top-level `Statement` (one object or an
/// array of objects), in order; empty when the text is not such a document.
pub(crate) fn statement_spans(text: &str) -> Vec<Span> {
    let mut s = Scanner::new(text);
    s.statements().unwrap_or_default()
}

struct Scanner<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: u32,
    column: u32,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Scanner {
            chars: text.chars().peekable(),
            line: 1,
            column: 1,
        }
    }

    fn here(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn skip_ws(&mut self) {
        while self.chars.peek().is_some_and(|c| c.is_whitespace()) {
            self.bump();
        }
    }

    fn expect(&mut self, want: char) -> Option<()> {
        self.skip_ws();
        (self.bump()? == want).then_some(())
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.chars.peek().copied()
    }

    /// A string (the opening quote next); its text, escapes kept as written.
    fn string(&mut self) -> Option<String> {
        self.expect('"')?;
        let mut out = String::new();
        loop {
            match self.bump()? {
                '"' => return Some(out),
                '\\' => {
                    out.push('\\');
                    out.push(self.bump()?);
                }
                c => out.push(c),
            }
        }
    }

    /// Skips one value of any kind.
    fn value(&mut self) -> Option<()> {
        match self.peek()? {
            '"' => self.string().map(drop),
            '{' => self.object(|s, _| s.value()),
            '[' => self.array(|s| s.value()),
            _ => {
                // A number, true, false or null: up to the next delimiter.
                while self
                    .chars
                    .peek()
                    .is_some_and(|c| !c.is_whitespace() && !",}]".contains(*c))
                {
                    self.bump();
                }
                Some(())
            }
        }
    }

    /// An object, `member` reading each member's value after its key.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &str) -> Option<()>) -> Option<()> {
        self.expect('{')?;
        if self.peek()? == '}' {
            return self.bump().map(drop);
        }
        loop {
            let key = self.string()?;
            self.expect(':')?;
            member(self, &key)?;
            match self.peek()? {
                ',' => self.bump().map(drop)?,
                '}' => return self.bump().map(drop),
                _ => return None,
            }
        }
    }

    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.expect('[')?;
        if self.peek()? == ']' {
            return self.bump().map(drop);
        }
        loop {
            element(self)?;
            match self.peek()? {
                ',' => self.bump().map(drop)?,
                ']' => return self.bump().map(drop),
                _ => return None,
            }
        }
    }

    /// One object value, with where it starts and just after where it ends.
    fn spanned_object(&mut self) -> Option<Span> {
        self.peek()?;
        let start = self.here();
        self.object(|s, _| s.value())?;
        Some((start, self.here()))
    }

    fn statements(&mut self) -> Option<Vec<Span>> {
        let mut spans = Vec::new();
        self.object(|s, key| {
            if key != "Statement" {
                return s.value();
            }
            // A repeated member: the parsed document keeps the last, so do the spans.
            spans.clear();
            match s.peek()? {
                '{' => spans.push(s.spanned_object()?),
                '[' => s.array(|s| {
                    if s.peek()? == '{' {
                        spans.push(s.spanned_object()?);
                        Some(())
                    } else {
                        s.value()
                    }
                })?,
                _ => s.value()?,
            }
            Some(())
        })?;
        Some(spans)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: u32, column: u32) -> Position {
        Position { line, column }
    }

    #[test]
    fn one_statement_object_as_aws_counts_it() {
        // AWS's simulate-principal-policy example shape: the statement from line 3
        // column 16 (its `{`) to line 7 column 4 (just after its `}`).
        let text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\n    \"Effect\": \"Allow\",\n    \"Action\": \"s3:*\",\n    \"Resource\": \"*\"\n  }\n}";
        assert_eq!(statement_spans(text), vec![(p(3, 16), p(7, 4))]);
    }

    #[test]
    fn statement_arrays_strings_with_braces_and_unicode() {
        let text = "{\"Version\":\"2012-10-17\",\"Id\":\"{not [a} statement\\\"}\",\n\"Statement\":[\n  {\"Sid\":\"é{\",\"Effect\":\"Allow\",\"Action\":[\"a:b\"],\"Resource\":\"*\",\"Condition\":{\"Bool\":{\"aws:SecureTransport\":true}}},\n  {\"Effect\":\"Deny\",\"Action\":\"a:c\",\"Resource\":\"*\"}\n]}";
        let spans = statement_spans(text);
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].0, p(3, 3));
        // The first statement's text, counted in characters: it ends just after its `}`.
        let line3 = text.lines().nth(2).unwrap();
        let len = line3.trim_start().trim_end_matches(',').chars().count() as u32;
        assert_eq!(spans[0].1, p(3, 3 + len));
        assert_eq!(spans[1], (p(4, 3), p(4, 3 + 47)));
    }

    #[test]
    fn not_a_policy_gives_no_spans() {
        assert!(statement_spans("").is_empty());
        assert!(statement_spans("[1,2]").is_empty());
        assert!(statement_spans("{\"Statement\": [{\"Effect\": ").is_empty());
        assert!(statement_spans("{\"Version\":\"2012-10-17\"}").is_empty());
    }
}
