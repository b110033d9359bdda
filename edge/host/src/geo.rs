//! Where the client is: country, region and city from a MaxMind-format database, and the
//! country from a CDN header when the request came through a trusted proxy.
//!
//! Any database in the GeoIP2/GeoLite2 City or Country layout works (DB-IP's lite databases
//! use it too): `country.iso_code`, `subdivisions[0].iso_code`, `city.names.en`. Only the
//! derived place leaves this module, never the address.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

/// A place, as the component's `x-hitkeep-geo-*` headers carry it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
    /// ISO 3166-2 (`DE-BE`).
    pub region: Option<String>,
    /// City name (English).
    pub city: Option<String>,
}

/// An open GeoIP database.
pub(crate) struct GeoDb {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb").field("database_type", &self.reader.metadata().database_type).finish()
    }
}

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow, default)]
    country: Option<Named<'a>>,
    #[serde(borrow, default)]
    subdivisions: Option<Vec<Named<'a>>>,
    #[serde(borrow, default)]
    city: Option<Named<'a>>,
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
    #[serde(borrow, default)]
    names: Option<BTreeMap<&'a str, &'a str>>,
}

impl GeoDb {
    /// Reads a `.mmdb` file into memory.
    pub(crate) fn open(path: &Path) -> Result<Self, maxminddb::MaxMindDbError> {
        Ok(Self { reader: maxminddb::Reader::open_readfile(path)? })
    }

    /// The place of an address; empty when unknown.
    pub(crate) fn lookup(&self, address: IpAddr) -> Place {
        let record = match self.reader.lookup(address).and_then(|found| found.decode::<Record<'_>>()) {
            Ok(Some(record)) => record,
            Ok(None) => return Place::default(),
            Err(error) => {
                tracing::debug!(%error, "geoip lookup failed");
                return Place::default();
            }
        };
        let country = record.country.and_then(|c| c.iso_code).and_then(country_code);
        let region =
            match (&country, record.subdivisions.as_ref().and_then(|s| s.first()).and_then(|s| s.iso_code)) {
                (Some(country), Some(subdivision)) if is_subdivision_code(subdivision) => {
                    Some(format!("{country}-{}", subdivision.to_ascii_uppercase()))
                }
                _ => None,
            };
        let city = record
            .city
            .and_then(|c| c.names)
            .and_then(|names| names.get("en").map(|name| name.trim().to_string()))
            .filter(|name| !name.is_empty() && !name.chars().any(char::is_control));
        Place { country, region, city }
    }
}

/// A country code as the component expects it: two ASCII letters, upper case. Cloudflare's
/// `XX` (unknown) and `T1` (Tor) are not countries.
pub(crate) fn country_code(value: &str) -> Option<String> {
    let value = value.trim();
    (value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic()) && !value.eq_ignore_ascii_case("xx"))
        .then(|| value.to_ascii_uppercase())
}

fn is_subdivision_code(value: &str) -> bool {
    (1..=3).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes() {
        assert_eq!(country_code("de"), Some("DE".into()));
        assert_eq!(country_code(" FR "), Some("FR".into()));
        assert_eq!(country_code("XX"), None);
        assert_eq!(country_code("T1"), None);
        assert_eq!(country_code("DEU"), None);
        assert_eq!(country_code(""), None);
    }
}
