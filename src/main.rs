//! The `vaelens` command line: a thin face over the library. No subcommand opens the explorer.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,vaelens=info".into()),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .init();
    let args = cli::Cli::parse();
    if args.backend_choice() == vaelens::backend::BackendChoice::Cpu {
        // burn restores Adam's state (`--resume`) on its default device, wgpu when compiled in:
        // pin the default to the CPU so that a CPU run never opens a GPU.
        // SAFETY: no other thread has started yet, so nothing reads the environment meanwhile.
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each cause only when the message does not already say it (many
/// errors quote their source, which `{:#}` would print twice).
fn describe(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !message.contains(&cause) {
            message = format!("{message}: {cause}");
        }
    }
    message
}
