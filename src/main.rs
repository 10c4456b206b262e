//! The `cab` binary: everything lives in the library; this only hands over the exit code.

fn main() -> std::process::ExitCode {
    // The allocator's regions are aligned for huge pages, and with transparent huge pages on
    // (`always`, as many distributions ship) a region barely touched is 2 MiB resident: tens
    // of MB on a large store for no speed we could measure. Best effort: a refusal changes
    // nothing else.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    cab::allocator::tune();
    cab::cli::run()
}

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
