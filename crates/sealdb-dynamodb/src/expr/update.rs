//! Update expressions: the actions and how they change an item.

use super::ExprError;
use super::path::Path;
use crate::value::{AttributeValue, Item};
use std::collections::HashSet;

/// The right-hand side of a SET action.
#[derive(Clone, Debug)]
pub(crate) enum SetValue {
    Path(Path),
    Value(AttributeValue),
    IfNotExists(Path, Box<SetValue>),
    ListAppend(Box<SetValue>, Box<SetValue>),
    Plus(Box<SetValue>, Box<SetValue>),
    Minus(Box<SetValue>, Box<SetValue>),
}

/// One action of an update expression.
#[derive(Clone, Debug)]
pub(crate) enum Action {
    Set(Path, SetValue),
    Remove(Path),
    Add(Path, AttributeValue),
    Delete(Path, AttributeValue),
}

fn missing() -> ExprError {
    ExprError::new("The provided expression refers to an attribute that does not exist in the item")
}

fn bad_type() -> ExprError {
    ExprError::new("An operand in the update expression has an incorrect data type")
}

fn invalid_path() -> ExprError {
    ExprError::new("The document path provided in the update expression is invalid for update")
}

impl SetValue {
    /// Evaluated against the item as it was before the update.
    fn eval(&self, item: &Item) -> Result<AttributeValue, ExprError> {
        match self {
            SetValue::Path(p) => p.get(item).cloned().ok_or_else(missing),
            SetValue::Value(v) => Ok(v.clone()),
            SetValue::IfNotExists(p, default) => match p.get(item) {
                Some(v) => Ok(v.clone()),
                None => default.eval(item),
            },
            SetValue::ListAppend(a, b) => match (a.eval(item)?, b.eval(item)?) {
                (AttributeValue::L(mut x), AttributeValue::L(y)) => {
                    x.extend(y);
                    Ok(AttributeValue::L(x))
                }
                _ => Err(bad_type()),
            },
            SetValue::Plus(a, b) | SetValue::Minus(a, b) => {
                let (AttributeValue::N(x), AttributeValue::N(y)) = (a.eval(item)?, b.eval(item)?)
                else {
                    return Err(bad_type());
                };
                let r = if matches!(self, SetValue::Plus(..)) {
                    x.checked_add(&y)
                } else {
                    x.checked_sub(&y)
                };
                r.map(AttributeValue::N)
                    .map_err(|e| ExprError::new(e.message()))
            }
        }
    }
}

fn set_union<T: Clone + std::hash::Hash + Eq>(a: &mut Vec<T>, b: &[T]) {
    let have: HashSet<T> = a.iter().cloned().collect();
    a.extend(b.iter().filter(|x| !have.contains(*x)).cloned());
}

fn set_minus<T: std::hash::Hash + Eq>(a: &mut Vec<T>, b: &[T]) {
    let drop: HashSet<&T> = b.iter().collect();
    a.retain(|x| !drop.contains(x));
}

/// Applies the actions: SET values are computed from the original item first, then
/// everything is applied; list-element REMOVEs run from the highest index down so
/// that indexes refer to the original list.
pub(crate) fn apply(actions: &[Action], item: &mut Item) -> Result<(), ExprError> {
    let original = item.clone();
    let mut sets = Vec::new();
    for a in actions {
        if let Action::Set(p, v) = a {
            sets.push((p, v.eval(&original)?));
        }
    }
    for (p, v) in sets {
        if !p.set(item, v) {
            return Err(invalid_path());
        }
    }
    for a in actions {
        match a {
            Action::Set(..) | Action::Remove(_) => {}
            Action::Add(p, v) => match (p.get(item).cloned(), v) {
                (
                    None,
                    AttributeValue::N(_)
                    | AttributeValue::Ss(_)
                    | AttributeValue::Ns(_)
                    | AttributeValue::Bs(_),
                ) => {
                    if !p.set(item, v.clone()) {
                        return Err(invalid_path());
                    }
                }
                (Some(AttributeValue::N(x)), AttributeValue::N(y)) => {
                    let sum = x.checked_add(y).map_err(|e| ExprError::new(e.message()))?;
                    p.set(item, AttributeValue::N(sum));
                }
                (Some(AttributeValue::Ss(mut x)), AttributeValue::Ss(y)) => {
                    set_union(&mut x, y);
                    p.set(item, AttributeValue::Ss(x));
                }
                (Some(AttributeValue::Ns(mut x)), AttributeValue::Ns(y)) => {
                    set_union(&mut x, y);
                    p.set(item, AttributeValue::Ns(x));
                }
                (Some(AttributeValue::Bs(mut x)), AttributeValue::Bs(y)) => {
                    set_union(&mut x, y);
                    p.set(item, AttributeValue::Bs(x));
                }
                _ => return Err(bad_type()),
            },
            Action::Delete(p, v) => {
                let Some(current) = p.get(item).cloned() else {
                    continue;
                };
                let (updated, empty) = match (current, v) {
                    (AttributeValue::Ss(mut x), AttributeValue::Ss(y)) => {
                        set_minus(&mut x, y);
                        let e = x.is_empty();
                        (AttributeValue::Ss(x), e)
                    }
                    (AttributeValue::Ns(mut x), AttributeValue::Ns(y)) => {
                        set_minus(&mut x, y);
                        let e = x.is_empty();
                        (AttributeValue::Ns(x), e)
                    }
                    (AttributeValue::Bs(mut x), AttributeValue::Bs(y)) => {
                        set_minus(&mut x, y);
                        let e = x.is_empty();
                        (AttributeValue::Bs(x), e)
                    }
                    _ => return Err(bad_type()),
                };
                if empty {
                    p.remove(item);
                } else {
                    p.set(item, updated);
                }
            }
        }
    }
    let mut removes: Vec<&Path> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Remove(p) => Some(p),
            _ => None,
        })
        .collect();
    // Highest list indexes first, so earlier removals do not shift later ones.
    removes.sort_by(|a, b| b.elems.cmp_paths(&a.elems));
    for p in removes {
        p.remove(item);
    }
    Ok(())
}

/// Ordering of paths for REMOVE: by elements, list indexes numerically.
trait PathOrder {
    fn cmp_paths(&self, other: &Self) -> std::cmp::Ordering;
}

impl PathOrder for Vec<super::path::PathElem> {
    fn cmp_paths(&self, other: &Self) -> std::cmp::Ordering {
        use super::path::PathElem as E;
        for (a, b) in self.iter().zip(other) {
            let o = match (a, b) {
                (E::Key(x), E::Key(y)) => x.cmp(y),
                (E::Index(x), E::Index(y)) => x.cmp(y),
                (E::Key(_), E::Index(_)) => std::cmp::Ordering::Less,
                (E::Index(_), E::Key(_)) => std::cmp::Ordering::Greater,
            };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        self.len().cmp(&other.len())
    }
}
