//! Bot detection from the user agent: headless browsers, crawlers, monitors, HTTP libraries.
//!
//! Two layers, both cheap enough to run on every request:
//!
//! 1. **Shape.** The tracker runs in browsers, and every browser's `navigator.userAgent`
//!    starts with `Mozilla/5.0 (platform...)` (Presto-era Opera with `Opera/9.80 (`).
//!    Anything else (`curl/8.5.0`, `python-requests/2.31`, `Go-http-client/1.1`, an empty
//!    string) is a program. So are browser-shaped strings without an engine after the
//!    platform, or with a `compatible;` platform that is not Internet Explorer's.
//! 2. **Patterns.** Case-insensitive substrings that never occur in browsers' user agents,
//!    ported from the `isbot` project's list (Unlicense) with a few additions for headless
//!    automation and monitoring. They are matched in one pass over the string through a
//!    first-byte index and a second-byte filter built at compile time, so nothing is compiled
//!    or allocated at start-up (the WASM component may be instantiated per request).
//!
//! Tested against `tests/fixtures/bots.txt` and `tests/fixtures/browsers.txt`.

use crate::limits::MAX_USER_AGENT_LEN;

/// The match must start a word.
const START: u8 = 1;
/// The match must end a word.
const END: u8 = 2;
/// The match has a hand-written exception, see [`special_applies`].
const SPECIAL: u8 = 4;

/// Lower-case patterns, sorted by their first byte (checked by a test).
const PATTERNS: &[(&str, u8)] = &[
    ("()", 0),
    (".com", END),
    ("24x7", 0),
    ("@", SPECIAL),
    ("abuse", 0),
    ("advisor", 0),
    ("agent", END),
    ("analyzer", 0),
    ("archive", 0),
    ("attracta", 0),
    ("audit", 0),
    ("axios", 0),
    ("bluecoat", 0),
    ("bot", SPECIAL),
    ("browsex", 0),
    ("burpcollaborator", 0),
    ("bw/", START),
    ("capture", 0),
    ("catch", 0),
    ("check", END),
    ("checker", 0),
    ("chromeframe", 0),
    ("classifier", 0),
    ("claude-web", 0),
    ("cloudflare", 0),
    ("collapsify", END),
    ("convertify", 0),
    ("cookiehubverify/", 0),
    ("crawl", 0),
    ("cursor/", 0),
    ("cypress/", 0),
    ("dareboost", 0),
    ("datadog", 0),
    ("datanyze", 0),
    ("dejaclick", 0),
    ("detect", 0),
    ("deusu/", 0),
    ("discovery", 0),
    ("dlc", START | END),
    ("dmbrowser", 0),
    ("download", 0),
    ("exaleadcloudview", 0),
    ("feed", 0),
    ("fetcher", 0),
    ("firephp", 0),
    ("foregenix", 0),
    ("functionize", 0),
    ("google", SPECIAL),
    ("grab", 0),
    ("gtmetrix", 0),
    ("hardenize", END),
    ("headless", 0),
    ("hotjar", 0),
    ("htmlunit", 0),
    ("http", SPECIAL),
    ("httrack", 0),
    ("ibisbrowser", 0),
    ("infrawatch", 0),
    ("insight", 0),
    ("insomnia", 0),
    ("inspect", 0),
    ("iplabel", 0),
    ("java", SPECIAL),
    ("jsdom", 0),
    ("library", 0),
    ("libwww", 0),
    ("lighthouse", 0),
    ("linkcheck", 0),
    ("linktiger", 0),
    ("lwp-", 0),
    ("mail.ru/", 0),
    ("manus-user/", 0),
    ("marketgoo/", 0),
    ("measure", 0),
    ("miniature.io", 0),
    ("monitor", END),
    ("neustar", 0),
    ("newsai/", 0),
    ("newsnow/", 0),
    ("node", END),
    ("nutch", 0),
    ("offbyone", 0),
    ("openvas", 0),
    ("optimize", 0),
    ("ort/", START),
    ("pageburst", 0),
    ("pagespeed", 0),
    ("parser", 0),
    ("perl", START | END),
    ("phantomjs", 0),
    ("pingdom", 0),
    ("playwright", 0),
    ("postman", 0),
    ("powermarks", 0),
    ("powershell", 0),
    ("preview", 0),
    ("productfinder", 0),
    ("prospectingstudio", 0),
    ("proxy", 0),
    ("ptst ", 0),
    ("ptst/", 0),
    ("puppeteer", 0),
    ("python", 0),
    ("radar", 0),
    ("readable/", 0),
    ("retriever", 0),
    ("rexx;", 0),
    ("rigor", 0),
    ("rss", END),
    ("scan", SPECIAL),
    ("scrape", 0),
    ("scrapy", 0),
    ("securityheaders", 0),
    ("selenium", 0),
    ("server", 0),
    ("silktide", 0),
    ("sindup/", 0),
    ("slimerjs", 0),
    ("slurp", 0),
    ("sogou", 0),
    ("sparkler/", 0),
    ("speedcurve", 0),
    ("spider", 0),
    ("splash", 0),
    ("statuscake", 0),
    ("supercleaner", 0),
    ("synapse", 0),
    ("synthetic", 0),
    ("testlocally", 0),
    ("time/", START),
    ("tools", 0),
    ("torrent", 0),
    ("transcoder", 0),
    ("turingos", 0),
    ("undici", 0),
    ("uptime", 0),
    ("url", 0),
    ("validator", 0),
    ("virtuoso", 0),
    ("wappalyzer", 0),
    ("watchtowr", 0),
    ("webdriver", 0),
    ("webglance", 0),
    ("webkit2png", 0),
    ("wget", 0),
    ("whatcms/", 0),
    ("xtate/", 0),
    ("ylt chrome", 0),
    ("zombie", 0),
    ("|", 0),
];

