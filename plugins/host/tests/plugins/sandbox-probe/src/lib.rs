//! Tries everything a plugin must not be able to do and reports, as properties of every
//! event, what it got:
//!
//! * `fs`: reading `/etc/hostname` and listing `/` (`denied` unless something was read);
//! * `env`: the number of environment variables and arguments (`0/0` in the sandbox);
//! * `net`: a TCP connection to 127.0.0.1:`port` from the settings (`denied` unless it
//!   connected) and a DNS lookup of `localhost` (`dns-denied` unless it resolved);
//! * `wall`, `mono`: the wall clock in ms since the epoch and the monotonic clock in ns,
//!   read before and after sleeping for `sleep_ms` (the sandbox's clocks are fixed, so the
//!   two readings are equal and sleeping returns at once);
//! * it also prints to stdout and stderr, which the host captures.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hitkeep_plugin_sdk::{Event, Plugin, Verdict, export_plugin};

struct Probe {
    port: u16,
    sleep_ms: u64,
}

impl Plugin for Probe {
    fn configure(settings: &str) -> Result<Self, String> {
        let settings: serde_json::Value = serde_json::from_str(settings).map_err(|e| e.to_string())?;
        let port = settings.get("port").and_then(|v| v.as_u64()).unwrap_or(1) as u16;
        let sleep_ms = settings.get("sleep_ms").and_then(|v| v.as_u64()).unwrap_or(0);
        Ok(Self { port, sleep_ms })
    }

    fn enrich(&mut self, event: &mut Event) -> Verdict {
        println!("probe on stdout");
        eprintln!("probe on stderr");
        let fs = match (std::fs::read_to_string("/etc/hostname"), std::fs::read_dir("/")) {
            (Err(_), Err(_)) => "denied".to_string(),
            (read, list) => format!("read={} list={}", read.is_ok(), list.is_ok()),
        };
        let env = format!("{}/{}", std::env::vars().count(), std::env::args().count());
        let tcp = match TcpStream::connect(("127.0.0.1", self.port)) {
            Ok(_) => "connected".to_string(),
            Err(_) => "denied".to_string(),
        };
        let dns = match ("localhost", 80).to_socket_addrs().map(|mut addrs| addrs.next()) {
            Ok(Some(_)) => "dns-resolved",
            _ => "dns-denied",
        };
        let wall = || SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        let start = Instant::now();
        let wall_before = wall();
        std::thread::sleep(Duration::from_millis(self.sleep_ms));
        let slept = start.elapsed();
        event.set_prop("fs", fs);
        event.set_prop("env", env);
        event.set_prop("net", format!("{tcp} {dns}"));
        event.set_prop("wall", format!("{wall_before} {}", wall()));
        event.set_prop("mono", format!("{}", slept.as_nanos()));
        Verdict::Changed
    }
}

export_plugin!(Probe);
