//! A hand-written recursive-descent parser for the four expression kinds.

use super::condition::{CmpOp, Cond, Operand};
use super::lexer::{Tok, Token, lex, shown};
use super::path::{Path, PathElem};
use super::reserved::is_reserved;
use super::update::{Action, SetValue};
use super::{ExprError, ExpressionAttributes, SortKeyCondition};
use crate::value::AttributeValue;

/// Longest expression accepted, in bytes.
const MAX_EXPRESSION_BYTES: usize = 4096;
/// Deepest parenthesis / function nesting accepted (keeps recursion bounded).
const MAX_NESTING: usize = 100;
/// Deepest document path accepted.
const MAX_PATH_DEPTH: usize = 32;
/// Most operands of IN.
const MAX_IN_OPERANDS: usize = 100;

pub(crate) struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    param: String,
    attrs: &'a mut ExpressionAttributes,
    depth: usize,
}

/// The AWS name of a value's type in operand-type errors.
fn type_word(v: &AttributeValue) -> &'static str {
    match v {
        AttributeValue::S(_) => "STRING",
        AttributeValue::N(_) => "NUMBER",
        AttributeValue::B(_) => "BINARY",
        AttributeValue::Bool(_) => "BOOLEAN",
        AttributeValue::Null => "NULL",
        AttributeValue::M(_) => "MAP",
        AttributeValue::L(_) => "LIST",
        AttributeValue::Ss(_) => "STRING_SET",
        AttributeValue::Ns(_) => "NUMBER_SET",
        AttributeValue::Bs(_) => "BINARY_SET",
    }
}

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
}

const VALID_TYPES: [&str; 10] = ["S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M"];

