//! The statements DynamoDB's PartiQL accepts, parsed into [`Statement`]; `?` parameters
//! are substituted as they are read, so a parsed statement holds only attribute values.

use super::lexer::{Token, tokenize};
use super::{Expr, Operand, Path, PathPart, Statement, UpdateAction, syntax_error};
use crate::error::DynamoError;
use serde_json::{Map, Value, json};

const CONDITION_FUNCTIONS: [&str; 5] = [
    "begins_with",
    "contains",
    "attribute_type",
    "attribute_exists",
    "attribute_not_exists",
];

const KEYWORDS: [&str; 20] = [
    "select", "from", "where", "and", "or", "not", "between", "in", "is", "missing", "insert",
    "into", "value", "update", "set", "remove", "delete", "true", "false", "null",
];

/// Parses one statement with its parameters.
pub(crate) fn parse(text: &str, params: &[Value]) -> Result<Statement, DynamoError> {
    let mut p = Parser {
        tokens: tokenize(text)?,
        pos: 0,
        params,
        used: 0,
    };
    let statement = p.statement()?;
    if p.pos < p.tokens.len() {
        return Err(syntax_error(&format!(
            "Unexpected token: {}",
            describe(&p.tokens[p.pos])
        )));
    }
    if p.used != params.len() {
        return Err(DynamoError::validation(
            "Number of parameters in request and statement don't match.",
        ));
    }
    Ok(statement)
}

