//! Reload planning: (running services, new table) → what to keep, update, reopen, add, remove.
//!
//! Pure. Services are matched by `id`, as xinetd does. A service whose socket would be opened
//! the same way keeps its socket (no connection is refused during a reload) and its running
//! servers; one whose address, port, protocol or `wait` changed gets a new socket and its old
//! servers are stopped. A service whose new definition is invalid keeps running on its old one.

use std::collections::HashSet;

use crate::table::{Service, ServiceTable};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReloadPlan {
    /// Same definition: nothing to do.
    pub unchanged: Vec<String>,
    /// New definition, same socket: swap the definition in.
    pub updated: Vec<String>,
    /// Socket changed: close the old one (stopping its servers), open the new one.
    pub reopened: Vec<String>,
    /// No longer configured: close, stop servers.
    pub removed: Vec<String>,
    /// New ids.
    pub added: Vec<String>,
    /// The new definition is invalid: keep the old one running.
    pub kept_invalid: Vec<String>,
}

pub fn plan<'a>(running: impl IntoIterator<Item = &'a Service>, new: &ServiceTable) -> ReloadPlan {
    let mut p = ReloadPlan::default();
    let mut seen = HashSet::new();
    let rejected: HashSet<&str> = new.rejected.iter().map(String::as_str).collect();
    for old in running {
        seen.insert(old.id.as_str());
        match new.services.iter().find(|s| s.id == old.id) {
            Some(n) if n == old => p.unchanged.push(old.id.clone()),
            Some(n) if n.listen == old.listen && n.wait == old.wait && n.rpc == old.rpc => {
                p.updated.push(old.id.clone())
            }
            Some(_) => p.reopened.push(old.id.clone()),
            None if rejected.contains(old.id.as_str()) => p.kept_invalid.push(old.id.clone()),
            None => p.removed.push(old.id.clone()),
        }
    }
    for n in &new.services {
        if !seen.contains(n.id.as_str()) {
            p.added.push(n.id.clone());
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::{FailureFlags, Limit, SocketType, SuccessFlags};
    use crate::internal::Builtin;
    use crate::listen::ListenSpec;
    use crate::table::Action;

    fn svc(id: &str, port: u16, b: Builtin) -> Service {
        Service {
            id: id.into(),
            name: id.into(),
            listen: ListenSpec {
                addr: ([127, 0, 0, 1], port).into(),
                socket_type: SocketType::Stream,
                v6only: false,
                nodelay: false,
                keepalive: false,
                nonblocking: true,
            },
            wait: false,
            action: Action::Internal(b),
            instances: Limit::Unlimited,
            per_source: Limit::Unlimited,
            defer: false,
            cps: None,
            max_load: None,
            access_rules: None,
            libwrap: crate::table::Libwrap::Off,
            banner_files: None,
            sensor: None,
            idonly: false,
            mux: None,
            rpc: None,
            log_type: None,
            log_on_success: SuccessFlags::default(),
            log_on_failure: FailureFlags::default(),
        }
    }

    #[test]
    fn matches_by_id_and_keeps_sockets_of_unchanged_addresses() {
        let old = [
            svc("same", 1, Builtin::Echo),
            svc("newdef", 2, Builtin::Echo),
            svc("moved", 3, Builtin::Echo),
            svc("gone", 4, Builtin::Echo),
            svc("broken", 5, Builtin::Echo),
        ];
        let new = ServiceTable {
            services: vec![
                svc("same", 1, Builtin::Echo),
                svc("newdef", 2, Builtin::Daytime),
                svc("moved", 30, Builtin::Echo),
                svc("fresh", 6, Builtin::Echo),
            ],
            rejected: vec!["broken".into()],
            diagnostics: vec![],
        };
        let p = plan(&old, &new);
        assert_eq!(p.unchanged, ["same"]);
        assert_eq!(p.updated, ["newdef"]);
        assert_eq!(p.reopened, ["moved"]);
        assert_eq!(p.removed, ["gone"]);
        assert_eq!(p.kept_invalid, ["broken"]);
        assert_eq!(p.added, ["fresh"]);
    }
}
