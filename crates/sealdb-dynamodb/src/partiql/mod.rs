//! PartiQL for DynamoDB (ExecuteStatement, BatchExecuteStatement, ExecuteTransaction):
//! SELECT, INSERT, UPDATE and DELETE parsed here and carried out as the item operations
//! they stand for (`ops/statements.rs`), so validation, conditions, indexes, streams and
//! authorization are those operations' own.
//!
//! A WHERE clause becomes a DynamoDB condition expression: names become `#nN`, values
//! (literals and `?` parameters) `:vN`, `IS [NOT] MISSING` `attribute_[not_]exists`.

mod lexer;
mod parser;

pub(crate) use parser::parse;

use crate::error::DynamoError;
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// AWS's text for a statement that does not parse.
pub(crate) fn syntax_error(detail: &str) -> DynamoError {
    DynamoError::validation(format!(
        "Statement wasn't well formed, can't be processed: {detail}"
    ))
}

/// One parsed statement.
#[derive(Debug)]
pub(crate) enum Statement {
    Select {
        table: String,
        index: Option<String>,
        /// `None` for `*`.
        projection: Option<Vec<Path>>,
        filter: Option<Expr>,
    },
    Insert {
        table: String,
        /// The item, as attribute values in JSON form.
        item: Map<String, Value>,
    },
    Update {
        table: String,
        actions: Vec<UpdateAction>,
        filter: Option<Expr>,
    },
    Delete {
        table: String,
        filter: Option<Expr>,
    },
}

impl Statement {
    /// The table the statement works on.
    pub(crate) fn table(&self) -> &str {
        match self {
            Statement::Select { table, .. }
            | Statement::Insert { table, .. }
            | Statement::Update { table, .. }
            | Statement::Delete { table, .. } => table,
        }
    }
}

/// An attribute path: `a.b[2]`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Path(pub(crate) Vec<PathPart>);

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PathPart {
    Name(String),
    Index(u32),
}

impl Path {
    /// The attribute name when the path is one top-level name.
    pub(crate) fn top_name(&self) -> Option<&str> {
        match self.0.as_slice() {
            [PathPart::Name(n)] => Some(n),
            _ => None,
        }
    }

