//! The `payload` tool's and `mcptop://payload/{bytes}` resource's text: a
//! 15-byte pattern repeated to the exact size asked, built once per size and
//! kept in a small process-wide cache, so that repeated large reads measure
//! the transport rather than the generator (the seeds' streaming target is
//! for cached resources).
//!
//! The cache is bounded twice: at most `CACHE_SIZES` sizes and `CACHE_BYTES`
//! bytes in all, least recently used out first; a size larger than the whole
//! budget is built and not kept. Texts are shared as `Arc<str>`, so a read
//! holds the cache's lock only to clone a pointer; rmcp's reply types own a
//! `String`, so each reply still copies the text once (a memcpy, not the
//! pattern loop). `mcptop://payload/{bytes}?fresh` builds the text on every
//! read and leaves the cache alone, for measuring the generator too.

use std::sync::{Arc, Mutex};

/// Largest reply the `payload` tool and resource will build.
pub const MAX_PAYLOAD_BYTES: u64 = 16 * 1024 * 1024;
/// Most bytes of text the cache keeps in all.
pub const CACHE_BYTES: u64 = 64 * 1024 * 1024;
/// Most sizes the cache keeps.
pub const CACHE_SIZES: usize = 4;

const PATTERN: &[u8] = b"mcptop-payload-";

/// Sizes kept, least recently used first.
#[derive(Debug, Default)]
pub struct PayloadCache {
    kept: Vec<(u64, Arc<str>)>,
}

impl PayloadCache {
    pub const fn new() -> PayloadCache {
        PayloadCache { kept: Vec::new() }
    }

    /// The text of `bytes` bytes, from the cache when it holds it.
    pub fn get(&mut self, bytes: u64) -> Result<Arc<str>, String> {
        if let Some(i) = self.kept.iter().position(|(size, _)| *size == bytes) {
            let entry = self.kept.remove(i);
            let text = entry.1.clone();
            self.kept.push(entry);
            return Ok(text);
        }
        let text: Arc<str> = Arc::from(build(bytes)?);
        if bytes <= CACHE_BYTES {
            while self.kept.len() >= CACHE_SIZES || self.held() + bytes > CACHE_BYTES {
                self.kept.remove(0);
            }
            self.kept.push((bytes, text.clone()));
        }
        Ok(text)
    }

    /// Bytes of text kept now.
    pub fn held(&self) -> u64 {
        self.kept.iter().map(|(size, _)| *size).sum()
    }

    /// Sizes kept now.
    pub fn sizes(&self) -> usize {
        self.kept.len()
    }
}

/// The process's cache: every session of the builtin server (in process,
/// `serve --stdio`, `--http`, `--tcp`, `--ws`) reads through it.
static CACHE: Mutex<PayloadCache> = Mutex::new(PayloadCache::new());

/// The text of `bytes` bytes, built once and then shared.
pub fn cached(bytes: u64) -> Result<Arc<str>, String> {
    // A panic while building leaves nothing half-kept, so a poisoned lock's
    // cache is still sound.
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    cache.get(bytes)
}

/// The text of `bytes` bytes, built now (the `?fresh` form): the pattern
/// repeated byte by byte, as every read did before the cache.
pub fn build(bytes: u64) -> Result<String, String> {
    if bytes > MAX_PAYLOAD_BYTES {
        return Err(format!("bytes must be at most {MAX_PAYLOAD_BYTES}"));
    }
    let text: Vec<u8> = PATTERN
        .iter()
        .copied()
        .cycle()
        .take(bytes as usize)
        .collect();
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// The size named by a resource URI's tail (`10485760` or `10485760?fresh`)
/// and whether it asks for a fresh build; `None` when it names no size.
pub fn parse_uri_tail(tail: &str) -> Option<(u64, bool)> {
    let (size, fresh) = match tail.strip_suffix("?fresh") {
        Some(size) => (size, true),
        None => (tail, false),
    };
    size.parse::<u64>().ok().map(|bytes| (bytes, fresh))
}

/// The text for a read of `bytes`, cached unless `fresh`.
pub fn text(bytes: u64, fresh: bool) -> Result<String, String> {
    if fresh {
        build(bytes)
    } else {
        cached(bytes).map(|text| String::from(&*text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_has_exact_length_and_a_cap() {
        assert_eq!(build(0).expect("ok").len(), 0);
        assert_eq!(build(4096).expect("ok").len(), 4096);
        assert!(build(MAX_PAYLOAD_BYTES + 1).is_err());
        assert!(PayloadCache::new().get(MAX_PAYLOAD_BYTES + 1).is_err());
    }

    #[test]
    fn cached_and_fresh_texts_are_byte_identical() {
        let mut cache = PayloadCache::new();
        for bytes in [0, 1, 14, 15, 16, 4096, 10 * 1024 * 1024 + 7] {
            let fresh = build(bytes).expect("fresh");
            let first = cache.get(bytes).expect("first");
            let again = cache.get(bytes).expect("again");
            assert_eq!(first.as_bytes(), fresh.as_bytes(), "{bytes}");
            assert_eq!(again.as_bytes(), fresh.as_bytes(), "{bytes}");
        }
        assert_eq!(&build(20).expect("ok"), "mcptop-payload-mcpto");
        assert_eq!(text(20, true), text(20, false));
    }

    #[test]
    fn a_repeated_read_shares_the_kept_text() {
        let mut cache = PayloadCache::new();
        let first = cache.get(1000).expect("first");
        let again = cache.get(1000).expect("again");
        assert!(Arc::ptr_eq(&first, &again));
    }

    #[test]
    fn the_cache_keeps_within_its_sizes_and_bytes() {
        let mut cache = PayloadCache::new();
        for bytes in 1..=10u64 {
            cache.get(bytes).expect("small");
            assert!(cache.sizes() <= CACHE_SIZES);
        }
        assert_eq!(cache.sizes(), CACHE_SIZES);
        // Four of 16 MiB fill the budget; a fifth pushes the oldest out.
        for k in 0..5u64 {
            cache.get(MAX_PAYLOAD_BYTES - k).expect("large");
            assert!(cache.held() <= CACHE_BYTES, "{}", cache.held());
            assert!(cache.sizes() <= CACHE_SIZES);
        }
        // The most recently used stays; the least recently used went.
        let kept = cache.get(MAX_PAYLOAD_BYTES - 4).expect("kept");
        assert!(Arc::ptr_eq(
            &kept,
            &cache.get(MAX_PAYLOAD_BYTES - 4).expect("again")
        ));
        assert!(!cache.kept.iter().any(|(s, _)| *s == MAX_PAYLOAD_BYTES));
    }

    #[test]
    fn a_uri_tail_names_a_size_and_maybe_fresh() {
        assert_eq!(parse_uri_tail("10485760"), Some((10_485_760, false)));
        assert_eq!(parse_uri_tail("10485760?fresh"), Some((10_485_760, true)));
        assert_eq!(parse_uri_tail("ten"), None);
        assert_eq!(parse_uri_tail("10?stale"), None);
    }
}
