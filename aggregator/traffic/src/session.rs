//! Visitors and their visits: who a visitor is (place, device, browser), where a visit came
//! from, how many pages it sees, and the hits it produces one after another.

use std::sync::LazyLock;

use hitkeep_protocol::{Channel, Device, EventKind, Hit, Revenue, Utm};

use crate::Attribution;
use crate::random::{Cumulative, Draw, Random, SmallStream, mix};
use crate::site::{DAY_MS, Sales, Site};
use crate::tables::{
    COUNTRIES, COUPONS, CustomEvent, ITEM_PRICE_CENTS, ITEMS_PER_ORDER, MISSING_PATHS, PLANS, PLATFORMS,
    PRICE_ENDINGS, SIGNUP_METHODS, SOURCES, SPIKE_SOURCE, Version, YEARLY_PERCENT,
};
use crate::visit::{Plan, pause_before};

/// Marks an absent optional index (region, version, UTM content or term).
const NONE: u8 = u8::MAX;
/// Micro-units per cent, for [`Revenue::amount_micros`].
const MICROS_PER_CENT: i64 = 10_000;

/// Weighted samplers over the long tables, built once.
struct Samplers {
    countries: Cumulative,
    platforms: Cumulative,
    sources: Cumulative,
    spike_source: u8,
}

static SAMPLERS: LazyLock<Samplers> = LazyLock::new(|| Samplers {
    countries: Cumulative::new(COUNTRIES.iter().map(|country| f64::from(country.weight))),
    platforms: Cumulative::new(PLATFORMS.iter().map(|platform| f64::from(platform.weight))),
    sources: Cumulative::new(SOURCES.iter().map(|source| f64::from(source.weight))),
    spike_source: SOURCES
        .iter()
        .position(|source| source.name == Some(SPIKE_SOURCE))
        .expect("the spike source is in the table") as u8,
});

/// A simulated person, as far as one site can tell: fixed across all their visits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Person {
    /// Stands for the person's IP address and user agent: the visitor hash of a day is
    /// derived from it and the day, as a daily salt would.
    id: u64,
    pub site: u32,
    country: u8,
    region: u8,
    platform: u8,
    browser_version: u8,
    os_version: u8,
}

impl Person {
    pub(crate) fn draw(site: u32, random: &mut Random) -> Self {
        let samplers = &*SAMPLERS;
        let country = samplers.countries.sample(random);
        let located = random.below(100) < u64::from(COUNTRIES[country].located_percent);
        let region = if located { random.pick(COUNTRIES[country].regions, |r| r.weight) as u8 } else { NONE };
        let platform = samplers.platforms.sample(random);
        let spec = &PLATFORMS[platform];
        let browser_version = random.pick(spec.browser_versions, |v| v.1) as u8;
        let os_version =
            if spec.os_versions.is_empty() { NONE } else { random.pick(spec.os_versions, |v| v.1) as u8 };
        Self {
            id: random.next_u64(),
            site,
            country: country as u8,
            region,
            platform: platform as u8,
            browser_version,
            os_version,
        }
    }

    /// The visitor hash on the UTC day of `ts`, and the one of the day before.
    fn visitor_hashes(&self, ts: i64) -> (u64, u64) {
        let day = ts.div_euclid(DAY_MS) as u64;
        let of_day = |day: u64| mix(self.id ^ mix(day));
        (of_day(day), of_day(day.wrapping_sub(1)))
    }
}

/// Where a visit came from: a row of [`SOURCES`] and the choices within it.
#[derive(Debug, Clone, Copy)]
struct Acquisition {
    source: u8,
    referrer: u8,
    campaign: u8,
    content: u8,
    term: u8,
}

