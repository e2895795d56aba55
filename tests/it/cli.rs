//! The command line as a user meets it.
use crate::harness::run_superd;

#[test]
fn version_and_help() {
    let (code, out, _) = run_superd(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("superd "), "{out}");
    let (code, out, _) = run_superd(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("-dontfork") && out.contains("--foreground"),
        "{out}"
    );
}

#[test]
fn unknown_flag_is_an_error_with_a_suggestion() {
    let (code, _, err) = run_superd(&["-dontfrok"]);
    assert_ne!(code, 0);
    assert!(err.contains("-dontfork"), "{err}");
}

#[test]
fn unreadable_config_fails_with_the_path() {
    let (code, _, err) = run_superd(&["-dontfork", "-f", "/nonexistent/superd.conf"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/superd.conf"), "{err}");
}
