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

#[test]
fn reports_and_alerts_are_managed_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--data-dir", data_dir]);
        let out = hitkeep(&all);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    assert!(run(&["site", "add", "shop.example"]).0);
    let (ok, out) = run(&[
        "report",
        "add",
        "shop.example",
        "Ada@Example.com",
        "--frequency",
        "monthly",
        "--language",
        "de",
    ]);
    assert!(ok, "{out}");
    assert_eq!(out, "ada@example.com gets the monthly report of shop.example in de (id 1)\n");
    let (ok, out) = run(&["report", "add", "shop.example", "ada@example.com", "--frequency", "monthly"]);
    assert!(!ok && out.contains("mailing_exists"), "{out}");
    let (ok, out) = run(&["report", "add", "shop.example", "bob@example.com", "--language", "nl"]);
    assert!(!ok && out.contains("invalid_language"), "{out}");
    let (ok, out) = run(&["alert", "add", "shop.example", "ops@example.com", "--traffic-drop", "40"]);
    assert!(ok, "{out}");
    let (ok, out) = run(&["alert", "add", "shop.example", "ops@example.com", "--traffic-drop", "140"]);
    assert!(!ok && out.contains("invalid_alert"), "{out}");
    let (_, out) = run(&["report", "list", "shop.example"]);
    assert_eq!(out, "ID  EMAIL            FREQUENCY  LANGUAGE\n1   ada@example.com  monthly    de\n");
    let (_, out) = run(&["alert", "list", "shop.example"]);
    assert!(out.contains("a day falls below 40% of the usual") && out.contains("quiet"), "{out}");
    assert!(run(&["report", "remove", "shop.example", "1"]).0);
    let (ok, out) = run(&["report", "remove", "shop.example", "1"]);
    assert!(!ok && out.contains("mailing_not_found"), "{out}");
    let (_, out) = run(&["report", "list", "shop.example", "--json"]);
    assert_eq!(out.trim(), "[]");
}
