//! The command line as a user meets it (this test also makes `cargo test` build the binary
//! that the end-to-end tests in `tests/` start).

use std::process::Command;

fn hitkeep(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hitkeep")).args(args).output().unwrap()
}

#[test]
fn help_lists_the_commands() {
    let out = hitkeep(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for command in ["serve", "site", "demo"] {
        assert!(help.contains(command), "{help}");
    }
}

#[test]
fn site_commands_work_on_a_stopped_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let out = hitkeep(&["site", "--data-dir", data_dir, "add", "example.com", "--timezone", "Europe/Berlin"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = hitkeep(&["site", "--data-dir", data_dir, "list"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "DOMAIN       TIMEZONE\nexample.com  Europe/Berlin\n");
    let out = hitkeep(&["site", "--data-dir", data_dir, "remove", "nope.example"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}