    fn first(&self) -> Option<&str> {
        match self.0.first() {
            Some(PathPart::Name(n)) => Some(n),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Operand {
    Path(Path),
    /// An attribute value in JSON form.
    Value(Value),
    /// `size(path)`, `list_append(a, b)`.
    Call(String, Vec<Operand>),
    /// `a + b`, `a - b` (UPDATE's SET).
    Arith(Box<Operand>, &'static str, Box<Operand>),
}

#[derive(Clone, Debug)]
pub(crate) enum Expr {
    Cmp(Operand, &'static str, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Func(String, Vec<Operand>),
    /// `path IS MISSING` (false) / `path IS NOT MISSING` (true).
    Missing(Path, bool),
}

#[derive(Debug)]
pub(crate) enum UpdateAction {
    Set(Path, Operand),
    Remove(Path),
}

impl Expr {
    /// The top-level AND-ed parts.
    pub(crate) fn conjuncts(&self) -> Vec<&Expr> {
        match self {
            Expr::And(a, b) => {
                let mut v = a.conjuncts();
                v.extend(b.conjuncts());
                v
            }
            other => vec![other],
        }
    }

    /// `name = value` (either way round): the value.
    pub(crate) fn equality_on(&self, name: &str) -> Option<&Value> {
        match self {
            Expr::Cmp(Operand::Path(p), "=", Operand::Value(v))
            | Expr::Cmp(Operand::Value(v), "=", Operand::Path(p))
                if p.top_name() == Some(name) =>
            {
                Some(v)
            }
            _ => None,
        }
    }

    /// Whether the expression reads the top-level attribute `name`.
    pub(crate) fn mentions(&self, name: &str) -> bool {
        let op = |o: &Operand| operand_mentions(o, name);
        match self {
            Expr::Cmp(a, _, b) => op(a) || op(b),
            Expr::Between(a, b, c) => op(a) || op(b) || op(c),
            Expr::In(a, list) => op(a) || list.iter().any(op),
            Expr::And(a, b) | Expr::Or(a, b) => a.mentions(name) || b.mentions(name),
            Expr::Not(a) => a.mentions(name),
            Expr::Func(_, args) => args.iter().any(op),
            Expr::Missing(p, _) => p.first() == Some(name),
        }
    }
}

fn operand_mentions(o: &Operand, name: &str) -> bool {
    match o {
        Operand::Path(p) => p.first() == Some(name),
        Operand::Value(_) => false,
        Operand::Call(_, args) => args.iter().any(|a| operand_mentions(a, name)),
        Operand::Arith(a, _, b) => operand_mentions(a, name) || operand_mentions(b, name),
    }
}

/// Builds DynamoDB expression text with its attribute names and values.
#[derive(Default)]
pub(crate) struct ExpressionWriter {
    names: Map<String, Value>,
    values: Map<String, Value>,
}

impl ExpressionWriter {
    fn name(&mut self, name: &str) -> String {
        if let Some((k, _)) = self.names.iter().find(|(_, v)| v.as_str() == Some(name)) {
            return k.clone();
        }
        let key = format!("#n{}", self.names.len());
        self.names
            .insert(key.clone(), Value::String(name.to_owned()));
        key
    }

    fn value(&mut self, value: &Value) -> String {
        let key = format!(":v{}", self.values.len());
        self.values.insert(key.clone(), value.clone());
        key
    }

    pub(crate) fn path(&mut self, path: &Path) -> String {
        let mut out = String::new();
        for (i, part) in path.0.iter().enumerate() {
            match part {
                PathPart::Name(n) => {
                    if i > 0 {
                        out.push('.');
                    }
                    let key = self.name(n);
                    out.push_str(&key);
                }
                PathPart::Index(ix) => {
                    let _ = write!(out, "[{ix}]");
                }
            }
        }
        out
    }

    pub(crate) fn operand(&mut self, o: &Operand) -> String {
        match o {
            Operand::Path(p) => self.path(p),
            Operand::Value(v) => self.value(v),
            Operand::Call(f, args) => {
                let args: Vec<String> = args.iter().map(|a| self.operand(a)).collect();
                format!("{f}({})", args.join(", "))
            }
            Operand::Arith(a, op, b) => {
                let (a, b) = (self.operand(a), self.operand(b));
                format!("{a} {op} {b}")
            }
        }
    }

    pub(crate) fn condition(&mut self, e: &Expr) -> String {
        match e {
            Expr::Cmp(a, op, b) => {
                let (a, b) = (self.operand(a), self.operand(b));
                format!("{a} {op} {b}")
            }
            Expr::Between(a, lo, hi) => {
                let (a, lo, hi) = (self.operand(a), self.operand(lo), self.operand(hi));
                format!("{a} BETWEEN {lo} AND {hi}")
            }
            Expr::In(a, list) => {
                let a = self.operand(a);
                let list: Vec<String> = list.iter().map(|o| self.operand(o)).collect();
                format!("{a} IN ({})", list.join(", "))
            }
            Expr::And(a, b) => {
                let (a, b) = (self.condition(a), self.condition(b));
                format!("({a} AND {b})")
            }
            Expr::Or(a, b) => {
                let (a, b) = (self.condition(a), self.condition(b));
                format!("({a} OR {b})")
            }
            Expr::Not(a) => format!("(NOT {})", self.condition(a)),
            Expr::Func(f, args) => {
                let args: Vec<String> = args.iter().map(|a| self.operand(a)).collect();
                format!("{f}({})", args.join(", "))
            }
            Expr::Missing(p, negated) => {
                let p = self.path(p);
                if *negated {
                    format!("attribute_exists({p})")
                } else {
                    format!("attribute_not_exists({p})")
                }
            }
        }
    }

    /// The conjunction of `parts`, or `None` when there are none.
    pub(crate) fn conjunction(&mut self, parts: &[&Expr]) -> Option<String> {
        let texts: Vec<String> = parts.iter().map(|p| self.condition(p)).collect();
        if texts.is_empty() {
            None
        } else {
            Some(texts.join(" AND "))
        }
    }

    /// Adds `ExpressionAttributeNames` / `Values` to a request, when there are any.
    pub(crate) fn finish(self, request: &mut Map<String, Value>) {
        if !self.names.is_empty() {
            request.insert("ExpressionAttributeNames".into(), Value::Object(self.names));
        }
        if !self.values.is_empty() {
            request.insert(
                "ExpressionAttributeValues".into(),
                Value::Object(self.values),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statements_parse() {
        let s = parse(
            r#"SELECT pk, "a"."b"[1] FROM "T"."ix" WHERE pk = ? AND x IS NOT MISSING"#,
            &[json!({"S": "k"})],
        )
        .unwrap();
        let Statement::Select {
            table,
            index,
            projection,
            filter,
        } = s
        else {
            panic!("not a select");
        };
        assert_eq!((table.as_str(), index.as_deref()), ("T", Some("ix")));
        assert_eq!(projection.unwrap().len(), 2);
        let filter = filter.unwrap();
        assert_eq!(
            filter.conjuncts()[0].equality_on("pk"),
            Some(&json!({"S": "k"}))
        );
        let mut w = ExpressionWriter::default();
        assert_eq!(
            w.condition(&filter),
            "(#n0 = :v0 AND attribute_exists(#n1))"
        );
        let s = parse(
            "insert into t value {'pk': 'a', 'n': 1, 's': <<'x','y'>>, 'l': [true, null]}",
            &[],
        )
        .unwrap();
        let Statement::Insert { item, .. } = s else {
            panic!("not an insert");
        };
        assert_eq!(item["s"], json!({"SS": ["x", "y"]}));
        assert_eq!(item["l"], json!({"L": [{"BOOL": true}, {"NULL": true}]}));
        assert!(matches!(
            parse("UPDATE t SET a = a + 1, b = 'x' REMOVE c WHERE pk = 'k'", &[]).unwrap(),
            Statement::Update { ref actions, .. } if actions.len() == 3
        ));
        assert!(parse("DELETE FROM t WHERE pk = 'k'", &[]).is_ok());
        let e = parse("select * from t where pk = ?", &[]).unwrap_err();
        assert_eq!(
            e.message(),
            "Number of parameters in request and statement don't match."
        );
        assert!(parse("select * from t where", &[]).is_err());
        assert!(parse("drop table t", &[]).is_err());
        assert!(parse("select * from t extra", &[]).is_err());
    }
}