fn describe(t: &Token) -> String {
    match t {
        Token::Word(w) => w.clone(),
        Token::Quoted(q) => format!("\"{q}\""),
        Token::Str(s) => format!("'{s}'"),
        Token::Number(n) => n.clone(),
        Token::Param => "?".into(),
        Token::Punct(p) => (*p).into(),
    }
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    params: &'a [Value],
    used: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Result<Token, DynamoError> {
        let t = self
            .tokens
            .get(self.pos)
            .cloned()
            .ok_or_else(|| syntax_error("Unexpected end of statement"))?;
        self.pos += 1;
        Ok(t)
    }

    fn is_keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn eat_keyword(&mut self, word: &str) -> bool {
        if self.is_keyword(word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_keyword(&mut self, word: &str) -> Result<(), DynamoError> {
        if self.eat_keyword(word) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("expected {}", word.to_uppercase())))
        }
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Token::Punct(q)) if *q == p)
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, p: &str) -> Result<(), DynamoError> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("expected {p}")))
        }
    }

    fn unexpected(&self, what: &str) -> DynamoError {
        match self.peek() {
            Some(t) => syntax_error(&format!("Unexpected token: {} ({what})", describe(t))),
            None => syntax_error(&format!("Unexpected end of statement ({what})")),
        }
    }

    fn statement(&mut self) -> Result<Statement, DynamoError> {
        if self.eat_keyword("select") {
            self.select()
        } else if self.eat_keyword("insert") {
            self.insert()
        } else if self.eat_keyword("update") {
            self.update()
        } else if self.eat_keyword("delete") {
            self.expect_keyword("from")?;
            let table = self.name()?;
            let filter = self.where_clause()?;
            Ok(Statement::Delete { table, filter })
        } else {
            Err(self.unexpected("expected SELECT, INSERT, UPDATE or DELETE"))
        }
    }

    /// A table or attribute name: a bare word that is not a keyword, or a quoted one.
    fn name(&mut self) -> Result<String, DynamoError> {
        match self.peek() {
            Some(Token::Quoted(q)) => {
                let q = q.clone();
                self.pos += 1;
                Ok(q)
            }
            Some(Token::Word(w)) if !KEYWORDS.iter().any(|k| w.eq_ignore_ascii_case(k)) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            _ => Err(self.unexpected("expected a name")),
        }
    }

    fn select(&mut self) -> Result<Statement, DynamoError> {
        let projection = if self.eat_punct("*") {
            None
        } else {
            let mut paths = vec![self.path()?];
            while self.eat_punct(",") {
                paths.push(self.path()?);
            }
            Some(paths)
        };
        self.expect_keyword("from")?;
        let table = self.name()?;
        let index = if self.eat_punct(".") {
            Some(self.name()?)
        } else {
            None
        };
        let filter = self.where_clause()?;
        Ok(Statement::Select {
            table,
            index,
            projection,
            filter,
        })
    }

    fn insert(&mut self) -> Result<Statement, DynamoError> {
        self.expect_keyword("into")?;
        let table = self.name()?;
        self.expect_keyword("value")?;
        if !self.is_punct("{") {
            return Err(self.unexpected("expected a tuple {...}"));
        }
        let item = match self.literal()? {
            Value::Object(mut m) => match m.remove("M") {
                Some(Value::Object(item)) => item,
                _ => Map::new(),
            },
            _ => Map::new(),
        };
        Ok(Statement::Insert { table, item })
    }

    fn update(&mut self) -> Result<Statement, DynamoError> {
        let table = self.name()?;
        let mut actions = Vec::new();
        loop {
            if self.eat_keyword("set") {
                loop {
                    let path = self.path()?;
                    self.expect_punct("=")?;
                    let value = self.arithmetic()?;
                    actions.push(UpdateAction::Set(path, value));
                    if !self.eat_punct(",") {
                        break;
                    }
                }
            } else if self.eat_keyword("remove") {
                loop {
                    actions.push(UpdateAction::Remove(self.path()?));
                    if !self.eat_punct(",") {
                        break;
                    }
                }
            } else {
                break;
            }
        }
        if actions.is_empty() {
            return Err(self.unexpected("expected SET or REMOVE"));
        }
        let filter = self.where_clause()?;
        Ok(Statement::Update {
            table,
            actions,
            filter,
        })
    }

    fn where_clause(&mut self) -> Result<Option<Expr>, DynamoError> {
        if self.eat_keyword("where") {
            Ok(Some(self.or()?))
        } else {
            Ok(None)
        }
    }

    fn or(&mut self) -> Result<Expr, DynamoError> {
        let mut left = self.and()?;
        while self.eat_keyword("or") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, DynamoError> {
        let mut left = self.not()?;
        while self.eat_keyword("and") {
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, DynamoError> {
        if self.eat_keyword("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.condition()
    }

    fn condition(&mut self) -> Result<Expr, DynamoError> {
        if self.eat_punct("(") {
            let inner = self.or()?;
            self.expect_punct(")")?;
            return Ok(inner);
        }
        if let Some(Token::Word(w)) = self.peek() {
            let lower = w.to_ascii_lowercase();
            if CONDITION_FUNCTIONS.contains(&lower.as_str())
                && matches!(self.tokens.get(self.pos + 1), Some(Token::Punct("(")))
            {
                self.pos += 2;
                let args = self.arguments()?;
                return Ok(Expr::Func(lower, args));
            }
        }
        let left = self.operand()?;
        if self.eat_keyword("between") {
            let low = self.operand()?;
            self.expect_keyword("and")?;
            let high = self.operand()?;
            return Ok(Expr::Between(left, low, high));
        }
        if self.eat_keyword("in") {
            let close = if self.eat_punct("(") {
                ")"
            } else if self.eat_punct("[") {
                "]"
            } else {
                return Err(self.unexpected("expected ( or ["));
            };
            let mut list = vec![self.operand()?];
            while self.eat_punct(",") {
                list.push(self.operand()?);
            }
            self.expect_punct(close)?;
            return Ok(Expr::In(left, list));
        }
        if self.eat_keyword("is") {
            let negated = self.eat_keyword("not");
            self.expect_keyword("missing")?;
            let Operand::Path(path) = left else {
                return Err(syntax_error("IS MISSING applies to an attribute"));
            };
            return Ok(Expr::Missing(path, negated));
        }
        let op = match self.next()? {
            Token::Punct(p @ ("=" | "<>" | "<" | "<=" | ">" | ">=")) => p,
            Token::Punct("!=") => "<>",
            other => {
                return Err(syntax_error(&format!(
                    "Unexpected token: {} (expected a comparison)",
                    describe(&other)
                )));
            }
        };
        let right = self.operand()?;
        Ok(Expr::Cmp(left, op, right))
    }

    /// `( operand {, operand} )` after the opening parenthesis.
    fn arguments(&mut self) -> Result<Vec<Operand>, DynamoError> {
        let mut args = vec![self.operand()?];
        while self.eat_punct(",") {
            args.push(self.operand()?);
        }
        self.expect_punct(")")?;
        Ok(args)
    }

    /// An update's right-hand side: `operand [(+|-) operand]`.
    fn arithmetic(&mut self) -> Result<Operand, DynamoError> {
        let left = self.operand()?;
        for op in ["+", "-"] {
            if self.eat_punct(op) {
                let right = self.operand()?;
                return Ok(Operand::Arith(Box::new(left), op, Box::new(right)));
            }
        }
        Ok(left)
    }

    fn operand(&mut self) -> Result<Operand, DynamoError> {
        if let Some(Token::Word(w)) = self.peek() {
            let lower = w.to_ascii_lowercase();
            let call = matches!(self.tokens.get(self.pos + 1), Some(Token::Punct("(")));
            if call && (lower == "size" || lower == "list_append") {
                self.pos += 2;
                return Ok(Operand::Call(lower, self.arguments()?));
            }
        }
        match self.peek() {
            Some(Token::Word(w))
                if ["true", "false", "null"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k)) =>
            {
                Ok(Operand::Value(self.literal()?))
            }
            Some(Token::Word(_) | Token::Quoted(_)) => Ok(Operand::Path(self.path()?)),
            _ => Ok(Operand::Value(self.literal()?)),
        }
    }

    fn path(&mut self) -> Result<Path, DynamoError> {
        let mut parts = vec![PathPart::Name(self.name()?)];
        loop {
            if self.eat_punct(".") {
                parts.push(PathPart::Name(self.name()?));
            } else if self.eat_punct("[") {
                match self.next()? {
                    Token::Number(n) => {
                        let i = n
                            .parse::<u32>()
                            .map_err(|_| syntax_error("Invalid index"))?;
                        parts.push(PathPart::Index(i));
                    }
                    Token::Str(s) => parts.push(PathPart::Name(s)),
                    other => {
                        return Err(syntax_error(&format!(
                            "Unexpected token: {} (expected an index)",
                            describe(&other)
                        )));
                    }
                }
                self.expect_punct("]")?;
            } else {
                return Ok(Path(parts));
            }
        }
    }

    /// A value as a DynamoDB attribute value in its JSON form.
    fn literal(&mut self) -> Result<Value, DynamoError> {
        match self.next()? {
            Token::Str(s) => Ok(json!({ "S": s })),
            Token::Number(n) => Ok(json!({ "N": n })),
            Token::Param => {
                let v = self.params.get(self.used).cloned().ok_or_else(|| {
                    DynamoError::validation(
                        "Number of parameters in request and statement don't match.",
                    )
                })?;
                self.used += 1;
                Ok(v)
            }
            Token::Word(w) if w.eq_ignore_ascii_case("true") => Ok(json!({ "BOOL": true })),
            Token::Word(w) if w.eq_ignore_ascii_case("false") => Ok(json!({ "BOOL": false })),
            Token::Word(w) if w.eq_ignore_ascii_case("null") => Ok(json!({ "NULL": true })),
            Token::Punct("{") => {
                let mut map = Map::new();
                if !self.eat_punct("}") {
                    loop {
                        let key = match self.next()? {
                            Token::Str(s) | Token::Quoted(s) => s,
                            other => {
                                return Err(syntax_error(&format!(
                                    "Unexpected token: {} (expected a string key)",
                                    describe(&other)
                                )));
                            }
                        };
                        self.expect_punct(":")?;
                        let value = self.literal()?;
                        map.insert(key, value);
                        if self.eat_punct("}") {
                            break;
                        }
                        self.expect_punct(",")?;
                    }
                }
                Ok(json!({ "M": map }))
            }
            Token::Punct("[") => {
                let items = self.literal_list("]")?;
                Ok(json!({ "L": items }))
            }
            Token::Punct("<<") => {
                let items = self.literal_list(">>")?;
                set_literal(items)
            }
            other => Err(syntax_error(&format!(
                "Unexpected token: {} (expected a value)",
                describe(&other)
            ))),
        }
    }

    fn literal_list(&mut self, close: &'static str) -> Result<Vec<Value>, DynamoError> {
        let mut items = Vec::new();
        if self.eat_punct(close) {
            return Ok(items);
        }
        loop {
            items.push(self.literal()?);
            if self.eat_punct(close) {
                return Ok(items);
            }
            self.expect_punct(",")?;
        }
    }
}

/// `<<'a', 'b'>>` is a string set, `<<1, 2>>` a number set, `<<?, ?>>` of binary values a
/// binary set; the members must all be of one of those types.
fn set_literal(items: Vec<Value>) -> Result<Value, DynamoError> {
    let mut kind: Option<&'static str> = None;
    let mut members = Vec::new();
    for item in items {
        let Value::Object(m) = item else {
            return Err(DynamoError::validation("Unsupported set member"));
        };
        let Some((k, v)) = m.into_iter().next() else {
            return Err(DynamoError::validation("Unsupported set member"));
        };
        let set_kind = match k.as_str() {
            "S" => "SS",
            "N" => "NS",
            "B" => "BS",
            _ => return Err(DynamoError::validation("Unsupported set member")),
        };
        if kind.is_some_and(|k| k != set_kind) {
            return Err(DynamoError::validation(
                "A set's members must all be of one type",
            ));
        }
        kind = Some(set_kind);
        members.push(v);
    }
    let kind = kind.ok_or_else(|| DynamoError::validation("An empty set is not allowed"))?;
    let mut m = Map::new();
    m.insert(kind.to_owned(), Value::Array(members));
    Ok(Value::Object(m))
}
