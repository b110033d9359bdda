//! The pipeline: one request in, hits and drops out.

use std::fmt;
use std::net::IpAddr;

use hitkeep_protocol::{EventKind, Hit, ValidationError};

use crate::RequestError;
use crate::bot::is_bot;
use crate::campaign::Campaign;
use crate::channel::attribute;
use crate::config::{Config, SiteSettings};
use crate::limits::MAX_SHORT_FIELD_LEN;
use crate::outcome::{DropReason, Dropped, Invalid, Outcome};
use crate::payload::{Payload, parse_payload};
use crate::referrer::parse_referrer;
use crate::url::{self, UrlError, decode_path_component, normalize_path, truncate};
use crate::user_agent::classify_user_agent;
use crate::visitor::visitor_hash;

/// Where the visitor is, as the host's GeoIP lookup found it. Values are checked: a country
/// that is not two ASCII letters is dropped, region and city are cut to 256 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Geo<'a> {
    /// ISO 3166-1 alpha-2 code, any case (`de`).
    pub country: Option<&'a str>,
    /// ISO 3166-2 subdivision code (`DE-BE`).
    pub region: Option<&'a str>,
    /// City name.
    pub city: Option<&'a str>,
}

/// One request as the HTTP layer sees it.
///
/// It holds the client's IP address and user agent, which [`process`] uses for bot
/// detection, classification and the visitor hash, and which no output contains. Its `Debug`
/// output leaves them out.
#[derive(Clone, Copy)]
pub struct RequestInfo<'a> {
    /// The HTTP method; only `POST` is accepted.
    pub method: &'a str,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The body. The HTTP layer should stop reading after
    /// [`MAX_BODY_BYTES`](crate::limits::MAX_BODY_BYTES) + 1 bytes.
    pub body: &'a [u8],
    /// The `User-Agent` header, if any.
    pub user_agent: Option<&'a str>,
    /// `DNT: 1` was sent (see [`opt_out_header`]).
    pub dnt: bool,
    /// `Sec-GPC: 1` was sent (see [`opt_out_header`]).
    pub gpc: bool,
    /// The client's address, as resolved by the host from the socket or a trusted proxy.
    pub client_ip: IpAddr,
    /// GeoIP result for the client's address.
    pub geo: Geo<'a>,
    /// The time of the request, in milliseconds since the Unix epoch.
    pub now_ms: i64,
}

impl fmt::Debug for RequestInfo<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter
            .debug_struct("RequestInfo")
            .field("method", &self.method)
            .field("content_type", &self.content_type)
            .field("body_len", &self.body.len())
            .field("dnt", &self.dnt)
            .field("gpc", &self.gpc)
            .field("now_ms", &self.now_ms)
            .finish_non_exhaustive()
    }
}

/// Reads a `DNT` or `Sec-GPC` header: only the value `1` opts out.
pub fn opt_out_header(value: Option<&str>) -> bool {
    value.is_some_and(|value| value.trim() == "1")
}

/// Turns one Events API request into hits, one per site named that counts it.
///
/// Returns an error for requests that break the API contract (answer them with
/// [`RequestError::status`]); every other request gives an [`Outcome`] (answer 202). For
/// each domain the event names, the checks run in this order: unknown site, bot, DNT, GPC,
/// excluded IP, hostname not allowed, excluded path.
pub fn process(config: &Config, request: &RequestInfo<'_>) -> Result<Outcome, RequestError> {
    if request.method != "POST" {
        return Err(RequestError::MethodNotAllowed);
    }
    check_content_type(request.content_type)?;
    let payload = parse_payload(request.body)?;
    let page = match Page::read(&payload) {
        Ok(page) => page,
        Err(UrlError::NoHost) => {
            return Ok(Outcome::drop_all(payload.domains, DropReason::Invalid(Invalid::UrlWithoutHost)));
        }
        Err(UrlError::NotAbsolute) => {
            return Err(RequestError::InvalidField { field: "url", reason: "must be an absolute URL" });
        }
        Err(UrlError::BadHost) => {
            return Err(RequestError::InvalidField { field: "url", reason: "has an invalid host" });
        }
    };

    let mut outcome = Outcome::default();
    let mut bot = None;
    let mut template = None;
    for domain in &payload.domains {
        let verdict = match config.site(domain) {
            None => Err(DropReason::UnknownSite),
            Some(site) => {
                let bot = *bot.get_or_insert_with(|| is_bot(request.user_agent));
                check_rules(site, request, &page, bot).map(|()| site)
            }
        };
        let result = verdict.and_then(|site| {
            let template = template.get_or_insert_with(|| build_template(&payload, &page, request));
            finish_hit(template, site, config, request)
        });
        match result {
            Ok(hit) => outcome.hits.push(hit),
            Err(reason) => outcome.dropped.push(Dropped { domain: domain.clone(), reason }),
        }
    }
    Ok(outcome)
}

fn check_content_type(content_type: Option<&str>) -> Result<(), RequestError> {
    let Some(content_type) = content_type else { return Ok(()) };
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if media_type.eq_ignore_ascii_case("application/json") || media_type.eq_ignore_ascii_case("text/plain") {
        Ok(())
    } else {
        Err(RequestError::UnsupportedMediaType)
    }
}

