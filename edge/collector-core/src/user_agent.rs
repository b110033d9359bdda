//! User-agent classification: browser family and major version, operating system and
//! version, device class.
//!
//! A hand-written classifier for the browsers and systems that make up nearly all real
//! traffic (see the README for why not uap-core or woothee). It reads the user agent once,
//! word by word (`Chrome/131.0`, `Android`, `14`...), noting what each word says, then
//! decides: the browser from the highest-ranked product token (in-app browsers and Chromium
//! derivatives announce themselves next to `Chrome/` and `Safari/`, so they rank first), the
//! system from the platform words in a fixed order.

use hitkeep_protocol::Device;

/// What a user agent says about the visitor's browser, system and device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserAgentInfo {
    /// Browser family (`Chrome`, `Safari`, `Firefox`, `Edge`, `Samsung Internet`...).
    pub browser: Option<&'static str>,
    /// Browser major version (`131`).
    pub browser_version: Option<String>,
    /// Operating system family (`Windows`, `macOS`, `iOS`, `Android`, `Linux`, `ChromeOS`...).
    pub os: Option<&'static str>,
    /// Operating system version: the major version, except `10.x` for old macOS and the
    /// marketing names of old Windows (`8.1`, `7`, `XP`).
    pub os_version: Option<String>,
    /// Desktop, mobile phone, tablet, or unknown (televisions, consoles, unrecognized).
    pub device: Device,
}

/// Where a browser's version is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VersionFrom {
    /// After the browser's own token (`Chrome/131.0`).
    Own,
    /// In `Version/` (Safari, Presto Opera).
    VersionToken,
    /// In `FBAV/` (Facebook's in-app browser).
    Fbav,
    /// In `app_version/` (TikTok's in-app browser).
    AppVersion,
    /// In `rv:` (Internet Explorer 11).
    Rv,
    /// Nowhere.
    Nowhere,
}

/// A browser family named by a user-agent word, with its precedence: in-app browsers and
/// Chromium or WebKit derivatives announce themselves next to `Chrome/` and `Safari/`, so
/// they rank before those (lower rank wins).
#[derive(Debug, Clone, Copy)]
struct Candidate<'a> {
    rank: u8,
    family: &'static str,
    own_version: &'a str,
    from: VersionFrom,
}

/// The browser a product token (`Name/version`) names.
fn product(name: &str) -> Option<(u8, &'static str, VersionFrom)> {
    use VersionFrom::{AppVersion, Fbav, Own, Rv, VersionToken};
    Some(match name {
        "FBAN" | "FB_IAB" | "FBAV" => (0, "Facebook", Fbav),
        "Snapchat" => (1, "Snapchat", Own),
        "Line" => (1, "LINE", Own),
        "GSA" => (1, "Google App", Own),
        "BytedanceWebview" => (1, "TikTok", AppVersion),
        "EdgA" | "EdgiOS" | "Edg" | "Edge" => (2, "Edge", Own),
        "OPR" | "OPT" | "OPiOS" | "OPX" => (2, "Opera", Own),
        "Opera" => (2, "Opera", VersionToken),
        "SamsungBrowser" => (2, "Samsung Internet", Own),
        "YaBrowser" | "YaSearchBrowser" => (2, "Yandex Browser", Own),
        "UCBrowser" | "UBrowser" => (2, "UC Browser", Own),
        "Vivaldi" => (2, "Vivaldi", Own),
        "Brave" => (2, "Brave", Own),
        "DuckDuckGo" | "Ddg" => (2, "DuckDuckGo", Own),
        "Whale" => (2, "Whale", Own),
        "MiuiBrowser" => (2, "MIUI Browser", Own),
        "HuaweiBrowser" => (2, "Huawei Browser", Own),
        "HeyTapBrowser" => (2, "HeyTap Browser", Own),
        "QQBrowser" | "MQQBrowser" => (2, "QQ Browser", Own),
        "coc_coc_browser" => (2, "Coc Coc", Own),
        "Silk" => (2, "Silk", Own),
        "Puffin" => (2, "Puffin", Own),
        "Maxthon" => (2, "Maxthon", Own),
        "FxiOS" | "Firefox" => (3, "Firefox", Own),
        "CriOS" => (4, "Chrome", Own),
        "Chrome" => (5, "Chrome", Own),
        "Chromium" => (6, "Chromium", Own),
        "Trident" => (7, "Internet Explorer", Rv),
        _ => return None,
    })
}

