//! The tracker, `hk.js` (`tracker/dist/hk.js`, built by `tracker/`), served by the collector so
//! that a site needs one tag and one origin.
//!
//! Two URLs: `/hk.js`, cached for an hour and revalidated by its ETag, for the one-line
//! install; and `/hk.<version>.js`, cached for a year as immutable, for sites that pin the
//! script. Any other `/hk.<version>.js` (a version from before an upgrade) redirects to
//! `/hk.js`, so a pinned tag keeps counting.

use crate::reply::Reply;

/// The minified tracker.
pub const SCRIPT: &[u8] = include_bytes!("../../../tracker/dist/hk.js");

/// The first 16 hex digits of the script's FNV-1a hash: its version in URLs and ETags.
pub fn version() -> String {
    format!("{:016x}", fnv1a(SCRIPT))
}

/// The pinned URL's path: `/hk.<version>.js`.
pub fn versioned_path() -> String {
    format!("/hk.{}.js", version())
}

const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// Is this path one of the script's (`/hk.js` or `/hk.<anything>.js`)?
pub fn is_script_path(path: &str) -> bool {
    path == "/hk.js"
        || path.strip_prefix("/hk.").and_then(|rest| rest.strip_suffix(".js")).is_some_and(|version| {
            !version.is_empty() && version.len() <= 64 && version.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// The answer to `GET` or `HEAD` of a script path; `if_none_match` is the request's header.
pub fn serve(path: &str, head_only: bool, if_none_match: Option<&str>) -> Reply {
    let version = version();
    let pinned = path == format!("/hk.{version}.js");
    if path != "/hk.js" && !pinned {
        return Reply::redirect("/hk.js");
    }
    let etag = format!("\"{version}\"");
    let cache = if pinned { "public, max-age=31536000, immutable" } else { "public, max-age=3600" };
    let matches = if_none_match.is_some_and(|header| {
        header.split(',').any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag
        })
    });
    let reply = if matches {
        Reply::status(304)
    } else {
        Reply::body(
            200,
            "application/javascript; charset=utf-8",
            if head_only { Vec::new() } else { SCRIPT.to_vec() },
        )
    };
    reply
        .with_header("etag", &etag)
        .with_header("cache-control", cache)
        .with_header("access-control-allow-origin", "*")
        .with_header("x-content-type-options", "nosniff")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_the_built_tracker_with_validators() {
        let reply = serve("/hk.js", false, None);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, SCRIPT);
        assert_eq!(reply.header("content-type"), Some("application/javascript; charset=utf-8"));
        assert_eq!(reply.header("cache-control"), Some("public, max-age=3600"));
        let etag = reply.header("etag").unwrap().to_string();
        assert_eq!(etag.len(), 18);
        assert_eq!(serve("/hk.js", false, Some(&etag)).status, 304);
        assert_eq!(serve("/hk.js", false, Some(&format!("W/{etag}, \"x\""))).status, 304);
        assert_eq!(serve("/hk.js", false, Some("\"other\"")).status, 200);
        assert!(serve("/hk.js", true, None).body.is_empty());
    }

    #[test]
    fn the_pinned_url_is_immutable_and_old_versions_redirect() {
        let pinned = serve(&versioned_path(), false, None);
        assert_eq!(pinned.status, 200);
        assert_eq!(pinned.header("cache-control"), Some("public, max-age=31536000, immutable"));
        let old = serve("/hk.0123456789abcdef.js", false, None);
        assert_eq!((old.status, old.header("location")), (302, Some("/hk.js")));
    }

    #[test]
    fn script_paths() {
        assert!(is_script_path("/hk.js"));
        assert!(is_script_path(&versioned_path()));
        assert!(!is_script_path("/hk..js"));
        assert!(!is_script_path("/hk.a/b.js"));
        assert!(!is_script_path("/other.js"));
    }
}