/// The page the event happened on.
struct Page {
    hostname: String,
    path: String,
    /// The query string, read for campaign parameters only if some site counts the event.
    query: Option<String>,
}

impl Page {
    fn read(payload: &Payload) -> Result<Self, UrlError> {
        let cleaned = url::clean(&payload.url);
        let parts = url::split(&cleaned)?;
        let hostname = url::normalize_host(parts.host)?;
        let mut path = normalize_path(parts.path);
        if payload.hash_mode
            && let Some(fragment) = parts.fragment.filter(|fragment| !fragment.is_empty())
        {
            path.push('#');
            path.push_str(&decode_path_component(fragment));
        }
        Ok(Self { hostname, path, query: parts.query.map(str::to_owned) })
    }
}

fn check_rules(
    site: &SiteSettings,
    request: &RequestInfo<'_>,
    page: &Page,
    bot: bool,
) -> Result<(), DropReason> {
    if bot {
        return Err(DropReason::Bot);
    }
    if site.honor_dnt && request.dnt {
        return Err(DropReason::Dnt);
    }
    if site.honor_gpc && request.gpc {
        return Err(DropReason::Gpc);
    }
    if site.excluded_ip_ranges.iter().any(|range| range.contains(request.client_ip)) {
        return Err(DropReason::ExcludedIp);
    }
    if !site.allowed_hostnames.is_empty()
        && !site.allowed_hostnames.iter().any(|pattern| pattern.matches(&page.hostname))
    {
        return Err(DropReason::ExcludedHostname);
    }
    if site.excluded_paths.iter().any(|pattern| pattern.matches(&page.path)) {
        return Err(DropReason::ExcludedPath);
    }
    Ok(())
}

/// Everything of the hit that does not depend on the site; built once per request, and only
/// when some site counts it.
fn build_template(payload: &Payload, page: &Page, request: &RequestInfo<'_>) -> Hit {
    let referrer = payload.referrer.as_deref().and_then(|raw| parse_referrer(raw, &page.hostname));
    let campaign = Campaign::from_query(page.query.as_deref());
    let attribution = attribute(&campaign, referrer.as_ref());
    let agent = classify_user_agent(request.user_agent.unwrap_or(""));
    let kind = match payload.name.as_str() {
        "pageview" => EventKind::Pageview,
        "engagement" => EventKind::Engagement,
        _ => EventKind::Custom,
    };
    // Plausible's tracker reports time on page and scroll depth as an `engagement` event when
    // a page is left or hidden: kept as its own kind (never a goal, never ends a bounce), its
    // two measures as properties.
    let (props, interactive) = if kind == EventKind::Engagement {
        let measures = [
            payload.scroll_depth.map(|depth| ("scroll_depth".to_owned(), depth.to_string())),
            payload.engagement_ms.map(|ms| ("engagement_ms".to_owned(), ms.to_string())),
        ];
        (measures.into_iter().flatten().collect(), false)
    } else {
        (payload.props.clone(), payload.interactive)
    };
    Hit {
        ts: request.now_ms,
        domain: String::new(),
        kind,
        name: payload.name.clone(),
        visitor: 0,
        visitor_prev: 0,
        hostname: page.hostname.clone(),
        path: page.path.clone(),
        referrer: referrer.map(|referrer| referrer.stored),
        source: attribution.source,
        channel: attribution.channel,
        utm: campaign.utm,
        country: request
            .geo
            .country
            .map(str::trim)
            .filter(|code| code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()))
            .map(str::to_ascii_uppercase),
        region: short_text(request.geo.region),
        city: short_text(request.geo.city),
        browser: agent.browser.map(str::to_owned),
        browser_version: agent.browser_version,
        os: agent.os.map(str::to_owned),
        os_version: agent.os_version,
        device: agent.device,
        props,
        // Revenue belongs to goals; a pageview carrying it is a tracker mistake.
        revenue: if kind == EventKind::Custom { payload.revenue.clone() } else { None },
        interactive,
    }
}

fn short_text(value: Option<&str>) -> Option<String> {
    let value = value?.trim();
    if value.is_empty() {
        return None;
    }
    let mut value = value.to_owned();
    truncate(&mut value, MAX_SHORT_FIELD_LEN);
    Some(value)
}

fn finish_hit(
    template: &Hit,
    site: &SiteSettings,
    config: &Config,
    request: &RequestInfo<'_>,
) -> Result<Hit, DropReason> {
    let user_agent = request.user_agent.unwrap_or("");
    let salts = config.salts();
    let mut hit = template.clone();
    hit.domain = site.domain.clone();
    hit.visitor = visitor_hash(&salts.current, &site.domain, request.client_ip, user_agent);
    hit.visitor_prev = visitor_hash(&salts.previous, &site.domain, request.client_ip, user_agent);
    hit.validate().map_err(|error| DropReason::Invalid(Invalid::Field(field_of(&error))))?;
    Ok(hit)
}

fn field_of(error: &ValidationError) -> &'static str {
    match error {
        ValidationError::Empty { field }
        | ValidationError::TooLong { field, .. }
        | ValidationError::TooMany { field, .. }
        | ValidationError::Invalid { field, .. } => field,
    }
}
