//! Reconfiguration (SIGHUP), RPC unregistration and the state dump (SIGUSR1).

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use super::Daemon;
use crate::config::model::Level;
use crate::limits::Cps;
use crate::runtime::{portmap, reload};
use crate::table::{Action, Service};

impl Daemon {
    pub(super) fn reload(&mut self) {
        self.close_reap_window();
        self.logs.daemon(Level::Notice, "reconfiguring (SIGHUP)");
        // Pick up a changed /etc/localtime or TZ for log stamps, daytime and the dump.
        crate::clock::reset_zone();
        let table = match crate::runtime::load_table(&self.settings) {
            Ok((table, _system)) => table,
            Err(msg) => {
                self.logs.daemon(
                    Level::Err,
                    &format!("reconfiguration failed: {msg}; keeping the current configuration"),
                );
                return;
            }
        };
        for d in &table.diagnostics {
            let level = if d.severity == crate::config::model::Severity::Error {
                Level::Err
            } else {
                Level::Warning
            };
            self.logs.daemon(level, &d.to_string());
        }
        let plan = reload::plan(self.services.iter().map(|(_, s)| &*s.def), &table);
        let mut new_defs: HashMap<String, Service> = table
            .services
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        self.logs.reopen();
        // id -> key, for this reload only (ids are unique in a table).
        let keys: HashMap<String, usize> = self
            .services
            .iter()
            .map(|(k, s)| (s.def.id.clone(), k))
            .collect();
        let key_of = |ids: &HashMap<String, usize>, id: &str| ids.get(id).copied();
        for id in plan.removed.iter().chain(&plan.reopened) {
            if let Some(key) = key_of(&keys, id) {
                self.close_service(key, true);
            }
        }
        for id in &plan.removed {
            if let Some(key) = key_of(&keys, id) {
                self.services.remove(key);
                self.logs
                    .daemon(Level::Notice, &format!("service {id} deactivated"));
            }
        }
        for id in &plan.kept_invalid {
            self.logs.daemon(
                Level::Warning,
                &format!("service {id}: new definition is invalid; keeping the previous one"),
            );
        }
        for id in plan
            .updated
            .iter()
            .chain(&plan.unchanged)
            .chain(&plan.reopened)
        {
            if let (Some(def), Some(key)) = (new_defs.remove(id), key_of(&keys, id)) {
                let log = self.logs.service_log(&def);
                let svc = &mut self.services[key];
                if svc.def.cps != def.cps {
                    svc.cps = Cps::for_service(def.cps, matches!(def.action, Action::Internal(_)));
                }
                svc.def = Rc::new(def);
                svc.log = log;
            }
        }
        for id in &plan.reopened {
            if let Some(key) = key_of(&keys, id) {
                self.open_socket(key);
            }
        }
        for id in &plan.added {
            if let Some(def) = new_defs.remove(id) {
                self.add_service(def);
            }
        }
        self.logs.forget_unused();
        crate::spawn::release_free_memory();
        let kept = plan.unchanged.len()
            + plan.updated.len()
            + plan.reopened.len()
            + plan.kept_invalid.len();
        self.logs.daemon(
            Level::Notice,
            &format!(
                "Reconfigured: new={} old={kept} dropped={} (services)",
                plan.added.len(),
                plan.removed.len()
            ),
        );
    }

    /// Removes every RPC registration (SIGQUIT; SIGTERM does it by closing the sockets).
    pub(super) fn unregister_rpc(&mut self) {
        for (_, svc) in self.services.iter() {
            if let (Some(_), Some((program, (low, high)))) = (&svc.socket, svc.def.rpc) {
                for v in low..=high {
                    let _ = portmap::unset(program, v);
                }
            }
        }
    }

    pub(super) fn write_dump(&mut self) {
        self.close_reap_window(); // the dump lists running servers
        let text = crate::runtime::dump::render(self.dump_view());
        let path = self.settings.dump_file.clone();
        match crate::runtime::dump::write(&path, &text) {
            Ok(()) => self.logs.daemon(
                Level::Notice,
                &format!("generated state dump in file {}", path.display()),
            ),
            Err(e) => self.logs.daemon(
                Level::Err,
                &format!("cannot write state dump {}: {e}", path.display()),
            ),
        }
    }

    pub(super) fn dump_view(&self) -> crate::runtime::dump::View<'_> {
        use crate::runtime::dump::{ChildView, ServiceView, View};
        View {
            started: self.started_wall,
            config_file: &self.settings.config_file,
            services: self
                .services
                .iter()
                .map(|(_, s)| ServiceView {
                    def: &s.def,
                    local: s
                        .socket
                        .as_ref()
                        .and_then(|x| x.local_addr().ok())
                        .and_then(|a| a.as_socket()),
                    active: s.socket.is_some(),
                    armed: s.armed,
                    running: s.running,
                    connections: s.connections,
                    cps_paused: s
                        .cps
                        .resume_at()
                        .map(|t| t.saturating_duration_since(Instant::now()).as_secs()),
                })
                .collect(),
            children: self
                .children
                .iter()
                .map(|(pid, c)| ChildView {
                    pid: *pid,
                    service: &c.def.id,
                    peer: c.peer,
                    started: c.started_wall,
                })
                .collect(),
            sessions: self.sessions.len(),
            forked: self.forked,
            denied: self
                .sensors
                .entries()
                .map(|(ip, t)| {
                    (
                        ip,
                        t.map(|t| t.saturating_duration_since(Instant::now()).as_secs()),
                    )
                })
                .collect(),
        }
    }
}
