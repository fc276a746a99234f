//! `cronbench cluster up | down | status`.

use anyhow::Context as _;

use super::{ClusterCommand, Outcome};
use crate::cluster::{Binaries, ClusterInfo, LocalCluster, NodeRuntime, UpOptions};

pub(super) async fn cluster(command: ClusterCommand) -> anyhow::Result<Outcome> {
    match command {
        ClusterCommand::Up {
            name,
            nodes,
            node_runtime,
            kubelet,
            port,
            knobs,
            delays,
            scheduler_config,
            prometheus,
            prometheus_scrape,
            audit,
        } => {
            if prometheus && node_runtime == NodeRuntime::Kubelet {
                anyhow::bail!(
                    "--prometheus scrapes the control plane on 127.0.0.1, which with --node-runtime kubelet lives in the cluster's network namespace; use it with kwok nodes"
                );
            }
            let opts = UpOptions {
                nodes,
                port,
                knobs,
                delays,
                runtime: node_runtime,
                kubelet,
                scheduler_config,
                audit: audit.then(crate::cluster::audit::AuditScope::default),
            };
            up(&name, &opts).await?;
            if prometheus {
                let cluster = LocalCluster::new(&name)?;
                let url = crate::cluster::prometheus::start(&cluster, &prometheus_scrape).await.with_context(|| {
                    format!("starting Prometheus for cluster `{name}` (the cluster is up; `cronbench cluster down --name {name}` stops it)")
                })?;
                println!(
                    "prometheus: {url} (scrapes every component every {} s; `cluster down` stops it)",
                    crate::cluster::prometheus::SCRAPE_INTERVAL_S
                );
                if !prometheus_scrape.is_empty() {
                    println!(
                        "  and {} as job `{}` (honor_labels)",
                        prometheus_scrape.join(", "),
                        crate::cluster::prometheus::EXTRA_JOB
                    );
                }
            }
            Ok(Outcome::Pass)
        }
        ClusterCommand::Down { name } => {
            let bins = Binaries::locate()?;
            let cluster = LocalCluster::new(&name)?;
            cluster
                .down(&bins)
                .await
                .with_context(|| format!("cluster down `{name}`"))?;
            println!("cluster `{name}` is down; no process of it is left");
            Ok(Outcome::Pass)
        }
        ClusterCommand::Status { name } => status(&name),
    }
}

async fn up(name: &str, opts: &UpOptions) -> anyhow::Result<Outcome> {
    let bins = Binaries::locate()?;
    let cluster = LocalCluster::new(name)?;
    let kind = match opts.runtime {
        NodeRuntime::Kwok => "kwok",
        NodeRuntime::Kubelet => "real (kubelet + containerd)",
    };
    eprintln!(
        "starting local cluster `{name}` with {} {kind} nodes ...",
        opts.nodes
    );
    let info = cluster
        .up(&bins, opts)
        .await
        .with_context(|| format!("cluster up `{name}`"))?;
    print_up(&info);
    Ok(Outcome::Pass)
}

fn print_up(info: &ClusterInfo) {
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
    if let Some(file) = &info.scheduler_config {
        println!("scheduler configuration: {}", file.display());
    }
    if let Some(file) = &info.audit_log {
        println!("apiserver audit log: {}", file.display());
    }
}

fn status(name: &str) -> anyhow::Result<Outcome> {
    let cluster = LocalCluster::new(name)?;
    let Some(info) = cluster.info()? else {
        println!("cluster `{name}` is not up");
        return Ok(Outcome::Missed);
    };
    println!(
        "cluster `{}` ({:?} nodes): apiserver https://127.0.0.1:{}, context {}, kubeconfig {}",
        info.name,
        info.node_runtime,
        info.port,
        info.context,
        info.kubeconfig.display()
    );
    if let Some(file) = &info.scheduler_config {
        println!("  scheduler configuration {}", file.display());
    }
    if let Some(url) = crate::cluster::prometheus::url_of(&cluster) {
        println!("  prometheus {url}");
    }
    let components = cluster.components();
    for c in &components {
        println!(
            "  {:<24} pid {:<8} {}",
            c.component,
            c.pid.map_or_else(|| "-".to_string(), |p| p.to_string()),
            if c.running { "running" } else { "NOT running" }
        );
    }
    Ok(Outcome::pass_if(
        !components.is_empty() && components.iter().all(|c| c.running),
    ))
}
