//! Names of countries and regions for their ISO codes (what the edge's GeoIP lookup
//! stores), from Debian's iso-codes tables in `aggregator/store/data/`.

use std::collections::HashMap;
use std::sync::LazyLock;

fn table(text: &'static str) -> Vec<(&'static str, &'static str)> {
    text.lines().filter(|line| !line.starts_with('#')).filter_map(|line| line.split_once('\t')).collect()
}

static COUNTRIES: LazyLock<Vec<(&'static str, &'static str)>> =
    LazyLock::new(|| table(include_str!("../../data/countries.tsv")));
static REGIONS: LazyLock<Vec<(&'static str, &'static str)>> =
    LazyLock::new(|| table(include_str!("../../data/regions.tsv")));
static COUNTRY_NAMES: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| COUNTRIES.iter().copied().collect());
static REGION_NAMES: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| REGIONS.iter().copied().collect());

/// The English name of an ISO 3166-1 alpha-2 country code (`DE`: `Germany`).
pub fn country_name(code: &str) -> Option<&'static str> {
    COUNTRY_NAMES.get(code).copied()
}

/// The name of an ISO 3166-2 region code (`DE-BE`: `Berlin`).
pub fn region_name(code: &str) -> Option<&'static str> {
    REGION_NAMES.get(code).copied()
}

/// Every country: (code, name).
pub(crate) fn countries() -> &'static [(&'static str, &'static str)] {
    &COUNTRIES
}

/// Every region: (code, name).
pub(crate) fn regions() -> &'static [(&'static str, &'static str)] {
    &REGIONS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_codes() {
        assert_eq!(country_name("DE"), Some("Germany"));
        assert_eq!(country_name("US"), Some("United States"));
        assert_eq!(region_name("DE-BE"), Some("Berlin"));
        assert_eq!(country_name("XX"), None);
        assert!(countries().len() > 240 && regions().len() > 5000);
    }
}
