//! Knowing when hosts.allow / hosts.deny may have changed, without a `stat` per connection.
//!
//! `HostsFile::refresh` stats its file; done on every wake-up of a libwrap service that is two
//! `statx` calls per connection. `Watch` asks the kernel instead (inotify, on each file and on
//! its directory, which sees a file created, replaced by a rename or deleted) and says "maybe
//! changed" only after an event; the caller then refreshes as before, so what decides is still
//! the file's stamp. Where inotify cannot be trusted the watch says "maybe changed" every time,
//! which is the old behaviour: a file that is a symbolic link (its target may change elsewhere),
//! a directory that cannot be watched, one on a file system not known to be local (a network
//! file system changes without events), and everything after the kernel dropped events or a
//! watched directory went away.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

/// Changes that can make a file read differently: contents and metadata (permissions).
fn file_events() -> AddWatchFlags {
    AddWatchFlags::IN_MODIFY
        | AddWatchFlags::IN_ATTRIB
        | AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF
}

/// Names created, renamed and deleted in a directory, and the directory itself going away.
/// Not writes (the files' own watches see those), so that a log file appended to in the same
/// directory does not wake the daemon.
fn dir_events() -> AddWatchFlags {
    AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF
}

pub struct Watch {
    inotify: Option<Inotify>,
    files: Vec<PathBuf>,
    /// An event came since the last `take_changed`.
    dirty: bool,
    /// inotify is not enough for these files: report a possible change every time.
    always: bool,
}

impl Watch {
    /// Watches `files` (and their directories). Never fails: without inotify, every call to
    /// `take_changed` says "maybe changed".
    pub fn new(files: &[&Path]) -> Watch {
        let mut w = Watch {
            inotify: Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok(),
            files: files.iter().map(|f| f.to_path_buf()).collect(),
            dirty: true,
            always: false,
        };
        w.always = !w.watch_all();
        w
    }

    /// The descriptor to poll for readability, while events can tell changes.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.inotify.as_ref().map(|i| i.as_fd())
    }

    /// Reads the pending events (call when `fd` is readable).
    pub fn on_ready(&mut self) {
        let Some(inotify) = &self.inotify else {
            return;
        };
        let mut any = false;
        while let Ok(events) = inotify.read_events() {
            if events.is_empty() {
                break;
            }
            for e in events {
                if e.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                    self.always = true; // events were dropped
                }
                // Events about other names in the directory (a log file rotated there) are not
                // changes; events without a name are about a watched file or directory itself.
                any |= e.name.as_ref().is_none_or(|n| {
                    self.files
                        .iter()
                        .any(|f| f.file_name() == Some(n.as_os_str()))
                });
            }
        }
        if any {
            self.dirty = true;
            // Watch what is there now: a file replaced by a rename is a new inode, and a
            // watched directory that went away cannot be watched again (its watches just end).
            if !self.always && !self.watch_all() {
                self.always = true;
            }
        }
    }

    /// Whether the files may have changed since the last call: the caller should refresh them.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.dirty) || self.always
    }

    /// (Re)adds the watches; false when inotify cannot be relied on for some file.
    fn watch_all(&self) -> bool {
        let Some(inotify) = &self.inotify else {
            return false;
        };
        self.files.iter().all(|file| {
            let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) else {
                return false;
            };
            if !is_local(dir) || inotify.add_watch(dir, dir_events()).is_err() {
                return false;
            }
            match std::fs::symlink_metadata(file) {
                Ok(m) if m.file_type().is_symlink() => false,
                // The file itself (its inode): also sees changes made through another name.
                Ok(_) => inotify.add_watch(file.as_path(), file_events()).is_ok(),
                // Not there (yet): its directory reports its creation.
                Err(e) => e.kind() == std::io::ErrorKind::NotFound,
            }
        })
    }
}

/// Whether `dir` is on a file system whose changes all go through this kernel (so inotify sees
/// them).
fn is_local(dir: &Path) -> bool {
    use nix::sys::statfs::*;
    let Ok(fs) = statfs(dir) else {
        return false;
    };
    [
        EXT4_SUPER_MAGIC, // also ext2 and ext3
        BTRFS_SUPER_MAGIC,
        XFS_SUPER_MAGIC,
        TMPFS_MAGIC,
        F2FS_SUPER_MAGIC,
        REISERFS_SUPER_MAGIC,
    ]
    .contains(&fs.filesystem_type())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settle(w: &mut Watch) {
        w.on_ready();
        w.take_changed();
    }

    #[test]
    fn edits_creations_renames_and_deletions_are_seen_and_quiet_is_quiet() {
        let dir = tempfile::tempdir().unwrap();
        let allow = dir.path().join("hosts.allow");
        let deny = dir.path().join("hosts.deny");
        std::fs::write(&allow, "ALL: ALL\n").unwrap();
        let mut w = Watch::new(&[&allow, &deny]);
        assert!(w.take_changed(), "the first call always refreshes");
        if w.always {
            eprintln!("temporary directory not on a known local file system: nothing to test");
            return;
        }
        w.on_ready();
        assert!(!w.take_changed());

        std::fs::write(&allow, "ALL: 10.\n").unwrap();
        w.on_ready();
        assert!(w.take_changed(), "edit in place");
        settle(&mut w);
        assert!(!w.take_changed());

        std::fs::write(&deny, "ALL: ALL\n").unwrap();
        w.on_ready();
        assert!(w.take_changed(), "creation");
        settle(&mut w);

        let tmp = dir.path().join("new");
        std::fs::write(&tmp, "x\n").unwrap();
        w.on_ready();
        assert!(!w.take_changed(), "another file of the directory");
        std::fs::rename(&tmp, &allow).unwrap();
        w.on_ready();
        assert!(w.take_changed(), "replaced by a rename");
        settle(&mut w);

        // The file that replaced it is watched too.
        std::fs::write(&allow, "y\n").unwrap();
        w.on_ready();
        assert!(w.take_changed(), "edit of the new file");
        settle(&mut w);

        std::fs::set_permissions(&allow, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        w.on_ready();
        assert!(w.take_changed(), "permissions");
        settle(&mut w);

        std::fs::remove_file(&deny).unwrap();
        w.on_ready();
        assert!(w.take_changed(), "deletion");
    }

    #[test]
    fn a_symbolic_link_is_looked_at_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real");
        std::fs::write(&target, "ALL: ALL\n").unwrap();
        let link = dir.path().join("hosts.allow");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut w = Watch::new(&[&link]);
        for _ in 0..3 {
            w.on_ready();
            assert!(w.take_changed());
        }
    }
}
