//! The data dir's lock: one process at a time (the server, or one maintenance command).
//!
//! An exclusive `flock` on `<data-dir>/sealdb.lock`, held as long as the value lives and
//! released by the kernel when the process exits, however it exits (SIGKILL included),
//! so a crash never leaves a stale lock behind.

use crate::error::StorageError;
use rustix::fs::{FlockOperation, flock};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// The lock file's name inside the data dir.
pub const LOCK_FILE: &str = "sealdb.lock";

/// Holds the data dir's lock until dropped.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the lock of `dir` (which must exist), or fails at once with
    /// [`StorageError::DataDirInUse`] when another process holds it.
    pub fn acquire(dir: &Path) -> Result<DataDirLock, StorageError> {
        let path = dir.join(LOCK_FILE);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path)?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(DataDirLock { _file: file, path }),
            Err(rustix::io::Errno::WOULDBLOCK) => Err(StorageError::DataDirInUse(dir.to_owned())),
            Err(e) => Err(std::io::Error::from(e).into()),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let second = DataDirLock::acquire(dir.path());
        assert!(matches!(second, Err(StorageError::DataDirInUse(_))));
        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }
}