/// Markers of televisions, set-top boxes and consoles, whose device class is not one of
/// desktop, mobile or tablet.
fn is_tv_marker(word: &str) -> bool {
    matches!(
        word,
        "SmartTV"
            | "SMART-TV"
            | "Smart-TV"
            | "SMARTTV"
            | "GoogleTV"
            | "AndroidTV"
            | "TV"
            | "BRAVIA"
            | "NetCast"
            | "AppleTV"
            | "Roku"
            | "VIDAA"
            | "HbbTV"
            | "CrKey"
    ) || (word.starts_with("AFT") && word.len() > 3)
}

/// Everything the classifier notes in one pass over the user agent's words.
#[derive(Default)]
struct Scan<'a> {
    browser: Option<Candidate<'a>>,
    version_token: Option<&'a str>,
    fbav: Option<&'a str>,
    app_version: Option<&'a str>,
    rv: Option<&'a str>,
    safari: bool,
    webkit: bool,
    webview: bool,
    windows_phone: Option<&'a str>,
    windows_nt: Option<&'a str>,
    windows: bool,
    xbox: bool,
    iphone: bool,
    ipad: bool,
    os_number: Option<&'a str>,
    mac: bool,
    mac_version: Option<&'a str>,
    chrome_os: bool,
    harmony: bool,
    harmony_version: Option<&'a str>,
    kaios: bool,
    android: bool,
    android_version: Option<&'a str>,
    tizen: bool,
    webos: bool,
    playstation: bool,
    nintendo: bool,
    bsd: Option<&'static str>,
    linux: bool,
    kindle: bool,
    mobile: bool,
    tablet: bool,
    phone: bool,
    tv: bool,
}

impl<'a> Scan<'a> {
    fn new(user_agent: &'a str) -> Self {
        let mut scan = Self::default();
        let mut words = user_agent.split([' ', '(', ')', ';', '[', ']', ',']).filter(|word| !word.is_empty());
        // A window over the words, so each sees its neighbours without collecting them.
        let mut window = [words.next(), words.next(), words.next()];
        let mut previous = "";
        while let [Some(word), next, after_next] = window {
            scan.word(word, previous, next.unwrap_or(""), after_next.unwrap_or(""));
            let mut segments = word.split('/');
            let mut name = segments.next().unwrap_or("");
            for value in segments {
                scan.product(name, value, previous);
                name = value;
            }
            previous = word;
            window = [next, after_next, words.next()];
        }
        scan
    }

    fn offer(&mut self, rank: u8, family: &'static str, own_version: &'a str, from: VersionFrom) {
        if self.browser.is_none_or(|known| rank < known.rank) {
            self.browser = Some(Candidate { rank, family, own_version, from });
        }
    }

    fn product(&mut self, name: &'a str, value: &'a str, previous: &str) {
        match name {
            "Version" => self.version_token = Some(value),
            "FBAV" => self.fbav = Some(value),
            "app_version" => self.app_version = Some(value),
            "Safari" => self.safari = true,
            "AppleWebKit" => self.webkit = true,
            "KAIOS" => self.kaios = true,
            "Mobile" => self.mobile = true,
            "Mini" if previous == "Opera" => self.offer(2, "Opera", value, VersionFrom::Own),
            "HbbTV" | "CrKey" => self.tv = true,
            _ => {}
        }
        if let Some((rank, family, from)) = product(name) {
            self.offer(rank, family, value, from);
        }
    }

    fn word(&mut self, word: &'a str, previous: &str, next: &'a str, after_next: &'a str) {
        match word {
            "Windows" if next == "Phone" => {
                self.windows_phone = Some(if after_next == "OS" { "" } else { after_next });
            }
            "OS" if previous == "Phone" && self.windows_phone == Some("") => self.windows_phone = Some(next),
            "Windows" if next == "NT" => self.windows_nt = Some(after_next),
            "Windows" => self.windows = true,
            "Xbox" => self.xbox = true,
            "iPhone" | "iPod" => self.iphone = true,
            "iPad" => self.ipad = true,
            "OS" if next == "X" => self.mac_version = Some(after_next),
            "OS" if next.starts_with(|c: char| c.is_ascii_digit()) => {
                self.os_number.get_or_insert(next);
            }
            "Macintosh" => self.mac = true,
            "CrOS" => self.chrome_os = true,
            "HarmonyOS" => self.harmony = true,
            "OpenHarmony" => {
                self.harmony = true;
                self.harmony_version = Some(next);
            }
            "KaiOS" | "KAIOS" => self.kaios = true,
            "Android" => {
                self.android = true;
                self.android_version.get_or_insert(next);
            }
            "Tizen" => self.tizen = true,
            "Web0S" | "webOS" => self.webos = true,
            "PlayStation" => self.playstation = true,
            "Nintendo" => self.nintendo = true,
            "FreeBSD" => self.bsd = Some("FreeBSD"),
            "OpenBSD" => self.bsd = Some("OpenBSD"),
            "NetBSD" => self.bsd = Some("NetBSD"),
            "Linux" | "X11" => self.linux = true,
            "Mobile" => self.mobile = true,
            "Tablet" => self.tablet = true,
            "Phone" => self.phone = true,
            "wv" => self.webview = true,
            "Instagram" => self.offer(0, "Instagram", next, VersionFrom::Own),
            "Ecosia" => {
                let version = next.split_once('@').map_or("", |(_, version)| version);
                self.offer(2, "Ecosia", version, VersionFrom::Own);
            }
            "MSIE" => self.offer(7, "Internet Explorer", next, VersionFrom::Own),
            _ => {
                if let Some(rv) = word.strip_prefix("rv:") {
                    self.rv = Some(rv);
                } else if word.starts_with("Kindle") {
                    self.kindle = true;
                }
            }
        }
        if is_tv_marker(word) || matches!(word, "Xbox" | "PlayStation" | "Nintendo" | "Tizen" | "Web0S") {
            self.tv = true;
        }
    }
}

