//! Forked servers: exec failures reported by the child, reaping, `wait = yes` respawn-loop
//! throttling, and stopping them all at exit.

use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::{readable_now, Daemon, Timer, LOOP_STRIKES, QUICK_EXIT, REAP_DELAY};
use crate::config::model::{Level, SocketType};
use crate::listen;
use crate::spawn::{self, Exit};
use crate::table::Action;

impl Daemon {
    pub(super) fn read_failures(&mut self) {
        for f in self.failures.drain() {
            let msg = match self.children.get(&f.pid) {
                Some(c) => {
                    let path = match &c.def.action {
                        Action::Exec(p) => p.path.clone(),
                        _ => Default::default(),
                    };
                    let why = spawn::describe(f.step, &path, f.errno);
                    format!(
                        "service {}: server {} could not start: {why}",
                        c.def.id, f.pid
                    )
                }
                None => format!(
                    "server {} could not start: {} failed: {}",
                    f.pid,
                    f.step.name(),
                    f.error()
                ),
            };
            self.logs.daemon(Level::Err, &msg);
        }
    }

    /// SIGCHLD: a child exited. Its exit is acted on at once (logged, its slot freed). Then,
    /// unless exits are urgent (see `exits_are_urgent`), the signal is left pending for
    /// [`REAP_DELAY`]: further exits meanwhile do not wake the loop (a pending SIGCHLD is not
    /// queued again). They are reaped when the window closes, before any admission decision
    /// that a server count would refuse (so limits count live servers only), and after every
    /// `REAP_BATCH` spawns. A server's exit is seen at most `REAP_DELAY` late; with one client
    /// at a time this saves a wake-up of the loop per connection, and the exits of a window are
    /// reaped together.
    pub(super) fn on_child_exit(&mut self) {
        if self.exits_are_urgent() {
            self.signals.take_child_exit(); // before reaping, so no later exit goes unannounced
        } else if !self.reap_window {
            self.reap_window = true;
            self.later(REAP_DELAY, Timer::Reap);
        }
        self.reap();
    }

    /// Whether an exit must be acted on at once: a `wait = yes` service listens again, a
    /// deferred service accepts again, and a connection superd still holds for a child that
    /// shared its descriptor table ends, only when superd sees the exit.
    fn exits_are_urgent(&self) -> bool {
        self.wait_servers > 0
            || self.failures.holds_connections()
            || self.services.iter().any(|(_, s)| s.deferred)
    }

    /// Reaps exits that may have gone unannounced, before a decision that counts servers.
    pub(super) fn reap_unannounced(&mut self) {
        if self.reap_window && !self.children.is_empty() {
            self.reap();
        }
    }

    /// Ends the reap window: the next exit wakes the loop again.
    pub(super) fn close_reap_window(&mut self) {
        if std::mem::take(&mut self.reap_window) {
            self.window_spawns = 0;
            self.signals.take_child_exit(); // first, so that no later exit goes unannounced
            self.reap();
        }
    }

    pub(super) fn reap(&mut self) {
        let exits = spawn::reap();
        // A child that could not start wrote its report before exiting with 1 or 127: read
        // the reports first, so that they are matched to their services.
        if exits
            .iter()
            .any(|(_, e)| matches!(e, Exit::Status(1 | 127)))
        {
            self.read_failures();
        }
        for (pid, exit) in exits {
            let Some(child) = self.children.remove(&pid.as_raw()) else {
                self.logs
                    .debug(&format!("unknown child process {pid} exited"));
                continue;
            };
            self.forked = self.forked.saturating_sub(1);
            if child.wait_yes {
                self.wait_servers = self.wait_servers.saturating_sub(1);
            }
            let lifetime = child.started.elapsed();
            self.logs
                .exit(&child.log, &child.def, pid.as_raw(), exit, lifetime);
            if !self.live(child.key, child.serial) {
                continue; // its socket was replaced or its service removed
            }
            let svc = &mut self.services[child.key];
            svc.running = svc.running.saturating_sub(1);
            if let Some(p) = child.peer {
                svc.sources.decrement(p.ip());
            }
            if child.wait_yes {
                self.after_wait_server(child.key, lifetime);
            } else {
                self.slot_freed(child.key);
            }
        }
    }

    /// Re-arms a `wait = yes` service, unless its server keeps exiting without consuming its
    /// input, in which case superd pauses the service with a growing delay instead of
    /// respawning in a tight loop.
    pub(super) fn after_wait_server(&mut self, key: usize, lifetime: Duration) {
        let Some(svc) = self.services.get_mut(key) else {
            return;
        };
        let Some(sock) = svc.socket.clone() else {
            return;
        };
        let dgram = svc.def.listen.socket_type == SocketType::Dgram;
        let pending = if dgram {
            matches!(listen::peek_peer(&sock), Ok(Some(_)))
        } else {
            readable_now(&sock)
        };
        if lifetime < QUICK_EXIT && pending {
            svc.strikes += 1;
        } else {
            svc.strikes = 0;
            svc.pause = Duration::ZERO;
        }
        if svc.strikes < LOOP_STRIKES {
            self.arm(key);
            return;
        }
        svc.pause = (svc.pause * 2).clamp(Duration::from_secs(1), Duration::from_secs(60));
        let (pause, strikes) = (svc.pause, svc.strikes);
        svc.strikes = 0;
        let mut dropped = "";
        if dgram {
            // Drop the datagram the server keeps failing on.
            let mut b = [0u8; 1];
            if matches!(listen::recv_dgram(&sock, &mut b), Ok(Some(_))) {
                dropped = "; the datagram it did not read was discarded";
            }
        }
        let msg = format!(
            "service {}: server exited {strikes} times in a row without reading its input; \
             respawn loop, pausing the service for {} s{dropped}",
            svc.def.id,
            pause.as_secs()
        );
        self.logs.daemon(Level::Err, &msg);
        self.pause(key, pause);
    }

    /// SIGTERM (or SIGINT in the foreground, named in `signal`): close every socket, ask every
    /// server to stop, wait a little, then insist.
    pub(super) fn terminate(&mut self, signal: &str) {
        let keys: Vec<usize> = self.services.iter().map(|(k, _)| k).collect();
        for key in keys {
            self.close_service(key, false);
        }
        let sessions: Vec<usize> = self.sessions.iter().map(|(k, _)| k).collect();
        for k in sessions {
            self.end_session(k);
        }
        let mut pids: Vec<Pid> = self.children.keys().map(|p| Pid::from_raw(*p)).collect();
        self.logs.daemon(
            Level::Notice,
            &format!(
                "exiting on {signal}; stopping {} running servers",
                pids.len()
            ),
        );
        for pid in &pids {
            spawn::signal(*pid, Signal::SIGTERM);
        }
        let reaped = spawn::wait_all(&mut pids, Duration::from_secs(3));
        self.log_reaped(reaped);
        for pid in &pids {
            self.logs.daemon(
                Level::Warning,
                &format!("server {pid} ignored SIGTERM; sending SIGKILL"),
            );
            spawn::signal(*pid, Signal::SIGKILL);
        }
        let reaped = spawn::wait_all(&mut pids, Duration::from_secs(2));
        self.log_reaped(reaped);
    }

    pub(super) fn log_reaped(&mut self, reaped: Vec<(Pid, Exit)>) {
        for (pid, exit) in reaped {
            if let Some(c) = self.children.remove(&pid.as_raw()) {
                self.logs
                    .exit(&c.log, &c.def, pid.as_raw(), exit, c.started.elapsed());
            }
        }
    }
}
