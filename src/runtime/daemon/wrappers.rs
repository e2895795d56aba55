//! tcp_wrappers: hosts.allow/hosts.deny checked for services with a libwrap daemon name, and
//! the hosts_options(5) commands their rules carry.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use socket2::Socket;

use super::{Daemon, Who};
use crate::access::hosts;
use crate::config::model::{Facility, Level};
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
    /// client's reverse name and `verified` whether it leads back to the address. The matched
    /// rule's hosts_options(5) are carried out in their order; what they change for the server
    /// (`setenv`, `umask`, `user`, `group`, `nice`) comes back with the grant. A refusal is logged
    /// as xinetd logs it.
    pub(super) fn libwrap_allows(
        &mut self,
        key: usize,
        peer: SocketAddr,
        local_of: &Socket,
        who: Who<'_>,
        conn: Option<&Socket>,
    ) -> Wrapped {
        let Who {
            name,
            verified,
            user,
        } = who;
        if self.services[key].def.libwrap_daemon().is_none() {
            return Wrapped::Allowed(None);
        }
        // Empty (or absent) files, the usual case, let everyone in: decided without building
        // anything on the accept path.
        let empty = |r: &hosts::Rules| r.rules.is_empty() && r.fault.is_none();
        if empty(self.hosts_allow.rules()) && empty(self.hosts_deny.rules()) {
            return Wrapped::Allowed(None);
        }
        let Some(daemon) = self.services[key].def.libwrap_daemon().map(str::to_owned) else {
            return Wrapped::Allowed(None);
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
        let mut allowed = verdict.allowed();
        let options = matched.map(|m| m.options().to_vec()).unwrap_or_default();
        if let Some(err) = error {
            self.logs.daemon(Level::Err, &err);
        }
        // hosts_options(5), in order, as libwrap carries them out in the process that becomes
        // the server: `spawn` and `twist` see the changes made before them.
        let cx = hosts::ExpansionContext {
            client: &client,
            server: &server,
            pid: std::process::id(),
            client_port: Some(peer.port()),
            server_port: local.map(|l| l.port()),
        };
        let mut adjust = Adjust::default();
        let mut severity = (None, Level::Info);
        for option in &options {
            match option {
                hosts::RuleOption::Spawn(cmd) => {
                    let cmd = hosts::expand(cmd, &cx);
                    self.run_shell(key, &cmd, None, &adjust);
                }
                hosts::RuleOption::Twist(cmd) => {
                    let cmd = hosts::expand(cmd, &cx);
                    match conn {
                        Some(conn) => self.run_shell(key, &cmd, Some(conn), &adjust),
                        None => {
                            let msg = format!(
                                "service {}: 'twist' needs a connection; refusing the datagram",
                                self.services[key].def.id
                            );
                            self.logs.daemon(Level::Err, &msg);
                        }
                    }
                    // The command replaced the server: nothing else is started.
                    return Wrapped::Refused;
                }
                hosts::RuleOption::Setenv { name, value } => {
                    let name = hosts::expand(name, &cx);
                    let value = hosts::expand(value, &cx);
                    adjust.env.retain(|(n, _)| *n != name);
                    adjust.env.push((name, value.trim().to_string()));
                }
                hosts::RuleOption::Umask(m) => adjust.umask = Some(*m),
                hosts::RuleOption::Nice(n) => adjust.nice = Some(*n),
                hosts::RuleOption::User { user, group } => {
                    match credentials(user, group.as_deref()) {
                        Ok(c) => adjust.creds = c.or(adjust.creds.take()),
                        Err(e) => {
                            self.logs.daemon(Level::Err, &format!("{daemon}: {e}"));
                            allowed = false;
                            break; // libwrap: a failed option ends the connection
                        }
                    }
                }
                hosts::RuleOption::Group(group) => match group_id(group) {
                    Ok(gid) if !nix::unistd::geteuid().is_root() => {
                        if gid != nix::unistd::getgid().as_raw() {
                            let msg = format!(
                                    "{daemon}: cannot change to group {group}: superd is not running as root"
                                );
                            self.logs.daemon(Level::Err, &msg);
                            allowed = false;
                            break;
                        }
                    }
                    Ok(gid) => {
                        let c = adjust.creds.get_or_insert_with(own_credentials);
                        c.gid = gid;
                    }
                    Err(e) => {
                        self.logs.daemon(Level::Err, &format!("{daemon}: {e}"));
                        allowed = false;
                        break;
                    }
                },
                hosts::RuleOption::Keepalive => {
                    if let Some(c) = conn {
                        let _ = c.set_keepalive(true);
                    }
                }
                hosts::RuleOption::Linger(secs) => {
                    if let Some(c) = conn {
                        let secs = u64::try_from(*secs).unwrap_or(0);
                        let _ = c.set_linger(Some(std::time::Duration::from_secs(secs)));
                    }
                }
                hosts::RuleOption::Banners(dir) => {
                    if let Some(c) = conn {
                        if let Some(text) = banner_text(dir, &daemon, &cx) {
                            listen::send_banner(c, &text);
                        }
                    }
                }
                hosts::RuleOption::Severity { facility, level } => {
                    severity = (
                        facility.and_then(Facility::from_name),
                        Level::from_name(level).unwrap_or(severity.1),
                    );
                }
                // Asked before the check (`Needs::client_user`): the user is already known.
                hosts::RuleOption::Rfc931(_) => {}
                hosts::RuleOption::Aclexec(cmd) => {
                    // Not carried out (README): refusing is the safe reading of a rule that
                    // wanted a command to approve the client.
                    let msg = format!(
                        "{daemon}: 'aclexec {cmd}' is not supported; refusing the connection"
                    );
                    self.logs.daemon(Level::Err, &msg);
                    allowed = false;
                    break;
                }
                hosts::RuleOption::Allow | hosts::RuleOption::Deny => {}
            }
        }
        if allowed {
            return Wrapped::Allowed((!adjust.is_empty()).then(|| Box::new(adjust)));
        }
        // A refused datagram is logged once a minute per sender.
        if conn.is_none() && !self.dgram_gate.pass(peer, std::time::Instant::now()) {
            return Wrapped::Refused;
        }
        let svc = &self.services[key];
        let msg = format!(
            "libwrap refused connection to {} (libwrap={daemon}) from {}",
            svc.def.id, client.addr
        );
        self.logs.daemon_with_facility(severity.0, severity.1, &msg);
        self.logs
            .fail(&svc.log, &svc.def, FailReason::Libwrap, Some(peer));
        Wrapped::Refused
    }

    /// Runs `/bin/sh -c cmd` for a hosts_options `spawn` (stdio on /dev/null) or `twist`
    /// (stdio on the client's connection), as superd's own user with a minimal PATH, changed
    /// by the rule's options that came before it.
    pub(super) fn run_shell(
        &mut self,
        key: usize,
        cmd: &str,
        conn: Option<&Socket>,
        adjust: &Adjust,
    ) {
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
        let plan = std::sync::Arc::new(adjust.apply(&plan));
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

/// The verdict of hosts.allow/hosts.deny for one client.
pub(super) enum Wrapped {
    Refused,
    /// Let in; with the changes the matched rule's options make to the server, if any.
    Allowed(Option<Box<Adjust>>),
}

impl Wrapped {
    pub(super) fn allowed(&self) -> bool {
        matches!(self, Wrapped::Allowed(_))
    }
}

/// What hosts_options(5) change for the process a rule lets in: `setenv` (last value of a name
/// wins), `umask`, `nice`, and `user`/`group` (which replace the service's own user and group,
/// with no supplementary groups, as libwrap's `setgid`+`setuid` leave them).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Adjust {
    env: Vec<(String, String)>,
    umask: Option<u32>,
    nice: Option<i32>,
    creds: Option<spawn::Credentials>,
}

impl Adjust {
    fn is_empty(&self) -> bool {
        *self == Adjust::default()
    }

    /// `plan` with these changes made.
    pub(super) fn apply(&self, plan: &spawn::ExecPlan) -> spawn::ExecPlan {
        let mut out = plan.clone();
        if !self.env.is_empty() {
            let mut env: Vec<std::ffi::CString> = plan
                .env
                .iter()
                .filter(|e| {
                    let name = e.to_bytes().split(|b| *b == b'=').next().unwrap_or(&[]);
                    !self.env.iter().any(|(n, _)| n.as_bytes() == name)
                })
                .cloned()
                .collect();
            env.extend(
                self.env
                    .iter()
                    .filter_map(|(n, v)| std::ffi::CString::new(format!("{n}={v}")).ok()),
            );
            out.env = std::sync::Arc::from(env);
        }
        if self.umask.is_some() {
            out.umask = self.umask;
        }
        if self.nice.is_some() {
            out.nice = self.nice;
        }
        if self.creds.is_some() {
            out.creds = self.creds.clone();
        }
        out
    }
}

/// superd's own user and group, the base a `group` option changes.
fn own_credentials() -> spawn::Credentials {
    spawn::Credentials {
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        groups: Vec::new(),
    }
}

/// The credentials of hosts_options `user name[.group]` (names or numbers). Only root can
/// become another user; for anyone else the option fails, as libwrap's `setuid` would, unless
/// it names superd's own user (nothing to change: `None`).
fn credentials(user: &str, group: Option<&str>) -> Result<Option<spawn::Credentials>, String> {
    let Some(pw) = crate::table::find_user(user) else {
        return Err(format!("unknown user: \"{user}\""));
    };
    let gid = match group {
        Some(g) => group_id(g)?,
        None => pw.gid.as_raw(),
    };
    if !nix::unistd::geteuid().is_root() {
        if pw.uid == nix::unistd::geteuid() && gid == nix::unistd::getgid().as_raw() {
            return Ok(None);
        }
        return Err(format!(
            "cannot become user {user}: superd is not running as root"
        ));
    }
    Ok(Some(spawn::Credentials {
        uid: pw.uid.as_raw(),
        gid,
        groups: Vec::new(),
    }))
}

fn group_id(group: &str) -> Result<libc::gid_t, String> {
    use nix::unistd::{Gid, Group};
    let gr = match group.parse::<u32>() {
        Ok(n) => Group::from_gid(Gid::from_raw(n)).ok().flatten(),
        Err(_) => Group::from_name(group).ok().flatten(),
    };
    match gr {
        Some(gr) => Ok(gr.gid.as_raw()),
        None => Err(format!("unknown group: \"{group}\"")),
    }
}

/// The text a `banners DIR` option sends: `DIR/<daemon>` with `%` sequences expanded and each
/// newline sent as CR LF, at most 64 KiB of the file; `None` when the file cannot be read (as
/// libwrap, which then sends nothing).
fn banner_text(
    dir: &std::path::Path,
    daemon: &str,
    cx: &hosts::ExpansionContext,
) -> Option<Vec<u8>> {
    use std::io::Read;
    let path = dir.join(daemon);
    let mut raw = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(64 * 1024)
        .read_to_end(&mut raw)
        .ok()?;
    let text = hosts::expand(&String::from_utf8_lossy(&raw), cx);
    let mut out = Vec::with_capacity(text.len() + 16);
    for line in text.split_inclusive('\n') {
        match line.strip_suffix('\n') {
            Some(l) => {
                out.extend_from_slice(l.strip_suffix('\r').unwrap_or(l).as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            None => out.extend_from_slice(line.as_bytes()),
        }
    }
    Some(out)
}
