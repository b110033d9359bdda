//! Loopback throughput of the embedded broker next to Debian's `nats-server`, both driven by
//! the same async-nats clients in the same run: 1 publisher → 1 subscriber, 1 publisher → 4
//! subscribers, and sequential request/reply.
//!
//! `cargo bench -p hitkeep-broker --bench pubsub` (release). Environment knobs:
//! `BENCH_MESSAGES` (default 1,000,000), `BENCH_PAYLOAD` (default 128 bytes),
//! `BENCH_REQUESTS` (default 20,000), `BENCH_ROUNDS` (default 3; the median round is reported).
//! Under `cargo test` (no `--bench` argument) it runs a tiny smoke version.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use hitkeep_broker::{Broker, BrokerConfig};

#[derive(Debug, Clone, Copy)]
struct Params {
    messages: usize,
    payload: usize,
    requests: usize,
    rounds: usize,
}

#[derive(Debug, Clone, Copy, Default)]
struct Results {
    pubsub_msgs_per_sec: f64,
    fanout_deliveries_per_sec: f64,
    requests_per_sec: f64,
    /// Server CPU time (user + system) per delivered message in the two pub/sub scenarios.
    pubsub_cpu_us_per_msg: f64,
    fanout_cpu_us_per_delivery: f64,
}

/// Whose CPU time to count: the embedded broker's runtime threads, or the nats-server process.
#[derive(Debug, Clone, Copy)]
enum Server {
    Embedded,
    Process(u32),
}

impl Server {
    /// User + system CPU seconds so far, from /proc (0 where /proc is unavailable).
    fn cpu_seconds(self) -> f64 {
        const TICKS_PER_SECOND: f64 = 100.0;
        let ticks = |stat: &str| -> u64 {
            // Fields after the parenthesized command name; utime and stime are the 12th and 13th.
            let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            after_name.split_whitespace().skip(11).take(2).filter_map(|field| field.parse::<u64>().ok()).sum()
        };
        let total = match self {
            Server::Process(pid) => {
                std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(0, |stat| ticks(&stat))
            }
            Server::Embedded => std::fs::read_dir("/proc/self/task")
                .into_iter()
                .flatten()
                .flatten()
                .filter(|task| {
                    std::fs::read_to_string(task.path().join("comm"))
                        .is_ok_and(|comm| comm.starts_with("broker"))
                })
                .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
                .map(|stat| ticks(&stat))
                .sum(),
        };
        total as f64 / TICKS_PER_SECOND
    }
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|value| value.replace('_', "").parse().ok()).unwrap_or(default)
}

fn main() {
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let params = if benchmarking {
        Params {
            messages: env_or("BENCH_MESSAGES", 1_000_000),
            payload: env_or("BENCH_PAYLOAD", 128),
            requests: env_or("BENCH_REQUESTS", 20_000),
            rounds: env_or("BENCH_ROUNDS", 3).max(1),
        }
    } else {
        Params { messages: 2_000, payload: 128, requests: 100, rounds: 1 }
    };

    // The broker gets its own two-thread runtime, like a separate nats-server process would
    // have its own scheduler; the clients share another.
    let broker_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(env_or("BENCH_BROKER_THREADS", 2))
        .thread_name("broker")
        .enable_all()
        .build()
        .expect("broker runtime");
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("clients")
        .enable_all()
        .build()
        .expect("client runtime");

    let broker = broker_runtime
        .block_on(Broker::start(BrokerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..BrokerConfig::default()
        }))
        .expect("embedded broker starts");
    let embedded_url = broker.client_url();
    let nats_server = NatsServer::spawn();
    if nats_server.is_none() {
        println!("nats-server not on PATH: measuring the embedded broker only");
    }

    println!(
        "messages: {}, payload: {} B, requests: {}, rounds: {} (median reported)",
        params.messages, params.payload, params.requests, params.rounds
    );
    let mut embedded_rounds = Vec::new();
    let mut reference_rounds = Vec::new();
    for round in 0..params.rounds {
        // Alternate which server goes first, so neither always runs on a warmer machine.
        let order_embedded_first = round % 2 == 0;
        for embedded_turn in [order_embedded_first, !order_embedded_first] {
            if embedded_turn {
                embedded_rounds.push(client_runtime.block_on(measure(
                    &embedded_url,
                    Server::Embedded,
                    params,
                )));
            } else if let Some(server) = &nats_server {
                let process = Server::Process(server.child.id());
                reference_rounds.push(client_runtime.block_on(measure(&server.url, process, params)));
            }
        }
    }
    let embedded = median(&embedded_rounds);
    let reference = (!reference_rounds.is_empty()).then(|| median(&reference_rounds));
    print_table(params, embedded, reference);

    broker_runtime.block_on(broker.shutdown());
}

async fn measure(url: &str, server: Server, params: Params) -> Results {
    let cpu_start = server.cpu_seconds();
    let pubsub_msgs_per_sec = fan_out(url, params, 1).await;
    let cpu_pubsub = server.cpu_seconds();
    let fanout_deliveries_per_sec = fan_out(url, params, 4).await;
    let cpu_fanout = server.cpu_seconds();
    let per_delivery = |cpu: f64, deliveries: usize| cpu * 1e6 / deliveries as f64;
    Results {
        pubsub_msgs_per_sec,
        fanout_deliveries_per_sec,
        requests_per_sec: request_reply(url, params).await,
        pubsub_cpu_us_per_msg: per_delivery(cpu_pubsub - cpu_start, params.messages),
        fanout_cpu_us_per_delivery: per_delivery(cpu_fanout - cpu_pubsub, params.messages * 4),
    }
}

