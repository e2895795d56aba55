//! Integration tests: the real `superd` binary, real configuration files, real sockets on
//! loopback, real programs as servers. One test binary; topics are modules.

mod harness;

mod access;
mod cli;
mod config;
mod external;
mod hosts_access;
mod inetd;
mod inetd_compat;
mod internal;
mod libwrap;
mod lifecycle;
mod logging;
mod packages;
mod privileges;
mod redirect;
mod reload;
mod robustness;
mod rpc;
mod tcpmux;
mod xinetd_compat;
