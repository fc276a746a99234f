//! The command line: option types and dispatch. The only place that uses `anyhow` and decides
//! exit codes: 0 pass, 1 a target or SLO missed (or lint problems), 2 an error.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::cluster::{Binaries, Knobs, LocalCluster, StageDelays, UpOptions};

#[derive(Debug, Parser)]
#[command(
    name = "cronbench",
    version,
    about = "Load-test the Kubernetes CronJob controller"
)]
pub struct Opts {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage the local test cluster (real control plane, kwok nodes)
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Start a local cluster and wait until its nodes are Ready
    Up {
        /// Cluster name; its kube context is `cronbench-<name>`
        #[arg(long, default_value = "local")]
        name: String,
        /// Number of kwok nodes (32 CPU, 256Gi, 110 pods each)
        #[arg(long, default_value_t = 3)]
        nodes: u32,
        /// Apiserver port on 127.0.0.1 (default: a free one)
        #[arg(long)]
        port: Option<u16>,
        #[command(flatten)]
        knobs: Knobs,
        #[command(flatten)]
        delays: StageDelays,
    },
    /// Stop every process of a local cluster and remove its state
    Down {
        #[arg(long, default_value = "local")]
        name: String,
    },
    /// Tell what runs
    Status {
        #[arg(long, default_value = "local")]
        name: String,
    },
}

/// Runs the command and maps the outcome to an exit code.
pub async fn run(opts: Opts) -> ExitCode {
    match dispatch(opts).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn dispatch(opts: Opts) -> anyhow::Result<ExitCode> {
    match opts.command {
        Command::Cluster { command } => cluster(command).await,
    }
}

async fn cluster(command: ClusterCommand) -> anyhow::Result<ExitCode> {
    match command {
        ClusterCommand::Up {
            name,
            nodes,
            port,
            knobs,
            delays,
        } => {
            let bins = Binaries::locate()?;
            let cluster = LocalCluster::new(&name)?;
            eprintln!("starting local cluster `{name}` with {nodes} kwok nodes ...");
            let info = cluster
                .up(
                    &bins,
                    &UpOptions {
                        nodes,
                        port,
                        knobs,
                        delays,
                    },
                )
                .await
                .with_context(|| format!("cluster up `{name}`"))?;
            println!(
                "cluster `{}` is up in {:.1} s: apiserver https://127.0.0.1:{}, {} nodes Ready\n\
                 kubeconfig: {}\ncontext:    {}\n\n\
                 use it:\n  export KUBECONFIG={}\n  kubectl --context {} get nodes\n  \
                 cronbench run scenarios/smoke.yaml --kubeconfig {} --context {}\n\
                 stop it:\n  cronbench cluster down --name {}",
                info.name,
                info.up_seconds,
                info.port,
                info.nodes,
                info.kubeconfig.display(),
                info.context,
                info.kubeconfig.display(),
                info.context,
                info.kubeconfig.display(),
                info.context,
                info.name
            );
            Ok(ExitCode::SUCCESS)
        }
        ClusterCommand::Down { name } => {
            let bins = Binaries::locate()?;
            let cluster = LocalCluster::new(&name)?;
            cluster
                .down(&bins)
                .await
                .with_context(|| format!("cluster down `{name}`"))?;
            println!("cluster `{name}` is down; no process of it is left");
            Ok(ExitCode::SUCCESS)
        }
        ClusterCommand::Status { name } => {
            let cluster = LocalCluster::new(&name)?;
            let Some(info) = cluster.info()? else {
                println!("cluster `{name}` is not up");
                return Ok(ExitCode::from(1));
            };
            println!(
                "cluster `{}`: apiserver https://127.0.0.1:{}, context {}, kubeconfig {}",
                info.name,
                info.port,
                info.context,
                info.kubeconfig.display()
            );
            let components = cluster.components();
            for c in &components {
                println!(
                    "  {:<24} pid {:<8} {}",
                    c.component,
                    c.pid.map_or_else(|| "-".to_string(), |p| p.to_string()),
                    if c.running { "running" } else { "NOT running" }
                );
            }
            let all = !components.is_empty() && components.iter().all(|c| c.running);
            Ok(if all {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