impl Acquisition {
    fn draw(from_spike: bool, random: &mut Random) -> Self {
        let samplers = &*SAMPLERS;
        let source =
            if from_spike { usize::from(samplers.spike_source) } else { samplers.sources.sample(random) };
        let spec = &SOURCES[source];
        let mut optional = |len: usize| if len == 0 { NONE } else { random.index(len) as u8 };
        let referrer = optional(spec.referrers.len());
        let (campaign, content, term) = match spec.campaign {
            Some(campaign) => (
                optional(campaign.campaigns.len()),
                optional(campaign.contents.len()),
                optional(campaign.terms.len()),
            ),
            None => (NONE, NONE, NONE),
        };
        Self { source: source as u8, referrer, campaign, content, term }
    }
}

/// The page a visit is on.
#[derive(Debug, Clone, Copy)]
enum Page {
    /// An index into the site map.
    Known(u32),
    /// An index into [`MISSING_PATHS`]: the visit hit a 404.
    Missing(u8),
}

/// One visit in flight: what it is, and what it still has to send.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub person: Person,
    acquisition: Acquisition,
    /// The visit's own stream of pauses, so that [`Plan::hits_before`] can foresee them.
    pauses: SmallStream,
    pageviews_left: u32,
    pageviews_sent: u32,
    /// Bit `i` set: a custom event follows pageview `i`.
    custom_after: u64,
    /// The custom event to send next, chosen with the pageview it follows.
    pending: Option<CustomEvent>,
    page: Page,
    hits_sent: u32,
}

impl Session {
    /// Plans a visit starting at `start`: at most `budget` hits (`budget > 0`), and only
    /// those that fall before `end`. Returns it and its number of hits.
    pub(crate) fn plan(
        person: Person,
        site: &Site,
        from_spike: bool,
        (start, end): (i64, i64),
        budget: u64,
        random: &mut Random,
    ) -> (Self, u32) {
        let mut plan = Plan::draw(site.kind, random);
        let pauses = SmallStream::new(random.next_u64());
        plan.truncate(budget.min(plan.hits_before(start, end, pauses)));
        let session = Self {
            person,
            acquisition: Acquisition::draw(from_spike, random),
            pauses,
            pageviews_left: plan.pageviews,
            pageviews_sent: 0,
            custom_after: plan.custom_after,
            pending: None,
            page: Page::Known(0),
            hits_sent: 0,
        };
        let planned = plan.hits();
        debug_assert!(u64::from(planned) <= budget && planned == session.hits_left());
        (session, planned)
    }

    /// Hits planned and not sent yet.
    pub(crate) fn hits_left(&self) -> u32 {
        let customs_left = (self.custom_after >> self.pageviews_sent.min(63)).count_ones();
        self.pageviews_left + customs_left + u32::from(self.pending.is_some())
    }

    /// The pause before the next hit, or `None` when the visit is over.
    pub(crate) fn next_pause(&mut self) -> Option<i64> {
        if self.pending.is_some() {
            Some(pause_before(true, &mut self.pauses))
        } else if self.pageviews_left > 0 {
            Some(pause_before(false, &mut self.pauses))
        } else {
            None
        }
    }

    /// Writes the next hit, at `ts`, over `hit`, reusing its buffers.
    pub(crate) fn write_next_hit(
        &mut self,
        ts: i64,
        site: &Site,
        attribution: Attribution,
        random: &mut Random,
        spare: &mut Spare,
        hit: &mut Hit,
    ) {
        match self.pending.take() {
            Some(event) => {
                self.write_common(ts, site, attribution, Some(event), spare, hit);
                self.write_custom(event, site, random, hit);
            }
            None => {
                debug_assert!(self.pageviews_left > 0);
                let index = self.pageviews_sent;
                self.pageviews_left -= 1;
                self.pageviews_sent += 1;
                self.page = Page::Known(site.draw_page(random) as u32);
                if self.custom_after & (1 << index) != 0 {
                    let event = site.kind.customs[random.pick(site.kind.customs, |c| c.1)].0;
                    if event == CustomEvent::NotFound {
                        self.page = Page::Missing(random.index(MISSING_PATHS.len()) as u8);
                    }
                    self.pending = Some(event);
                }
                self.write_common(ts, site, attribution, None, spare, hit);
                hit.props.clear();
                hit.revenue = None;
            }
        }
        self.hits_sent += 1;
    }

