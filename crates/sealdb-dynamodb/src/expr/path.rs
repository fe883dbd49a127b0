//! Document paths (`a.b[2].c`) and reading, writing and removing values at them.

use crate::value::{AttributeValue, Item};
use std::fmt;

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathElem {
    /// A map key (or, first, a top-level attribute name).
    Key(String),
    /// A list index.
    Index(usize),
}

/// A document path. The first element is always a top-level attribute name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Path {
    pub(crate) elems: Vec<PathElem>,
}

impl Path {
    /// A path to a top-level attribute.
    pub fn attribute(name: &str) -> Path {
        Path {
            elems: vec![PathElem::Key(name.to_owned())],
        }
    }

    /// The top-level attribute this path starts at.
    pub fn top_level(&self) -> &str {
        match self.elems.first() {
            Some(PathElem::Key(k)) => k,
            _ => "",
        }
    }

    /// The steps of the path.
    pub fn elems(&self) -> &[PathElem] {
        &self.elems
    }

    /// True if one path is a prefix of the other (or they are equal).
    pub(crate) fn overlaps(&self, other: &Path) -> bool {
        let n = self.elems.len().min(other.elems.len());
        self.elems[..n] == other.elems[..n]
    }

    /// True when the paths diverge where one indexes a list and the other names a map
    /// key: they cannot both be right about the document's shape.
    pub(crate) fn conflicts(&self, other: &Path) -> bool {
        for (a, b) in self.elems.iter().zip(&other.elems) {
            match (a, b) {
                (PathElem::Key(x), PathElem::Key(y)) if x == y => continue,
                (PathElem::Index(x), PathElem::Index(y)) if x == y => continue,
                (PathElem::Key(_), PathElem::Index(_)) | (PathElem::Index(_), PathElem::Key(_)) => {
                    return true;
                }
                _ => return false,
            }
        }
        false
    }

    /// The value at this path, if any.
    pub fn get<'a>(&self, item: &'a Item) -> Option<&'a AttributeValue> {
        let mut elems = self.elems.iter();
        let mut cur = match elems.next()? {
            PathElem::Key(k) => item.get(k)?,
            PathElem::Index(_) => return None,
        };
        for e in elems {
            cur = match (e, cur) {
                (PathElem::Key(k), AttributeValue::M(m)) => m.get(k)?,
                (PathElem::Index(i), AttributeValue::L(l)) => l.get(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Sets the value at this path. The parent must exist (and be a map, or a list for
    /// an index); an index past the end of a list appends. Returns false when the path
    /// cannot be written.
    pub(crate) fn set(&self, item: &mut Item, value: AttributeValue) -> bool {
        let Some((last, parents)) = self.elems.split_last() else {
            return false;
        };
        if parents.is_empty() {
            return match last {
                PathElem::Key(k) => {
                    item.insert(k.clone(), value);
                    true
                }
                PathElem::Index(_) => false,
            };
        }
        let Some(parent) = walk_mut(item, parents) else {
            return false;
        };
        match (last, parent) {
            (PathElem::Key(k), AttributeValue::M(m)) => {
                m.insert(k.clone(), value);
                true
            }
            (PathElem::Index(i), AttributeValue::L(l)) => {
                if *i < l.len() {
                    l[*i] = value;
                } else {
                    l.push(value);
                }
                true
            }
            _ => false,
        }
    }

    /// Removes the value at this path (a list element shifts the later ones). Missing
    /// paths are left alone.
    pub(crate) fn remove(&self, item: &mut Item) {
        let Some((last, parents)) = self.elems.split_last() else {
            return;
        };
        if parents.is_empty() {
            if let PathElem::Key(k) = last {
                item.remove(k);
            }
            return;
        }
        match (last, walk_mut(item, parents)) {
            (PathElem::Key(k), Some(AttributeValue::M(m))) => {
                m.remove(k);
            }
            (PathElem::Index(i), Some(AttributeValue::L(l))) if *i < l.len() => {
                l.remove(*i);
            }
            _ => {}
        }
    }
}

fn walk_mut<'a>(item: &'a mut Item, elems: &[PathElem]) -> Option<&'a mut AttributeValue> {
    let mut it = elems.iter();
    let mut cur = match it.next()? {
        PathElem::Key(k) => item.get_mut(k)?,
        PathElem::Index(_) => return None,
    };
    for e in it {
        cur = match (e, cur) {
            (PathElem::Key(k), AttributeValue::M(m)) => m.get_mut(k)?,
            (PathElem::Index(i), AttributeValue::L(l)) => l.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// `[a, b, [2], c]`, as AWS lists paths in overlap messages.
impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .elems
            .iter()
            .map(|e| match e {
                PathElem::Key(k) => k.clone(),
                PathElem::Index(i) => format!("[{i}]"),
            })
            .collect();
        write!(f, "[{}]", parts.join(", "))
    }
}
