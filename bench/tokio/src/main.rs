//! tokio_peer - the tokio side of the runtime benchmarks, one workload per
//! call, each run as a spawned task so that on the multi-thread runtime every
//! task lives on a worker (the same shapes as bench/ct_bench.c,
//! bench/mt_bench.c and bench/idle_tasks.c):
//!
//!   tokio_peer spawn_join --flavor ct|mt [--runs N] [--n N]
//!   tokio_peer pingpong   --flavor ct|mt [--runs N] [--n N]
//!   tokio_peer fanin      --flavor ct|mt [--runs N] [--n N]
//!   tokio_peer idle_mem   [--n N]
//!
//! Each prints one BENCH line (docs/performance.md) with the median of the
//! runs; the multi-thread flavor uses 2 workers, like mt_bench.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::runtime::{Builder, Runtime};
use tokio::sync::{mpsc, Notify};

const PRODUCERS: u64 = 8;

struct Args {
    workload: String,
    flavor: String,
    runs: usize,
    n: usize,
}

fn parse_args() -> Args {
    let mut argv = std::env::args().skip(1);
    let workload = argv.next().unwrap_or_else(|| usage());
    let mut a = Args { workload, flavor: "ct".into(), runs: 5, n: 1_000_000 };
    while let Some(opt) = argv.next() {
        let val = argv.next().unwrap_or_else(|| usage());
        match opt.as_str() {
            "--flavor" => a.flavor = val,
            "--runs" => a.runs = val.parse().unwrap_or_else(|_| usage()),
            "--n" => a.n = val.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if a.flavor != "ct" && a.flavor != "mt" {
        usage();
    }
    a
}

fn usage() -> ! {
    eprintln!("usage: tokio_peer spawn_join|pingpong|fanin|idle_mem [--flavor ct|mt] [--runs N] [--n N]");
    std::process::exit(2);
}

fn runtime(flavor: &str) -> Runtime {
    let mut b = if flavor == "mt" {
        let mut b = Builder::new_multi_thread();
        b.worker_threads(2);
        b
    } else {
        Builder::new_current_thread()
    };
    b.build().expect("tokio runtime")
}

fn die(msg: &str) -> ! {
    eprintln!("tokio_peer: {}", msg);
    std::process::exit(1);
}

async fn spawn_join(n: usize) {
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        handles.push(tokio::spawn(async move { i as u64 }));
    }
    let mut sum = 0u64;
    for h in handles {
        sum += h.await.unwrap_or_else(|_| die("spawn_join: task failed"));
    }
    if sum != (n as u64) * (n as u64 - 1) / 2 {
        die("spawn_join: wrong sum");
    }
}

async fn pingpong(n: usize) {
    let (to_pong, mut pong_rx) = mpsc::channel::<u64>(1);
    let (to_ping, mut ping_rx) = mpsc::channel::<u64>(1);
    let ponger = tokio::spawn(async move {
        while let Some(v) = pong_rx.recv().await {
            if to_ping.send(v).await.is_err() {
                break;
            }
        }
    });
    for i in 0..n as u64 {
        to_pong.send(i).await.unwrap_or_else(|_| die("pingpong: send failed"));
        if ping_rx.recv().await != Some(i) {
            die("pingpong: wrong reply");
        }
    }
    drop(to_pong);
    let _ = ponger.await;
}

async fn fanin(n: usize) {
    let (tx, mut rx) = mpsc::channel::<u64>(256);
    let per = n as u64 / PRODUCERS;
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let tx = tx.clone();
        producers.push(tokio::spawn(async move {
            for i in 0..per {
                if tx.send(p << 32 | i).await.is_err() {
                    die("fanin: send failed");
                }
            }
        }));
    }
    drop(tx);
    let mut next = [0u64; PRODUCERS as usize];
    let mut received = 0u64;
    while let Some(m) = rx.recv().await {
        let p = (m >> 32) as usize;
        if p >= PRODUCERS as usize || next[p] != m & 0xffff_ffff {
            die("fanin: message out of order");
        }
        next[p] += 1;
        received += 1;
    }
    for h in producers {
        let _ = h.await;
    }
    if received != per * PRODUCERS {
        die("fanin: messages lost");
    }
}

/// One timed run of `workload` inside a task spawned on `rt`, in ms.
fn timed(rt: &Runtime, workload: &str, n: usize) -> f64 {
    let w = workload.to_string();
    let start = Instant::now();
    rt.block_on(async move {
        let job = tokio::spawn(async move {
            match w.as_str() {
                "spawn_join" => spawn_join(n).await,
                "pingpong" => pingpong(n).await,
                _ => fanin(n).await,
            }
        });
        job.await.unwrap_or_else(|_| die("workload task failed"));
    });
    start.elapsed().as_secs_f64() * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

// Five nested async functions, the innermost parked on a Notify: the shape
// of bench/idle_tasks.c.
// Counts tasks that reached their wait (a static: no bytes in the tasks).
static IDLE_WAITING: AtomicUsize = AtomicUsize::new(0);

async fn idle5(n: Arc<Notify>) {
    IDLE_WAITING.fetch_add(1, Ordering::Relaxed);
    n.notified().await
}
async fn idle4(n: Arc<Notify>) { idle5(n).await }
async fn idle3(n: Arc<Notify>) { idle4(n).await }
async fn idle2(n: Arc<Notify>) { idle3(n).await }
async fn idle1(n: Arc<Notify>) { idle2(n).await }

fn rss_bytes() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    pages * 4096.0
}

fn idle_mem(n: usize) {
    let rt = runtime("ct");
    let notify = Arc::new(Notify::new());
    let before = rss_bytes();
    let mut handles = Vec::with_capacity(n);
    rt.block_on(async {
        for _ in 0..n {
            handles.push(tokio::spawn(idle1(notify.clone())));
        }
        // Let every task run to its wait: notify_waiters() below wakes only
        // the tasks already waiting.
        while IDLE_WAITING.load(Ordering::Relaxed) < n {
            tokio::task::yield_now().await;
        }
    });
    let after = rss_bytes();
    println!("BENCH name=tokio.idle_task_bytes value={:.1} unit=bytes size=\"{} idle tasks, 5 async fns deep, Notify wait\"",
             (after - before) / n as f64, n);
    notify.notify_waiters();
    rt.block_on(async {
        for h in handles {
            let _ = h.await;
        }
    });
}

fn main() {
    let a = parse_args();
    if a.workload == "idle_mem" {
        let n = if a.n == 1_000_000 { 100_000 } else { a.n };
        idle_mem(n);
        return;
    }
    if !["spawn_join", "pingpong", "fanin"].contains(&a.workload.as_str()) {
        usage();
    }
    let rt = runtime(&a.flavor);
    let v: Vec<f64> = (0..a.runs.max(1)).map(|_| timed(&rt, &a.workload, a.n)).collect();
    println!("BENCH name=tokio.{}.{}_ms.1m value={:.2} unit=ms runs={} flavor={} size=\"{}\"",
             a.flavor, a.workload, median(v), a.runs, a.flavor, a.n);
}
