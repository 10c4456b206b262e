//! Settings of the allocator the binary uses (mimalloc, declared in `main.rs`).

use libmimalloc_sys::{mi_option_get, mi_option_set, mi_option_t};

/// `mi_option_purge_delay`: its number in `mimalloc.h` of the mimalloc v3 that libmimalloc-sys
/// 0.1.49 builds (the Rust crate's own constants are v2's numbers).
const PURGE_DELAY: mi_option_t = 15;

/// Give memory the allocator no longer uses back to the system after 5 ms instead of a
/// second. A replay frees as it goes (parsed lines once applied, the parsers' blocks), and
/// pages held for the default delay added about 3.5 MB per 200,000 requests to a cold
/// command's peak; no slower, measured (docs/perf.md). Call before anything else runs.
pub fn tune() {
    // SAFETY: sets one integer option of the C library, which reads it when it next purges.
    unsafe { mi_option_set(PURGE_DELAY, 5) };
}

/// The purge delay now, in milliseconds.
#[allow(
    clippy::useless_conversion,
    reason = "a C long is 32 bits on some platforms"
)]
pub fn purge_delay_ms() -> i64 {
    // SAFETY: reads one integer option of the C library.
    i64::from(unsafe { mi_option_get(PURGE_DELAY) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_set_is_mimallocs_purge_delay_whose_default_is_a_second() {
        // A renumbering in another mimalloc would show here: no other option defaults to 1000.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(purge_delay_ms(), 1000);
        }
        tune();
        assert_eq!(purge_delay_ms(), 5);
    }
}