    fn path<'a>(&self, site: &'a Site) -> &'a str {
        match self.page {
            Page::Known(index) => &site.pages[index as usize],
            Page::Missing(index) => MISSING_PATHS[usize::from(index)],
        }
    }

    /// Writes every field but `props` and `revenue`, for a custom event or (`None`) a
    /// pageview.
    fn write_common(
        &self,
        ts: i64,
        site: &Site,
        attribution: Attribution,
        event: Option<CustomEvent>,
        spare: &mut Spare,
        hit: &mut Hit,
    ) {
        let person = &self.person;
        let (visitor, visitor_prev) = person.visitor_hashes(ts);
        let country = &COUNTRIES[usize::from(person.country)];
        let region = (person.region != NONE).then(|| &country.regions[usize::from(person.region)]);
        let platform = &PLATFORMS[usize::from(person.platform)];
        hit.ts = ts;
        write(&mut hit.domain, site.domain());
        hit.kind = if event.is_some() { EventKind::Custom } else { EventKind::Pageview };
        write(&mut hit.name, event.map_or("pageview", CustomEvent::name));
        hit.visitor = visitor;
        hit.visitor_prev = visitor_prev;
        write(&mut hit.hostname, site.domain());
        write(&mut hit.path, self.path(site));

        let attributed = attribution == Attribution::Session || self.hits_sent == 0;
        let source = &SOURCES[usize::from(self.acquisition.source)];
        if attributed {
            spare.write(&mut hit.referrer, entry(source.referrers, self.acquisition.referrer));
            spare.write(&mut hit.source, source.name);
            hit.channel = source.channel;
        } else {
            spare.write(&mut hit.referrer, None);
            spare.write(&mut hit.source, None);
            hit.channel = Channel::Direct;
        }
        let campaign = source.campaign.filter(|_| attributed);
        let acquisition = &self.acquisition;
        let utm = &mut hit.utm;
        spare.write(&mut utm.source, campaign.map(|c| c.source));
        spare.write(&mut utm.medium, campaign.map(|c| c.medium));
        spare.write(&mut utm.campaign, campaign.and_then(|c| entry(c.campaigns, acquisition.campaign)));
        spare.write(&mut utm.content, campaign.and_then(|c| entry(c.contents, acquisition.content)));
        spare.write(&mut utm.term, campaign.and_then(|c| entry(c.terms, acquisition.term)));

        spare.write(&mut hit.country, Some(country.code));
        spare.write(&mut hit.region, region.map(|region| region.code));
        spare.write(&mut hit.city, region.map(|region| region.city));
        spare.write(&mut hit.browser, Some(platform.browser));
        spare.write(&mut hit.browser_version, version(platform.browser_versions, person.browser_version));
        spare.write(&mut hit.os, Some(platform.os));
        spare.write(&mut hit.os_version, version(platform.os_versions, person.os_version));
        hit.device = platform.device;
        hit.interactive = true;
    }

    /// Writes `props` and `revenue` of a custom event.
    fn write_custom(&self, event: CustomEvent, site: &Site, random: &mut Random, hit: &mut Hit) {
        let kind = site.kind;
        hit.props.clear();
        hit.revenue = None;
        let prop = |key: &str, value: &str| (key.to_owned(), value.to_owned());
        match event {
            CustomEvent::Signup => {
                let method = SIGNUP_METHODS[random.pick(SIGNUP_METHODS, |m| m.1)].0;
                hit.props.push(prop("method", method));
            }
            CustomEvent::OutboundClick => {
                hit.props.push(prop("url", kind.outbound[random.index(kind.outbound.len())]));
            }
            CustomEvent::FileDownload => {
                let file = kind.downloads[random.index(kind.downloads.len())];
                hit.props.push(("url".to_owned(), format!("https://{}{file}", site.domain())));
            }
            CustomEvent::NotFound => {
                hit.props.push(prop("path", self.path(site)));
            }
            CustomEvent::Purchase => {
                let cents = match kind.sales {
                    Sales::Plans => {
                        let (plan, monthly_cents, _) = PLANS[random.pick(PLANS, |p| p.2)];
                        let yearly = random.below(100) < u64::from(YEARLY_PERCENT);
                        hit.props.push(prop("plan", plan));
                        hit.props.push(prop("billing", if yearly { "yearly" } else { "monthly" }));
                        if yearly { monthly_cents * 10 } else { monthly_cents }
                    }
                    Sales::Orders => {
                        let items = ITEMS_PER_ORDER[random.pick(ITEMS_PER_ORDER, |i| i.1)].0;
                        let span = (ITEM_PRICE_CENTS.end - ITEM_PRICE_CENTS.start) as u64;
                        let mut cents = 0;
                        for _ in 0..items {
                            let whole = (ITEM_PRICE_CENTS.start + random.below(span) as i64) / 100;
                            cents += whole * 100 + PRICE_ENDINGS[random.pick(PRICE_ENDINGS, |e| e.1)].0;
                        }
                        hit.props.push(("items".to_owned(), items.to_string()));
                        if let Some(coupon) = COUPONS[random.pick(COUPONS, |c| c.1)].0 {
                            hit.props.push(prop("coupon", coupon));
                        }
                        cents
                    }
                };
                hit.revenue = Some(Revenue {
                    amount_micros: cents * MICROS_PER_CENT,
                    currency: kind.currency.to_owned(),
                });
            }
        }
    }
}

