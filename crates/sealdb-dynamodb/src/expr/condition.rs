//! Condition (and filter) expressions: the tree and its evaluation against an item.

use super::path::Path;
use crate::value::{AttributeValue, Item};
use std::borrow::Cow;
use std::cmp::Ordering;

/// A value an operator works on.
#[derive(Clone, Debug)]
pub(crate) enum Operand {
    /// The value at a document path (missing if the path is absent).
    Path(Path),
    /// A value from ExpressionAttributeValues.
    Value(AttributeValue),
    /// `size(path)`.
    Size(Path),
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A parsed condition.
#[derive(Clone, Debug)]
pub(crate) enum Cond {
    Cmp(Operand, CmpOp, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Exists(Path),
    NotExists(Path),
    Type(Path, String),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
}

fn resolve<'a>(op: &'a Operand, item: &'a Item) -> Option<Cow<'a, AttributeValue>> {
    match op {
        Operand::Path(p) => p.get(item).map(Cow::Borrowed),
        Operand::Value(v) => Some(Cow::Borrowed(v)),
        Operand::Size(p) => {
            let n = match p.get(item)? {
                AttributeValue::S(s) => s.len(),
                AttributeValue::B(b) => b.len(),
                AttributeValue::Ss(s) => s.len(),
                AttributeValue::Ns(s) => s.len(),
                AttributeValue::Bs(s) => s.len(),
                AttributeValue::M(m) => m.len(),
                AttributeValue::L(l) => l.len(),
                AttributeValue::N(_) | AttributeValue::Bool(_) | AttributeValue::Null => {
                    return None;
                }
            };
            crate::number::Number::parse(&n.to_string())
                .ok()
                .map(|n| Cow::Owned(AttributeValue::N(n)))
        }
    }
}

/// Order of two scalar values of the same type (N, S, B); `None` otherwise.
pub(crate) fn compare(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    match (a, b) {
        (AttributeValue::N(x), AttributeValue::N(y)) => Some(x.cmp(y)),
        (AttributeValue::S(x), AttributeValue::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (AttributeValue::B(x), AttributeValue::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

impl Operand {
    fn mentions(&self, name: &str) -> bool {
        match self {
            Operand::Path(p) | Operand::Size(p) => p.top_level() == name,
            Operand::Value(_) => false,
        }
    }
}

impl Cond {
    /// Whether any path of the condition starts at the top-level attribute `name`.
    pub(crate) fn mentions(&self, name: &str) -> bool {
        match self {
            Cond::Cmp(a, _, b) | Cond::BeginsWith(a, b) | Cond::Contains(a, b) => {
                a.mentions(name) || b.mentions(name)
            }
            Cond::Between(v, lo, hi) => [v, lo, hi].iter().any(|o| o.mentions(name)),
            Cond::In(v, list) => v.mentions(name) || list.iter().any(|o| o.mentions(name)),
            Cond::And(a, b) | Cond::Or(a, b) => a.mentions(name) || b.mentions(name),
            Cond::Not(a) => a.mentions(name),
            Cond::Exists(p) | Cond::NotExists(p) | Cond::Type(p, _) => p.top_level() == name,
        }
    }

    pub(crate) fn eval(&self, item: &Item) -> bool {
        match self {
            Cond::Cmp(a, op, b) => {
                let (a, b) = (resolve(a, item), resolve(b, item));
                match op {
                    CmpOp::Eq => matches!((a, b), (Some(a), Some(b)) if a == b),
                    CmpOp::Ne => !matches!((a, b), (Some(a), Some(b)) if a == b),
                    _ => {
                        let (Some(a), Some(b)) = (a, b) else {
                            return false;
                        };
                        match compare(&a, &b) {
                            None => false,
                            Some(o) => match op {
                                CmpOp::Lt => o == Ordering::Less,
                                CmpOp::Le => o != Ordering::Greater,
                                CmpOp::Gt => o == Ordering::Greater,
                                CmpOp::Ge => o != Ordering::Less,
                                CmpOp::Eq | CmpOp::Ne => false,
                            },
                        }
                    }
                }
            }
            Cond::Between(v, lo, hi) => {
                let (Some(v), Some(lo), Some(hi)) =
                    (resolve(v, item), resolve(lo, item), resolve(hi, item))
                else {
                    return false;
                };
                matches!(compare(&v, &lo), Some(Ordering::Greater | Ordering::Equal))
                    && matches!(compare(&v, &hi), Some(Ordering::Less | Ordering::Equal))
            }
            Cond::In(v, list) => {
                let Some(v) = resolve(v, item) else {
                    return false;
                };
                list.iter()
                    .any(|o| resolve(o, item).is_some_and(|x| *x == *v))
            }
            Cond::And(a, b) => a.eval(item) && b.eval(item),
            Cond::Or(a, b) => a.eval(item) || b.eval(item),
            Cond::Not(a) => !a.eval(item),
            Cond::Exists(p) => p.get(item).is_some(),
            Cond::NotExists(p) => p.get(item).is_none(),
            Cond::Type(p, t) => p.get(item).is_some_and(|v| v.type_name() == t),
            Cond::BeginsWith(a, b) => {
                let (Some(a), Some(b)) = (resolve(a, item), resolve(b, item)) else {
                    return false;
                };
                match (&*a, &*b) {
                    (AttributeValue::S(x), AttributeValue::S(y)) => x.starts_with(y.as_str()),
                    (AttributeValue::B(x), AttributeValue::B(y)) => x.starts_with(y),
                    _ => false,
                }
            }
            Cond::Contains(a, b) => {
                let (Some(a), Some(b)) = (resolve(a, item), resolve(b, item)) else {
                    return false;
                };
                match (&*a, &*b) {
                    (AttributeValue::S(x), AttributeValue::S(y)) => x.contains(y.as_str()),
                    (AttributeValue::B(x), AttributeValue::B(y)) => {
                        y.is_empty() || x.windows(y.len()).any(|w| w == y.as_slice())
                    }
                    (AttributeValue::Ss(x), AttributeValue::S(y)) => x.contains(y),
                    (AttributeValue::Ns(x), AttributeValue::N(y)) => x.contains(y),
                    (AttributeValue::Bs(x), AttributeValue::B(y)) => x.contains(y),
                    (AttributeValue::L(x), y) => x.iter().any(|e| e == y),
                    _ => false,
                }
            }
        }
    }
}
