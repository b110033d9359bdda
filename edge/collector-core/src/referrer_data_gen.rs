//! Generates `src/referrer_data.rs` from `data/*.tsv`, and checks that it is up to date.
//!
//! Regenerate after editing the data: `HITKEEP_BLESS=1 cargo test -p hitkeep-collector-core
//! referrer_data`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use crate::referrer::{Medium, google};
use crate::url::strip_www;

fn parse_medium(text: &str) -> Medium {
    match text {
        "search" => Medium::Search,
        "social" => Medium::Social,
        "video" => Medium::Video,
        "shopping" => Medium::Shopping,
        "email" => Medium::Email,
        "paid" => Medium::Paid,
        "referral" | "unknown" => Medium::Referral,
        other => panic!("unknown medium {other:?}"),
    }
}

fn rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| line.split('\t').collect())
}

fn generate() -> String {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let base = std::fs::read_to_string(data.join("referrers.tsv")).unwrap();
    let extra = std::fs::read_to_string(data.join("extra-sources.tsv")).unwrap();

    let mut renames = HashMap::new();
    let mut media = HashMap::new();
    let mut extra_hosts = Vec::new();
    let mut aliases = Vec::new();
    for row in rows(&extra) {
        match row.as_slice() {
            ["rename", old, new] => _ = renames.insert(*old, *new),
            ["medium", source, medium] => _ = media.insert(*source, parse_medium(medium)),
            ["host", host, medium, source] => extra_hosts.push((*host, parse_medium(medium), *source)),
            ["alias", alias, source] => aliases.push((*alias, *source)),
            other => panic!("bad line in extra-sources.tsv: {other:?}"),
        }
    }

    // host -> (source, medium); the first entry of a host wins within the base data.
    let mut hosts: BTreeMap<String, (&str, Medium)> = BTreeMap::new();
    for row in rows(&base) {
        let [host, medium, source] = row.as_slice() else { panic!("bad line in referrers.tsv: {row:?}") };
        // Path-specific entries (`google.de/imgres`) are not matched: referrers are looked up
        // by host. Google's country domains are matched by `referrer::google`.
        if host.contains('/') || (source.starts_with("Google") && google(strip_www(host)).is_some()) {
            continue;
        }
        let source = renames.get(source).copied().unwrap_or(source);
        let medium = parse_medium(medium);
        hosts.entry(strip_www(host).to_owned()).or_insert((source, medium));
    }
    for (host, medium, source) in extra_hosts {
        assert_eq!(host, strip_www(host), "extra hosts are written without www.");
        hosts.insert(host.to_owned(), (source, medium));
    }
    for (source, medium) in hosts.values_mut() {
        if let Some(forced) = media.get(source) {
            *medium = *forced;
        }
    }

    let sources: BTreeSet<(&str, Medium)> = hosts.values().copied().collect();
    let sources: Vec<(&str, Medium)> = sources.into_iter().collect();
    let id = |source: (&str, Medium)| sources.iter().position(|known| *known == source).unwrap();
    // A name with several media (Yandex search and Yandex mail) means the first medium in
    // `Medium` order when it comes as a utm_source.
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for (index, (name, _)) in sources.iter().enumerate() {
        names.entry(name.to_lowercase()).or_insert(index);
    }
    for (alias, name) in aliases {
        let index = names[&name.to_lowercase()];
        names.insert(alias.to_owned(), index);
    }
    assert!(sources.len() < usize::from(u16::MAX));

    let mut out = String::new();
    out.push_str(
        "//! Known referrer sources, generated from `data/referrers.tsv` and `data/extra-sources.tsv`\n\
         //! by `src/referrer_data_gen.rs`; do not edit (see `data/README.md`).\n\n\
         use crate::referrer::Medium::{self, *};\n\n",
    );
    writeln!(out, "/// Source names and their media; the `u16`s below index this table.").unwrap();
    writeln!(out, "pub(crate) static SOURCES: &[(&str, Medium)] = &[").unwrap();
    for (name, medium) in &sources {
        writeln!(out, "    ({name:?}, {medium:?}),").unwrap();
    }
    out.push_str("];\n\n");
    writeln!(out, "/// Referrer hosts without `www.`, sorted, with their source.").unwrap();
    writeln!(out, "pub(crate) static HOSTS: &[(&str, u16)] = &[").unwrap();
    for (host, source) in &hosts {
        writeln!(out, "    ({host:?}, {}),", id(*source)).unwrap();
    }
    out.push_str("];\n\n");
    writeln!(out, "/// Lower-case source names and `utm_source` aliases, sorted, with their source.")
        .unwrap();
    writeln!(out, "pub(crate) static NAMES: &[(&str, u16)] = &[").unwrap();
    for (name, index) in &names {
        writeln!(out, "    ({name:?}, {index}),").unwrap();
    }
    out.push_str("];\n");
    out
}

#[test]
fn referrer_data_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/referrer_data.rs");
    let generated = generate();
    if std::env::var_os("HITKEEP_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == generated,
        "src/referrer_data.rs is stale: run HITKEEP_BLESS=1 cargo test -p hitkeep-collector-core referrer_data"
    );
}
