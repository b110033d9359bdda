//! What the component is handed: its environment, the client address and the place, and
//! never a client-sent `x-hitkeep-*` header.

use std::collections::BTreeMap;
use std::time::Duration;

use ipnet::IpNet;
use serde::Serialize;

use crate::support::*;

#[derive(Debug, serde::Deserialize)]
struct Echo {
    headers: BTreeMap<String, String>,
    env: BTreeMap<String, String>,
}

async fn echo(host: &TestHost, headers: &[(&str, &str)]) -> AnyResult<Echo> {
    let reply = request(host.addr, "GET", "/echo", headers, "").await?;
    anyhow::ensure!(reply.status == 200, "status {}: {}", reply.text(), reply.status);
    Ok(serde_json::from_slice(&reply.body)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_clients_cannot_set_host_headers() -> AnyResult {
    let broker = broker().await?;
    let _aggregator = Aggregator::start(&broker.client_url()).await?;
    let dir = tempfile::tempdir()?;
    let mut config = test_config("edge-echo", dir.path(), &broker.client_url(), test_component());
    config.geo_country_header = Some(http::HeaderName::from_static("cf-ipcountry"));
    config.trusted_proxies = vec!["10.0.0.0/8".parse()?];
    let host = TestHost::start(config).await?;
    host.wait_ready().await?;

    let seen = echo(
        &host,
        &[
            ("x-hitkeep-client-ip", "198.51.100.1"),
            ("X-HITKEEP-GEO-COUNTRY", "ZZ"),
            ("x-hitkeep-whatever", "1"),
            ("x-forwarded-for", "198.51.100.2"),
            ("cf-ipcountry", "US"),
        ],
    )
    .await?;
    assert_eq!(seen.headers.get("x-hitkeep-client-ip").map(String::as_str), Some("127.0.0.1"));
    assert!(!seen.headers.contains_key("x-hitkeep-geo-country"), "{:?}", seen.headers);
    assert!(!seen.headers.contains_key("x-hitkeep-whatever"));
    assert!(!seen.headers.contains_key("x-forwarded-for"));
    assert!(!seen.headers.contains_key("cf-ipcountry"), "a CDN header from an untrusted peer is dropped");

    assert_eq!(
        seen.env.get("HITKEEP_SINK_URL").map(String::as_str),
        Some("http://hitkeep-sink.internal/batch")
    );
    assert_eq!(seen.env.get("HITKEEP_EDGE_NAME").map(String::as_str), Some("edge-echo"));
    assert_eq!(seen.env.get("HITKEEP_EDGE_CONFIG"), Some(&config_json()));
    assert_eq!(seen.env.len(), 3, "nothing else of the host's environment: {:?}", seen.env.keys());

    host.shutdown(Duration::from_secs(1)).await;
    broker.shutdown().await;
    Ok(())
}

#[derive(Serialize)]
struct Names {
    en: String,
}

#[derive(Serialize)]
struct IsoCode {
    iso_code: String,
}

#[derive(Serialize)]
struct CityRecord {
    country: IsoCode,
    subdivisions: Vec<IsoCode>,
    city: CityNames,
}

#[derive(Serialize)]
struct CityNames {
    names: Names,
}

/// A small GeoIP2-City-shaped database.
fn write_mmdb(path: &std::path::Path) -> AnyResult {
    let mut writer = mmdb_writer::Writer::new("GeoIP2-City");
    let paris = CityRecord {
        country: IsoCode { iso_code: "FR".into() },
        subdivisions: vec![IsoCode { iso_code: "IDF".into() }],
        city: CityNames { names: Names { en: "Paris".into() } },
    };
    writer.insert("203.0.113.0/24".parse::<IpNet>()?, &paris)?;
    let berlin = CityRecord {
        country: IsoCode { iso_code: "DE".into() },
        subdivisions: vec![IsoCode { iso_code: "BE".into() }],
        city: CityNames { names: Names { en: "Berlin".into() } },
    };
    writer.insert("2001:db8:be::/48".parse::<IpNet>()?, &berlin)?;
    std::fs::write(path, writer.to_bytes()?)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_proxies_and_geoip_place_the_client() -> AnyResult {
    let broker = broker().await?;
    let _aggregator = Aggregator::start(&broker.client_url()).await?;
    let dir = tempfile::tempdir()?;
    let mmdb = dir.path().join("city.mmdb");
    write_mmdb(&mmdb)?;
    let mut config = test_config("edge-geo", dir.path(), &broker.client_url(), test_component());
    config.trusted_proxies = vec!["127.0.0.0/8".parse()?];
    config.geo_country_header = Some(http::HeaderName::from_static("cf-ipcountry"));
    config.geoip_db = Some(mmdb);
    let host = TestHost::start(config).await?;
    host.wait_ready().await?;

    // Right-most untrusted address of X-Forwarded-For, looked up in the database.
    let seen = echo(&host, &[("x-forwarded-for", "192.0.2.1, 203.0.113.40, 127.0.0.5")]).await?;
    assert_eq!(seen.headers.get("x-hitkeep-client-ip").map(String::as_str), Some("203.0.113.40"));
    assert_eq!(seen.headers.get("x-hitkeep-geo-country").map(String::as_str), Some("FR"));
    assert_eq!(seen.headers.get("x-hitkeep-geo-region").map(String::as_str), Some("FR-IDF"));
    assert_eq!(seen.headers.get("x-hitkeep-geo-city").map(String::as_str), Some("Paris"));

    let seen = echo(&host, &[("x-forwarded-for", "2001:db8:be::7")]).await?;
    assert_eq!(seen.headers.get("x-hitkeep-geo-region").map(String::as_str), Some("DE-BE"));

    // The CDN's country wins; the database's detail only when it agrees.
    let seen = echo(&host, &[("x-forwarded-for", "203.0.113.40"), ("cf-ipcountry", "fr")]).await?;
    assert_eq!(seen.headers.get("x-hitkeep-geo-city").map(String::as_str), Some("Paris"));
    let seen = echo(&host, &[("x-forwarded-for", "203.0.113.40"), ("cf-ipcountry", "CH")]).await?;
    assert_eq!(seen.headers.get("x-hitkeep-geo-country").map(String::as_str), Some("CH"));
    assert!(!seen.headers.contains_key("x-hitkeep-geo-city"));
    // Unknown address, unknown-country marker: no place at all.
    let seen = echo(&host, &[("x-forwarded-for", "198.51.100.3"), ("cf-ipcountry", "XX")]).await?;
    assert_eq!(seen.headers.get("x-hitkeep-client-ip").map(String::as_str), Some("198.51.100.3"));
    assert!(!seen.headers.keys().any(|k| k.starts_with("x-hitkeep-geo")), "{:?}", seen.headers);

    host.shutdown(Duration::from_secs(1)).await;
    broker.shutdown().await;
    Ok(())
}
