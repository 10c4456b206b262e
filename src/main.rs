//! The `cab` binary: everything lives in the library; this only hands over the exit code.

fn main() -> std::process::ExitCode {
    cab::cli::run()
}

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