/// Classifies a user agent. Unknown parts stay `None` (and the device `Unknown`).
pub fn classify_user_agent(user_agent: &str) -> UserAgentInfo {
    let mut scan = Scan::new(user_agent);
    // Brave on iOS appends its name, without a version.
    if user_agent.ends_with(" Brave") {
        scan.offer(2, "Brave", "", VersionFrom::Nowhere);
    }
    let (os, os_version, device) = operating_system(&scan);
    let (browser, browser_version) = browser(&scan, os);
    UserAgentInfo { browser, browser_version, os, os_version, device }
}

/// The leading digits of `text`, if there are any (at most 5, to skip build numbers).
fn major(text: &str) -> Option<String> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    (1..=5).contains(&digits).then(|| text[..digits].to_owned())
}

fn browser(scan: &Scan<'_>, os: Option<&str>) -> (Option<&'static str>, Option<String>) {
    if let Some(candidate) = scan.browser {
        let version = match candidate.from {
            VersionFrom::Own => Some(candidate.own_version),
            VersionFrom::VersionToken => scan.version_token,
            VersionFrom::Fbav => scan.fbav,
            VersionFrom::AppVersion => scan.app_version,
            VersionFrom::Rv => scan.rv,
            VersionFrom::Nowhere => None,
        };
        // Android apps' embedded WebView: `; wv)` in the platform, or the old `Version/4.0`.
        let webview = candidate.family == "Chrome"
            && candidate.rank == 5
            && os == Some("Android")
            && (scan.webview || scan.version_token == Some("4.0"));
        let family = if webview { "Android WebView" } else { candidate.family };
        return (Some(family), version.and_then(major));
    }
    if !scan.safari && !scan.webkit {
        return (None, None);
    }
    let safari_version = || scan.version_token.and_then(major);
    match os {
        Some("Android") if scan.safari => (Some("Android Browser"), safari_version()),
        Some("iOS" | "macOS") if scan.safari => (Some("Safari"), safari_version()),
        // WKWebView in an iOS app drops the `Safari/` token.
        Some("iOS") => (Some("iOS WebView"), None),
        Some("macOS") => (Some("Safari"), safari_version()),
        _ => (None, None),
    }
}

fn operating_system(scan: &Scan<'_>) -> (Option<&'static str>, Option<String>, Device) {
    let owned = |version: Option<&str>| version.and_then(major);
    if let Some(version) = scan.windows_phone {
        return (Some("Windows Phone"), major(version), Device::Mobile);
    }
    if scan.xbox {
        return (Some("Xbox"), None, Device::Unknown);
    }
    if let Some(version) = scan.windows_nt {
        let name = match version {
            "10.0" => Some("10"),
            "6.3" => Some("8.1"),
            "6.2" => Some("8"),
            "6.1" => Some("7"),
            "6.0" => Some("Vista"),
            "5.1" | "5.2" => Some("XP"),
            _ => None,
        };
        return (Some("Windows"), name.map(str::to_owned), Device::Desktop);
    }
    if scan.iphone {
        return (Some("iOS"), ios_version(scan), Device::Mobile);
    }
    if scan.ipad {
        return (Some("iOS"), ios_version(scan), Device::Tablet);
    }
    if scan.chrome_os {
        return (Some("ChromeOS"), None, Device::Desktop);
    }
    if scan.harmony {
        let device = if scan.tablet {
            Device::Tablet
        } else if scan.mobile || scan.phone {
            Device::Mobile
        } else {
            Device::Unknown
        };
        return (Some("HarmonyOS"), owned(scan.harmony_version), device);
    }
    if scan.kaios {
        return (Some("KaiOS"), None, Device::Mobile);
    }
    if scan.android {
        let device = if scan.tv {
            Device::Unknown
        } else if scan.mobile {
            Device::Mobile
        } else {
            Device::Tablet
        };
        return (Some("Android"), owned(scan.android_version), device);
    }
    if scan.mac || scan.mac_version.is_some() {
        return (Some("macOS"), scan.mac_version.and_then(macos_version), Device::Desktop);
    }
    if scan.tizen {
        return (Some("Tizen"), None, if scan.mobile { Device::Mobile } else { Device::Unknown });
    }
    if scan.webos {
        return (Some("webOS"), None, Device::Unknown);
    }
    if scan.playstation {
        return (Some("PlayStation"), None, Device::Unknown);
    }
    if scan.nintendo {
        return (Some("Nintendo"), None, Device::Unknown);
    }
    if let Some(bsd) = scan.bsd {
        return (Some(bsd), None, Device::Desktop);
    }
    if scan.windows {
        return (Some("Windows"), None, Device::Desktop);
    }
    if scan.linux {
        let device = if scan.tv {
            Device::Unknown
        } else if scan.kindle {
            Device::Tablet
        } else {
            Device::Desktop
        };
        return (Some("Linux"), None, device);
    }
    (None, None, if scan.mobile { Device::Mobile } else { Device::Unknown })
}