/// `FIRST_BYTE[b]..FIRST_BYTE[b + 1]` are the patterns starting with byte `b`.
const FIRST_BYTE: [u16; 257] = first_byte_index(PATTERNS);

/// For each first byte, a filter of the second bytes its patterns have (bit `b & 31`), so
/// most positions of a user agent are passed over after one lookup.
const SECOND_BYTE: [u32; 256] = second_byte_filter(PATTERNS);

const fn second_byte_filter(patterns: &[(&str, u8)]) -> [u32; 256] {
    let mut filter = [0u32; 256];
    let mut index = 0;
    while index < patterns.len() {
        let bytes = patterns[index].0.as_bytes();
        let first = bytes[0] as usize;
        filter[first] |= if bytes.len() == 1 { u32::MAX } else { 1 << (bytes[1] & 31) };
        index += 1;
    }
    filter
}

const fn first_byte_index(patterns: &[(&str, u8)]) -> [u16; 257] {
    let mut index = [0u16; 257];
    let mut byte = 0;
    while byte < 256 {
        let mut below = 0;
        let mut pattern = 0;
        while pattern < patterns.len() {
            if (patterns[pattern].0.as_bytes()[0] as usize) < byte {
                below += 1;
            }
            pattern += 1;
        }
        index[byte] = below;
        byte += 1;
    }
    index[256] = patterns.len() as u16;
    index
}

/// True when the user agent is missing, empty, or belongs to a program rather than a person's
/// browser.
pub fn is_bot(user_agent: Option<&str>) -> bool {
    let Some(user_agent) = user_agent else { return true };
    let user_agent = user_agent.trim();
    if user_agent.is_empty() || user_agent.len() > MAX_USER_AGENT_LEN {
        return true;
    }
    let lower = user_agent.to_ascii_lowercase();
    !is_browser_shaped(&lower) || matches_pattern(lower.as_bytes())
}

fn is_browser_shaped(lower: &str) -> bool {
    let rest = if let Some(rest) = lower.strip_prefix("mozilla/") {
        rest
    } else if let Some(rest) = lower.strip_prefix("opera/") {
        rest
    } else {
        return false;
    };
    // A version such as `5.0`, then the platform in parentheses.
    let Some((version, rest)) = rest.split_once(' ') else { return false };
    if !version.bytes().all(|b| b.is_ascii_digit() || b == b'.') || !rest.starts_with('(') {
        return false;
    }
    let Some((platform, after)) = rest[1..].split_once(')') else { return false };
    let internet_explorer = platform.contains("msie ") || platform.contains("trident/");
    if platform.contains("compatible") && !internet_explorer {
        return false;
    }
    // Engines follow the platform (`AppleWebKit/...`, `Gecko/...`, `Presto/...`); only
    // Internet Explorer ends with it.
    !after.trim().is_empty() || internet_explorer
}