/// The entry at `index` of a list, unless the index is [`NONE`].
fn entry(values: &[&'static str], index: u8) -> Option<&'static str> {
    (index != NONE).then(|| values[usize::from(index)])
}

/// The version at `index` of a table, unless the index is [`NONE`].
fn version(versions: &[Version], index: u8) -> Option<&'static str> {
    (index != NONE).then(|| versions[usize::from(index)].0)
}

/// Overwrites a string, keeping its buffer.
fn write(target: &mut String, value: &str) {
    if target.capacity() == 0 {
        // A fresh hit: allocate exactly, as `to_owned` would.
        *target = value.to_owned();
    } else {
        target.clear();
        target.push_str(value);
    }
}

/// The most spare buffers kept.
const MAX_SPARE: usize = 32;

/// Buffers of optional fields that were set to `None`, kept for the next field that is set
/// to a value, so that writing hit after hit over one [`Hit`] stops allocating.
#[derive(Debug, Default)]
pub(crate) struct Spare(Vec<String>);

impl Spare {
    /// Overwrites an optional string, reusing its buffer or a spare one.
    fn write(&mut self, target: &mut Option<String>, value: Option<&str>) {
        match (target.as_mut(), value) {
            (Some(buffer), Some(value)) => write(buffer, value),
            (None, Some(value)) => {
                *target = Some(match self.0.pop() {
                    Some(mut buffer) => {
                        buffer.clear();
                        buffer.push_str(value);
                        buffer
                    }
                    None => value.to_owned(),
                })
            }
            (_, None) => {
                if let Some(buffer) = target.take()
                    && self.0.len() < MAX_SPARE
                {
                    self.0.push(buffer);
                }
            }
        }
    }
}

/// A hit with every string empty, to be written over (allocates nothing).
pub(crate) fn blank_hit() -> Hit {
    Hit {
        ts: 0,
        domain: String::new(),
        kind: EventKind::Pageview,
        name: String::new(),
        visitor: 0,
        visitor_prev: 0,
        hostname: String::new(),
        path: String::new(),
        referrer: None,
        source: None,
        channel: Channel::Direct,
        utm: Utm::default(),
        country: None,
        region: None,
        city: None,
        browser: None,
        browser_version: None,
        os: None,
        os_version: None,
        device: Device::Unknown,
        props: Vec::new(),
        revenue: None,
        interactive: true,
    }
}
