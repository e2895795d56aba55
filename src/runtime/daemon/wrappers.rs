//! tcp_wrappers: hosts.allow/hosts.deny checked for services with a libwrap daemon name, and
//! the hosts_options(5) commands their rules carry.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use socket2::Socket;

use super::{Daemon, Who};
use crate::access::hosts;
use crate::config::model::Level;
use crate::listen;
use crate::runtime::logging::FailReason;
use crate::spawn;

impl Daemon {
    /// Re-reads hosts.allow/hosts.deny if they changed (logging their problems once per
    /// change). Called once per wake-up of a service that consults them, so edits apply to the
    /// next connections without a reload and without a `stat` per check.
    pub(super) fn refresh_hosts(&mut self) {
        for file in [&mut self.hosts_allow, &mut self.hosts_deny] {
            if file.refresh() {
                for d in &file.rules().diagnostics {
                    self.logs.daemon(Level::Warning, &d.to_string());
                }
            }
        }
    }

    /// What the current hosts.allow/hosts.deny rules need to know about clients.
    pub(super) fn hosts_needs(&self) -> hosts::Needs {
        hosts::Needs::of(self.hosts_allow.rules(), self.hosts_deny.rules())
    }

    /// hosts.allow / hosts.deny for a service that has a libwrap daemon name. `name` is the
    /// client's reverse name and `verified` whether it leads back to the address. A refusal is
    /// logged as xinetd logs it.
    pub(super) fn libwrap_allows(
        &mut self,
        key: usize,
        peer: SocketAddr,
        local_of: &Socket,
        who: Who<'_>,
        conn: Option<&Socket>,
    ) -> bool {
        let Who {
            name,
            verified,
            user,
        } = who;
        if self.services[key].def.libwrap_daemon().is_none() {
            return true;
        }
        // Empty (or absent) files, the usual case, let everyone in: decided without building
        // anything on the accept path.
        let empty = |r: &hosts::Rules| r.rules.is_empty() && r.fault.is_none();
        if empty(self.hosts_allow.rules()) && empty(self.hosts_deny.rules()) {
            return true;
        }
        let Some(daemon) = self.services[key].def.libwrap_daemon().map(str::to_owned) else {
            return true;
        };
        let local = local_of.local_addr().ok().and_then(|a| a.as_socket());
        let client = hosts::Client {
            addr: listen::unmap(peer).ip(),
            name: name.filter(|_| verified).map(str::to_owned),
            name_paranoid_mismatch: name.is_some() && !verified,
            user: user.map(str::to_owned),
        };
        let server = hosts::Server {
            daemon: daemon.clone(),
            addr: local.map(|a| listen::unmap(a).ip()),
            name: None,
        };
        let verdict = hosts::check(
            self.hosts_allow.rules(),
            self.hosts_deny.rules(),
            &client,
            &server,
        );
        let matched = verdict.matched();
        let error = matched.and_then(|m| m.error());
        let allowed = verdict.allowed();
        // hosts_options(5) commands: `spawn` runs beside the decision, `twist` replaces the
        // server (stdio on the client), whatever the verdict, as libwrap does.
        let cx = hosts::ExpansionContext {
            client: &client,
            server: &server,
            pid: std::process::id(),
            client_port: Some(peer.port()),
            server_port: local.map(|l| l.port()),
        };
        let mut spawns = Vec::new();
        let mut twist = None;
        for option in matched.map(|m| m.options()).unwrap_or_default() {
            match option {
                hosts::RuleOption::Spawn(cmd) => spawns.push(hosts::expand(cmd, &cx)),
                hosts::RuleOption::Twist(cmd) => twist = Some(hosts::expand(cmd, &cx)),
                _ => {}
            }
        }
        if let Some(err) = error {
            self.logs.daemon(Level::Err, &err);
        }
        for cmd in spawns {
            self.run_shell(key, &cmd, None);
        }
        if let Some(cmd) = twist {
            match conn {
                Some(conn) => self.run_shell(key, &cmd, Some(conn)),
                None => {
                    let msg = format!(
                        "service {}: 'twist' needs a connection; refusing the datagram",
                        self.services[key].def.id
                    );
                    self.logs.daemon(Level::Err, &msg);
                }
            }
            return false;
        }
        if allowed {
            return true;
        }
        let svc = &self.services[key];
        let msg = format!(
            "libwrap refused connection to {} (libwrap={daemon}) from {}",
            svc.def.id, client.addr
        );
        self.logs.daemon(Level::Info, &msg);
        self.logs
            .fail(&svc.log, &svc.def, FailReason::Libwrap, Some(peer));
        false
    }

    /// Runs `/bin/sh -c cmd` for a hosts_options `spawn` (stdio on /dev/null) or `twist`
    /// (stdio on the client's connection), as superd's own user, with a minimal PATH.
    pub(super) fn run_shell(&mut self, key: usize, cmd: &str, conn: Option<&Socket>) {
        let id = self.services[key].def.id.clone();
        let Ok(cmd_c) = std::ffi::CString::new(cmd) else {
            return;
        };
        let plan = spawn::ExecPlan {
            path: c"/bin/sh".into(),
            argv: vec![c"sh".into(), c"-c".into(), cmd_c],
            env: std::sync::Arc::from(vec![
                c"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
            ]),
            creds: None,
            nice: None,
            umask: None,
            rlimits: Vec::new(),
        };
        let devnull;
        let fd = match conn {
            Some(c) => {
                let _ = c.set_nonblocking(false);
                c.as_raw_fd()
            }
            None => match std::fs::File::open("/dev/null") {
                Ok(f) => {
                    devnull = f;
                    devnull.as_raw_fd()
                }
                Err(_) => return,
            },
        };
        match spawn::spawn(&plan, fd, None, &self.failures) {
            Ok(pid) => self.logs.debug(&format!(
                "service {id}: hosts_options command started as {pid}: {cmd}"
            )),
            Err(e) => self.logs.daemon(
                Level::Err,
                &format!("service {id}: cannot run hosts_options command: {e}"),
            ),
        }
    }
}