fn matches_pattern(bytes: &[u8]) -> bool {
    for at in 0..bytes.len() {
        let first = usize::from(bytes[at]);
        let second = bytes.get(at + 1).copied();
        if SECOND_BYTE[first] & (1 << (second.unwrap_or(0) & 31)) == 0 {
            continue;
        }
        let candidates = &PATTERNS[usize::from(FIRST_BYTE[first])..usize::from(FIRST_BYTE[first + 1])];
        for (pattern, flags) in candidates {
            let pattern = pattern.as_bytes();
            // Most candidates differ in their second byte: test it before comparing the rest.
            if pattern.get(1).is_some_and(|b| Some(*b) != second) || !bytes[at..].starts_with(pattern) {
                continue;
            }
            let end = at + pattern.len();
            let word = |index: usize| bytes.get(index).is_some_and(|b| b.is_ascii_alphanumeric());
            if flags & START != 0 && at > 0 && word(at - 1) {
                continue;
            }
            if flags & END != 0 && word(end) {
                continue;
            }
            if flags & SPECIAL != 0 && !special_applies(bytes, at, end) {
                continue;
            }
            return true;
        }
    }
    false
}

/// The exceptions of the patterns flagged [`SPECIAL`], as `isbot` has them.
fn special_applies(bytes: &[u8], at: usize, end: usize) -> bool {
    let before = |text: &str| bytes[..at].ends_with(text.as_bytes());
    let after = |text: &str| bytes[end..].starts_with(text.as_bytes());
    match &bytes[at..end] {
        // `bot`, `bots`, `_bot`, not the `Cubot` phone brand, not inside a word (`botanic`).
        b"bot" => {
            let next = if after("s") { end + 1 } else { end };
            !before(" cu") && !bytes.get(next).is_some_and(|b| b.is_ascii_alphanumeric())
        }
        // Google's tools, but not its apps and phones.
        b"google" => {
            !before("channel/")
                && !before("google/")
                && !after("wv")
                && !after("app")
                && !after("/google")
                && !after(" pixel")
        }
        b"scan" => !before("cam"),
        b"http" => !before("lib"),
        b"java" => !after(";"),
        // An e-mail address: `@` then a letter.
        b"@" => bytes.get(end).is_some_and(|b| b.is_ascii_lowercase()),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_lower_case_and_sorted_by_first_byte() {
        for (pattern, _) in PATTERNS {
            assert!(!pattern.is_empty() && *pattern == pattern.to_ascii_lowercase(), "{pattern}");
        }
        assert!(PATTERNS.windows(2).all(|pair| pair[0].0.as_bytes()[0] <= pair[1].0.as_bytes()[0]));
        for (index, (pattern, _)) in PATTERNS.iter().enumerate() {
            let first = usize::from(pattern.as_bytes()[0]);
            assert!((usize::from(FIRST_BYTE[first])..usize::from(FIRST_BYTE[first + 1])).contains(&index));
        }
    }

    #[test]
    fn programs_are_bots() {
        for user_agent in [
            "",
            "   ",
            "curl/8.5.0",
            "Wget/1.21.4",
            "python-requests/2.31.0",
            "Go-http-client/2.0",
            "okhttp/4.12.0",
            "axios/1.6.7",
            "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
            "PostmanRuntime/7.36.3",
            "Mozilla/5.0",
            "Mozilla/5.0 zgrab/0.x",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
            "Mozilla/5.0 ()",
            "Mozilla/5.0 (compatible; Foo/1.0)",
            "Mozilla/5.0 (X11; Linux x86_64",
        ] {
            assert!(is_bot(Some(user_agent)), "{user_agent:?}");
        }
        assert!(is_bot(None));
        let huge = format!("Mozilla/5.0 (X11; Linux x86_64) {}", "a".repeat(MAX_USER_AGENT_LEN));
        assert!(is_bot(Some(&huge)));
    }

    #[test]
    fn special_rules() {
        let chrome = |extra: &str| {
            format!(
                "Mozilla/5.0 (Linux; Android 12; {extra}) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/120.0.0.0 Mobile Safari/537.36"
            )
        };
        assert!(!is_bot(Some(&chrome("CUBOT NOTE 7"))), "a phone brand, not a bot");
        assert!(is_bot(Some(&chrome("MyBot"))));
        assert!(is_bot(Some(&chrome("robots"))));
        assert!(!is_bot(Some(&chrome("Botanic 2"))));
        assert!(!is_bot(Some(&chrome("Google Pixel 8"))));
        assert!(is_bot(Some(&chrome("Google-InspectionTool"))));
        assert!(!is_bot(Some(&chrome("CamScanner"))));
        assert!(is_bot(Some(&chrome("Scanner"))));
        assert!(is_bot(Some(&chrome("contact me@example.org"))));
        assert!(!is_bot(Some(&chrome("SM-G991B"))));
        assert!(!is_bot(Some("Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; Trident/6.0)")));
        assert!(!is_bot(Some("Opera/9.80 (Windows NT 6.1; WOW64) Presto/2.12.388 Version/12.18")));
    }
}
