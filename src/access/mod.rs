//! Access control: who may use a service, decided before anything is started.
//!
//! Pure decisions over (service rules, peer address, time): `address` holds `only_from` /
//! `no_access` lists, `times` the `access_times` windows, `hosts` the hosts.allow/hosts.deny
//! language of tcp_wrappers. The event loop calls them with what it knows; none of them touch
//! sockets or processes.

pub mod address;
pub mod hosts;
pub mod times;