impl<'a> Parser<'a> {
    pub(crate) fn new(
        src: &'a str,
        param: &str,
        attrs: &'a mut ExpressionAttributes,
    ) -> Result<Parser<'a>, ExprError> {
        if src.trim().is_empty() {
            return Err(ExprError::new(format!(
                "Invalid {param}: The expression can not be empty;"
            )));
        }
        if src.len() > MAX_EXPRESSION_BYTES {
            return Err(ExprError::new(format!(
                "Invalid {param}: Expression size has exceeded the maximum allowed size; expression size: {}",
                src.len()
            )));
        }
        let toks = lex(src).map_err(|at| {
            let ch: String = src[at..].chars().take(1).collect();
            ExprError::new(format!(
                "Invalid {param}: Syntax error; token: \"{ch}\", near: \"{}\"",
                near_text(src, at)
            ))
        })?;
        Ok(Parser {
            src,
            toks,
            pos: 0,
            param: param.to_owned(),
            attrs,
            depth: 0,
        })
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].tok
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn err(&self, msg: impl std::fmt::Display) -> ExprError {
        ExprError::new(format!("Invalid {}: {msg}", self.param))
    }

    /// `Syntax error; token: "<tok>", near: "<prev tok next>"` at the current token.
    fn syntax_error(&self) -> ExprError {
        let i = self.pos.min(self.toks.len() - 1);
        let t = &self.toks[i];
        let start = if i > 0 {
            self.toks[i - 1].start
        } else {
            t.start
        };
        let end = self.toks.get(i + 1).map_or(t.end, |n| n.end);
        let near = self.src.get(start..end).unwrap_or("").trim_end();
        self.err(format!(
            "Syntax error; token: \"{}\", near: \"{near}\"",
            shown(t, self.src)
        ))
    }

    fn expect(&mut self, t: &Tok) -> Result<(), ExprError> {
        if self.peek() == t {
            self.bump();
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.err("The expression has too many nested levels"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn finish(&self) -> Result<(), ExprError> {
        if *self.peek() == Tok::Eof {
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    // ---- paths and values ------------------------------------------------------

    fn name_elem(&mut self) -> Result<String, ExprError> {
        match self.peek().clone() {
            Tok::Word(w) => {
                if is_reserved(&w) {
                    return Err(self.err(format!(
                        "Attribute name is a reserved keyword; reserved keyword: {w}"
                    )));
                }
                self.bump();
                Ok(w)
            }
            Tok::NameRef(r) => {
                let Some(n) = self.attrs.name(&r) else {
                    return Err(self.err(format!(
                        "An expression attribute name used in the document path is not defined; attribute name: {r}"
                    )));
                };
                self.bump();
                Ok(n)
            }
            _ => Err(self.syntax_error()),
        }
    }

    fn path(&mut self) -> Result<Path, ExprError> {
        let mut elems = vec![PathElem::Key(self.name_elem()?)];
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.bump();
                    elems.push(PathElem::Key(self.name_elem()?));
                }
                Tok::LBracket => {
                    self.bump();
                    let Tok::Int(digits) = self.peek().clone() else {
                        return Err(self.syntax_error());
                    };
                    let Ok(i) = digits.parse::<usize>() else {
                        return Err(self.err("List index is out of range"));
                    };
                    self.bump();
                    self.expect(&Tok::RBracket)?;
                    elems.push(PathElem::Index(i));
                }
                _ => break,
            }
            if elems.len() > MAX_PATH_DEPTH {
                return Err(self.err("The document path has too many nesting levels"));
            }
        }
        Ok(Path { elems })
    }

    fn value(&mut self) -> Result<AttributeValue, ExprError> {
        let Tok::ValueRef(r) = self.peek().clone() else {
            return Err(self.syntax_error());
        };
        let Some(v) = self.attrs.value(&r) else {
            return Err(self.err(format!(
                "An expression attribute value used in expression is not defined; attribute value: {r}"
            )));
        };
        self.bump();
        Ok(v)
    }

    // ---- conditions -----------------------------------------------------------

    pub(crate) fn condition(mut self) -> Result<Cond, ExprError> {
        let c = self.or()?;
        self.finish()?;
        Ok(c)
    }

    fn or(&mut self) -> Result<Cond, ExprError> {
        let mut left = self.and()?;
        while is_kw(self.peek(), "OR") {
            self.bump();
            let right = self.and()?;
            left = Cond::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Cond, ExprError> {
        let mut left = self.not()?;
        while is_kw(self.peek(), "AND") {
            self.bump();
            let right = self.not()?;
            left = Cond::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Cond, ExprError> {
        if is_kw(self.peek(), "NOT") {
            self.bump();
            self.enter()?;
            let inner = self.not()?;
            self.leave();
            return Ok(Cond::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Cond, ExprError> {
        if *self.peek() == Tok::LParen {
            self.bump();
            self.enter()?;
            let c = self.or()?;
            self.leave();
            self.expect(&Tok::RParen)?;
            return Ok(c);
        }
        if let Tok::Word(f) = self.peek().clone()
            && *self.peek_at(1) == Tok::LParen
            && f != "size"
        {
            let c = self.function_condition(&f)?;
            if matches!(
                self.peek(),
                Tok::Eq | Tok::Ne | Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge
            ) || is_kw(self.peek(), "BETWEEN")
                || is_kw(self.peek(), "IN")
            {
                // A condition function's result is not a value to compare.
                return Err(self.err(format!(
                    "The function is not allowed to be used this way in an expression; function: {f}"
                )));
            }
            return Ok(c);
        }
        let left = self.operand()?;
        let op = match self.peek() {
            Tok::Eq => CmpOp::Eq,
            Tok::Ne => CmpOp::Ne,
            Tok::Lt => CmpOp::Lt,
            Tok::Le => CmpOp::Le,
            Tok::Gt => CmpOp::Gt,
            Tok::Ge => CmpOp::Ge,
            t if is_kw(t, "BETWEEN") => {
                self.bump();
                let lo = self.operand()?;
                if !is_kw(self.peek(), "AND") {
                    return Err(self.syntax_error());
                }
                self.bump();
                let hi = self.operand()?;
                self.check_between(&lo, &hi)?;
                return Ok(Cond::Between(left, lo, hi));
            }
            t if is_kw(t, "IN") => {
                self.bump();
                self.expect(&Tok::LParen)?;
                let mut list = vec![self.operand()?];
                while *self.peek() == Tok::Comma {
                    self.bump();
                    list.push(self.operand()?);
                }
                self.expect(&Tok::RParen)?;
                if list.len() > MAX_IN_OPERANDS {
                    return Err(self.err(format!(
                        "The IN operator is provided with too many operands; number of operands: {}",
                        list.len()
                    )));
                }
                return Ok(Cond::In(left, list));
            }
            // size() gives a number, not a condition.
            _ if matches!(left, Operand::Size(_)) => {
                return Err(self.err(
                    "The function is not allowed to be used this way in an expression; function: size",
                ));
            }
            _ => return Err(self.syntax_error()),
        };
        self.bump();
        let right = self.operand()?;
        if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
            for o in [&left, &right] {
                if let Operand::Value(v) = o
                    && !matches!(
                        v,
                        AttributeValue::N(_) | AttributeValue::S(_) | AttributeValue::B(_)
                    )
                {
                    return Err(self.err(format!(
                        "Incorrect operand type for operator or function; operator: {}, operand type: {}",
                        op.symbol(),
                        type_word(v)
                    )));
                }
            }
        }
        Ok(Cond::Cmp(left, op, right))
    }

    fn check_between(&self, lo: &Operand, hi: &Operand) -> Result<(), ExprError> {
        if let (Operand::Value(a), Operand::Value(b)) = (lo, hi) {
            match super::condition::compare(a, b) {
                Some(std::cmp::Ordering::Greater) => {
                    return Err(self.err(format!(
                        "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {{{}:{}}}, upper bound operand: AttributeValue: {{{}:{}}}",
                        a.type_name(),
                        scalar_text(a),
                        b.type_name(),
                        scalar_text(b)
                    )));
                }
                None if a.type_name() != b.type_name() => {
                    return Err(self.err(format!(
                        "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {{{}:{}}}, upper bound operand: AttributeValue: {{{}:{}}}",
                        a.type_name(),
                        scalar_text(a),
                        b.type_name(),
                        scalar_text(b)
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn operand(&mut self) -> Result<Operand, ExprError> {
        match self.peek().clone() {
            Tok::ValueRef(_) => Ok(Operand::Value(self.value()?)),
            Tok::Word(f) if *self.peek_at(1) == Tok::LParen => {
                if f != "size" {
                    if is_update_function(&f) {
                        return Err(self.err(format!(
                            "The function is not allowed in a condition expression; function: {f}"
                        )));
                    }
                    if is_condition_function(&f) {
                        return Err(self.err(format!(
                            "The function is not allowed to be used this way in an expression; function: {f}"
                        )));
                    }
                    return Err(self.err(format!("Invalid function name; function: {f}")));
                }
                self.bump();
                self.bump();
                self.enter()?;
                let p = self.path()?;
                self.leave();
                self.expect(&Tok::RParen)?;
                Ok(Operand::Size(p))
            }
            Tok::Word(_) | Tok::NameRef(_) => Ok(Operand::Path(self.path()?)),
            _ => Err(self.syntax_error()),
        }
    }

    fn function_condition(&mut self, f: &str) -> Result<Cond, ExprError> {
        if is_update_function(f) {
            return Err(self.err(format!(
                "The function is not allowed in a condition expression; function: {f}"
            )));
        }
        if !is_condition_function(f) {
            return Err(self.err(format!("Invalid function name; function: {f}")));
        }
        self.bump();
        self.bump();
        self.enter()?;
        let c = match f {
            "attribute_exists" => Cond::Exists(self.path()?),
            "attribute_not_exists" => Cond::NotExists(self.path()?),
            "attribute_type" => {
                let p = self.path()?;
                self.expect(&Tok::Comma)?;
                let t = self.value()?;
                let name = match &t {
                    AttributeValue::S(s) if VALID_TYPES.contains(&s.as_str()) => s.clone(),
                    AttributeValue::S(s) => {
                        return Err(self.err(format!(
                            "Invalid attribute type name found; type: {s}, valid types: {{ B,NULL,SS,BOOL,L,BS,N,NS,S,M }}"
                        )));
                    }
                    other => {
                        return Err(self.err(format!(
                            "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {}",
                            other.type_name()
                        )));
                    }
                };
                Cond::Type(p, name)
            }
            "begins_with" => {
                let a = self.operand()?;
                self.expect(&Tok::Comma)?;
                let b = self.operand()?;
                for o in [&a, &b] {
                    if let Operand::Value(v) = o
                        && !matches!(v, AttributeValue::S(_) | AttributeValue::B(_))
                    {
                        return Err(self.err(format!(
                            "Incorrect operand type for operator or function; operator or function: begins_with, operand type: {}",
                            v.type_name()
                        )));
                    }
                }
                Cond::BeginsWith(a, b)
            }
            _ => {
                let a = self.operand()?;
                self.expect(&Tok::Comma)?;
                let b = self.operand()?;
                Cond::Contains(a, b)
            }
        };
        self.leave();
        self.expect(&Tok::RParen)?;
        Ok(c)
    }

    // ---- updates ----------------------------------------------------------------

    pub(crate) fn update(mut self) -> Result<Vec<Action>, ExprError> {
        let mut actions = Vec::new();
        let mut seen_sections: Vec<String> = Vec::new();
        while *self.peek() != Tok::Eof {
            let Tok::Word(kw) = self.peek().clone() else {
                return Err(self.syntax_error());
            };
            let section = kw.to_ascii_uppercase();
            if !["SET", "REMOVE", "ADD", "DELETE"].contains(&section.as_str()) {
                return Err(self.syntax_error());
            }
            if seen_sections.contains(&section) {
                // AWS reports this one as a validation report, unlike the other
                // expression errors (moto's AWS-verified tests record the text).
                return Err(ExprError::new(format!(
                    "1 validation error detected: Invalid {}: The \"{section}\" section can only be used once in an update expression;",
                    self.param
                )));
            }
            seen_sections.push(section.clone());
            self.bump();
            loop {
                let action = match section.as_str() {
                    "SET" => {
                        let p = self.path()?;
                        self.expect(&Tok::Eq)?;
                        let v = self.set_value()?;
                        Action::Set(p, v)
                    }
                    "REMOVE" => Action::Remove(self.path()?),
                    "ADD" => {
                        let p = self.path()?;
                        let v = self.value()?;
                        if !matches!(
                            v,
                            AttributeValue::N(_)
                                | AttributeValue::Ss(_)
                                | AttributeValue::Ns(_)
                                | AttributeValue::Bs(_)
                        ) {
                            return Err(self.err(format!(
                                "Incorrect operand type for operator or function; operator: ADD, operand type: {}",
                                type_word(&v)
                            )));
                        }
                        Action::Add(p, v)
                    }
                    _ => {
                        let p = self.path()?;
                        let v = self.value()?;
                        if !matches!(
                            v,
                            AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)
                        ) {
                            return Err(self.err(format!(
                                "Incorrect operand type for operator or function; operator: DELETE, operand type: {}",
                                type_word(&v)
                            )));
                        }
                        Action::Delete(p, v)
                    }
                };
                actions.push(action);
                if *self.peek() == Tok::Comma {
                    self.bump();
                } else {
                    break;
                }
            }
        }
        let paths: Vec<&Path> = actions
            .iter()
            .map(|a| match a {
                Action::Set(p, _)
                | Action::Remove(p)
                | Action::Add(p, _)
                | Action::Delete(p, _) => p,
            })
            .collect();
        check_paths(&paths, &self.param)?;
        Ok(actions)
    }

    fn set_value(&mut self) -> Result<SetValue, ExprError> {
        let left = self.set_operand()?;
        match self.peek() {
            Tok::Plus | Tok::Minus => {
                let plus = *self.peek() == Tok::Plus;
                self.bump();
                let right = self.set_operand()?;
                for o in [&left, &right] {
                    if let SetValue::Value(v) = o
                        && !matches!(v, AttributeValue::N(_))
                    {
                        return Err(self.err(format!(
                            "Incorrect operand type for operator or function; operator: {}, operand type: {}",
                            if plus { "+" } else { "-" },
                            type_word(v)
                        )));
                    }
                }
                Ok(if plus {
                    SetValue::Plus(Box::new(left), Box::new(right))
                } else {
                    SetValue::Minus(Box::new(left), Box::new(right))
                })
            }
            _ => Ok(left),
        }
    }

    fn set_operand(&mut self) -> Result<SetValue, ExprError> {
        match self.peek().clone() {
            Tok::ValueRef(_) => Ok(SetValue::Value(self.value()?)),
            Tok::Word(f) if *self.peek_at(1) == Tok::LParen => {
                self.bump();
                self.bump();
                self.enter()?;
                let v = match f.as_str() {
                    "if_not_exists" => {
                        let p = self.path()?;
                        self.expect(&Tok::Comma)?;
                        let d = self.set_operand()?;
                        SetValue::IfNotExists(p, Box::new(d))
                    }
                    "list_append" => {
                        let a = self.set_operand()?;
                        self.expect(&Tok::Comma)?;
                        let b = self.set_operand()?;
                        for o in [&a, &b] {
                            if let SetValue::Value(v) = o
                                && !matches!(v, AttributeValue::L(_))
                            {
                                return Err(self.err(format!(
                                    "Incorrect operand type for operator or function; operator or function: list_append, operand type: {}",
                                    v.type_name()
                                )));
                            }
                        }
                        SetValue::ListAppend(Box::new(a), Box::new(b))
                    }
                    other if other == "size" || is_condition_function(other) => {
                        return Err(self.err(format!(
                            "The function is not allowed in an update expression; function: {other}"
                        )));
                    }
                    other => {
                        return Err(self.err(format!("Invalid function name; function: {other}")));
                    }
                };
                self.leave();
                self.expect(&Tok::RParen)?;
                Ok(v)
            }
            Tok::Word(_) | Tok::NameRef(_) => Ok(SetValue::Path(self.path()?)),
            _ => Err(self.syntax_error()),
        }
    }

    // ---- projections --------------------------------------------------------------

    pub(crate) fn projection(mut self) -> Result<Vec<Path>, ExprError> {
        let mut paths = vec![self.path()?];
        while *self.peek() == Tok::Comma {
            self.bump();
            paths.push(self.path()?);
        }
        self.finish()?;
        let refs: Vec<&Path> = paths.iter().collect();
        check_paths(&refs, &self.param)?;
        Ok(paths)
    }

    // ---- key conditions -----------------------------------------------------------

    pub(crate) fn key_condition(mut self) -> Result<Vec<(String, SortKeyCondition)>, ExprError> {
        let mut conds = Vec::new();
        self.key_terms(&mut conds)?;
        self.finish()?;
        // How many conditions fit depends on the key schema (multi-attribute index keys
        // have up to eight): `KeyCondition::split` and `split_multi` check it.
        if conds.len() > 8 {
            return Err(ExprError::new(
                "KeyConditionExpressions must only contain one condition per key",
            ));
        }
        Ok(conds)
    }

    fn key_terms(&mut self, out: &mut Vec<(String, SortKeyCondition)>) -> Result<(), ExprError> {
        self.key_term(out)?;
        loop {
            match self.peek() {
                t if is_kw(t, "AND") => {
                    self.bump();
                    self.key_term(out)?;
                }
                t if is_kw(t, "OR") => {
                    return Err(ExprError::new(
                        "Invalid operator used in KeyConditionExpression: OR",
                    ));
                }
                _ => return Ok(()),
            }
        }
    }

    fn key_name(&mut self) -> Result<String, ExprError> {
        let p = self.path()?;
        match p.elems.as_slice() {
            [PathElem::Key(k)] => Ok(k.clone()),
            _ => Err(self.err("KeyConditionExpressions cannot contain nested attribute names")),
        }
    }

    fn key_term(&mut self, out: &mut Vec<(String, SortKeyCondition)>) -> Result<(), ExprError> {
        if *self.peek() == Tok::LParen {
            self.bump();
            self.enter()?;
            self.key_terms(out)?;
            self.leave();
            return self.expect(&Tok::RParen);
        }
        if is_kw(self.peek(), "NOT") {
            return Err(ExprError::new(
                "Invalid operator used in KeyConditionExpression: NOT",
            ));
        }
        if let Tok::Word(f) = self.peek().clone()
            && *self.peek_at(1) == Tok::LParen
        {
            if f != "begins_with" {
                return Err(ExprError::new(format!(
                    "Invalid operator used in KeyConditionExpression: {f}"
                )));
            }
            self.bump();
            self.bump();
            let name = self.key_name()?;
            self.expect(&Tok::Comma)?;
            let v = self.value()?;
            self.expect(&Tok::RParen)?;
            out.push((name, SortKeyCondition::BeginsWith(v)));
            return Ok(());
        }
        let name = self.key_name()?;
        let cond = match self.peek().clone() {
            Tok::Eq | Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge => {
                let t = self.bump();
                let v = self.value()?;
                match t {
                    Tok::Eq => SortKeyCondition::Eq(v),
                    Tok::Lt => SortKeyCondition::Lt(v),
                    Tok::Le => SortKeyCondition::Le(v),
                    Tok::Gt => SortKeyCondition::Gt(v),
                    _ => SortKeyCondition::Ge(v),
                }
            }
            Tok::Ne => {
                return Err(ExprError::new(
                    "Invalid operator used in KeyConditionExpression: <>",
                ));
            }
            t if is_kw(&t, "BETWEEN") => {
                self.bump();
                let lo = self.value()?;
                if !is_kw(self.peek(), "AND") {
                    return Err(self.syntax_error());
                }
                self.bump();
                let hi = self.value()?;
                self.check_between(&Operand::Value(lo.clone()), &Operand::Value(hi.clone()))?;
                SortKeyCondition::Between(lo, hi)
            }
            t if is_kw(&t, "IN") => {
                return Err(ExprError::new(
                    "Invalid operator used in KeyConditionExpression: IN",
                ));
            }
            _ => return Err(self.syntax_error()),
        };
        out.push((name, cond));
        Ok(())
    }
}

fn is_update_function(f: &str) -> bool {
    matches!(f, "if_not_exists" | "list_append")
}

fn is_condition_function(f: &str) -> bool {
    matches!(
        f,
        "attribute_exists" | "attribute_not_exists" | "attribute_type" | "begins_with" | "contains"
    )
}

fn scalar_text(v: &AttributeValue) -> String {
    match v {
        AttributeValue::S(s) => s.clone(),
        AttributeValue::N(n) => n.to_string(),
        other => other.type_name().to_owned(),
    }
}

/// Overlapping or conflicting document paths are refused, as AWS does.
fn check_paths(paths: &[&Path], param: &str) -> Result<(), ExprError> {
    for (i, a) in paths.iter().enumerate() {
        for b in &paths[i + 1..] {
            if a.overlaps(b) {
                return Err(ExprError::new(format!(
                    "Invalid {param}: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {a}, path two: {b}"
                )));
            }
            if a.conflicts(b) {
                return Err(ExprError::new(format!(
                    "Invalid {param}: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {a}, path two: {b}"
                )));
            }
        }
    }
    Ok(())
}

/// The source text around a byte position, for lexer errors.
fn near_text(src: &str, at: usize) -> String {
    let start = src[..at].rfind(char::is_whitespace).map_or(0, |i| i + 1);
    let end = src[at..]
        .find(char::is_whitespace)
        .map_or(src.len(), |i| at + i);
    src.get(start..end).unwrap_or("").to_owned()
}