/// `CPU iPhone OS 17_4_1 like Mac OS X` and `CPU OS 17_4 like Mac OS X` give `17`.
///
/// Since iOS 26, WebKit reports the system as 18.x; the `Version/` token, which follows the
/// system on iOS, then tells the real one.
fn ios_version(scan: &Scan<'_>) -> Option<String> {
    let reported = scan.os_number.and_then(major)?;
    if reported == "18" {
        let webkit_version =
            scan.version_token.and_then(major).and_then(|version| version.parse::<u32>().ok());
        if let Some(version) = webkit_version.filter(|version| *version >= 26) {
            return Some(version.to_string());
        }
    }
    Some(reported)
}

/// `10_15_7` gives `10.15`; `14_1` gives `14`.
fn macos_version(version: &str) -> Option<String> {
    let major_version = major(version)?;
    if major_version != "10" {
        return Some(major_version);
    }
    let minor = version[2..].strip_prefix(['_', '.']).and_then(major)?;
    Some(format!("10.{minor}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(ua: &str) -> String {
        let info = classify_user_agent(ua);
        format!(
            "{} {} / {} {} / {:?}",
            info.browser.unwrap_or("-"),
            info.browser_version.as_deref().unwrap_or("-"),
            info.os.unwrap_or("-"),
            info.os_version.as_deref().unwrap_or("-"),
            info.device
        )
    }

    #[test]
    fn common_browsers() {
        for (ua, expected) in [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome 131 / Windows 10 / Desktop",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge 131 / Windows 10 / Desktop",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
                "Safari 17 / macOS 10.15 / Desktop",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox 133 / Linux - / Desktop",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
                "Safari 17 / iOS 17 / Mobile",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.1 Mobile/15E148 Safari/604.1",
                "Safari 26 / iOS 26 / Mobile",
            ),
            (
                "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
                "Chrome 120 / iOS 16 / Tablet",
            ),
            (
                "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome 131 / Android 10 / Mobile",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Safari/537.36",
                "Samsung Internet 25 / Android 14 / Tablet",
            ),
            (
                "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36",
                "Android WebView 120 / Android 13 / Mobile",
            ),
            (
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome 131 / ChromeOS - / Desktop",
            ),
            (
                "Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko",
                "Internet Explorer 11 / Windows 7 / Desktop",
            ),
            (
                "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.0; Trident/5.0)",
                "Internet Explorer 9 / Windows Vista / Desktop",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
                "iOS WebView - / iOS 17 / Mobile",
            ),
            (
                "Mozilla/5.0 (Linux; Android 9; AFTMM Build/PS7233) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                "Chrome 120 / Android 9 / Unknown",
            ),
            (
                "Opera/9.80 (Windows NT 6.1; WOW64) Presto/2.12.388 Version/12.18",
                "Opera 12 / Windows 7 / Desktop",
            ),
            ("", "- - / - - / Unknown"),
        ] {
            assert_eq!(summary(ua), expected, "{ua}");
        }
    }

    #[test]
    fn versions() {
        assert_eq!(major("131.0.1"), Some("131".into()));
        assert_eq!(major("x1"), None);
        assert_eq!(major("123456"), None, "a build number, not a version");
        assert_eq!(macos_version("10_15_7"), Some("10.15".into()));
        assert_eq!(macos_version("10.9"), Some("10.9".into()));
        assert_eq!(macos_version("14_1"), Some("14".into()));
        assert_eq!(macos_version("rv:1"), None);
        assert_eq!(macos_version("10"), None);
    }
}
