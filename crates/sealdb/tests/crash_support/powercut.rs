//! A power cut beyond SIGKILL: the server runs under the LD_PRELOAD layer of
//! `tests/powercut/powercut.c`, which logs what each write to the data dir replaces until
//! the file is synced; after the kill, [`PowerCut::cut`] applies those logs backwards, so
//! every file is as it was at its last fsync (the page cache lost).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The built layer and its log directory.
pub struct PowerCut {
    lib: PathBuf,
    log: PathBuf,
}

/// What one cut dropped.
#[derive(Default, Debug, Clone, Copy)]
pub struct Dropped {
    pub files: usize,
    pub writes: usize,
    pub bytes: u64,
}

impl PowerCut {
    /// Builds the layer with the C compiler into `work`; `None` (said why) without one.
    pub fn build(work: &Path) -> Option<PowerCut> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/powercut/powercut.c");
        let lib = work.join("powercut.so");
        let log = work.join("powercut-log");
        std::fs::create_dir_all(&log).unwrap();
        let built = Command::new("cc")
            .args(["-shared", "-fPIC", "-O2", "-o"])
            .arg(&lib)
            .arg(&src)
            .args(["-ldl", "-lpthread"])
            .status();
        match built {
            Ok(s) if s.success() => Some(PowerCut { lib, log }),
            other => {
                eprintln!("SKIPPED: cannot build the power-cut layer with cc: {other:?}");
                None
            }
        }
    }

    /// The environment that puts a process under the layer for `data_dir`.
    pub fn env(&self, data_dir: &Path) -> Vec<(String, String)> {
        vec![
            ("LD_PRELOAD".into(), self.lib.display().to_string()),
            ("POWERCUT_DIR".into(), data_dir.display().to_string()),
            ("POWERCUT_LOG".into(), self.log.display().to_string()),
        ]
    }

    /// After the process died: every write since its file's last sync is undone.
    pub fn cut(&self) -> Dropped {
        let mut dropped = Dropped::default();
        for entry in std::fs::read_dir(&self.log).unwrap() {
            let undo = entry.unwrap().path();
            if undo.extension().is_none_or(|e| e != "undo") {
                continue;
            }
            let path_file = undo.with_extension("path");
            let log = std::fs::read(&undo).unwrap();
            let target = std::fs::read_to_string(&path_file).ok();
            std::fs::remove_file(&undo).unwrap();
            let _ = std::fs::remove_file(&path_file);
            let Some(target) = target else { continue };
            let records = parse(&log);
            if records.is_empty() {
                continue;
            }
            // The log names its inode: a file replaced since (a rename over it) is not it.
            let ino = undo
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.split('-').nth(1))
                .and_then(|s| s.parse::<u64>().ok());
            let Ok(file) = std::fs::OpenOptions::new().write(true).open(&target) else {
                continue;
            };
            use std::os::unix::fs::{FileExt, MetadataExt};
            if Some(file.metadata().unwrap().ino()) != ino {
                continue;
            }
            dropped.files += 1;
            for (offset, size, old) in records.iter().rev() {
                file.write_all_at(old, *offset).unwrap();
                file.set_len(*size).unwrap();
                dropped.writes += 1;
            }
            dropped.bytes += records.iter().map(|r| r.2.len() as u64).sum::<u64>();
            file.sync_all().unwrap();
        }
        dropped
    }
}

/// The records of one undo log: (offset, size before, bytes before). A record cut short
/// (the process died while appending it) was not followed by its write: dropped.
fn parse(log: &[u8]) -> Vec<(u64, u64, Vec<u8>)> {
    let u64_at = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap());
    let mut out = Vec::new();
    let mut at = 0;
    while log.len() - at >= 24 {
        let (offset, size, n) = (
            u64_at(&log[at..at + 8]),
            u64_at(&log[at + 8..at + 16]),
            usize::try_from(u64_at(&log[at + 16..at + 24])).unwrap(),
        );
        if log.len() - at - 24 < n {
            break;
        }
        out.push((offset, size, log[at + 24..at + 24 + n].to_vec()));
        at += 24 + n;
    }
    out
}
