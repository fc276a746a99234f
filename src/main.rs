use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    cronbench::cli::run(cronbench::cli::Opts::parse()).await
}
