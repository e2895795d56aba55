//! Configuration: xinetd.conf text -> [`Config`] (typed services with spans, plus diagnostics).
//!
//! ```text
//! bytes --lexer--> lines of tokens --parser + attrs table--> entries --merge defaults--> Config
//! ```
//!
//! * `lexer`: line oriented, no quoting, whole-line `#` comments, CRLF tolerated.
//! * `attrs`: every xinetd.conf(5) attribute as one row of data (scope, operators, value count,
//!   value parser); `values`: the shared value syntax (numbers, sizes, addresses, times).
//! * `parser`: blocks, `include`/`includedir`, the generic checks, and the `defaults` merge.
//!
//! The stage is pure apart from reading the files: nothing is resolved (users, ports, hosts),
//! that is `table::build`'s job. It never fails on content: every problem becomes a
//! [`Diagnostic`](model::Diagnostic) with a span, a service with an error goes to
//! [`Config::rejected`](model::Config::rejected), and only an unreadable main file is an `Err`.
//!
//! Paths: a relative main path and relative `include`/`includedir` paths resolve against
//! `base_dir`, the daemon's working directory at start-up, not the current directory, so a reload
//! after the daemon has done `chdir("/")` reads the same files (xinetd then fails to reload).
//!
//! Compatibility: the language is xinetd 2.3.15's, case-insensitive keywords and all. Where
//! xinetd silently does something harmful, superd reports an error instead; the differences are
//! listed in the README and in the tests named `*_unlike_xinetd`.

pub mod inetd;
pub mod model;

mod attrs;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;
mod values;

use std::path::{Path, PathBuf};

use model::Config;
use parser::Loader;

/// The main configuration file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read configuration file {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// Read the configuration file `path` and everything it includes.
///
/// `base_dir` is the directory relative paths resolve against: `path` itself if relative, and
/// the paths of `include` and `includedir`. Pass the daemon's start-up working directory.
/// Problems inside the files (including missing include files, include cycles and includes
/// nested more than 16 deep) are reported in [`Config::diagnostics`]; the only error is a main
/// file that cannot be read.
pub fn load(path: &Path, base_dir: &Path) -> Result<Config, LoadError> {
    let path = base_dir.join(path);
    let bytes = std::fs::read(&path).map_err(|error| LoadError::Read {
        path: path.clone(),
        error,
    })?;
    let mut loader = Loader::new(base_dir);
    loader.parse_file(&path, &bytes);
    Ok(loader.finish())
}

/// Parse configuration text as if read from a file named `file_name` (used in spans).
///
/// For tests and fuzzing. `include` and `includedir` in `text` still read from disk, relative to
/// `base_dir`. `file_name` is not added to [`Config::files`], since nothing was read.
pub fn parse_str(text: &str, file_name: &str, base_dir: &Path) -> Config {
    let mut loader = Loader::new(base_dir);
    loader.parse_main(text, file_name);
    loader.finish()
}
