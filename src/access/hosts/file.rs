//! Reading hosts.allow / hosts.deny, and re-reading them when they change.
//!
//! libwrap opens both files on every connection, so an edit takes effect at once. `HostsFile`
//! keeps that promise without parsing per connection: it stats the file on each `current()`
//! and parses again only when device, inode, size, mtime or ctime differ from the last read.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::rules::{self, Diagnostic, Rules};

/// Reads and parses a rules file. A missing file is an empty one; a file that exists but cannot
/// be read gives a `Rules::fault`.
pub fn load(path: &Path) -> Rules {
    match std::fs::read(path) {
        Ok(bytes) => rules::parse(path, &String::from_utf8_lossy(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Rules {
            path: path.to_path_buf(),
            ..Rules::default()
        },
        Err(e) => Rules {
            path: path.to_path_buf(),
            fault: Some(Diagnostic {
                path: path.to_path_buf(),
                line: 0,
                error: true,
                message: format!("cannot open: {e}"),
            }),
            ..Rules::default()
        },
    }
}

/// What identifies one version of a file; `None` when it does not exist.
type Stamp = Option<(u64, u64, u64, i64, i64, i64, i64)>;

fn stamp(path: &Path) -> Result<Stamp, std::io::Error> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some((
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// One rules file, parsed, and re-parsed when it changes on disk.
#[derive(Debug)]
pub struct HostsFile {
    path: PathBuf,
    stamp: Option<Stamp>,
    rules: Rules,
}

impl HostsFile {
    /// Reads `path` now.
    pub fn new(path: impl Into<PathBuf>) -> HostsFile {
        let path = path.into();
        let mut f = HostsFile {
            rules: Rules {
                path: path.clone(),
                ..Rules::default()
            },
            path,
            stamp: None,
        };
        f.refresh();
        f
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stats the file and re-reads it if it changed. Returns true when the rules were (re)read,
    /// so the caller can log their diagnostics once.
    pub fn refresh(&mut self) -> bool {
        let now = stamp(&self.path).ok();
        if now.is_some() && now == self.stamp {
            return false;
        }
        self.rules = load(&self.path);
        // A file that could not be stat'ed is read again next time.
        self.stamp = now;
        true
    }

    /// The rules as the file is now.
    pub fn current(&mut self) -> &Rules {
        self.refresh();
        &self.rules
    }

    /// The rules as last read, without looking at the file.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_empty_and_edits_are_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts.allow");
        let mut f = HostsFile::new(&path);
        assert!(f.current().rules.is_empty());
        assert!(f.current().fault.is_none());
        assert!(!f.refresh());

        std::fs::write(&path, "ALL: ALL\n").unwrap();
        assert_eq!(f.current().rules.len(), 1);
        assert!(!f.refresh());

        // Same size, rewritten in place: ctime/mtime (nanoseconds) or the inode give it away.
        std::fs::write(dir.path().join("new"), "sshd: ALL\n").unwrap();
        std::fs::rename(dir.path().join("new"), &path).unwrap();
        assert_eq!(f.current().rules.len(), 1);
        assert_eq!(f.current().rules[0].line, 1);
        assert!(
            matches!(&f.current().rules[0].daemons.items[0].daemon, crate::access::hosts::StrPattern::Exact(d) if d == "sshd")
        );

        std::fs::remove_file(&path).unwrap();
        assert!(f.current().rules.is_empty());
    }

    #[test]
    fn unreadable_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        // A directory cannot be read as a file: not "missing".
        let r = load(dir.path());
        assert!(r.fault.is_some());
    }
}
