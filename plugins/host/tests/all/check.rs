//! `check_file`, the library side of `hitkeep plugin check FILE`.

use std::path::Path;

use hitkeep_plugins::{Error, FailureKind, LoadError, SampleOutcome, check_file, fixtures, sample_hits};

#[test]
fn a_good_plugin_passes_and_the_report_shows_its_changes() {
    let report = check_file(Path::new(fixtures::URL_NORMALIZER), "{}", &sample_hits()).unwrap();
    assert!(report.passed(), "{report}");
    assert_eq!(report.plugin, "hitkeep_url_normalizer");
    assert_eq!(report.samples.len(), sample_hits().len());
    match &report.samples[0].1 {
        SampleOutcome::Changed { hit, changes } => {
            assert_eq!(hit.path, "/users/:id/profile");
            assert_eq!(changes, &["path: \"/users/12345/profile\" → \"/users/:id/profile\""]);
        }
        other => panic!("sample 0: {other:?}"),
    }
    assert_eq!(report.samples[1].1, SampleOutcome::Unchanged);
    assert!(report.imports.iter().any(|import| import.starts_with("wasi:cli/")), "{:?}", report.imports);
    let text = report.to_string();
    assert!(text.contains("#0   pageview example.com/users/12345/profile: changed"), "{text}");
    assert!(text.ends_with("ok"), "{text}");
}

#[test]
fn a_plugin_that_fails_on_samples_does_not_pass() {
    let report =
        check_file(Path::new(fixtures::GARBAGE), r#"{"mode": "bad_channel"}"#, &sample_hits()).unwrap();
    assert!(!report.passed());
    assert!(report.samples.iter().all(|(_, outcome)| matches!(
        outcome,
        SampleOutcome::Failed { kind: FailureKind::BadOutput, detail } if detail.contains("unknown channel")
    )));
    assert!(report.to_string().ends_with("FAILED on some samples"));

    let report = check_file(Path::new(fixtures::PANICKER), "{}", &sample_hits()).unwrap();
    assert!(report.passed(), "no sample holds `boom`");
}

#[test]
fn what_cannot_load_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm\x01\0\0\0").unwrap();
    assert!(matches!(check_file(&junk, "{}", &[]), Err(Error::Load { source: LoadError::Compile(_), .. })));
    assert!(matches!(
        check_file(&dir.path().join("none.wasm"), "{}", &[]),
        Err(Error::Load { source: LoadError::Read(_), .. })
    ));
    assert!(matches!(
        check_file(Path::new(fixtures::GARBAGE), "{}", &[]),
        Err(Error::Load { source: LoadError::Refused(message), .. }) if message == "`mode` is required"
    ));
    assert!(matches!(check_file(Path::new(fixtures::NOOP), "not json", &[]), Err(Error::Config(_))));
    let mut invalid = sample_hits();
    invalid[0].path = "relative".into();
    assert!(matches!(check_file(Path::new(fixtures::NOOP), "{}", &invalid), Err(Error::Config(_))));
}
