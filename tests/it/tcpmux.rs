//! TCPMUX (RFC 1078, xinetd.md §5 #42): the tcpmux service hands a connection to the service
//! its client names.
use std::io::{Read, Write};
use std::time::Duration;

use crate::harness::*;

fn conf(port: u16, server: &std::path::Path) -> String {
    format!(
        "{LOG_DEFAULTS}service tcpmux\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = {port}\n\tbind = 127.0.0.1\n}}\nservice myplus\n{{\n\ttype = TCPMUXPLUS UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\twait = no\n\tuser = root\n\tserver = {s}\n}}\nservice myraw\n{{\n\ttype = TCPMUX UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\twait = no\n\tuser = root\n\tserver = {s}\n}}\n",
        s = server.display()
    )
}

fn ask(port: u16, line: &[u8]) -> Vec<u8> {
    let mut s = connect("127.0.0.1", port);
    s.write_all(line).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

#[test]
fn tcpmux_starts_the_named_service_and_answers_help_and_unknown_names() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    // The server reads what the client sent after the name line: nothing may be lost.
    let srv = script(dir.path(), "mux", "read line; echo \"got $line\"");
    let d = Daemon::start(&conf(port, &srv));
    assert_eq!(ask(port, b"myplus\r\nhello\n"), b"+Go\r\ngot hello\n");
    assert_eq!(
        ask(port, b"MYRAW\r\nhi\n"),
        b"got hi\n",
        "names are case-insensitive; TCPMUX sends no +Go"
    );
    assert_eq!(ask(port, b"nosuch\r\n"), b"-Service name not found\r\n");
    assert_eq!(
        ask(port, b"tcpmux\r\n"),
        b"-Service name not found\r\n",
        "only TCPMUX services are reachable"
    );
    let help = String::from_utf8(ask(port, b"help\r\n")).unwrap();
    assert!(
        help.contains("myplus\r\n") && help.contains("myraw\r\n"),
        "{help:?}"
    );
    d.wait_file("svc.log", "START: myplus pid=", Duration::from_secs(5));
}
