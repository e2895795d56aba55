//! /etc/services, read directly: `name port/protocol [aliases...]` lines.
//!
//! superd parses the file itself instead of calling getservbyname(3) so that the file can be
//! chosen on the command line (`--services-file`, for tests and chroots) and so that a lookup
//! never depends on NSS modules. Lookups are by name or alias and protocol, case-sensitive like
//! the C library.

use std::collections::HashMap;
use std::path::Path;

#[derive(Clone, Debug, Default)]
pub struct Services {
    /// (name or alias, protocol) -> port
    by_name: HashMap<(String, String), u16>,
}

impl Services {
    pub fn load(path: &Path) -> std::io::Result<Services> {
        Ok(Services::parse(&std::fs::read_to_string(path)?))
    }

    pub fn parse(text: &str) -> Services {
        let mut by_name = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let (Some(name), Some(pp)) = (words.next(), words.next()) else {
                continue;
            };
            let Some((port, proto)) = pp.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            for n in std::iter::once(name).chain(words) {
                // The first entry for a name wins, as with getservbyname.
                by_name
                    .entry((n.to_string(), proto.to_string()))
                    .or_insert(port);
            }
        }
        Services { by_name }
    }

    pub fn port(&self, name: &str, protocol: &str) -> Option<u16> {
        self.by_name
            .get(&(name.to_string(), protocol.to_string()))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_aliases_and_protocols() {
        let s = Services::parse(
            "# comment\nechо 1/tcp\necho\t\t7/tcp\necho 7/udp\ndiscard 9/tcp sink null # x\nbad line\nx 99999/tcp\n",
        );
        assert_eq!(s.port("echo", "tcp"), Some(7));
        assert_eq!(s.port("echo", "udp"), Some(7));
        assert_eq!(s.port("sink", "tcp"), Some(9));
        assert_eq!(s.port("null", "tcp"), Some(9));
        assert_eq!(s.port("discard", "udp"), None);
        assert_eq!(s.port("x", "tcp"), None);
        assert_eq!(s.port("ECHO", "tcp"), None);
    }
}