async fn connect(url: &str, capacity: usize) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .subscription_capacity(capacity)
        .connect(url)
        .await
        .unwrap_or_else(|error| panic!("connect to {url}: {error}"))
}

/// Waits until the server has processed everything `client` sent (async-nats's `flush` only
/// flushes the socket).
async fn sync(client: &async_nats::Client) {
    let inbox = client.new_inbox();
    let mut echo = client.subscribe(inbox.clone()).await.unwrap();
    client.publish(inbox, Bytes::new()).await.unwrap();
    echo.next().await.unwrap();
}

/// One publisher, `subscribers` subscribers; returns deliveries per second.
async fn fan_out(url: &str, params: Params, subscribers: usize) -> f64 {
    let subject = format!("bench.fanout.{subscribers}");
    let mut tasks = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..subscribers {
        let client = connect(url, params.messages + 1024).await;
        let mut subscriber = client.subscribe(subject.clone()).await.unwrap();
        sync(&client).await;
        let expected = params.messages;
        tasks.push(tokio::spawn(async move {
            for _ in 0..expected {
                subscriber.next().await.expect("subscription open");
            }
            Instant::now()
        }));
        clients.push(client);
    }
    let publisher = connect(url, 1024).await;
    let payload = Bytes::from(vec![b'x'; params.payload]);

    let started = Instant::now();
    for _ in 0..params.messages {
        publisher.publish(subject.clone(), payload.clone()).await.unwrap();
    }
    publisher.flush().await.unwrap();
    let mut finished = started;
    for task in tasks {
        let done = tokio::time::timeout(Duration::from_secs(120), task)
            .await
            .expect("all messages in time")
            .unwrap();
        finished = finished.max(done);
    }
    (params.messages * subscribers) as f64 / (finished - started).as_secs_f64()
}

/// Sequential requests to one responder; returns round trips per second.
async fn request_reply(url: &str, params: Params) -> f64 {
    let responder = connect(url, 1024).await;
    let mut service = responder.subscribe("bench.rr").await.unwrap();
    sync(&responder).await;
    let replier = tokio::spawn({
        let responder = responder.clone();
        async move {
            while let Some(request) = service.next().await {
                if let Some(reply) = request.reply {
                    responder.publish(reply, request.payload).await.unwrap();
                }
            }
        }
    });
    let requester = connect(url, 1024).await;
    let payload = Bytes::from(vec![b'r'; params.payload]);
    let started = Instant::now();
    for _ in 0..params.requests {
        requester.request("bench.rr", payload.clone()).await.unwrap();
    }
    let elapsed = started.elapsed();
    replier.abort();
    params.requests as f64 / elapsed.as_secs_f64()
}

fn median(rounds: &[Results]) -> Results {
    let pick = |value: fn(&Results) -> f64| {
        let mut values: Vec<f64> = rounds.iter().map(value).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    Results {
        pubsub_msgs_per_sec: pick(|results| results.pubsub_msgs_per_sec),
        fanout_deliveries_per_sec: pick(|results| results.fanout_deliveries_per_sec),
        requests_per_sec: pick(|results| results.requests_per_sec),
        pubsub_cpu_us_per_msg: pick(|results| results.pubsub_cpu_us_per_msg),
        fanout_cpu_us_per_delivery: pick(|results| results.fanout_cpu_us_per_delivery),
    }
}

fn print_table(params: Params, embedded: Results, reference: Option<Results>) {
    let mb = |msgs_per_sec: f64| msgs_per_sec * params.payload as f64 / 1e6;
    type Row = (&'static str, fn(&Results) -> f64, bool);
    let rows: [Row; 5] = [
        ("1 pub -> 1 sub (msgs/s)", |results| results.pubsub_msgs_per_sec, true),
        ("1 pub -> 4 subs (deliveries/s)", |results| results.fanout_deliveries_per_sec, true),
        ("request/reply (round trips/s)", |results| results.requests_per_sec, false),
        ("server cpu, 1 -> 1 (us/msg)", |results| results.pubsub_cpu_us_per_msg, false),
        ("server cpu, 1 -> 4 (us/delivery)", |results| results.fanout_cpu_us_per_delivery, false),
    ];
    println!();
    println!("{:<32} {:>22} {:>22} {:>7}", "scenario", "embedded", "nats-server", "ratio");
    println!("{:<32} {:>22} {:>22} {:>7}", "", "", "", "(e/n)");
    for (name, value, with_mb) in rows {
        let ours = value(&embedded);
        let format = |rate: f64| {
            if with_mb {
                format!("{rate:>10.0} ({:>6.1} MB/s)", mb(rate))
            } else if rate < 100.0 {
                format!("{rate:>10.2}")
            } else {
                format!("{rate:>10.0}")
            }
        };
        match reference {
            Some(reference) => {
                let theirs = value(&reference);
                let ratio = ours / theirs;
                let ratio = if ratio.is_finite() { format!("{ratio:.2}") } else { "-".to_owned() };
                println!("{name:<32} {:>22} {:>22} {ratio:>7}", format(ours), format(theirs));
            }
            None => println!("{name:<32} {:>22} {:>22} {:>7}", format(ours), "-", "-"),
        }
    }
}

/// A `nats-server` child process on a free loopback port, killed on drop.
struct NatsServer {
    child: Child,
    url: String,
}

impl NatsServer {
    fn spawn() -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let server = Self { child, url: format!("nats://127.0.0.1:{port}") };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start listening on {addr}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
