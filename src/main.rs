//! The `herald` binary: everything is in [`herald::cli`]; this only hands it the process.

fn main() -> std::process::ExitCode {
    herald::cli::main()
}
