//! The `superd` binary: parse the command line, then hand over to the library.
fn main() -> std::process::ExitCode {
    superd::runtime::main_entry(std::env::args_os().skip(1).collect())
}
